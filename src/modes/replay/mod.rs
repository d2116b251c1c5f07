//! Replay mode as a library: answer clients from a tape, and report whether
//! they did what the tape says.

pub mod responder;
pub mod rest;

use std::sync::Arc;

use crate::engine::listener::ResponderFactory;
use crate::engine::responder::SessionState;
use crate::engine::server::{Service, ServiceConfig, service_builder_methods};
use crate::error::Error;
use crate::modes::replay::responder::{Divergence, Replay, ReplayShared};
use crate::modes::replay::rest::RestTape;
use crate::rest::serve::RestListener;
use crate::smtp::Reply;
use crate::tape::Tape;

macro_rules! builtin_tapes {
    ($($name:literal),* $(,)?) => {
        /// The shipped tapes: name and text.
        pub const BUILTIN_TAPES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../../fixtures/tapes/", $name, ".tape")))),*
        ];
    };
}

builtin_tapes!(
    "success-plain",
    "success-login",
    "wrong-username",
    "wrong-key",
    "auth-before-starttls",
    "invalid-from",
    "unverified-domain",
    "sandbox",
    "reserved-test-domain",
    "rate-limited",
    "rate-limited-421",
    "restricted-key",
    "key-domain-unverified",
    "daily-quota",
    "monthly-quota",
    "silent",
    "rest-invalid-key",
    "rest-missing-key",
    "rest-sandbox",
    "rest-unverified-domain",
    "rest-invalid-from",
    "rest-rate-limited",
    "rest-daily-quota",
    "rest-idempotency-conflict",
    "rest-batch-permissive",
);

/// Loads a tape: `builtin:NAME` for a shipped one, else a file path.
/// Returns the name transcripts use and the tape.
pub fn load_tape(spec: &str) -> Result<(String, Tape), Error> {
    if let Some(name) = spec.strip_prefix("builtin:") {
        let (name, text) = BUILTIN_TAPES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| Error::Unknown {
                what: "built-in tape",
                name: name.to_string(),
                known: BUILTIN_TAPES
                    .iter()
                    .map(|(n, _)| format!("builtin:{n}"))
                    .collect(),
            })?;
        let tape = Tape::parse(text, spec)?;
        return Ok((format!("builtin:{name}"), tape));
    }
    let path = std::path::Path::new(spec);
    if path.is_dir() {
        return Ok((spec.to_string(), load_folder(path)?));
    }
    let text = crate::tape::read::file(path)?;
    Ok((spec.to_string(), Tape::parse(&text, spec)?))
}

/// A folder of `.tape` files (what `--tapes DIR` writes, one file per
/// session, named so that they sort by time) read as one tape: every
/// session, file by file in name order. Files of webhook attempts come
/// along; the replay skips them (see [`ReplayShared::new`]).
fn load_folder(dir: &std::path::Path) -> Result<Tape, Error> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Io {
            action: format!("list the folder {}", dir.display()),
            source: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tape"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Usage(format!("no .tape files in {}", dir.display())));
    }
    let mut whole = Tape::default();
    for f in files {
        let origin = f.display().to_string();
        let text = crate::tape::read::file(&f)?;
        let tape = Tape::parse(&text, &origin)?;
        if whole.comments.is_empty() {
            whole.comments = tape.comments;
        }
        whole.sessions.extend(tape.sessions);
    }
    Ok(whole)
}

/// The shipped tapes with the first comment line of each (what it shows).
pub fn list_builtin() -> Vec<(String, String)> {
    BUILTIN_TAPES
        .iter()
        .map(|(n, text)| {
            let about = Tape::parse(text, n)
                .ok()
                .and_then(|t| t.comments.into_iter().next())
                .unwrap_or_default();
            (format!("builtin:{n}"), about)
        })
        .collect()
}

/// Makes a [`Replay`] per session.
pub struct ReplayFactory(pub Arc<ReplayShared>);

impl ResponderFactory for ReplayFactory {
    type R = Replay;

    fn make(&self, s: &SessionState) -> Replay {
        Replay::new(self.0.clone(), s.id)
    }

