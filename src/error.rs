//! The library's error type: each variant says what failed, where, and what to do.

use std::path::PathBuf;

/// Everything that can stop mailtape from starting or running.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file or socket operation failed; `action` says which and on what.
    Io {
        /// What was being done, e.g. "write certs/ca.pem".
        action: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A listener could not bind its address.
    Bind {
        /// Which listener (smtps, starttls, plain).
        listener: &'static str,
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Several listeners could not bind their addresses (each SMTP port in
    /// use, named in one error).
    BindMany(Vec<BindFailure>),
    /// A certificate or key file is unusable.
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it and what to do.
        reason: String,
    },
    /// TLS could not be set up.
    Tls(String),
    /// A profile, account or scenario file is invalid.
    Config {
        /// Where the configuration came from (a path, or `builtin:NAME`).
        origin: String,
        /// What is wrong, with the line where known.
        reason: String,
    },
    /// A name given on the command line is not known (scenario, variant).
    Unknown {
        /// What kind of thing was asked for.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A command-line value is not acceptable.
    Usage(String),
    /// A replay did not go as the tape says; holds the summary.
    Diverged(String),
    /// A load test ran, and some of its messages failed; holds the summary.
    BenchFailed(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io { action, source } => write!(f, "cannot {action}: {source}"),
            Error::Bind {
                listener,
                addr,
                source,
            } => write!(
                f,
                "cannot listen for {listener} on {addr}: {source} (is another mailtape running? use --{listener} 127.0.0.1:0 for any free port, or --{listener} off)"
            ),
            Error::BindMany(failures) => {
                // one cause said once when every port has it (in use, mostly)
                let same = failures
                    .windows(2)
                    .all(|w| w[0].source.to_string() == w[1].source.to_string());
                let names: Vec<String> = failures
                    .iter()
                    .map(|b| match same {
                        true => format!("{} on {}", b.listener, b.addr),
                        false => format!("{} on {} ({})", b.listener, b.addr, b.source),
                    })
                    .collect();
                let flags: Vec<String> = failures
                    .iter()
                    .map(|b| format!("--{} 127.0.0.1:0", b.listener))
                    .collect();
                write!(f, "cannot listen for {}", names.join(", "))?;
                if let (true, Some(first)) = (same, failures.first()) {
                    write!(f, ": {}", first.source)?;
                }
                write!(
                    f,
                    " (is another mailtape running? use {} for free ports, or turn a listener off with --smtps off, --starttls off or --plain off)",
                    flags.join(" ")
                )
            }
            Error::Certificate { path, reason } => {
                write!(f, "certificate file {}: {reason}", path.display())
            }
            Error::Tls(reason) => f.write_str(reason),
            Error::Config { origin, reason } => write!(f, "{origin}: {reason}"),
            Error::Unknown { what, name, known } => {
                write!(f, "unknown {what} {name:?}; known: {}", known.join(", "))
            }
            Error::Usage(reason) => f.write_str(reason),
            Error::Diverged(summary) => write!(f, "replay failed: {summary}"),
            Error::BenchFailed(summary) => write!(f, "bench: {summary}"),
        }
    }
}

/// A listener that could not bind its address.
#[derive(Debug)]
pub struct BindFailure {
    /// Which listener (smtps, starttls, plain).
    pub listener: &'static str,
    /// The address asked for.
    pub addr: std::net::SocketAddr,
    /// The underlying error.
    pub source: std::io::Error,
}

impl Error {
    /// The error for listeners that could not bind: one names its listener
    /// and the way out as ever; several are named together.
    pub(crate) fn bind(mut failures: Vec<BindFailure>) -> Error {
        if failures.len() == 1 {
            let f = failures.remove(0);
            Error::Bind {
                listener: f.listener,
                addr: f.addr,
                source: f.source,
            }
        } else {
            Error::BindMany(failures)
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<crate::tape::TapeError> for Error {
    fn from(e: crate::tape::TapeError) -> Error {
        Error::Config {
            origin: format!("{}:{}", e.origin, e.line),
            reason: format!("expected {}, found {:?}", e.expected, e.found),
        }
    }
}

/// Parses a TOML file (profile, account, scenario) into `T`. An error is
/// one line, `origin:line:column: what` (issue 16, finding 18), and never
/// quotes the file: the line at fault may hold a key (finding 5), so the
/// parser's snippet is left out and its message scrubbed.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<T, Error> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let before = text.get(..at).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let what = e.message().split('\n').next().unwrap_or("").trim();
        Error::Config {
            origin: format!("{origin}:{line}:{column}"),
            reason: crate::tape::redact::scrub(what).into_owned(),
        }
    })
}
