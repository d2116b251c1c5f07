//! What every mode's server has in common: certificates, listeners, the
//! sink, and the accessors the test API offers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::listener::{Addrs, Listeners, ResponderFactory, ServerConfig};
use crate::error::Error;
use crate::net::http::listener::HttpShared;
use crate::net::{CertSource, Tls};
use crate::output::sink::{LiveView, Message, OutputConfig, Sink};
use crate::tape::Transcript;
use crate::web::{Store, Web, WebConfig};

/// Listeners, certificates and outputs: the settings every mode shares.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Listeners and limits.
    pub server: ServerConfig,
    /// Certificates.
    pub certs: CertSource,
    /// Live view, tapes, mailbox.
    pub output: OutputConfig,
    /// The inbox (web page and HTTP API); `None`: off.
    pub web: Option<WebConfig>,
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
            // No inbox by default: parallel tests must not fight over 8025.
            web: None,
        }
    }
}

/// A running server of any mode.
pub struct Service {
    listeners: Listeners,
    tls: Option<Tls>,
    web: Option<Web>,
    /// The inbox's store: the inbox's, or one of its own for the test API
    /// (`output.keep`), so `wait_for_message` works without a page.
    store: Option<Arc<Store>>,
    http: HttpShared,
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
        // The inbox's port is taken first: a port in use stops the start
        // before any SMTP listener opens.
        let web_listener = match &config.web {
            Some(w) => Some(crate::web::bind(w).await?),
            None => None,
        };
        let certs = config.certs;
        let mut output = config.output;
        let keep = output.keep;
        // The live view's lines link to the page once its address is known.
        if let Some(l) = &web_listener {
            output.inbox = l.local_addr().ok().map(|a| format!("http://{a}/"));
        }
        let on_disk = OnDisk {
            tapes: [&output.tapes, &output.tape_file]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            mailbox: output.mailbox.clone(),
        };
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
        // The inbox subscribes before the first session can start.
        let inbox = match (&config.web, web_listener) {
            (Some(w), Some(listener)) => {
                let store =
                    Store::start(w.keep, sink.subscribe_confirmed(crate::web::store::QUEUE))?;
                load_disk(&store, on_disk);
                Some((w, listener, store))
            }
            _ => None,
        };
        let store = match &inbox {
            Some((_, _, store)) => Some(store.clone()),
            None if keep => Some(Store::start(
                crate::web::DEFAULT_KEEP,
                sink.subscribe_sessions(crate::web::store::QUEUE),
            )?),
            None => None,
        };
        let (factory, mine) = make(sink.clone());
        let mode = factory.mode();
        let http = HttpShared::new(config.server.http.clone());
        let listeners =
            Listeners::start(config.server, tls.as_ref(), sink.clone(), factory).await?;
        let web = match inbox {
            Some((w, listener, store)) => {
                let web = Web::serve(listener, w, store, &sink, &http)?;
                web.set_mode(mode);
                Some(web)
            }
            None => None,
        };
        Ok((
            Service {
                listeners,
                tls,
                web,
                store,
                http,
            },
            mine,
        ))
    }

    /// What the HTTP listeners share: their limits and connection cap.
    pub(crate) fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    pub(crate) fn http(&self) -> &HttpShared {
        &self.http
    }

    /// HTTP connections open right now, over the inbox's and the REST
    /// API's listeners.
    pub fn http_connections(&self) -> usize {
        self.http.open_connections()
    }

    /// The inbox, when it is on.
    pub fn web(&self) -> Option<&Web> {
        self.web.as_ref()
    }

    /// The inbox page's URL (`http://127.0.0.1:PORT/`), when it is on.
    pub fn ui_url(&self) -> Option<String> {
        self.web.as_ref().map(Web::url)
    }

    fn listeners(&self) -> &Listeners {
        &self.listeners
    }

    /// The address the inbox was asked to listen on, when that port was in
    /// use and it moved to a free one (the default `--ui` only).
    pub fn ui_moved_from(&self) -> Option<SocketAddr> {
        self.web.as_ref().and_then(Web::moved_from)
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
    /// Octets of message bodies held in memory right now, by all sessions.
    pub fn body_memory_in_use(&self) -> usize {
        self.listeners().body_memory_in_use()
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
    /// Waits until a message matching `query` (Mailpit's search language:
    /// `to:bob@x.org subject:"Reset" tag:signup key:a1f3 link:/reset`, free
    /// words) is in the inbox: the newest kept one that matches answers at
    /// once, else the next to arrive. For "the next one after this point",
    /// take [`Service::inbox_cursor`] first and use
    /// [`Service::wait_for_message_after`]. Errors name a bad query, a
    /// timeout over 5 minutes, or what arrived instead.
    pub async fn wait_for_message(
        &self,
        query: &str,
        timeout: Duration,
    ) -> Result<crate::web::found::FoundMessage, crate::web::found::WaitError> {
        let store = self
            .store
            .as_ref()
            .ok_or(crate::web::found::WaitError::NoInbox)?;
        crate::web::found::wait_message(store, query, crate::web::wait::Since::Any, timeout).await
    }

    /// Waits for the first message matching `query` that arrives after
    /// `cursor` (from [`Service::inbox_cursor`], or a found message's
    /// `cursor`): an earlier message never answers.
    pub async fn wait_for_message_after(
        &self,
        cursor: u64,
        query: &str,
        timeout: Duration,
    ) -> Result<crate::web::found::FoundMessage, crate::web::found::WaitError> {
        let store = self
            .store
            .as_ref()
            .ok_or(crate::web::found::WaitError::NoInbox)?;
        crate::web::found::wait_message(
            store,
            query,
            crate::web::wait::Since::Cursor(cursor),
            timeout,
        )
        .await
    }

    /// Where the inbox stands now (every message and session moves it on):
    /// a wait after it sees only what comes later. `None` without an inbox.
    pub fn inbox_cursor(&self) -> Option<u64> {
        self.store.as_ref().map(|s| s.cursor())
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
        let Service { listeners, web, .. } = self;
        if let Some(w) = web {
            w.shutdown().await;
        }
        let sink = listeners.sink().clone();
        listeners.shutdown().await;
        // Tapes and the mailbox are written on a thread of their own.
        let _ = tokio::task::spawn_blocking(move || sink.close(Duration::from_secs(1))).await;
    }
}

/// The tape files and folders and the mailbox a server writes to.
struct OnDisk {
    tapes: Vec<std::path::PathBuf>,
    mailbox: Option<std::path::PathBuf>,
}

/// Fills the inbox with what is already on disk (tapes, the mailbox), on a
/// thread of its own: a big folder must not delay the listeners.
fn load_disk(store: &Arc<Store>, OnDisk { tapes, mailbox }: OnDisk) {
    if tapes.is_empty() && mailbox.is_none() {
        return;
    }
    let store = store.clone();
    let _ = std::thread::Builder::new()
        .name("mailtape-inbox-load".into())
        .spawn(move || store.load_disk(&tapes, mailbox.as_deref()));
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
        /// Octets of message bodies all sessions may hold in memory at once.
        pub fn max_body_memory(mut self, octets: usize) -> Self {
            self.config.service.server.max_body_memory = octets;
            self
        }
        /// The HTTP listeners' limits (deadlines, connection cap).
        pub fn http_limits(mut self, limits: $crate::net::HttpLimits) -> Self {
            self.config.service.server.http = limits;
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
        /// Serve the inbox (page and HTTP API) here; port 0 picks a free
        /// port, read it back with `ui_url()`. Off unless asked for.
        pub fn ui(mut self, addr: std::net::SocketAddr) -> Self {
            self.config.service.web = Some($crate::web::WebConfig::at(addr));
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