    fn mode(&self) -> &'static str {
        "replay"
    }

    fn source(&self) -> String {
        self.0.name().to_string()
    }

    fn too_many_connections(&self) -> Reply {
        self.0.too_many_connections()
    }
}

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// `builtin:NAME` or a path.
    pub tape: String,
    /// Start over at the end of the tape.
    pub looped: bool,
    /// Reproduce the recorded delays.
    pub realtime: bool,
    /// Sessions of the tape never played fail the run too.
    pub strict: bool,
    /// JSON fields left out when REST request bodies are matched (a name
    /// at any depth, or a dotted path such as `headers.X-Entity-Ref-ID`).
    pub match_ignore: Vec<String>,
    /// A listener of its own for the REST door (`--rest ADDR`), besides
    /// the inbox's; port 0 for any free port.
    pub rest: Option<std::net::SocketAddr>,
}

/// Everything a replay server is started from.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The tape and how to play it.
    pub replay: ReplayOptions,
    /// Listeners, certificates, outputs.
    pub service: ServiceConfig,
    /// Webhooks: the events the mock would send for the messages the
    /// tape's sessions accept (`None`: none).
    pub webhooks: Option<crate::webhook::WebhookConfig>,
}

/// How a replay went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Sessions in the tape.
    pub total: usize,
    /// Sessions of the tape played at least once.
    pub played: usize,
    /// Sessions played in all (more than `total` with `--loop`).
    pub plays: usize,
    /// Whether the tape was looped.
    pub looped: bool,
    /// Departures from the tape, SMTP and REST.
    pub divergences: Vec<Divergence>,
    /// Whether unplayed sessions count as a failure.
    pub strict: bool,
    /// REST exchanges in the tape.
    pub rest_total: usize,
    /// REST exchanges of the tape played at least once.
    pub rest_played: usize,
    /// REST requests answered from the tape (more than `rest_total` with `--loop`).
    pub rest_plays: usize,
}

impl ReplayOutcome {
    /// True when clients did what the tape says (and, with `strict`, played all of it).
    pub fn ok(&self) -> bool {
        self.divergences.is_empty()
            && (!self.strict || (self.played == self.total && self.rest_played == self.rest_total))
    }
}

impl std::fmt::Display for ReplayOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::modes::replay::responder::plural;
        let mut parts = Vec::new();
        let doors = [
            (self.total, self.played, self.plays, "session", "sessions"),
            (
                self.rest_total,
                self.rest_played,
                self.rest_plays,
                "REST exchange",
                "REST exchanges",
            ),
        ];
        for (i, (total, played, plays, one, many)) in doors.into_iter().enumerate() {
            // The sessions are always said (a tape of REST only: "0 of 0");
            // the REST exchanges when the tape has some.
            if i == 1 && total == 0 {
                continue;
            }
            let noun = plural(total, one, many);
            parts.push(if self.looped {
                // Each connection plays the next session, round and round:
                // count them all, and how much of the tape they covered.
                let mut s = format!(
                    "{plays} {} played, looping over the tape's {total} {noun}",
                    plural(plays, one, many)
                );
                if played < total {
                    s.push_str(&format!(" ({played} of {total} reached)"));
                }
                s
            } else {
                format!("{played} of {total} {noun} played")
            });
        }
        write!(f, "{}", parts.join(", "))?;
        if !self.divergences.is_empty() {
            let n = self.divergences.len();
            write!(f, ", {n} {}:", plural(n, "divergence", "divergences"))?;
            for d in &self.divergences {
                if d.session > 1_000_000 {
                    write!(
                        f,
                        "\n  REST exchange {}: expected `{}`, received `{}`",
                        d.session, d.expected, d.received
                    )?;
                } else if d.tape_session == 0 {
                    write!(
                        f,
                        "\n  session {} (beyond the tape): expected `{}`, received `{}`",
                        d.session, d.expected, d.received
                    )?;
                } else {
                    write!(
                        f,
                        "\n  session {} (tape session {}): expected `{}`, received `{}`",
                        d.session, d.tape_session, d.expected, d.received
                    )?;
                }
            }
        } else if self.strict && (self.played < self.total || self.rest_played < self.rest_total) {
            let mut unplayed = Vec::new();
            if self.played < self.total {
                let n = self.total - self.played;
                unplayed.push(format!("{n} {}", plural(n, "session", "sessions")));
            }
            if self.rest_played < self.rest_total {
                let n = self.rest_total - self.rest_played;
                unplayed.push(format!(
                    "{n} {}",
                    plural(n, "REST exchange", "REST exchanges")
                ));
            }
            write!(f, "; --strict: {} never played", unplayed.join(" and "))?;
        }
        Ok(())
    }
}

