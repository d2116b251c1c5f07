//! The command line: parse arguments, call the library, print errors once.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod help;
use mailtape::engine::listener::{Addrs, ServerConfig};
use mailtape::engine::session::Limits;
use mailtape::modes::mock::responder::MockOptions;
use mailtape::modes::record::UpstreamOptions;
use mailtape::modes::record::relay::UpstreamTls;
use mailtape::modes::replay::{ReplayOptions, list_builtin};
use mailtape::net::CertSource;
use mailtape::output::sink::{HubConfig, LiveView};
use mailtape::resend::{Profile, Scenario};
use mailtape::{
    Error, MockConfig, MockServer, RecordConfig, RecordServer, ReplayConfig, ReplayServer, Service,
    ServiceConfig,
};

/// Mock, record and replay SMTP sessions with Resend's relay, every transcript redacted.
#[derive(Parser, Debug)]
#[command(name = "mailtape", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a local SMTP server that answers exactly as smtp.resend.com would.
    ///
    /// Point your app at 127.0.0.1:2465 (implicit TLS), :2587 (STARTTLS) or
    /// :2525 (plain), user `resend`, password a key shaped like Resend's:
    /// re_ then at least 8 of A-Z a-z 0-9 _ (re_12345678 will do; others get
    /// 535 as from Resend). Every session is shown live with the key redacted.
    #[command(after_help = help::MOCK)]
    Mock(Box<MockArgs>),
    /// Stand in front of the real relay, pass every command and reply through
    /// unchanged, and keep each session, redacted, in a tape.
    ///
    /// Point your app at mailtape as for `mock`, with your real key; mailtape
    /// forwards it to the upstream (default smtp.resend.com:465) and writes
    /// only the redacted form.
    #[command(after_help = help::RECORD)]
    Record(Box<RecordArgs>),
    /// Answer clients from a recorded tape: each connection plays the next session.
    ///
    /// A client that departs from the tape gets 451 saying what was expected;
    /// the run then ends with a non-zero exit status.
    #[command(after_help = help::REPLAY)]
    Replay(Box<ReplayArgs>),
    /// Print the transcripts of a tape, a folder of tapes, or stdin, redacted,
    /// with a plain-language explanation and fix under every failure.
    #[command(after_help = help::SHOW)]
    Show(ShowArgs),
    /// Test SMTP settings against a relay (smtp.resend.com by default), the way an
    /// app would send: connection, TLS, login, sender, recipient, message.
    ///
    /// The key comes from RESEND_API_KEY, or a prompt that does not echo.
    /// Exit status: 0 accepted, 10 connection, 11 TLS, 12 authentication,
    /// 13 sender or recipient refused, 14 message refused, 15 temporary failure.
    #[command(after_help = help::CHECK)]
    Check(CheckArgs),
    /// Load-test an SMTP server: N connections send M messages; messages per
    /// second and latency percentiles (p50, p99, max) per command and per message.
    #[command(after_help = help::BENCH)]
    Bench(BenchArgs),
    /// Print the replies of the Resend profile: code, text, and where each comes from.
    #[command(after_help = help::PROFILE)]
    Profile(ProfileArgs),
}

#[derive(Args, Debug)]
struct ListenArgs {
    /// Implicit-TLS listener (like smtp.resend.com:465), or `off`.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:2465")]
    smtps: String,
    /// STARTTLS listener (like smtp.resend.com:587), or `off`.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:2587")]
    starttls: String,
    /// Plain listener for apps that cannot do TLS, or `off`.
    #[arg(long, value_name = "ADDR|off", default_value = "127.0.0.1:2525")]
    plain: String,
    /// Allow listening on addresses other than loopback (127.0.0.1, ::1).
    ///
    /// mailtape accepts API keys; on another interface anyone on the network could use it.
    #[arg(long)]
    allow_remote: bool,
    /// Folder for the generated CA and server certificate (made on first run, reused after).
    #[arg(long, value_name = "DIR", default_value = "certs")]
    certs: PathBuf,
    /// Use this certificate chain (PEM) instead of the generated one; needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Close a session after this many seconds without a word from the client (421).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    idle_timeout: u64,
    /// Most sessions at once; more get 421 at connect.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_connections: usize,
    /// Failed commands in one session before it is closed with 421.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_errors: usize,
}

