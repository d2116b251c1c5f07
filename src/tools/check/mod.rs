//! `mailtape check`: what an online SMTP tester does, locally and
//! scriptable. It connects as an app would, shows the redacted transcript,
//! and ends with a verdict per step and an exit status per failure class.
//!
//! Here: the options, the verdict and the run that ties it together. By
//! what it does: `warnings.rs` (mistakes seen before connecting),
//! `tls.rs` (finding and setting up the TLS mode, and what a TLS failure
//! means), `steps.rs` (recording each step and the lines shown),
//! `session.rs` (the SMTP conversation, EHLO to QUIT).

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::net::client::{TlsDetails, UpstreamTls};
use crate::resend::explain::{Explainer, Said};
use crate::tape::EventKind;
use crate::tape::redact::scrub;

/// Exit status: the message (or, with `--no-send`, the login) was accepted.
pub const EXIT_OK: u8 = 0;
/// Exit status: no connection, or no greeting.
pub const EXIT_CONNECTION: u8 = 10;
/// Exit status: TLS failed (handshake, certificate, STARTTLS not offered).
pub const EXIT_TLS: u8 = 11;
/// Exit status: authentication refused.
pub const EXIT_AUTH: u8 = 12;
/// Exit status: the sender or a recipient refused.
pub const EXIT_ADDRESS: u8 = 13;
/// Exit status: the message refused after DATA.
pub const EXIT_MESSAGE: u8 = 14;
/// Exit status: a temporary failure (4xx): retry later.
pub const EXIT_TEMPORARY: u8 = 15;

/// How AUTH is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthChoice {
    /// AUTH PLAIN with an initial response.
    Plain,
    /// AUTH LOGIN, step by step.
    Login,
    /// PLAIN if the server offers it, else LOGIN.
    Auto,
}

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// TLS mode; `None` finds it: a TLS handshake first (implicit TLS),
    /// else plain SMTP with STARTTLS if offered, else no TLS.
    pub tls: Option<UpstreamTls>,
    /// User name.
    pub user: String,
    /// The API key (password).
    pub key: String,
    /// Envelope sender and From header.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// A CA certificate to trust besides the public roots.
    pub ca_file: Option<PathBuf>,
    /// The AUTH mechanism.
    pub auth: AuthChoice,
    /// Send a message after logging in.
    pub send: bool,
    /// Longest wait for any step.
    pub timeout: Duration,
}

mod session;
mod steps;
mod tls;
mod warnings;

pub use warnings::warnings;

/// Passed, failed, or not reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It worked.
    Passed,
    /// It failed.
    Failed,
    /// Not tried (an earlier step failed, or `--no-send`, or no TLS asked).
    Skipped,
}

/// One line of the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// connection, TLS, authentication, sender, recipient, message.
    pub step: &'static str,
    /// How it went.
    pub status: Status,
    /// The reply or what went wrong.
    pub detail: String,
    /// The explanation and fix, for a failure.
    pub explain: Option<Cow<'static, str>>,
}

/// The outcome of a check.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Every step in order.
    pub steps: Vec<StepResult>,
    /// The TLS mode used (`implicit TLS`, `STARTTLS`, `no TLS`), given or
    /// found; `None` when the check stopped before it was known.
    pub tls_mode: Option<&'static str>,
    /// Mistakes seen on the way (a server that offers no TLS).
    pub warnings: Vec<String>,
    /// The negotiated TLS and the server's certificate.
    pub tls: Option<TlsDetails>,
    /// The exit status (see the `EXIT_` constants).
    pub exit: u8,
}

const STEPS: [&str; 6] = [
    "connection",
    "TLS",
    "authentication",
    "sender",
    "recipient",
    "message",
];

struct Run<'a> {
    o: &'a CheckOptions,
    on: &'a mut (dyn FnMut(&EventKind, Option<Said>) + Send),
    explainer: Explainer,
    steps: Vec<StepResult>,
    tls: Option<TlsDetails>,
    /// The mode in use, once given or found.
    mode: Option<UpstreamTls>,
    warnings: Vec<String>,
    /// Built on first use: a bad --ca-file fails the TLS step, not the run.
    config: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// Text from the server as check shows it: redacted, one line.
fn shown(text: &str) -> String {
    crate::tape::printable::printable(&scrub(text))
}

/// How a run stopped early: the exit status.
struct Stop(u8);

/// Runs the check. `on` sees every transcript line as it happens (already
/// redacted) and the explanation under it, if any.
pub async fn run(
    o: &CheckOptions,
    on: &mut (dyn FnMut(&EventKind, Option<Said>) + Send),
) -> Result<Verdict, Error> {
    if o.host.is_empty() || o.port == 0 {
        return Err(Error::Usage("check needs a host and a port".into()));
    }
    let mut r = Run {
        o,
        on,
        explainer: Explainer::new(),
        steps: Vec::new(),
        tls: None,
        mode: None,
        warnings: Vec::new(),
        config: None,
    };
    let exit = match r.run().await {
        Ok(()) => EXIT_OK,
        Err(Stop(code)) => code,
    };
    let mut steps = r.steps;
    for name in STEPS {
        if !steps.iter().any(|s| s.step == name) {
            let why = if exit == EXIT_OK {
                "not asked for (--no-send)"
            } else {
                "not reached"
            };
            steps.push(StepResult {
                step: name,
                status: Status::Skipped,
                detail: why.into(),
                explain: None,
            });
        }
    }
    steps.sort_by_key(|s| STEPS.iter().position(|n| *n == s.step));
    Ok(Verdict {
        steps,
        tls_mode: r.mode.map(UpstreamTls::describe),
        warnings: r.warnings,
        tls: r.tls,
        exit,
    })
}
