//! `mailtape record`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mailtape::{Error, RecordConfig, RecordServer, ServiceConfig, UpstreamOptions};

use super::listen::{ListenArgs, OutputArgs, output_config, server_config, web_config};
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
    #[arg(long, value_name = "FILE")]
    pub(crate) tape: PathBuf,
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
    let config = RecordConfig {
        upstream,
        service: ServiceConfig {
            server,
            certs,
            output,
            web,
        },
    };
    runtime()?.block_on(async move {
        let server = RecordServer::start(config).await?;
        let title = format!(
            "mailtape record · upstream {} · tape {}",
            server.upstream(),
            args.tape.display()
        );
        let login = "your real user and key; only the redacted form is written";
        serve_until_signal(&server, &title, login, None, None).await;
        server.shutdown().await;
        Ok(())
    })
}
