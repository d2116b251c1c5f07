//! `mailtape check`: what an online SMTP tester does, locally and
//! scriptable. It connects as an app would, shows the redacted transcript,
//! and ends with a verdict per step and an exit status per failure class.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::error::Error;
use crate::net::client::UpstreamTls;
use crate::net::client::{ClientConn, Fault, TlsDetails, TlsFailure};
use crate::net::tls::client_config;
use crate::resend::explain::{Explainer, Said};
use crate::smtp::{DataWriter, Reply, codes};
use crate::tape::EventKind;
use crate::tape::redact::{AuthPart, redact_auth, scrub};

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

/// Mistakes visible before connecting.
pub fn warnings(o: &CheckOptions) -> Vec<String> {
    let mut w = Vec::new();
    if o.user != crate::resend::account::USERNAME {
        w.push(format!(
            "the user name is {:?}: Resend expects the literal lowercase `resend`",
            o.user
        ));
    }
    if let Some(problem) = crate::resend::account::key_problem(&o.key) {
        w.push(format!(
            "the key is not shaped like a Resend API key: {problem}; Resend will refuse it with 535"
        ));
    }
    if o.port == 25 {
        w.push(
            "port 25: Resend does not support it, and many networks block it; use 465 or 587"
                .into(),
        );
    }
    match (o.tls, o.port) {
        (Some(UpstreamTls::Implicit), 587 | 2587) => w.push(format!(
            "implicit TLS on port {}: that port expects STARTTLS (--tls starttls)",
            o.port
        )),
        (Some(UpstreamTls::Starttls), 465 | 2465) => w.push(format!(
            "STARTTLS on port {}: that port expects implicit TLS (--tls implicit)",
            o.port
        )),
        _ => {}
    }
    w
}

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

/// Hints for TLS failures, each naming the fix for its cause.
const HINT_UNKNOWN_ISSUER: &str = "the server's certificate is signed by a CA this check does not trust: for mailtape's own, add --ca-file certs/ca.pem (made on its first run, in the folder it was started from); for another server, --ca-file with that server's CA";
const HINT_WRONG_NAME: &str = "the server's certificate is not for the host name given: connect by a name it was issued for (mailtape's own: localhost, 127.0.0.1, ::1, smtp.resend.com)";
const HINT_EXPIRED: &str =
    "the server's certificate has expired or is not valid yet (or this machine's clock is wrong)";
const HINT_PLAIN_FIRST: &str = "the server spoke plain SMTP first, not TLS: this port expects STARTTLS or no TLS: use --tls starttls, or leave --tls out and check finds the mode";
const HINT_TLS_FIRST: &str = "the server stayed silent, and a TLS handshake on this port works: this port speaks implicit TLS: use --tls implicit, or leave --tls out and check finds the mode";
const HINT_NO_STARTTLS: &str = "the server does not offer STARTTLS on this port: leave --tls out and check finds what it speaks (--tls none sends the key in the clear)";
const WARN_NO_TLS: &str = "the server offers no TLS: the key crosses the network in the clear (mailtape's plain listener is for apps that cannot do TLS)";

/// The longest wait for the probe that finds whether a silent port speaks TLS.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

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

