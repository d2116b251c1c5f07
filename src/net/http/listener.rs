//! One HTTP/1.1 listener (the inbox's or the REST API's), served with hyper
//! directly rather than `axum::serve`, which has neither a header deadline
//! nor a connection cap: a client that never finishes its headers would
//! keep its descriptor for good, and a few hundred of them left the SMTP
//! listeners unable to accept (issue 25).
//!
//! - **A connection cap**, shared by both listeners: at the cap the listener
//!   stops accepting, so further connections wait in the kernel's listen
//!   queue (holding no descriptor of ours) until one closes.
//! - **A header deadline**: a request's line and headers within
//!   [`HttpLimits::header_timeout`], idle keep-alive time included, or the
//!   connection is closed.
//! - **A body deadline**: each piece of a body within
//!   [`HttpLimits::body_timeout`], and the whole at
//!   [`HttpLimits::body_min_rate`] on average after it; a body that falls
//!   behind ends in [`BodyTimedOut`], which the routes answer `408`.
//! - **The client's address** on every request (`ConnectInfo`), and the
//!   listener's own ([`LocalAddr`]).
//! - **The guard** ([`super::guard`]) in front of every route.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use super::{Guard, HttpLimits};

/// The address of the listener a request came in on.
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);

/// A request's client address and the address of the listener it came in
/// on, as a session's metadata writes them ("" where one is unknown). The
/// listener's own address, never the Host header: a Host is the client's to
/// write (`re_….localhost` passes the rebinding guard).
pub fn addresses<B>(req: &axum::http::Request<B>) -> (String, String) {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let local = req
        .extensions()
        .get::<LocalAddr>()
        .map(|l| l.0.to_string())
        .unwrap_or_default();
    (client, local)
}

/// What both HTTP listeners of a server share: the limits and the slots of
/// the connection cap.
#[derive(Debug, Clone)]
pub struct HttpShared {
    limits: HttpLimits,
    slots: Arc<Semaphore>,
    /// Connections accepted and not yet closed (an accept loop waiting
    /// holds a slot too, so the slots do not say it).
    open: Arc<AtomicUsize>,
}

/// An accepted connection's slot: given back, and uncounted, when dropped.
struct Slot {
    _permit: OwnedSemaphorePermit,
    open: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HttpShared {
    /// Slots for `limits.connection_cap()` connections.
    pub fn new(limits: HttpLimits) -> HttpShared {
        let cap = limits.connection_cap();
        HttpShared {
            limits,
            slots: Arc::new(Semaphore::new(cap)),
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// HTTP connections open right now, over both listeners.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// A running HTTP listener.
pub struct HttpListener {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl HttpListener {
    /// Serves `router` behind `guard` on a bound listener.
    pub fn serve(
        listener: TcpListener,
        router: Router,
        guard: Guard,
        shared: &HttpShared,
        grace: Duration,
    ) -> std::io::Result<HttpListener> {
        HttpListener::serve_tls(listener, router, guard, shared, grace, None)
    }

    /// [`HttpListener::serve`] over TLS when `tls` is given (HTTPS): the
    /// handshake must end within the header deadline.
    pub fn serve_tls(
        listener: TcpListener,
        router: Router,
        guard: Guard,
        shared: &HttpShared,
        grace: Duration,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<HttpListener> {
        let addr = listener.local_addr()?;
        let router = super::guard::wrap(router, guard);
        let (stop, stopped) = watch::channel(false);
        let tls = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(accept_loop(
            listener,
            router,
            shared.clone(),
            addr,
            stopped,
            grace,
            tls,
        ));
        Ok(HttpListener {
            stop,
            task: Some(task),
        })
    }

    /// Stops accepting, lets requests in flight finish (up to the grace
    /// given at start), then closes what is left (event streams never end on
    /// their own).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for HttpListener {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    shared: HttpShared,
    local: SocketAddr,
    mut stopped: watch::Receiver<bool>,
    grace: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut conns = JoinSet::new();
    loop {
        // At the cap, accept nothing: the next connection waits in the
        // listen queue, not in a descriptor of ours.
        let permit = tokio::select! {
            p = shared.slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stopped.wait_for(|s| *s) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stopped.wait_for(|s| *s) => break,
        };
        let (socket, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: wait, do not spin.
                tracing::warn!("accept on the HTTP listener {local} failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let router = router.clone();
        let limits = shared.limits.clone();
        let stopped = stopped.clone();
        let tls = tls.clone();
        shared.open.fetch_add(1, Ordering::Relaxed);
        let slot = Slot {
            _permit: permit,
            open: shared.open.clone(),
        };
        conns.spawn(async move {
            let _slot = slot;
            match tls {
                None => serve_connection(socket, peer, local, router, limits, stopped).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(socket);
                    match tokio::time::timeout(limits.header_timeout, handshake).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, local, router, limits, stopped).await
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake from {peer}: {e}"),
                        Err(_) => tracing::debug!("TLS handshake from {peer}: timed out"),
                    }
                }
            }
        });
        // Reap finished connections so the set does not grow.
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} });
    if drained.await.is_err() {
        conns.abort_all();
    }
}

async fn serve_connection<S>(
    socket: S,
    peer: SocketAddr,
    local: SocketAddr,
    router: Router,
    limits: HttpLimits,
    mut stopped: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let body_limits = limits.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(|b| Body::new(TimedBody::new(b, &body_limits)));
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(LocalAddr(local));
        router.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(TokioIo::new(socket), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("HTTP connection from {peer}: {e}");
            }
            return;
        }
        _ = stopped.wait_for(|s| *s) => {}
    }
    // Stopping: finish the request in flight, take no other.
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// A request body that must keep up (see the module doc).
struct TimedBody {
    inner: Incoming,
    sleep: Pin<Box<Sleep>>,
    start: Instant,
    received: u64,
    stall: Duration,
    rate: u64,
}

/// A request body that fell behind its deadline.
#[derive(Debug)]
pub struct BodyTimedOut {
    /// Octets received before it stopped.
    pub received: u64,
    /// The longest wait allowed for a piece.
    pub stall: Duration,
    /// The average rate required after that, octets a second.
    pub rate: u64,
}

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body stopped arriving in time (after {} octets)",
            self.received
        )
    }
}

impl std::error::Error for BodyTimedOut {}

impl TimedBody {
    fn new(inner: Incoming, limits: &HttpLimits) -> TimedBody {
        let start = Instant::now();
        TimedBody {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(start + limits.body_timeout)),
            start,
            received: 0,
            stall: limits.body_timeout,
            rate: limits.body_min_rate.max(1),
        }
    }

    /// The next piece is due by the stall deadline, and the whole by the
    /// average rate: whichever comes first.
    fn deadline(&self) -> Instant {
        let by_rate = self.start
            + self.stall
            + Duration::from_millis(self.received.saturating_mul(1000) / self.rate);
        (Instant::now() + self.stall).min(by_rate)
    }
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                let next = this.deadline();
                this.sleep.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut {
                    received: this.received,
                    stall: this.stall,
                    rate: this.rate,
                })))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The body that fell behind, if that is what an error from reading a body
/// is (anywhere in its chain of sources).
pub fn body_timeout<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimedOut> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(t) = err.downcast_ref::<BodyTimedOut>() {
            return Some(t);
        }
        source = err.source();
    }
    None
}