#[derive(Args, Debug)]
struct OutputArgs {
    /// Print a JSON ready line with the bound addresses, then one JSON object per event.
    ///
    /// stdout then carries JSON only; the lines for people (the stopping line,
    /// warnings) go to stderr.
    #[arg(long, conflicts_with = "quiet")]
    json: bool,
    /// Print nothing but errors: no live view, no banner, no stopping line.
    #[arg(long)]
    quiet: bool,
    /// Write every session's transcript to this folder as a tape file.
    #[arg(long, value_name = "DIR")]
    tapes: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct MockArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// A built-in scenario (see --list-scenarios) or a scenario file.
    #[arg(long, value_name = "NAME|FILE", default_value = "default")]
    scenario: String,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    list_scenarios: bool,
    /// A profile file (TOML) that overrides replies of the built-in Resend profile.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Reply wording: `default` (as seen on the wire), `brief` (the brief's), `wire` (550 rate limit).
    #[arg(long, value_name = "NAME")]
    variant: Option<String>,
    /// An account file (TOML): owner, verified domains, keys.
    #[arg(long, value_name = "FILE")]
    account: Option<PathBuf>,
    /// Sandbox owner: only this address may receive mail.
    #[arg(long, value_name = "EMAIL")]
    owner: Option<String>,
    /// A verified sender domain (repeatable); without any, every domain counts as verified.
    #[arg(long = "verified-domain", value_name = "DOMAIN")]
    verified_domains: Vec<String>,
    /// Accept only this API key (repeatable); without any, every key shaped like
    /// Resend's is accepted (re_ then at least 8 of A-Z a-z 0-9 _).
    #[arg(long = "key", value_name = "KEY")]
    keys: Vec<String>,
    /// Write every accepted message to this folder as an .eml file.
    #[arg(long, value_name = "DIR")]
    mailbox: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RecordArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// The relay to forward to.
    #[arg(long, value_name = "HOST:PORT", default_value = "smtp.resend.com:465")]
    upstream: String,
    /// TLS to the relay; by default it follows the port: 465/2465 implicit, others STARTTLS.
    #[arg(long, value_name = "MODE", value_parser = ["implicit", "starttls", "none"])]
    upstream_tls: Option<String>,
    /// Also trust this CA certificate (PEM) for the relay, besides the public roots.
    ///
    /// Verification of the relay's certificate cannot be turned off.
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Longest wait for any one reply from the relay.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    upstream_timeout: u64,
    /// Append every finished session to this tape file (created if missing).
    #[arg(long, value_name = "FILE")]
    tape: PathBuf,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// The tape: a file, or `builtin:NAME` for a shipped one (see --list).
    #[arg(value_name = "TAPE", required_unless_present = "list")]
    tape: Option<String>,
    /// List the shipped tapes and exit.
    #[arg(long)]
    list: bool,
    /// Sessions of the tape that were never played also fail the run.
    #[arg(long)]
    strict: bool,
    /// Wait as long as the recording did before each reply (timeouts need it).
    #[arg(long)]
    realtime: bool,
    /// Start over at the first session after the last.
    #[arg(long = "loop")]
    looped: bool,
}

