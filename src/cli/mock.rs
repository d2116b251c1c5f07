//! `mailtape mock`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use mailtape::resend::Scenario;
use mailtape::{Error, MockConfig, MockOptions, MockServer, ServiceConfig};

use super::listen::{ListenArgs, OutputArgs, output_config, parse_addr, server_config, web_config};
use super::serve::serve_until_signal;
use super::webhook::WebhookArgs;
use super::{make_dir, runtime};

#[derive(Args, Debug)]
pub(crate) struct MockArgs {
    #[command(flatten)]
    pub(crate) listen: ListenArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// A built-in scenario (see --list-scenarios) or a scenario file.
    #[arg(long, value_name = "NAME|FILE", default_value = "default")]
    pub(crate) scenario: String,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    pub(crate) list_scenarios: bool,
    /// A profile file (TOML) that overrides replies of the built-in Resend profile.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: Option<PathBuf>,
    /// Reply wording: `default` (as seen on the wire) or `brief` (the product brief's, 421 when rate limited).
    #[arg(long, value_name = "NAME")]
    pub(crate) variant: Option<String>,
    /// An account file (TOML): owner, verified domains, keys.
    #[arg(long, value_name = "FILE")]
    pub(crate) account: Option<PathBuf>,
    /// Sandbox owner: only this address may receive mail.
    #[arg(long, value_name = "EMAIL")]
    pub(crate) owner: Option<String>,
    /// A verified sender domain (repeatable); without any, every domain counts as verified.
    #[arg(long = "verified-domain", value_name = "DOMAIN")]
    pub(crate) verified_domains: Vec<String>,
    /// Accept only this API key (repeatable); without any, every key shaped like
    /// Resend's is accepted (re_ then at least 8 of A-Z a-z 0-9 _).
    #[arg(long = "key", value_name = "KEY")]
    pub(crate) keys: Vec<String>,
    /// Write every accepted message to this folder as an .eml file.
    #[arg(long, value_name = "DIR")]
    pub(crate) mailbox: Option<PathBuf>,
    /// Serve Resend's REST API (POST /emails and friends) on this address,
    /// on the same account as the SMTP listeners: point the Node SDK at it
    /// with RESEND_BASE_URL=http://ADDR, the Python SDK with
    /// resend.api_url = "http://ADDR".
    #[arg(long, value_name = "ADDR|off", default_value = "off")]
    pub(crate) rest: String,
    #[command(flatten)]
    pub(crate) webhook: WebhookArgs,
    /// Serve --rest over HTTPS with the server's certificate (the generated
    /// CA's, certs/ca.pem): the mock stands in for https://api.resend.com,
    /// e.g. as the upstream of `record --rest-upstream`.
    #[arg(long, requires = "rest")]
    pub(crate) rest_tls: bool,
}

pub(crate) fn run(args: MockArgs) -> Result<(), Error> {
    if args.list_scenarios {
        for (name, desc) in Scenario::list() {
            out!("{name:<18} {desc}");
        }
        return Ok(());
    }
    let (server, certs) = server_config(&args.listen)?;
    let web = web_config(&args.listen)?;
    make_dir(&args.mailbox, "mailbox")?;
    let mut output = output_config(&args.output)?;
    output.mailbox = args.mailbox.clone();
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
        service: ServiceConfig {
            server,
            certs,
            output,
            web,
        },
        rest: parse_addr("rest", &args.rest)?,
        webhooks: Some(args.webhook.config()?),
        rest_tls: args.rest_tls,
    };
    runtime()?.block_on(async move {
        let server = MockServer::start(config).await?;
        let rest = server.rest_url();
        let s = server.settings();
        let title = format!(
            "mailtape mock · scenario {} · Resend profile, variant {}",
            s.scenario, s.profile.variant
        );
        let login = format!(
            "user `resend`, password {} (re_12345678 will do)",
            mailtape::resend::account::KEY_RULE
        );
        serve_until_signal(
            &server,
            &title,
            &login,
            rest.as_deref(),
            Some(server.webhooks()),
        )
        .await;
        server.shutdown().await;
        Ok(())
    })
}
