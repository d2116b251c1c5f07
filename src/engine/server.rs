//! What every mode's server has in common: certificates, listeners, the
//! sink, and the accessors the test API offers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::listener::{Addrs, Listeners, ResponderFactory, ServerConfig};
use crate::error::Error;
use crate::net::{CertSource, Tls};
use crate::output::sink::{LiveView, Message, OutputConfig, Sink};
use crate::tape::Transcript;

/// Listeners, certificates and outputs: the settings every mode shares.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Listeners and limits.
    pub server: ServerConfig,
    /// Certificates.
    pub certs: CertSource,
    /// Live view, tapes, mailbox.
    pub output: OutputConfig,
}

impl ServiceConfig {
    /// Settings for tests: every listener on a free port of 127.0.0.1, no
    /// live view, transcripts kept in memory, certificates in a shared
    /// folder under the system's temporary folder (made once, then reused).
    pub fn for_tests() -> ServiceConfig {
        ServiceConfig {
            server: ServerConfig {
                addrs: Addrs::ephemeral(),
                ..ServerConfig::default()
            },
            certs: CertSource::Generated(std::env::temp_dir().join("mailtape-test-certs")),
            output: OutputConfig {
                view: LiveView::Quiet,
                keep: true,
                ..OutputConfig::default()
            },
        }
    }
}

/// A running server of any mode.
pub struct Service {
    listeners: Listeners,
    tls: Option<Tls>,
}

impl Service {
    /// Loads certificates (when a TLS listener is on), then starts the
    /// listeners with the responders `make` builds around the sink; `make`
    /// may hand back a `T` of its own (the mode's shared state).
    pub(crate) async fn start<F: ResponderFactory, T>(
        config: ServiceConfig,
        make: impl FnOnce(Arc<Sink>) -> (F, T),
    ) -> Result<(Service, T), Error> {
        let addrs = config.server.addrs;
        let certs = config.certs;
        let output = config.output;
        // Certificates and an existing tape file are read from disk: off
        // the async threads.
        let (tls, sink) = tokio::task::spawn_blocking(move || {
            let tls = if addrs.smtps.is_some() || addrs.starttls.is_some() {
                Some(Tls::load(&certs)?)
            } else {
                None
            };
            Ok::<_, Error>((tls, Sink::new(output)?))
        })
        .await
        .map_err(|e| Error::Io {
            action: "load certificates and open the outputs".into(),
            source: std::io::Error::other(e),
        })??;
        let (factory, mine) = make(sink.clone());
        let listeners = Listeners::start(config.server, tls.as_ref(), sink, factory).await?;
        Ok((Service { listeners, tls }, mine))
    }

    fn listeners(&self) -> &Listeners {
        &self.listeners
    }

    /// The bound addresses.
    pub fn addrs(&self) -> Addrs {
        self.listeners().addrs()
    }
    /// The implicit-TLS address.
    pub fn smtps_addr(&self) -> Option<SocketAddr> {
        self.addrs().smtps
    }
    /// The STARTTLS address.
    pub fn starttls_addr(&self) -> Option<SocketAddr> {
        self.addrs().starttls
    }
    /// The plain address.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.addrs().plain
    }
    /// The CA certificate to trust, in PEM (generated certificates only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().and_then(|t| t.ca_pem.as_deref())
    }
    /// Where that CA certificate is on disk.
    pub fn ca_path(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().and_then(|t| t.ca_path.as_deref())
    }
    /// Runs one session over any byte stream — an in-memory pipe such as
    /// `tokio::io::duplex`, say — as the plain listener would (no TLS,
    /// STARTTLS not offered), and returns when it ends. Its transcript goes
    /// where every session's goes. `peer` is the address the transcript
    /// names as the client.
    pub async fn serve_io<S>(&self, io: S, peer: SocketAddr)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sync + 'static,
    {
        self.listeners().serve_io(Box::new(io), peer).await;
    }
    /// Sessions open right now.
    pub fn active_sessions(&self) -> usize {
        self.listeners().active_sessions()
    }
    /// The sink: subscribe to sessions' events, or publish sessions of
    /// your own.
    pub fn sink(&self) -> &Arc<Sink> {
        self.listeners().sink()
    }
    /// Waits until `n` sessions have finished; false on timeout.
    pub async fn wait_for_sessions(&self, n: usize, timeout: Duration) -> bool {
        self.sink().wait_for_sessions(n, timeout).await
    }
    /// Transcripts of finished sessions, in the order they finished.
    pub fn transcripts(&self) -> Vec<Transcript> {
        self.sink().transcripts()
    }
    /// Messages accepted so far (mock mode).
    pub fn messages(&self) -> Vec<Message> {
        self.sink().messages()
    }
    /// Stops the server: open sessions get `421`, files are complete after,
    /// and the live view has written what it holds (or, if nobody reads
    /// stdout, is left behind after a second).
    pub async fn shutdown(self) {
        let sink = self.sink().clone();
        self.listeners.shutdown().await;
        // Tapes and the mailbox are written on a thread of their own.
        let _ = tokio::task::spawn_blocking(move || sink.close(Duration::from_secs(1))).await;
    }
}

