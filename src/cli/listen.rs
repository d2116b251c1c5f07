//! The flags every server shares: listeners, certificates, limits, outputs.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mailtape::{Addrs, CertSource, Error, Limits, LiveView, OutputConfig, ServerConfig, WebConfig};

use super::make_dir;

#[derive(Args, Debug)]
pub(crate) struct ListenArgs {
    /// Implicit-TLS listener (like smtp.resend.com:465), or `off`.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:2465")]
    pub(crate) smtps: String,
    /// STARTTLS listener (like smtp.resend.com:587), or `off`.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:2587")]
    pub(crate) starttls: String,
    /// Plain listener for apps that cannot do TLS, or `off`.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:2525")]
    pub(crate) plain: String,
    /// The inbox: a web page and an HTTP API (Mailpit-compatible at /api/v1)
    /// showing sessions, transcripts and messages live, or `off` [default:
    /// 127.0.0.1:8025, or a free port when 8025 is in use].
    ///
    /// Port 8025 is Mailpit's, so its clients and bookmarks work; when it is
    /// taken (Mailpit, another mailtape) the inbox moves to a free port and the
    /// banner and the JSON ready line say so. An address given here (or in
    /// MAILTAPE_UI) is used as given: in use, mailtape stops with an error.
    /// 127.0.0.1:0 is any free port; MAILTAPE_UI=off suits a test suite that
    /// starts several mailtapes at once.
    #[arg(long, value_name = "ADDR|off", env = "MAILTAPE_UI")]
    pub(crate) ui: Option<String>,
    /// Sessions and messages the inbox keeps in memory; older ones are dropped (and counted).
    #[arg(long, value_name = "N", default_value_t = mailtape::web::DEFAULT_KEEP)]
    pub(crate) keep: usize,
    /// Allow listening on addresses other than loopback (127.0.0.1, ::1).
    ///
    /// mailtape accepts API keys; on another interface anyone on the network could use it.
    #[arg(long)]
    pub(crate) allow_remote: bool,
    /// Folder for the generated CA and server certificate (made on first run, reused after).
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub(crate) certs: PathBuf,
    /// Use this certificate chain (PEM) instead of the generated one; needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Close a session after this many seconds without a word from the client,
    /// or without a complete command line (421).
    ///
    /// A message body, too, must arrive at 1,024 octets a second or more on
    /// average after this many seconds (421).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub(crate) idle_timeout: u64,
    /// Most sessions at once; more get 421 at connect.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub(crate) max_connections: usize,
    /// Memory for message bodies in flight, all sessions together, in MiB.
    ///
    /// A message that would take more is answered 452 (insufficient system
    /// storage, try again later) and the session goes on.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub(crate) max_body_memory: usize,
    /// Failed commands in one session before it is closed with 421.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) max_errors: usize,
}

#[derive(Args, Debug)]
pub(crate) struct OutputArgs {
    /// Print a JSON ready line with the bound addresses, then one JSON object per event.
    ///
    /// stdout then carries JSON only; the lines for people (the stopping line,
    /// warnings) go to stderr.
    #[arg(long, conflicts_with = "quiet")]
    pub(crate) json: bool,
    /// Print nothing but errors: no live view, no banner, no stopping line.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Live-view steps held while stdout is not being read (a step is a
    /// command, a reply, or a message body); past that they are dropped (and
    /// the count of lines said once stdout is read again) so that sessions
    /// never wait on stdout.
    #[arg(long, value_name = "N", default_value_t = 16384)]
    pub(crate) view_queue: usize,
    /// Write every session's transcript to this folder as a tape file.
    #[arg(long, value_name = "DIR")]
    pub(crate) tapes: Option<PathBuf>,
}