/// A running replay server; the accessors are those of [`Service`].
pub struct ReplayServer {
    service: Service,
    shared: Arc<ReplayShared>,
    rest_tape: Arc<RestTape>,
    rest: Option<RestListener>,
    strict: bool,
    hooks: Option<Arc<crate::webhook::Webhooks>>,
    webhook_attempts: usize,
}

impl crate::engine::server::Served for ReplayServer {
    fn into_service(self) -> Service {
        self.service
    }
}

impl std::ops::Deref for ReplayServer {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.service
    }
}

/// Sets up a [`ReplayServer`].
#[derive(Debug, Clone)]
pub struct ReplayBuilder {
    config: ReplayConfig,
}

impl ReplayBuilder {
    /// Start over at the end of the tape.
    pub fn looped(mut self, on: bool) -> Self {
        self.config.replay.looped = on;
        self
    }
    /// Reproduce the recorded delays.
    pub fn realtime(mut self, on: bool) -> Self {
        self.config.replay.realtime = on;
        self
    }
    /// Count unplayed sessions as a failure.
    pub fn strict(mut self, on: bool) -> Self {
        self.config.replay.strict = on;
        self
    }
    /// Serve the tape's REST exchanges on a listener of their own, on a
    /// free loopback port ([`ReplayServer::rest_url`]).
    pub fn rest(mut self) -> Self {
        self.config.replay.rest = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        self
    }
    /// Leave this JSON field out when matching REST request bodies (a name
    /// at any depth, or a dotted path from the top).
    pub fn match_ignore(mut self, field: impl Into<String>) -> Self {
        self.config.replay.match_ignore.push(field.into());
        self
    }
    /// The whole configuration, for what the helpers above do not cover.
    pub fn config(mut self, f: impl FnOnce(&mut ReplayConfig)) -> Self {
        f(&mut self.config);
        self
    }
    service_builder_methods!();
    /// Starts the server (inside a tokio runtime).
    pub async fn start(self) -> Result<ReplayServer, Error> {
        ReplayServer::start(self.config).await
    }
    /// Starts the server on a runtime of its own, for plain `#[test]` code.
    pub fn start_blocking(self) -> Result<crate::engine::server::Blocking<ReplayServer>, Error> {
        crate::engine::server::Blocking::start(ReplayServer::start(self.config))
    }
}

impl ReplayServer {
    /// A builder for `tape` (`builtin:NAME` or a path) with test settings.
    pub fn builder(tape: impl Into<String>) -> ReplayBuilder {
        ReplayBuilder {
            config: ReplayConfig {
                replay: ReplayOptions {
                    tape: tape.into(),
                    looped: false,
                    realtime: false,
                    strict: false,
                    match_ignore: Vec::new(),
                    rest: None,
                },
                service: ServiceConfig::for_tests(),
                webhooks: None,
            },
        }
    }

