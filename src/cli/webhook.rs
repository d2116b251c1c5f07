//! The webhook flags `mock` and `replay` share, and `mailtape webhooks`
//! (the events, what causes each, and where that comes from).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mailtape::Error;
use mailtape::webhook::events::EventType;
use mailtape::webhook::{EndpointSpec, WebhookConfig};

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct WebhookArgs {
    /// Send Resend's webhook events (email.sent, email.delivered,
    /// email.bounced, …) to this endpoint, signed as Resend signs them
    /// (repeatable). `URL,email.bounced,email.complained` sends only those
    /// events. Each endpoint gets a new whsec_ secret, printed in the banner
    /// and the ready line (or give one in the account file's [[webhooks]]).
    /// Loopback hosts only, unless --webhook-allow-remote.
    #[arg(long = "webhook", value_name = "URL[,EVENT…]")]
    pub(crate) webhooks: Vec<String>,
    /// Multiply the retry schedule's waits (at once, 5 s, 5 min, 30 min, 2 h,
    /// 5 h, 10 h, 10 h) and the 5 days of failures that disable an endpoint by
    /// this: 0.001 makes a test see retries within a second.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    pub(crate) webhook_retry_scale: f64,
    /// Wait this many seconds between email.sent and the events after it
    /// (email.delivered, email.bounced, …); 0 sends them at once.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub(crate) webhook_delay: f64,
    /// Allow webhook endpoints on hosts other than this machine's loopback
    /// (off by default: a mock must not make requests anywhere it is told).
    #[arg(long)]
    pub(crate) webhook_allow_remote: bool,
    /// Trust this CA (PEM) for https webhook endpoints, besides the Mozilla
    /// roots.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
}

impl WebhookArgs {
    /// The sender's settings (always: the REST door can add endpoints later).
    pub(crate) fn config(&self) -> Result<WebhookConfig, Error> {
        let bad = |flag: &str, reason: &str| Error::Config {
            origin: flag.into(),
            reason: reason.into(),
        };
        if !self.webhook_retry_scale.is_finite() || self.webhook_retry_scale < 0.0 {
            return Err(bad(
                "--webhook-retry-scale",
                "must be a number of 0 or more (1 is Resend's schedule)",
            ));
        }
        if !self.webhook_delay.is_finite() || !(0.0..=86_400.0).contains(&self.webhook_delay) {
            return Err(bad(
                "--webhook-delay",
                "must be a number of seconds from 0 to 86400",
            ));
        }
        Ok(WebhookConfig {
            endpoints: self
                .webhooks
                .iter()
                .map(|w| EndpointSpec::parse_flag(w))
                .collect(),
            retry_scale: self.webhook_retry_scale,
            allow_remote: self.webhook_allow_remote,
            ca_file: self.ca_file.clone(),
            delay: Duration::from_secs_f64(self.webhook_delay),
            lower_priority: super::process::idle_thread,
            ..WebhookConfig::default()
        })
    }
}

#[derive(Args, Debug)]
pub(crate) struct WebhooksArgs {}

/// `mailtape webhooks`: the events mailtape sends, what causes each, and
/// where the sequence comes from.
pub(crate) fn run(_args: WebhooksArgs) -> Result<(), Error> {
    out!("{:<24} {:<6} what sends it", "event", "source");
    for t in EventType::ALL {
        out!(
            "{:<24} {:<6} {}",
            t.name(),
            if t.sent() {
                t.sequence_source().name()
            } else {
                "-"
            },
            t.cause()
        );
    }
    out!();
    out!(
        "source: docs = Resend's documentation; guess = the event is documented, but which test address sends it when is inferred; - = never sent (why is said). An endpoint may subscribe to every one of them, as in Resend."
    );
    Ok(())
}