/// A listener's address: `IP:PORT`, `localhost:PORT` (issue 25, item 16:
/// what people type, and what Mailpit takes), or `off`. `localhost` is
/// 127.0.0.1 without asking any resolver — the hosts file cannot move a
/// listener off loopback — which is where Mailpit (Go's `Listen`) binds
/// for it too. Any other host name is refused: mailtape listens on an
/// address, and a name could resolve to one anyone on the network reaches.
pub(crate) fn parse_addr(flag: &str, value: &str) -> Result<Option<SocketAddr>, Error> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if let Ok(addr) = value.parse() {
        return Ok(Some(addr));
    }
    let shown = mailtape::tape::redact::scrub(value);
    let expected = "expected IP:PORT such as 127.0.0.1:2525, [::1]:2525 or localhost:2525, or off";
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(Error::Usage(format!("--{flag} {shown:?}: {expected}")));
    };
    let host = host.trim_end_matches('.');
    if !host.eq_ignore_ascii_case("localhost") {
        return Err(Error::Usage(format!(
            "--{flag} {shown:?}: {host:?} is a host name, and the only name mailtape listens on is localhost (127.0.0.1); give an IP address (127.0.0.1, [::1], or 0.0.0.0 with --allow-remote), or off",
            host = mailtape::tape::redact::scrub(host)
        )));
    }
    let port: u16 = port.parse().map_err(|_| {
        Error::Usage(format!(
            "--{flag} {shown:?}: the port must be a number from 0 to 65535 ({expected})"
        ))
    })?;
    Ok(Some(SocketAddr::from(([127, 0, 0, 1], port))))
}

/// The inbox's settings from `--ui`, `--keep` and `--allow-remote`. Only
/// the default address moves to a free port when it is in use (issue 21).
pub(crate) fn web_config(l: &ListenArgs) -> Result<Option<WebConfig>, Error> {
    let asked = l.ui.as_deref();
    let value = asked.unwrap_or(mailtape::web::DEFAULT_ADDR);
    Ok(parse_addr("ui", value)?.map(|addr| WebConfig {
        allow_remote: l.allow_remote,
        keep: l.keep.max(1),
        move_if_taken: asked.is_none(),
        ..WebConfig::at(addr)
    }))
}

pub(crate) fn server_config(l: &ListenArgs) -> Result<(ServerConfig, CertSource), Error> {
    let addrs = Addrs {
        smtps: parse_addr("smtps", &l.smtps)?,
        starttls: parse_addr("starttls", &l.starttls)?,
        plain: parse_addr("plain", &l.plain)?,
    };
    if addrs.smtps.is_none() && addrs.starttls.is_none() && addrs.plain.is_none() {
        return Err(Error::Usage(
            "every listener is off; keep at least one of --smtps, --starttls, --plain".into(),
        ));
    }
    let certs = match (&l.tls_cert, &l.tls_key) {
        (Some(cert), Some(key)) => CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => {
            CertSource::Generated(std::path::absolute(&l.certs).unwrap_or_else(|_| l.certs.clone()))
        }
    };
    let config = ServerConfig {
        addrs,
        allow_remote: l.allow_remote,
        limits: Limits {
            idle_timeout: Duration::from_secs(l.idle_timeout.max(1)),
            max_errors: l.max_errors.max(1),
            ..Limits::default()
        },
        max_connections: l.max_connections.max(1),
        max_body_memory: l.max_body_memory.max(1).saturating_mul(1 << 20),
        ..ServerConfig::default()
    };
    Ok((config, certs))
}

pub(crate) fn live_view(o: &OutputArgs) -> LiveView {
    if o.quiet {
        LiveView::Quiet
    } else if o.json {
        LiveView::Json
    } else {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        LiveView::Human {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }
}

pub(crate) fn output_config(o: &OutputArgs) -> Result<OutputConfig, Error> {
    make_dir(&o.tapes, "tapes")?;
    Ok(OutputConfig {
        view: live_view(o),
        tapes: o.tapes.clone(),
        view_queue: o.view_queue.max(1),
        ..OutputConfig::default()
    })
}
