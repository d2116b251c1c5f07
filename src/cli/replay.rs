//! `mailtape replay`.

use std::io::Write;

use clap::Args;
use mailtape::{Error, ReplayConfig, ReplayOptions, ReplayServer, ServiceConfig, list_builtin};

use super::listen::{ListenArgs, OutputArgs, output_config, server_config, web_config};
use super::runtime;
use super::serve::serve_until_signal;

#[derive(Args, Debug)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) listen: ListenArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// The tape: a file, or `builtin:NAME` for a shipped one (see --list).
    #[arg(value_name = "TAPE", required_unless_present = "list")]
    pub(crate) tape: Option<String>,
    /// List the shipped tapes and exit.
    #[arg(long)]
    pub(crate) list: bool,
    /// Sessions of the tape that were never played also fail the run.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Wait as long as the recording did before each reply (timeouts need it).
    #[arg(long)]
    pub(crate) realtime: bool,
    /// Start over at the first session after the last.
    #[arg(long = "loop")]
    pub(crate) looped: bool,
}

pub(crate) fn run(args: ReplayArgs) -> Result<(), Error> {
    if args.list {
        for (name, about) in list_builtin() {
            out!("{name:<30} {about}");
        }
        return Ok(());
    }
    let tape = args.tape.clone().unwrap_or_default();
    let (server, certs) = server_config(&args.listen)?;
    let web = web_config(&args.listen)?;
    let output = output_config(&args.output)?;
    let config = ReplayConfig {
        replay: ReplayOptions {
            tape: tape.clone(),
            looped: args.looped,
            realtime: args.realtime,
            strict: args.strict,
        },
        service: ServiceConfig {
            server,
            certs,
            output,
            web,
        },
    };
    let outcome = runtime()?.block_on(async move {
        let server = ReplayServer::start(config).await?;
        let o = server.outcome();
        let title = format!(
            "mailtape replay · {tape} · {} {}",
            o.total,
            if o.total == 1 { "session" } else { "sessions" }
        );
        serve_until_signal(
            &server,
            &title,
            "any user and key: the tape decides",
            None,
            None,
        )
        .await;
        Ok::<_, Error>(server.shutdown().await)
    })?;
    if outcome.ok() {
        let _ = writeln!(std::io::stderr(), "mailtape: replay: {outcome}");
        Ok(())
    } else {
        Err(Error::Diverged(outcome.to_string()))
    }
}
