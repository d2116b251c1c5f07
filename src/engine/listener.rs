//! Listeners: accept connections on up to three addresses, cap them, run a
//! session per connection, and stop cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::budget::BodyBudget;
use super::responder::{ListenerKind, Responder, SessionState};
use super::session::{Context, Limits, Session};
use super::shutdown::stopped;
use crate::error::{BindFailure, Error};
use crate::net::tls::{self, AcceptError};
use crate::net::{Conn, Io, Stream, Tls};
use crate::output::sink::Sink;
use crate::smtp::Reply;
use crate::tape::{Closer, Meta};

/// Makes one responder per connection, and says what it plays.
pub trait ResponderFactory: Send + Sync + 'static {
    /// The responder type.
    type R: Responder + 'static;
    /// A responder for a new session.
    fn make(&self, s: &SessionState) -> Self::R;
    /// `mock`, `record` or `replay`.
    fn mode(&self) -> &'static str;
    /// What it plays: a scenario, a tape, an upstream.
    fn source(&self) -> String;
    /// The reply to a connection over the cap (421).
    fn too_many_connections(&self) -> Reply;
}

/// The addresses to listen on; `None` turns a listener off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addrs {
    /// Implicit TLS.
    pub smtps: Option<SocketAddr>,
    /// STARTTLS.
    pub starttls: Option<SocketAddr>,
    /// Plain.
    pub plain: Option<SocketAddr>,
}

impl Addrs {
    /// The defaults: 2465, 2587 and 2525 on 127.0.0.1, after Resend's alternate ports.
    pub fn defaults() -> Addrs {
        let at = |port| Some(SocketAddr::from(([127, 0, 0, 1], port)));
        Addrs {
            smtps: at(2465),
            starttls: at(2587),
            plain: at(2525),
        }
    }

    /// All three on any free port of 127.0.0.1 (tests).
    pub fn ephemeral() -> Addrs {
        let any = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        Addrs {
            smtps: any,
            starttls: any,
            plain: any,
        }
    }

    fn each(&self) -> impl Iterator<Item = (ListenerKind, SocketAddr)> {
        [
            (ListenerKind::Smtps, self.smtps),
            (ListenerKind::Starttls, self.starttls),
            (ListenerKind::Plain, self.plain),
        ]
        .into_iter()
        .filter_map(|(k, a)| a.map(|a| (k, a)))
    }
}

/// How a server runs, whatever it plays.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen.
    pub addrs: Addrs,
    /// Allow listening on addresses other than loopback.
    pub allow_remote: bool,
    /// Session limits.
    pub limits: Limits,
    /// Most sessions at once; more get 421 at connect.
    pub max_connections: usize,
    /// Octets of message bodies all sessions may hold in memory at once;
    /// a body that would take more is answered 452 (see `engine::budget`).
    pub max_body_memory: usize,
    /// How long open sessions get to finish after a shutdown request.
    pub grace: Duration,
    /// The HTTP listeners' limits (the inbox, `--rest`).
    pub http: crate::net::HttpLimits,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            addrs: Addrs::defaults(),
            allow_remote: false,
            limits: Limits::default(),
            max_connections: 1024,
            max_body_memory: 256 << 20,
            grace: Duration::from_secs(5),
            http: crate::net::HttpLimits::default(),
        }
    }
}

/// A running server.
pub struct Listeners {
    addrs: Addrs,
    sink: Arc<Sink>,
    stop: watch::Sender<bool>,
    accept_tasks: Vec<JoinHandle<()>>,
    sessions_done: mpsc::Receiver<()>,
    grace: Duration,
    slots: Arc<Semaphore>,
    max_connections: usize,
    bodies: Arc<BodyBudget>,
    /// Runs a session over any byte stream (no socket): [`Listeners::serve_io`].
    memory: Arc<dyn ServeIo>,
}