impl Run<'_> {
    fn event(&mut self, kind: EventKind) {
        // A server may echo what it was sent (credentials included): its
        // replies are shown redacted, as record shows the same lines.
        let kind = match kind {
            EventKind::Server(t) => EventKind::Server(shown(&t)),
            EventKind::Note(t) => EventKind::Note(shown(&t)),
            other => other,
        };
        let said = self.explainer.observe(&kind);
        (self.on)(&kind, said);
    }

    fn pass(&mut self, step: &'static str, detail: String) {
        self.steps.push(StepResult {
            step,
            status: Status::Passed,
            detail: shown(&detail),
            explain: None,
        });
    }

    fn fail(
        &mut self,
        step: &'static str,
        detail: String,
        explain: Option<&'static str>,
        exit: u8,
    ) -> Stop {
        self.steps.push(StepResult {
            step,
            status: Status::Failed,
            detail: shown(&detail),
            explain: explain.map(Cow::Borrowed),
        });
        Stop(exit)
    }

    fn fault(&mut self, step: &'static str, f: Fault, exit: u8) -> Stop {
        let detail = format!("{}:{} {}", self.o.host, self.o.port, f.0);
        self.event(EventKind::Note(detail.clone()));
        let explain = (f.0.starts_with("did not reply") && step == "connection")
            .then_some(crate::resend::explain::NO_GREETING);
        self.fail(step, detail, explain, exit)
    }

    /// A reply that ends a step in failure: 4xx is temporary whatever the step.
    fn refused(&mut self, step: &'static str, reply: &Reply, exit: u8) -> Stop {
        let user = crate::resend::explain::User::of(&self.o.user);
        let last = reply.wire_lines().last().unwrap_or_default();
        let said = crate::resend::explain::explain(
            reply.code,
            last.get(4..).unwrap_or(""),
            user,
            step == "message",
        );
        let exit = if reply.is_error() && reply.code < 500 {
            EXIT_TEMPORARY
        } else {
            exit
        };
        let stop = self.fail(step, last, said.map(|s| s.text), exit);
        // check knows the key: a 535 for a key of the wrong shape says what
        // is wrong with it, where the reply alone could only say "a key".
        if step == "authentication"
            && reply.code == 535
            && user == crate::resend::explain::User::Resend
            && let Some(problem) = crate::resend::account::key_problem(&self.o.key)
            && let Some(s) = self.steps.last_mut()
        {
            s.explain = Some(Cow::Owned(format!(
                "the key is not shaped like a Resend API key: {problem}; copy it again from resend.com/api-keys"
            )));
        }
        stop
    }

    async fn cmd(
        &mut self,
        conn: &mut ClientConn,
        line: &str,
        shown: String,
    ) -> Result<Reply, Fault> {
        self.event(EventKind::Client(shown));
        let r = conn.command(line.as_bytes(), self.o.timeout).await?;
        self.reply(&r);
        Ok(r)
    }

    fn reply(&mut self, r: &Reply) {
        for l in r.wire_lines() {
            self.event(EventKind::Server(l));
        }
        // Where the built-in profile only guesses this reply's text, say so:
        // against the mock it is unconfirmed, against the relay it is evidence.
        let last = r.lines.last().map(String::as_str).unwrap_or("");
        if let Some((name, spec)) = crate::resend::profile::builtin().reply_matching(r.code, last)
            && spec.source == crate::resend::Source::Guess
        {
            self.event(EventKind::Note(crate::resend::profile::unconfirmed_note(
                r.code, name,
            )));
        }
    }

    fn config(&mut self) -> Result<std::sync::Arc<rustls::ClientConfig>, Stop> {
        if let Some(c) = &self.config {
            return Ok(c.clone());
        }
        match client_config(self.o.ca_file.as_deref()) {
            Ok(c) => {
                self.config = Some(c.clone());
                Ok(c)
            }
            Err(e) => Err(self.fail("TLS", e.to_string(), None, EXIT_TLS)),
        }
    }

    /// The TLS handshake; on success the TLS step has passed. A failure is
    /// handed back with what it says about the server.
    async fn handshake(
        &mut self,
        conn: ClientConn,
    ) -> Result<Result<ClientConn, (Fault, TlsFailure)>, Stop> {
        let config = self.config()?;
        match conn.handshake(config, &self.o.host, self.o.timeout).await {
            Ok((conn, details)) => {
                self.event(EventKind::Note(format!("TLS {}", details.summary())));
                let mut detail = details.summary();
                if let Some(s) = &details.subject {
                    detail.push_str(&format!(" · {s}"));
                }
                if let Some(t) = &details.not_after {
                    detail.push_str(&format!(" · expires {t}"));
                }
                self.tls = Some(details);
                self.pass("TLS", detail);
                Ok(Ok(conn))
            }
            Err(failed) => Ok(Err(failed)),
        }
    }

    /// The TLS handshake, a failure ending the check.
    async fn tls(&mut self, conn: ClientConn) -> Result<ClientConn, Stop> {
        match self.handshake(conn).await? {
            Ok(conn) => Ok(conn),
            Err((f, kind)) => Err(self.tls_failed(f, kind)),
        }
    }

    fn tls_failed(&mut self, f: Fault, kind: TlsFailure) -> Stop {
        let hint = match kind {
            TlsFailure::UnknownIssuer => Some(HINT_UNKNOWN_ISSUER),
            TlsFailure::WrongName => Some(HINT_WRONG_NAME),
            TlsFailure::Expired => Some(HINT_EXPIRED),
            // Only for implicit TLS is a plain answer a mode mix-up; after
            // STARTTLS it is a broken server.
            TlsFailure::NotTls if self.mode == Some(UpstreamTls::Implicit) => {
                Some(HINT_PLAIN_FIRST)
            }
            _ => None,
        };
        if self.mode == Some(UpstreamTls::Implicit) {
            // The connection itself was made: the greeting comes after TLS.
            let made = format!(
                "{}:{} connected; the greeting comes after TLS",
                self.o.host, self.o.port
            );
            self.pass("connection", made);
        }
        let detail = format!("{}:{} {}", self.o.host, self.o.port, f.0);
        self.event(EventKind::Note(detail.clone()));
        self.fail("TLS", detail, hint, EXIT_TLS)
    }

    /// Whether the port answers a TLS handshake on a fresh connection: asked
    /// when a server said nothing, to tell a TLS-first port from a silent one.
    async fn speaks_tls_first(&mut self) -> bool {
        let t = self.o.timeout.min(PROBE_TIMEOUT);
        let Ok(conn) = ClientConn::connect(&self.o.host, self.o.port, t).await else {
            return false;
        };
        let Some(config) = self
            .config
            .clone()
            .or_else(|| client_config(self.o.ca_file.as_deref()).ok())
        else {
            return false;
        };
        match conn.handshake(config, &self.o.host, t).await {
            Ok(_) => true,
            Err((_, kind)) => kind.speaks_tls(),
        }
    }

    /// Connects, and for implicit TLS (given or found) runs the handshake.
    async fn open(&mut self) -> Result<(ClientConn, bool), Stop> {
        let o = self.o;
        let conn = match ClientConn::connect(&o.host, o.port, o.timeout).await {
            Ok(c) => c,
            Err(f) => return Err(self.fault("connection", f, EXIT_CONNECTION)),
        };
        match o.tls {
            Some(UpstreamTls::Implicit) => {
                self.mode = Some(UpstreamTls::Implicit);
                Ok((self.tls(conn).await?, false))
            }
            Some(mode) => {
                self.mode = Some(mode);
                Ok((conn, false))
            }
            None => {
                self.event(EventKind::Note(
                    "no --tls: finding the mode, a TLS handshake first".into(),
                ));
                match self.handshake(conn).await? {
                    Ok(conn) => {
                        self.mode = Some(UpstreamTls::Implicit);
                        Ok((conn, false))
                    }
                    Err((f, TlsFailure::NotTls)) => {
                        self.event(EventKind::Note(format!(
                            "not TLS ({}): plain SMTP, with STARTTLS if the server offers it",
                            f.0
                        )));
                        self.mode = Some(UpstreamTls::Starttls);
                        match ClientConn::connect(&o.host, o.port, o.timeout).await {
                            Ok(c) => Ok((c, true)),
                            Err(f) => Err(self.fault("connection", f, EXIT_CONNECTION)),
                        }
                    }
                    Err((f, TlsFailure::Silent)) => {
                        let detail = format!("{}:{} {}, and sent no greeting", o.host, o.port, f.0);
                        self.event(EventKind::Note(detail.clone()));
                        Err(self.fail(
                            "connection",
                            detail,
                            Some(crate::resend::explain::NO_GREETING),
                            EXIT_CONNECTION,
                        ))
                    }
                    Err((f, kind)) => {
                        self.mode = Some(UpstreamTls::Implicit);
                        Err(self.tls_failed(f, kind))
                    }
                }
            }
        }
    }

    async fn run(&mut self) -> Result<(), Stop> {
        let o = self.o;
        let t = o.timeout;
        let (mut conn, found_plain) = self.open().await?;
        let greeting = match conn.reply(t).await {
            Ok(g) => g,
            Err(f) => {
                if self.mode != Some(UpstreamTls::Implicit)
                    && f.0.starts_with("did not reply")
                    && self.speaks_tls_first().await
                {
                    let detail = format!("{}:{} {}", o.host, o.port, f.0);
                    self.event(EventKind::Note(detail.clone()));
                    return Err(self.fail(
                        "connection",
                        detail,
                        Some(HINT_TLS_FIRST),
                        EXIT_CONNECTION,
                    ));
                }
                return Err(self.fault("connection", f, EXIT_CONNECTION));
            }
        };
        self.reply(&greeting);
        if greeting.code != codes::SERVICE_READY {
            return Err(self.refused("connection", &greeting, EXIT_CONNECTION));
        }
        self.pass(
            "connection",
            format!("{}:{} {}", o.host, o.port, greeting.lines[0]),
        );
        let ehlo_line = "EHLO mailtape.check";
        let mut ehlo = self
            .cmd(&mut conn, ehlo_line, ehlo_line.into())
            .await
            .map_err(|f| self.fault("connection", f, EXIT_CONNECTION))?;
        let offers_starttls = ehlo
            .lines
            .iter()
            .any(|l| l.eq_ignore_ascii_case("STARTTLS"));
        if found_plain && !offers_starttls {
            self.mode = Some(UpstreamTls::None);
            self.warnings.push(WARN_NO_TLS.into());
            self.event(EventKind::Note(WARN_NO_TLS.into()));
        }
        match self.mode.unwrap_or(UpstreamTls::None) {
            UpstreamTls::Starttls => {
                if !offers_starttls {
                    return Err(self.fail(
                        "TLS",
                        "the server does not offer STARTTLS".into(),
                        Some(HINT_NO_STARTTLS),
                        EXIT_TLS,
                    ));
                }
                let ready = self
                    .cmd(&mut conn, "STARTTLS", "STARTTLS".into())
                    .await
                    .map_err(|f| self.fault("TLS", f, EXIT_TLS))?;
                if ready.code != codes::SERVICE_READY {
                    return Err(self.refused("TLS", &ready, EXIT_TLS));
                }
                conn = self.tls(conn).await?;
                ehlo = self
                    .cmd(&mut conn, ehlo_line, ehlo_line.into())
                    .await
                    .map_err(|f| self.fault("connection", f, EXIT_CONNECTION))?;
            }
            UpstreamTls::None => self.steps.push(StepResult {
                step: "TLS",
                status: Status::Skipped,
                detail: if found_plain {
                    "the server offers no TLS".into()
                } else {
                    "no TLS asked for (--tls none)".into()
                },
                explain: None,
            }),
            UpstreamTls::Implicit => {}
        }
        let offers = |m: &str| {
            ehlo.lines.iter().any(|l| {
                let u = l.to_ascii_uppercase();
                u.starts_with("AUTH") && u.split([' ', '=']).any(|w| w == m)
            })
        };
        let login = match o.auth {
            AuthChoice::Login => true,
            AuthChoice::Plain => false,
            AuthChoice::Auto => !offers("PLAIN") && offers("LOGIN"),
        };
        let reply = if login {
            let r = self
                .cmd(&mut conn, "AUTH LOGIN", "AUTH LOGIN".into())
                .await
                .map_err(|f| self.fault("authentication", f, EXIT_AUTH))?;
            if r.code == codes::AUTH_CONTINUE {
                let user = STANDARD.encode(&o.user);
                let r = self
                    .cmd(&mut conn, &user, redact_auth(AuthPart::LoginUser, &user))
                    .await
                    .map_err(|f| self.fault("authentication", f, EXIT_AUTH))?;
                if r.code == codes::AUTH_CONTINUE {
                    let key = STANDARD.encode(&o.key);
                    self.cmd(&mut conn, &key, redact_auth(AuthPart::Secret, &key))
                        .await
                        .map_err(|f| self.fault("authentication", f, EXIT_AUTH))?
                } else {
                    r
                }
            } else {
                r
            }
        } else {
            let payload = STANDARD.encode(format!("\0{}\0{}", o.user, o.key));
            let line = format!("AUTH PLAIN {payload}");
            let shown = format!("AUTH PLAIN {}", redact_auth(AuthPart::Plain, &payload));
            self.cmd(&mut conn, &line, shown)
                .await
                .map_err(|f| self.fault("authentication", f, EXIT_AUTH))?
        };
        if reply.code != codes::AUTH_OK {
            {
                let stop = self.refused("authentication", &reply, EXIT_AUTH);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        self.pass("authentication", reply.to_string());
        if !o.send {
            self.quit(&mut conn).await;
            return Ok(());
        }
        let mail = format!("MAIL FROM:<{}>", o.from);
        let r = self
            .cmd(&mut conn, &mail, mail.clone())
            .await
            .map_err(|f| self.fault("sender", f, EXIT_ADDRESS))?;
        if r.code != codes::OK {
            {
                let stop = self.refused("sender", &r, EXIT_ADDRESS);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        self.pass("sender", r.to_string());
        let rcpt = format!("RCPT TO:<{}>", o.to);
        let r = self
            .cmd(&mut conn, &rcpt, rcpt.clone())
            .await
            .map_err(|f| self.fault("recipient", f, EXIT_ADDRESS))?;
        if r.code != codes::OK {
            {
                let stop = self.refused("recipient", &r, EXIT_ADDRESS);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        self.pass("recipient", r.to_string());
        let r = self
            .cmd(&mut conn, "DATA", "DATA".into())
            .await
            .map_err(|f| self.fault("message", f, EXIT_MESSAGE))?;
        if r.code != codes::START_DATA {
            {
                let stop = self.refused("message", &r, EXIT_MESSAGE);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        let body = format!(
            "From: {}\r\nTo: {}\r\nSubject: mailtape check\r\nDate: {}\r\nMessage-ID: <{}@mailtape.check>\r\n\r\nThis message was sent by `mailtape check` to test SMTP settings.\r\n",
            o.from,
            o.to,
            rfc2822_now(),
            crate::resend::new_id()
        );
        for line in body.trim_end().split("\r\n") {
            self.event(EventKind::Data(line.to_string()));
        }
        let mut wire = Vec::new();
        let mut w = DataWriter::new();
        w.encode(body.as_bytes(), &mut wire);
        w.finish(&mut wire);
        self.event(EventKind::Client(".".into()));
        let r = match conn.send(&wire, t).await {
            Ok(()) => conn.reply(t).await,
            Err(f) => Err(f),
        }
        .map_err(|f| self.fault("message", f, EXIT_MESSAGE))?;
        self.reply(&r);
        if r.code != codes::OK {
            {
                let stop = self.refused("message", &r, EXIT_MESSAGE);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        self.pass("message", r.to_string());
        self.quit(&mut conn).await;
        Ok(())
    }

    /// Says goodbye after a refusal, as a polite client does.
    async fn give_up(&mut self, conn: &mut ClientConn, stop: Stop) -> Stop {
        if stop.0 != EXIT_TEMPORARY {
            self.quit(conn).await;
        }
        stop
    }

    async fn quit(&mut self, conn: &mut ClientConn) {
        let _ = self.cmd(conn, "QUIT", "QUIT".into()).await;
    }
}

fn rfc2822_now() -> String {
    let fmt = time::format_description::well_known::Rfc2822;
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}

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
