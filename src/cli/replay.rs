//! `mailtape replay`.

use std::io::Write;

use clap::Args;
use mailtape::{Error, ReplayConfig, ReplayOptions, ReplayServer, ServiceConfig, list_builtin};

use super::listen::{ListenArgs, OutputArgs, output_config, parse_addr, server_config, web_config};
use super::runtime;
use super::serve::serve_until_signal;

#[derive(Args, Debug)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) listen: ListenArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// The tape: a file, a folder of `.tape` files (what --tapes wrote; webhook
    /// attempts in it are not played), or `builtin:NAME` for a shipped one (see --list).
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
    /// Start over at the first session after the last (and REST exchanges
    /// that were all played answer again, the least played first).
    #[arg(long = "loop")]
    pub(crate) looped: bool,
    /// A JSON field to leave out when REST request bodies are matched
    /// (repeatable): a name at any depth (`subject`), or a dotted path from
    /// the top (`headers.X-Entity-Ref-ID`). Ids and dates match any id or
    /// date already.
    #[arg(long = "match-ignore", value_name = "FIELD")]
    pub(crate) match_ignore: Vec<String>,
    /// A listener of its own for the tape's REST exchanges (e.g.
    /// 127.0.0.1:3000), besides the inbox's.
    #[arg(long, value_name = "ADDR|off", default_value = "off")]
    pub(crate) rest: String,
    #[command(flatten)]
    pub(crate) webhook: super::webhook::WebhookArgs,
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
            match_ignore: args.match_ignore.clone(),
            rest: parse_addr("rest", &args.rest)?,
        },
        service: ServiceConfig {
            server,
            certs,
            output,
            web,
        },
        webhooks: (!args.webhook.webhooks.is_empty())
            .then(|| args.webhook.config())
            .transpose()?,
    };
    let outcome = runtime()?.block_on(async move {
        let server = ReplayServer::start(config).await?;
        let o = server.outcome();
        let mut title = format!(
            "mailtape replay · {tape} · {} {}",
            o.total,
            if o.total == 1 { "session" } else { "sessions" }
        );
        if o.rest_total > 0 {
            title.push_str(&format!(
                " · {} REST {}",
                o.rest_total,
                if o.rest_total == 1 {
                    "exchange"
                } else {
                    "exchanges"
                }
            ));
        }
        let skipped = server.webhook_attempts();
        if skipped > 0 {
            title.push_str(&format!(
                " · {skipped} webhook {} not played (mailtape's own requests; --webhook sends them anew)",
                if skipped == 1 { "attempt" } else { "attempts" }
            ));
        }
        let rest = (o.rest_total > 0 || server.rest_url().is_some() && args.rest != "off")
            .then(|| server.rest_url())
            .flatten();
        serve_until_signal(
            &server,
            &title,
            "any user and key: the tape decides",
            rest.as_deref(),
            server.webhooks().map(|h| &**h),
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