/// A session over any byte stream, whatever the responder type.
trait ServeIo: Send + Sync {
    fn serve_io(
        &self,
        io: Box<dyn Io>,
        peer: SocketAddr,
        stop: watch::Receiver<bool>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
}

impl<F: ResponderFactory> ServeIo for Shared<F> {
    fn serve_io(
        &self,
        io: Box<dyn Io>,
        peer: SocketAddr,
        stop: watch::Receiver<bool>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(serve(
            ListenerKind::Plain,
            io,
            peer,
            "memory".into(),
            self,
            stop,
        ))
    }
}

struct Shared<F> {
    factory: F,
    sink: Arc<Sink>,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    next_id: AtomicU64,
    slots: Arc<Semaphore>,
    bodies: Arc<BodyBudget>,
}

impl Listeners {
    /// Binds every listener, then serves in the background.
    pub async fn start<F: ResponderFactory>(
        config: ServerConfig,
        tls: Option<&Tls>,
        sink: Arc<Sink>,
        factory: F,
    ) -> Result<Listeners, Error> {
        let mut bound = Addrs {
            smtps: None,
            starttls: None,
            plain: None,
        };
        let mut listeners = Vec::new();
        let mut busy = Vec::new();
        for (kind, addr) in config.addrs.each() {
            if !config.allow_remote && !addr.ip().is_loopback() {
                return Err(Error::Usage(format!(
                    "--{} {addr} is not a loopback address; mailtape listens on 127.0.0.1 or ::1 unless --allow-remote is given",
                    kind.name()
                )));
            }
            if !addr.ip().is_loopback() {
                // Said on stderr whatever the live view: it is about safety.
                eprintln!(
                    "mailtape: warning: the {} listener on {addr} is reachable from other hosts; anyone who can reach it can use it and see what it shows",
                    kind.name()
                );
            }
            if kind != ListenerKind::Plain && tls.is_none() {
                return Err(Error::Tls(format!(
                    "the {} listener needs TLS certificates",
                    kind.name()
                )));
            }
            // Every listener is tried before failing, so that one error
            // names every port in use (issue 21), not one per start.
            let listener = match listen(addr, backlog(config.max_connections)) {
                Ok(l) => l,
                Err(e) => {
                    busy.push(BindFailure {
                        listener: kind.name(),
                        addr,
                        source: e,
                    });
                    continue;
                }
            };
            let local = listener.local_addr().map_err(|e| Error::Io {
                action: format!("read the address of the {} listener", kind.name()),
                source: e,
            })?;
            match kind {
                ListenerKind::Smtps => bound.smtps = Some(local),
                ListenerKind::Starttls => bound.starttls = Some(local),
                ListenerKind::Plain => bound.plain = Some(local),
            }
            listeners.push((kind, listener));
        }
        if !busy.is_empty() {
            return Err(Error::bind(busy));
        }
        let (stop, _) = super::shutdown::flag();
        let (done_tx, sessions_done) = mpsc::channel(1);
        let max_connections = config.max_connections.max(1);
        let slots = Arc::new(Semaphore::new(max_connections));
        let bodies = Arc::new(BodyBudget::new(config.max_body_memory));
        let shared = Arc::new(Shared {
            factory,
            sink: sink.clone(),
            limits: config.limits.clone(),
            tls: tls.map(|t| TlsAcceptor::from(t.config.clone())),
            next_id: AtomicU64::new(1),
            slots: slots.clone(),
            bodies: bodies.clone(),
        });
        let accept_tasks = listeners
            .into_iter()
            .map(|(kind, listener)| {
                tokio::spawn(accept_loop(
                    kind,
                    listener,
                    shared.clone(),
                    stop.subscribe(),
                    done_tx.clone(),
                ))
            })
            .collect();
        Ok(Listeners {
            addrs: bound,
            sink,
            stop,
            accept_tasks,
            sessions_done,
            grace: config.grace,
            slots,
            max_connections,
            bodies,
            memory: shared,
        })
    }

    /// Runs one session over `io` as the plain listener would (no TLS,
    /// STARTTLS not offered), and returns when it ends.
    pub async fn serve_io(&self, io: Box<dyn Io>, peer: SocketAddr) {
        self.memory.serve_io(io, peer, self.stop.subscribe()).await;
    }

    /// Sessions open right now.
    pub fn active_sessions(&self) -> usize {
        self.max_connections - self.slots.available_permits()
    }

    /// Octets of message bodies held in memory right now, by all sessions.
    pub fn body_memory_in_use(&self) -> usize {
        self.bodies.in_use()
    }

    /// The addresses actually bound (port 0 resolved).
    pub fn addrs(&self) -> Addrs {
        self.addrs
    }

    /// The sink sessions report to.
    pub fn sink(&self) -> &Arc<Sink> {
        &self.sink
    }