    /// Starts a replay from a whole configuration.
    pub async fn start(mut config: ReplayConfig) -> Result<ReplayServer, Error> {
        let (name, tape) = load_tape(&config.replay.tape)?;
        let webhook_attempts = tape
            .sessions
            .iter()
            .filter(|t| crate::tape::http::is_webhook(&t.meta))
            .count();
        let shared = Arc::new(ReplayShared::new(
            &tape,
            name.clone(),
            config.replay.looped,
            config.replay.realtime,
        )?);
        let rest_tape = Arc::new(RestTape::new(
            &tape,
            name,
            config.replay.looped,
            config.replay.realtime,
            config.replay.match_ignore.clone(),
        ));
        // The REST door is on the inbox's listener too, as the mock's is.
        if let Some(web) = &mut config.service.web {
            let r = rest_tape.clone();
            web.routes
                .push(crate::web::RouteMaker(Arc::new(move |sink| {
                    rest::router(r.clone(), sink.clone())
                })));
        }
        let hooks = match config.webhooks.take() {
            Some(w) => Some(crate::webhook::Webhooks::new(w)?),
            None => None,
        };
        if let (Some(web), Some(h)) = (&mut config.service.web, &hooks) {
            let h = h.clone();
            web.routes
                .push(crate::web::RouteMaker(Arc::new(move |_sink| {
                    crate::webhook::api::inbox(h.clone())
                })));
        }
        let factory = ReplayFactory(shared.clone());
        let (service, ()) = Service::start(config.service, |sink| {
            // Subscribed before the first session, as the inbox is.
            if let Some(h) = &hooks {
                h.attach(&sink);
            }
            (factory, ())
        })
        .await?;
        let rest = match config.replay.rest {
            Some(addr) => Some(
                RestListener::start(
                    addr,
                    rest::router(rest_tape.clone(), service.sink().clone()),
                    service.http(),
                )
                .await?,
            ),
            None => None,
        };
        Ok(ReplayServer {
            service,
            shared,
            rest_tape,
            rest,
            strict: config.replay.strict,
            hooks,
            webhook_attempts,
        })
    }

    /// Webhook attempts on the tape (`listener webhook`, written by
    /// `--tapes`): not played — they were mailtape's own requests; with
    /// `--webhook` the replay sends the events anew from the sessions it
    /// plays.
    pub fn webhook_attempts(&self) -> usize {
        self.webhook_attempts
    }

    /// The base URL of the REST door (`RESEND_BASE_URL`): its own listener
    /// if it has one, else the inbox's.
    pub fn rest_url(&self) -> Option<String> {
        match &self.rest {
            Some(r) => Some(format!("http://{}", r.addr)),
            None => self
                .service
                .ui_url()
                .map(|u| u.trim_end_matches('/').to_string()),
        }
    }

    /// The webhook sender, when webhooks were asked for.
    pub fn webhooks(&self) -> Option<&Arc<crate::webhook::Webhooks>> {
        self.hooks.as_ref()
    }

    /// How it went so far.
    pub fn outcome(&self) -> ReplayOutcome {
        let mut divergences = self.shared.divergences();
        divergences.extend(self.rest_tape.departures());
        ReplayOutcome {
            total: self.shared.total(),
            played: self.shared.played(),
            plays: self.shared.plays(),
            looped: self.shared.looped(),
            divergences,
            strict: self.strict,
            rest_total: self.rest_tape.total(),
            rest_played: self.rest_tape.played(),
            rest_plays: self.rest_tape.plays(),
        }
    }

    /// Stops the server and says how it went.
    pub async fn shutdown(mut self) -> ReplayOutcome {
        if let Some(r) = self.rest.take() {
            r.stop().await;
        }
        let outcome = self.outcome();
        let (shared, rest_tape) = (self.shared.clone(), self.rest_tape.clone());
        let sink = self.service.sink().clone();
        self.service.shutdown().await;
        if let Some(h) = self.hooks.take() {
            let left = h.stop(std::time::Duration::from_secs(2)).await;
            if left > 0 {
                sink.say(&format!(
                    "mailtape: {left} webhook deliveries left undelivered"
                ));
            }
            // Attempts' transcripts made in the grace, on their way to `--tapes`.
            let flushing = sink.clone();
            let _ = tokio::task::spawn_blocking(move || flushing.flush()).await;
            let lost = h.tapes_lost();
            if lost > 0 {
                let line = format!(
                    "mailtape: {lost} webhook attempt transcripts not written to --tapes (the disk fell behind, or a write failed)"
                );
                sink.say(&line);
                tracing::warn!("{line}");
            }
        }
        // Sessions that ended while stopping may have departed too.
        let mut divergences = shared.divergences();
        divergences.extend(rest_tape.departures());
        ReplayOutcome {
            divergences,
            ..outcome
        }
    }
}