#[derive(Args, Debug)]
struct ShowArgs {
    /// A tape file, a folder of `.tape` files, `builtin:NAME`, or `-` for stdin.
    #[arg(value_name = "TAPE|DIR|-")]
    source: String,
    /// Only the session with this number.
    #[arg(long, value_name = "N")]
    session: Option<u64>,
    /// One JSON document per tape: sessions, events, explanations.
    #[arg(long)]
    json: bool,
    /// Leave out the explanations.
    #[arg(long)]
    no_explain: bool,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The server.
    #[arg(long, default_value = "smtp.resend.com")]
    host: String,
    /// The port: 465 or 2465 implicit TLS, 587 or 2587 STARTTLS.
    #[arg(long, default_value_t = 465)]
    port: u16,
    /// TLS mode. Left out, check finds it: a TLS handshake first (implicit
    /// TLS), else plain SMTP with STARTTLS if the server offers it, else none.
    #[arg(long, value_parser = ["implicit", "starttls", "none"])]
    tls: Option<String>,
    /// The user name (Resend's is the literal `resend`).
    #[arg(long, default_value = "resend")]
    user: String,
    /// The sender (envelope and From header).
    #[arg(long, value_name = "ADDR", default_value = "onboarding@resend.dev")]
    from: String,
    /// The recipient.
    #[arg(long, value_name = "ADDR", default_value = "delivered@resend.dev")]
    to: String,
    /// Also trust this CA certificate (PEM), e.g. mailtape's own certs/ca.pem.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The AUTH mechanism.
    #[arg(long, value_parser = ["plain", "login", "auto"], default_value = "auto")]
    auth: String,
    /// Stop after logging in; send nothing.
    #[arg(long)]
    no_send: bool,
    /// The API key. Prefer RESEND_API_KEY: an argument lands in shell history.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Longest wait for any step, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    timeout: u64,
    /// Print one JSON object with the verdict instead of the live transcript.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// The server.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port.
    #[arg(long, default_value_t = 2525)]
    port: u16,
    /// TLS mode: none, starttls or implicit.
    #[arg(long, value_parser = ["implicit", "starttls", "none"], default_value = "none")]
    tls: String,
    /// Also trust this CA certificate (PEM), e.g. mailtape's certs/ca.pem.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 20)]
    connections: usize,
    /// Messages in all.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Messages per connection (1: a new connection per message).
    #[arg(long, default_value_t = 1)]
    per_connection: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Send MAIL, RCPT and DATA in one write (RFC 2920 PIPELINING), as
    /// Postfix does, instead of waiting for each reply.
    #[arg(long)]
    pipeline: bool,
    /// AUTH mechanism, or none.
    #[arg(long, value_parser = ["plain", "login", "none"], default_value = "plain")]
    auth: String,
    /// User name for AUTH.
    #[arg(long, default_value = "resend")]
    user: String,
    /// Password for AUTH.
    #[arg(long, default_value = "re_bench_0123456789")]
    key: String,
    /// Sender.
    #[arg(long, default_value = "bench@yourcompany.com")]
    from: String,
    /// Recipient.
    #[arg(long, default_value = "delivered@resend.dev")]
    to: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ProfileArgs {
    /// The variant to show.
    #[arg(long, value_name = "NAME", default_value = "default")]
    variant: String,
    /// A profile file to apply on top of the built-in one.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints a line to stdout; a closed pipe (`mailtape profile | head`) is
/// not an error worth a panic.
macro_rules! out {
    () => {{
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MAILTAPE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match cli.command {
        Cmd::Mock(args) => run_mock(*args),
        Cmd::Record(args) => run_record(*args),
        Cmd::Replay(args) => run_replay(*args),
        Cmd::Show(args) => run_show(args),
        Cmd::Check(args) => return run_check(args),
        Cmd::Bench(args) => run_bench(args),
        Cmd::Profile(args) => run_profile(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "mailtape: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_addr(flag: &str, value: &str) -> Result<Option<SocketAddr>, Error> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        Error::Usage(format!(
            "--{flag} {value:?}: expected IP:PORT such as 127.0.0.1:2525 or [::1]:2525, or off"
        ))
    })
}

fn server_config(l: &ListenArgs) -> Result<(ServerConfig, CertSource), Error> {
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
        ..ServerConfig::default()
    };
    Ok((config, certs))
}

fn live_view(o: &OutputArgs) -> LiveView {
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

fn make_dir(dir: &Option<PathBuf>, what: &str) -> Result<(), Error> {
    if let Some(d) = dir {
        std::fs::create_dir_all(d).map_err(|e| Error::Io {
            action: format!("create the {what} folder {}", d.display()),
            source: e,
        })?;
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            action: "start the async runtime".into(),
            source: e,
        })
}

fn hub_config(o: &OutputArgs) -> Result<HubConfig, Error> {
    make_dir(&o.tapes, "tapes")?;
    Ok(HubConfig {
        view: live_view(o),
        tapes: o.tapes.clone(),
        ..HubConfig::default()
    })
}

fn run_mock(args: MockArgs) -> Result<(), Error> {
    if args.list_scenarios {
        for (name, desc) in Scenario::list() {
            out!("{name:<18} {desc}");
        }
        return Ok(());
    }
    let (server, certs) = server_config(&args.listen)?;
    make_dir(&args.mailbox, "mailbox")?;
    let mut hub = hub_config(&args.output)?;
    hub.mailbox = args.mailbox.clone();
    let config = MockConfig {
        mock: MockOptions {
            scenario: args.scenario.clone(),
            profile: args.profile.clone(),
            variant: args.variant.clone(),
            account: args.account.clone(),
            owner: args.owner.clone(),
            verified_domains: args.verified_domains.clone(),
            keys: args.keys.clone(),
        },
        service: ServiceConfig { server, certs, hub },
    };
    runtime()?.block_on(async move {
        let server = MockServer::start(config).await?;
        let s = server.settings();
        let title = format!(
            "mailtape mock · scenario {} · Resend profile, variant {}",
            s.scenario, s.profile.variant
        );
        let login = format!(
            "user `resend`, password {} (re_12345678 will do)",
            mailtape::resend::account::KEY_RULE
        );
        serve_until_signal(&server, &title, &login).await;
        server.shutdown().await;
        Ok(())
    })
}

fn run_record(args: RecordArgs) -> Result<(), Error> {
    let (server, certs) = server_config(&args.listen)?;
    let mut hub = hub_config(&args.output)?;
    hub.tape_file = Some(args.tape.clone());
    let upstream = UpstreamOptions {
        addr: args.upstream.clone(),
        tls: args.upstream_tls.as_deref().map(tls_mode),
        ca: args.upstream_ca.clone(),
        reply_timeout: Duration::from_secs(args.upstream_timeout.max(1)),
        ..UpstreamOptions::default()
    };
    let config = RecordConfig {
        upstream,
        service: ServiceConfig { server, certs, hub },
    };
    runtime()?.block_on(async move {
        let server = RecordServer::start(config).await?;
        let title = format!(
            "mailtape record · upstream {} · tape {}",
            server.upstream(),
            args.tape.display()
        );
        let login = "your real user and key; only the redacted form is written";
        serve_until_signal(&server, &title, login).await;
        server.shutdown().await;
        Ok(())
    })
}

fn run_replay(args: ReplayArgs) -> Result<(), Error> {
    if args.list {
        for (name, about) in list_builtin() {
            out!("{name:<30} {about}");
        }
        return Ok(());
    }
    let tape = args.tape.clone().unwrap_or_default();
    let (server, certs) = server_config(&args.listen)?;
    let hub = hub_config(&args.output)?;
    let config = ReplayConfig {
        replay: ReplayOptions {
            tape: tape.clone(),
            looped: args.looped,
            realtime: args.realtime,
            strict: args.strict,
        },
        service: ServiceConfig { server, certs, hub },
    };
    let outcome = runtime()?.block_on(async move {
        let server = ReplayServer::start(config).await?;
        let o = server.outcome();
        let title = format!(
            "mailtape replay · {tape} · {} {}",
            o.total,
            mailtape::modes::replay::responder::plural(o.total, "session", "sessions")
        );
        serve_until_signal(&server, &title, "any user and key: the tape decides").await;
        Ok::<_, Error>(server.shutdown().await)
    })?;
    if outcome.ok() {
        let _ = writeln!(std::io::stderr(), "mailtape: replay: {outcome}");
        Ok(())
    } else {
        Err(Error::Diverged(outcome.to_string()))
    }
}

/// A `--tls`/`--upstream-tls` value (clap allows only these three).
fn tls_mode(value: &str) -> UpstreamTls {
    match value {
        "implicit" => UpstreamTls::Implicit,
        "starttls" => UpstreamTls::Starttls,
        _ => UpstreamTls::None,
    }
}

fn run_show(args: ShowArgs) -> Result<(), Error> {
    let mut tapes: Vec<(String, mailtape::tape::Tape)> = Vec::new();
    let path = std::path::Path::new(&args.source);
    if args.source == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| Error::Io {
            action: "read a tape from stdin".into(),
            source: e,
        })?;
        tapes.push(("-".into(), mailtape::tape::Tape::parse(&text, "-")?));
    } else if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::Io {
                action: format!("list the folder {}", path.display()),
                source: e,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tape"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::Usage(format!(
                "no .tape files in {}",
                path.display()
            )));
        }
        for f in files {
            tapes.push(mailtape::modes::replay::load_tape(
                &f.display().to_string(),
            )?);
        }
    } else {
        // A file or builtin:NAME, as replay takes them.
        tapes.push(mailtape::modes::replay::load_tape(&args.source)?);
    }
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let opts = mailtape::tools::show::ShowOptions {
        session: args.session,
        no_explain: args.no_explain,
        color: std::io::stdout().is_terminal() && !no_color && !args.json,
    };
    for (name, tape) in &tapes {
        if args.json {
            out!("{}", mailtape::tools::show::render_json(name, tape, &opts));
        } else {
            let _ = write!(
                std::io::stdout(),
                "{}",
                mailtape::tools::show::render(name, tape, &opts)
            );
        }
    }
    if let Some(n) = args.session
        && !tapes
            .iter()
            .any(|(_, t)| t.sessions.iter().any(|s| s.meta.id == n))
    {
        return Err(Error::Usage(format!("no session {n} in {}", args.source)));
    }
    Ok(())
}