    /// Stops accepting, tells open sessions `421` and waits for them (up to
    /// the grace period), so tapes and the mailbox are complete.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.accept_tasks.drain(..) {
            let _ = t.await;
        }
        // Every session holds a sender; `None` means all have ended.
        let _ = tokio::time::timeout(self.grace, self.sessions_done.recv()).await;
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The listen backlog: room for a burst as large as the connection cap
/// (at least 1,024), so that every connection in a burst is accepted and
/// answered, greeted or refused with 421, instead of waiting unseen in a
/// full queue (`TcpListener::bind` gives 128; the kernel caps it at
/// `net.core.somaxconn`).
fn backlog(max_connections: usize) -> u32 {
    u32::try_from(max_connections.max(1024)).unwrap_or(u32::MAX)
}

/// Binds a listener with `backlog`.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restart may reuse a port in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

async fn accept_loop<F: ResponderFactory>(
    kind: ListenerKind,
    listener: TcpListener,
    shared: Arc<Shared<F>>,
    mut stop: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = stopped(&mut stop) => return,
        };
        let (socket, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!("accept on the {} listener failed: {e}", kind.name());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let Ok(permit) = shared.slots.clone().try_acquire_owned() else {
            let reply = shared.factory.too_many_connections();
            // On the implicit-TLS port the refusal, too, is said inside TLS.
            let tls = (kind == ListenerKind::Smtps)
                .then(|| shared.tls.clone())
                .flatten();
            tokio::spawn(refuse(socket, reply, tls, kind == ListenerKind::Smtps));
            continue;
        };
        let shared = shared.clone();
        let stop = stop.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _done = done;
            let local = socket
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            serve(kind, Box::new(socket), peer, local, &shared, stop).await;
        });
    }
}

/// Tells a connection over the cap why it is closed, without a session;
/// inside TLS on the implicit-TLS port, never in clear text there.
async fn refuse(socket: TcpStream, reply: Reply, tls: Option<TlsAcceptor>, needs_tls: bool) {
    let mut out = Vec::new();
    reply.write_to(&mut out);
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        match tls {
            Some(acceptor) => {
                if let Ok(mut s) = acceptor.accept(socket).await {
                    let _ = s.write_all(&out).await;
                    let _ = s.shutdown().await;
                }
            }
            None if needs_tls => {}
            None => {
                let mut socket = socket;
                let _ = socket.write_all(&out).await;
                let _ = socket.shutdown().await;
            }
        }
    })
    .await;
}

async fn serve<F: ResponderFactory>(
    kind: ListenerKind,
    socket: Box<dyn Io>,
    peer: SocketAddr,
    local: String,
    shared: &Shared<F>,
    stop: watch::Receiver<bool>,
) {
    let start = Instant::now();
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let meta = Meta {
        id,
        mode: shared.factory.mode().to_string(),
        source: shared.factory.source(),
        listener: kind.name().to_string(),
        client: peer.to_string(),
        local,
        started: now_rfc3339(),
    };
    let mut capture = shared.sink.capture(meta, start);
    let mut stream = Stream::Plain(socket);
    if kind == ListenerKind::Smtps {
        let Some(acceptor) = &shared.tls else {
            shared.sink.finish(capture, Closer::Server);
            return;
        };
        let Stream::Plain(plain) = stream else {
            return;
        };
        match tls::accept(acceptor, plain, shared.limits.tls_timeout).await {
            Ok(tls) => stream = tls,
            Err(AcceptError::Failed(e)) => {
                capture.note(format!("TLS handshake failed: {e}"));
                shared.sink.finish(capture, Closer::Client);
                return;
            }
            Err(AcceptError::TimedOut) => {
                capture.note("TLS handshake timed out".into());
                shared.sink.finish(capture, Closer::Server);
                return;
            }
        }
    }
    let state = SessionState {
        id,
        listener: kind,
        peer,
        tls: kind == ListenerKind::Smtps,
        starttls_available: kind == ListenerKind::Starttls && shared.tls.is_some(),
    };
    let responder = shared.factory.make(&state);
    Session::new(
        Conn::new(stream),
        responder,
        state,
        Context {
            limits: &shared.limits,
            bodies: &shared.bodies,
            tls: shared.tls.as_ref(),
            sink: &shared.sink,
        },
        capture,
        stop,
    )
    .run()
    .await;
}

/// Now as RFC 3339 UTC with seconds, e.g. `2026-11-27T13:05:01Z`.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}
