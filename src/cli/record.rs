//! `mailtape record`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mailtape::{
    DEFAULT_REST_UPSTREAM, Error, RecordConfig, RecordServer, RestUpstreamOptions, ServiceConfig,
    UpstreamOptions,
};

use super::listen::{ListenArgs, OutputArgs, output_config, parse_addr, server_config, web_config};
use super::serve::serve_until_signal;
use super::{runtime, tls_mode};

#[derive(Args, Debug)]
pub(crate) struct RecordArgs {
    #[command(flatten)]
    pub(crate) listen: ListenArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// The relay to forward to.
    #[arg(long, value_name = "HOST:PORT", default_value = "smtp.resend.com:465")]
    pub(crate) upstream: String,
    /// TLS to the relay; by default it follows the port: 465/2465 implicit, others STARTTLS.
    #[arg(long, value_name = "MODE", value_parser = ["implicit", "starttls", "none"])]
    pub(crate) upstream_tls: Option<String>,
    /// Also trust this CA certificate (PEM) for the relay, besides the public roots.
    ///
    /// Verification of the relay's certificate cannot be turned off.
    #[arg(long, value_name = "FILE")]
    pub(crate) upstream_ca: Option<PathBuf>,
    /// Longest wait for any one reply from the relay.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub(crate) upstream_timeout: u64,
    /// Append every finished session to this tape file (created if missing).
    ///
    /// REST exchanges go to the same tape, each a session of its own with
    /// its start time and offsets.
    #[arg(long, value_name = "FILE")]
    pub(crate) tape: PathBuf,
    /// Record Resend's REST API too: forward every request of the REST door
    /// to this URL over TLS (https only) and keep each exchange on the tape.
    ///
    /// The REST door is served on the inbox's listener
    /// (RESEND_BASE_URL=http://127.0.0.1:8025) and on --rest ADDR if given.
    /// With --rest alone the upstream is https://api.resend.com.
    #[arg(long, value_name = "URL")]
    pub(crate) rest_upstream: Option<String>,
    /// A listener of its own for the recorded REST door (e.g. 127.0.0.1:3000),
    /// besides the inbox's; turns REST recording on.
    #[arg(long, value_name = "ADDR|off", default_value = "off")]
    pub(crate) rest: String,
    /// Also trust this CA certificate (PEM) for the REST upstream, besides
    /// the public roots (a local mailtape mock with --rest-tls).
    #[arg(long, value_name = "FILE")]
    pub(crate) rest_upstream_ca: Option<PathBuf>,
}

pub(crate) fn run(args: RecordArgs) -> Result<(), Error> {
    let (server, certs) = server_config(&args.listen)?;
    let web = web_config(&args.listen)?;
    let mut output = output_config(&args.output)?;
    output.tape_file = Some(args.tape.clone());
    let upstream = UpstreamOptions {
        addr: args.upstream.clone(),
        tls: args.upstream_tls.as_deref().map(tls_mode),
        ca: args.upstream_ca.clone(),
        reply_timeout: Duration::from_secs(args.upstream_timeout.max(1)),
        ..UpstreamOptions::default()
    };
    let rest_listen = parse_addr("rest", &args.rest)?;
    let rest = if args.rest_upstream.is_some() || rest_listen.is_some() {
        if rest_listen.is_none() && web.is_none() {
            return Err(Error::Usage(
                "--rest-upstream needs a door for the REST API: the inbox (--ui) or --rest ADDR"
                    .into(),
            ));
        }
        Some(RestUpstreamOptions {
            url: args
                .rest_upstream
                .clone()
                .unwrap_or_else(|| DEFAULT_REST_UPSTREAM.to_string()),
            ca: args.rest_upstream_ca.clone(),
            timeout: Duration::from_secs(args.upstream_timeout.max(1)),
            listen: rest_listen,
            ..RestUpstreamOptions::default()
        })
    } else {
        if args.rest_upstream_ca.is_some() {
            return Err(Error::Usage(
                "--rest-upstream-ca is for the REST upstream: add --rest-upstream URL".into(),
            ));
        }
        None
    };
    let config = RecordConfig {
        upstream,
        rest,
        service: ServiceConfig {
            server,
            certs,
            output,
            web,
        },
    };
    runtime()?.block_on(async move {
        let server = RecordServer::start(config).await?;
        let mut title = format!("mailtape record · upstream {}", server.upstream());
        if let Some(r) = server.rest_upstream() {
            title.push_str(&format!(" · REST {r}"));
        }
        title.push_str(&format!(" · tape {}", args.tape.display()));
        let login = "your real user and key; only the redacted form is written";
        let rest = server.rest_url();
        serve_until_signal(&server, &title, login, rest.as_deref(), None).await;
        server.shutdown().await;
        Ok(())
    })
}