fn run_check(args: CheckArgs) -> ExitCode {
    match check(args) {
        Ok(code) => ExitCode::from(code),
        // 2 is clap's, for a command line it cannot parse; any other error
        // is 1, as for every subcommand (10 to 15 are the verdicts).
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "mailtape: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where the key comes from: the environment, the flag (warned), a prompt.
fn check_key(args: &CheckArgs) -> Result<String, Error> {
    if let Some(k) = std::env::var("RESEND_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
    {
        return Ok(k);
    }
    if let Some(k) = &args.key {
        let _ = writeln!(
            std::io::stderr(),
            "mailtape: warning: a key given as an argument lands in your shell history; prefer RESEND_API_KEY"
        );
        return Ok(k.clone());
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("API key (input hidden): ").map_err(|e| Error::Io {
            action: "read the key from the terminal".into(),
            source: e,
        });
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::Io {
            action: "read the key from stdin".into(),
            source: e,
        })?;
    let key = line.trim().to_string();
    if key.is_empty() {
        return Err(Error::Usage(
            "no key: set RESEND_API_KEY, or type it at the prompt".into(),
        ));
    }
    Ok(key)
}

fn check(args: CheckArgs) -> Result<u8, Error> {
    use mailtape::tools::check::{AuthChoice, CheckOptions, Status};
    let key = check_key(&args)?;
    let tls = args.tls.as_deref().map(tls_mode);
    let o = CheckOptions {
        host: args.host.clone(),
        port: args.port,
        tls,
        user: args.user.clone(),
        key,
        from: args.from.clone(),
        to: args.to.clone(),
        ca_file: args.ca_file.clone(),
        auth: match args.auth.as_str() {
            "plain" => AuthChoice::Plain,
            "login" => AuthChoice::Login,
            _ => AuthChoice::Auto,
        },
        send: !args.no_send,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = std::io::stdout().is_terminal() && !no_color && !args.json;
    let warnings = mailtape::tools::check::warnings(&o);
    if !args.json {
        out!(
            "mailtape check · {}:{} · {} · user {}",
            o.host,
            o.port,
            tls.map_or("TLS mode to be found", UpstreamTls::describe),
            o.user
        );
        for w in &warnings {
            out!("warning: {w}");
        }
    }
    let json = args.json;
    let mut on = move |kind: &mailtape::tape::EventKind,
                       said: Option<mailtape::tools::explain::Said>| {
        if json {
            return;
        }
        out!("{}", mailtape::tools::show::line(kind, color));
        if let Some(s) = said {
            out!("{}", mailtape::tools::show::explanation(s, color));
        }
    };
    let verdict = runtime()?.block_on(mailtape::tools::check::run(&o, &mut on))?;
    let mut warnings = warnings;
    warnings.extend(verdict.warnings.iter().cloned());
    if json {
        let v = serde_json::json!({
            "host": o.host, "port": o.port, "tls_mode": verdict.tls_mode, "user": o.user,
            "warnings": warnings, "verdict": verdict,
        });
        out!("{v}");
        return Ok(verdict.exit);
    }
    out!();
    for w in &verdict.warnings {
        out!("warning: {w}");
    }
    out!("verdict:");
    for s in &verdict.steps {
        let mark = match s.status {
            Status::Passed => "✓",
            Status::Failed => "✗",
            Status::Skipped => "-",
        };
        out!("  {mark} {:<15} {}", s.step, s.detail);
        if let Some(e) = s.explain {
            out!("    {:<15} ↳ {e}", "");
        }
    }
    Ok(verdict.exit)
}

fn run_bench(args: BenchArgs) -> Result<(), Error> {
    let o = mailtape::tools::bench::BenchOptions {
        host: args.host.clone(),
        port: args.port,
        tls: tls_mode(&args.tls),
        ca_file: args.ca_file.clone(),
        connections: args.connections,
        messages: args.messages,
        per_connection: args.per_connection,
        size: args.size,
        pipeline: args.pipeline,
        login: match args.auth.as_str() {
            "none" => None,
            "login" => Some(true),
            _ => Some(false),
        },
        user: args.user.clone(),
        key: args.key.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        timeout: Duration::from_secs(30),
    };
    let r = runtime()?.block_on(mailtape::tools::bench::run(o))?;
    // A load test whose messages failed has failed: the report still goes
    // to stdout, the reason to stderr, and the status is 1.
    let failed = r.failure(args.messages).map(Error::BenchFailed);
    if args.json {
        out!("{}", serde_json::to_string(&r).unwrap_or_default());
        return failed.map_or(Ok(()), Err);
    }
    out!(
        "{} messages in {:.2}s: {:.0} messages/s, {} errors",
        r.accepted,
        r.elapsed_s,
        r.messages_per_s,
        r.errors
    );
    for (name, l) in [
        ("per command", r.per_command),
        ("per message", r.per_message),
        ("connect", r.connect),
    ] {
        out!(
            "  {name:<12} p50 {:>8} µs   p99 {:>8} µs   max {:>8} µs   ({} samples)",
            l.p50_us,
            l.p99_us,
            l.max_us,
            l.count
        );
    }
    for e in &r.first_errors {
        out!("  error: {e}");
    }
    failed.map_or(Ok(()), Err)
}

/// Announces the server, then waits for SIGINT or SIGTERM.
async fn serve_until_signal(server: &Service, title: &str, login: &str) {
    let stop = signals();
    announce(server, title, login);
    tokio::select! {
        () = stop => {}
        () = give_back_memory(server) => {}
    }
    server
        .hub()
        .say("mailtape: stopping; open sessions get 421");
}

/// Prints the ready line (JSON) or the banner (people).
fn announce(server: &Service, title: &str, login: &str) {
    let addrs = server.addrs();
    let ca = server.ca_path().map(|p| p.display().to_string());
    match server.hub().view() {
        LiveView::Json => {
            let mut ready = serde_json::Map::new();
            for (k, v) in [
                ("smtps", addrs.smtps),
                ("starttls", addrs.starttls),
                ("plain", addrs.plain),
            ] {
                if let Some(a) = v {
                    ready.insert(k.into(), a.to_string().into());
                }
            }
            if let Some(ca) = &ca {
                ready.insert("ca".into(), ca.clone().into());
            }
            out!("{}", serde_json::Value::Object(ready));
        }
        LiveView::Quiet => {}
        LiveView::Human { .. } => {
            let mut out = format!("{title}\n");
            let rows = [
                (
                    "smtps",
                    addrs.smtps,
                    "implicit TLS, like smtp.resend.com:465",
                ),
                (
                    "starttls",
                    addrs.starttls,
                    "STARTTLS, like smtp.resend.com:587",
                ),
                ("plain", addrs.plain, "no TLS, for apps that cannot do it"),
            ];
            for (name, addr, what) in rows {
                if let Some(a) = addr {
                    out.push_str(&format!("  {name:<9} {:<22} {what}\n", a.to_string()));
                }
            }
            if let Some(ca) = &ca {
                out.push_str(&format!("  CA        {ca}\n"));
                out.push_str(&format!(
                    "            trust it once: curl --cacert {ca} · CURL_CA_BUNDLE / SSL_CERT_FILE={ca} · NODE_EXTRA_CA_CERTS={ca}\n"
                ));
            }
            out.push_str(&format!("  login     {login} · Ctrl-C stops"));
            server.hub().say(&out);
        }
    }
}

/// After a wave of connections has closed, hands the freed memory back to
/// the system: glibc's allocator keeps freed heap in its arenas otherwise,
/// and a mock that once held 10,000 connections would stay that big.
async fn give_back_memory(server: &Service) {
    let mut peak = 0usize;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let active = server.active_sessions();
        peak = peak.max(active);
        if peak >= active + 256 {
            trim_heap();
            peak = active;
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    unsafe extern "C" {
        /// glibc: release free memory at the top of each arena (and, since
        /// glibc 2.8, free whole pages inside them) back to the system.
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: malloc_trim takes no pointers and is safe to call at any time
    // from any thread; it only walks glibc's own arena lists under their locks.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// Resolves on SIGINT or SIGTERM. The handlers are in place when this
/// returns, before the future is first polled, so a signal sent right after
/// the ready line is never missed.
fn signals() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn run_profile(args: ProfileArgs) -> Result<(), Error> {
    let overlay = match &args.profile {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::Io {
                action: format!("read the profile file {}", p.display()),
                source: e,
            })?;
            Some(mailtape::resend::ProfileFile::parse(
                &text,
                &p.display().to_string(),
            )?)
        }
        None => None,
    };
    let profile = Profile::build(overlay.as_ref(), &args.variant)?;
    if args.json {
        let v = serde_json::json!({
            "hostname": profile.hostname,
            "variant": profile.variant,
            "ehlo": profile.ehlo,
            "replies": profile.replies,
        });
        out!("{v:#}");
        return Ok(());
    }
    out!(
        "Resend profile · host {} · variant {}",
        profile.hostname,
        profile.variant
    );
    out!("EHLO: {}", profile.ehlo.join(", "));
    for (name, spec) in &profile.replies {
        out!(
            "{name:<28} {:<6} {} {}",
            format!("{:?}", spec.source).to_lowercase(),
            spec.code,
            spec.text
        );
    }
    out!();
    for (name, desc) in Profile::builtin_variants() {
        out!("--variant {name:<8} {desc}");
    }
    Ok(())
}
