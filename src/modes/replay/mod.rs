//! Replay mode as a library: answer clients from a tape, and report whether
//! they did what the tape says.

pub mod responder;

use std::sync::Arc;

use crate::engine::listener::ResponderFactory;
use crate::engine::responder::SessionState;
use crate::engine::server::{Service, ServiceConfig, service_builder_methods};
use crate::error::Error;
use crate::modes::replay::responder::{Divergence, Replay, ReplayShared};
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
    let text = crate::tape::read::file(std::path::Path::new(spec))?;
    Ok((spec.to_string(), Tape::parse(&text, spec)?))
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
}

/// Everything a replay server is started from.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The tape and how to play it.
    pub replay: ReplayOptions,
    /// Listeners, certificates, outputs.
    pub service: ServiceConfig,
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
    /// Departures from the tape.
    pub divergences: Vec<Divergence>,
    /// Whether unplayed sessions count as a failure.
    pub strict: bool,
}

impl ReplayOutcome {
    /// True when clients did what the tape says (and, with `strict`, played all of it).
    pub fn ok(&self) -> bool {
        self.divergences.is_empty() && (!self.strict || self.played == self.total)
    }
}

impl std::fmt::Display for ReplayOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::modes::replay::responder::plural;
        let sessions = plural(self.total, "session", "sessions");
        if self.looped {
            // Each connection plays the next session, round and round: count
            // them all, and how much of the tape they covered.
            write!(
                f,
                "{} {} played, looping over the tape's {} {sessions}",
                self.plays,
                plural(self.plays, "session", "sessions"),
                self.total
            )?;
            if self.played < self.total {
                write!(f, " ({} of {} reached)", self.played, self.total)?;
            }
        } else {
            write!(f, "{} of {} {sessions} played", self.played, self.total)?;
        }
        if !self.divergences.is_empty() {
            let n = self.divergences.len();
            write!(
                f,
                ", {n} {}:",
                crate::modes::replay::responder::plural(n, "divergence", "divergences")
            )?;
            for d in &self.divergences {
                write!(
                    f,
                    "\n  session {} (tape session {}): expected `{}`, received `{}`",
                    d.session, d.tape_session, d.expected, d.received
                )?;
            }
        } else if self.strict && self.played < self.total {
            let n = self.total - self.played;
            let sessions = crate::modes::replay::responder::plural(n, "session", "sessions");
            write!(f, "; --strict: {n} {sessions} never played")?;
        }
        Ok(())
    }
}

/// A running replay server; the accessors are those of [`Service`].
pub struct ReplayServer {
    service: Service,
    shared: Arc<ReplayShared>,
    strict: bool,
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
                },
                service: ServiceConfig::for_tests(),
            },
        }
    }

    /// Starts a replay from a whole configuration.
    pub async fn start(config: ReplayConfig) -> Result<ReplayServer, Error> {
        let (name, tape) = load_tape(&config.replay.tape)?;
        let shared = Arc::new(ReplayShared::new(
            &tape,
            name,
            config.replay.looped,
            config.replay.realtime,
        )?);
        let factory = ReplayFactory(shared.clone());
        let (service, ()) = Service::start(config.service, |_| (factory, ())).await?;
        Ok(ReplayServer {
            service,
            shared,
            strict: config.replay.strict,
        })
    }

    /// How it went so far.
    pub fn outcome(&self) -> ReplayOutcome {
        ReplayOutcome {
            total: self.shared.total(),
            played: self.shared.played(),
            plays: self.shared.plays(),
            looped: self.shared.looped(),
            divergences: self.shared.divergences(),
            strict: self.strict,
        }
    }

    /// Stops the server and says how it went.
    pub async fn shutdown(self) -> ReplayOutcome {
        let outcome = self.outcome();
        self.service.shutdown().await;
        ReplayOutcome {
            divergences: self.shared.divergences(),
            ..outcome
        }
    }
}