/// Builder methods every mode's builder has, over its `service` field.
macro_rules! service_builder_methods {
    () => {
        /// Where certificates are made and kept.
        pub fn certs_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
            self.config.service.certs = $crate::net::CertSource::Generated(dir.into());
            self
        }
        /// Where to listen (defaults: free ports on 127.0.0.1).
        pub fn addrs(mut self, addrs: $crate::engine::listener::Addrs) -> Self {
            self.config.service.server.addrs = addrs;
            self
        }
        /// Idle timeout of a session.
        pub fn idle_timeout(mut self, d: std::time::Duration) -> Self {
            self.config.service.server.limits.idle_timeout = d;
            self
        }
        /// Failed commands before a session is closed.
        pub fn max_errors(mut self, n: usize) -> Self {
            self.config.service.server.limits.max_errors = n;
            self
        }
        /// Most sessions at once.
        pub fn max_connections(mut self, n: usize) -> Self {
            self.config.service.server.max_connections = n;
            self
        }
        /// Write each session's tape into this folder.
        pub fn tapes(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
            self.config.service.output.tapes = Some(dir.into());
            self
        }
        /// Comment lines a new tape file starts with (how it was made).
        pub fn tape_comments(mut self, lines: Vec<String>) -> Self {
            self.config.service.output.tape_comments = lines;
            self
        }
        /// Append every session to this one tape file.
        pub fn tape_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
            self.config.service.output.tape_file = Some(path.into());
            self
        }
    };
}
pub(crate) use service_builder_methods;

/// A server of any mode (it can give up its [`Service`] to be shut down).
pub trait Served: std::ops::Deref<Target = Service> + Send + 'static {
    /// The service inside.
    fn into_service(self) -> Service;
}

/// A server for plain `#[test]` code: it runs on a runtime of its own, and
/// shuts down cleanly when dropped.
///
/// ```no_run
/// let server = mailtape::MockServer::builder().start_blocking().unwrap();
/// let addr = server.plain_addr().unwrap();
/// // … a blocking SMTP client talks to addr …
/// assert!(server.wait_for_sessions(1, std::time::Duration::from_secs(5)));
/// ```
pub struct Blocking<T: Served> {
    runtime: Option<tokio::runtime::Runtime>,
    inner: Option<T>,
}

impl<T: Served> Blocking<T> {
    /// Starts a server on a new runtime; `start` is the async start.
    pub fn start<F>(start: F) -> Result<Blocking<T>, Error>
    where
        F: std::future::Future<Output = Result<T, Error>>,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::Io {
                action: "start a runtime for the server".into(),
                source: e,
            })?;
        let inner = runtime.block_on(start)?;
        Ok(Blocking {
            runtime: Some(runtime),
            inner: Some(inner),
        })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        // Both are Some until drop.
        self.runtime.as_ref().expect("runtime present until drop")
    }

    /// Waits until `n` sessions have finished; false on timeout.
    pub fn wait_for_sessions(&self, n: usize, timeout: Duration) -> bool {
        self.rt()
            .block_on(self.sink().wait_for_sessions(n, timeout))
    }
}

impl<T: Served> std::ops::Deref for Blocking<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_ref().expect("server present until drop")
    }
}

impl<T: Served> Drop for Blocking<T> {
    fn drop(&mut self) {
        if let (Some(rt), Some(inner)) = (self.runtime.take(), self.inner.take()) {
            rt.block_on(inner.into_service().shutdown());
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
