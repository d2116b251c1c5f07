//! One delivery attempt: a POST over HTTP/1.1 (hyper's client, on a
//! connection kept alive per endpoint, TLS with rustls for `https`), bounded in time (15 s for the
//! whole attempt) and in what is read back (the head and the first bytes
//! of the body; a hostile endpoint's endless headers or body cost only the
//! attempt). Redirects are failures, never followed; only a 2xx counts.
//! Also the retry schedule and where an endpoint may point.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Request, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Resend's retry schedule (Svix's): the wait before each attempt after a
/// failure. The first attempt is at once; eight in all.
pub const SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The whole attempt must end within this (Resend: 15 s).
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Response body bytes kept for the inbox and the attempts list.
pub const KEEP_BODY: usize = 512;
/// Response header bytes kept.
pub const KEEP_HEADERS: usize = 1024;
/// The largest response head read (hyper refuses a longer one).
const MAX_HEAD: usize = 16 * 1024;

/// The wait before attempt `n` (0-based), scaled (`--webhook-retry-scale`).
pub fn wait_before(n: usize, scale: f64) -> Duration {
    SCHEDULE
        .get(n)
        .map(|d| d.mul_f64(scale.max(0.0)))
        .unwrap_or_default()
}

/// Where an endpoint points, checked once when it is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// `https`?
    pub tls: bool,
    /// Host name or IP literal (no brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query.
    pub path: String,
    /// What the Host header says.
    pub authority: String,
}

impl Target {
    /// Parses an endpoint URL: `http` or `https`, a host, no user info.
    /// Unless `remote` is allowed, the host must be loopback (an IP
    /// literal, or `localhost`): a mock must not become a way to make
    /// requests to other hosts.
    pub fn parse(url: &str, remote: bool) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|_| format!("{url:?} is not a URL (http://host:port/path)"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("{url:?}: a webhook URL is http:// or https://")),
        };
        let auth = uri
            .authority()
            .ok_or_else(|| format!("{url:?}: a webhook URL needs a host"))?;
        if auth.as_str().contains('@') {
            return Err(format!(
                "{url:?}: user info in a webhook URL is not supported"
            ));
        }
        let host = auth
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            return Err(format!("{url:?}: a webhook URL needs a host"));
        }
        if !remote && !is_loopback_name(&host) {
            return Err(format!(
                "{url:?}: {host} is not loopback; webhooks go only to this machine unless --webhook-allow-remote is given"
            ));
        }
        Ok(Target {
            url: url.to_string(),
            tls,
            port: auth.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            path: uri
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string()),
            authority: auth.as_str().to_string(),
            host,
        })
    }
}

fn is_loopback_name(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The response's status, if one came.
    pub status: Option<u16>,
    /// Why there was no (good) response: refused, timed out, reset, …
    pub error: Option<String>,
    /// From the first byte sent to the response read (or the failure).
    pub latency: Duration,
    /// The response's headers (the first [`KEEP_HEADERS`] bytes).
    pub headers: Vec<(String, String)>,
    /// The first [`KEEP_BODY`] bytes of its body.
    pub body: String,
    /// `webhook-delivery: abort-message`: do not retry.
    pub abort: bool,
}

impl Outcome {
    /// A 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connections kept open to one endpoint between attempts at most.
pub const IDLE_MAX: usize = 16;
/// How long a kept connection may sit unused and still be taken. Short:
/// Node's servers close an idle connection after 5 s, and a connection the
/// server is closing as it is reused costs a second try.
pub const IDLE_FOR: Duration = Duration::from_secs(4);
/// Response body bytes read to find its end, so that the connection can
/// carry the next attempt; a longer body closes the connection instead.
const DRAIN: usize = 64 * 1024;
/// How long the rest of a body is waited for once its first bytes are kept.
const LINGER: Duration = Duration::from_millis(100);

/// Which connections may carry a request: the same host, port and scheme
/// (a `PATCH` that moves the endpoint must not reuse the old host's).
type Key = (String, u16, bool);

/// One HTTP/1.1 connection: its request handle, and the task driving it
/// (stopped when the connection is dropped, so nothing outlives it).
struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    driver: tokio::task::AbortHandle,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Kept-alive connections to one endpoint: a burst of events costs one TCP
/// (and TLS) handshake per connection in use, not one per event, for
/// mailtape and for the receiving app alike.
#[derive(Default)]
pub struct Pool {
    idle: std::sync::Mutex<Vec<(Key, Conn, Instant)>>,
    /// The last refused connection: when, to where, what it said.
    refused: std::sync::Mutex<Option<(Instant, Key, String)>>,
    /// How long a refusal stands for the attempts after it.
    window: Duration,
}

/// How long an endpoint that refused a connection is taken at its word:
/// attempts within this fail at once with that refusal, without a
/// connection of their own (a burst of events to a dead endpoint costs one
/// refused connection, not one each). At most 1 s, and never longer than
/// the first retry's wait, so that a retry always connects anew.
pub fn refusal_window(scale: f64) -> Duration {
    wait_before(1, scale).min(Duration::from_secs(1))
}

impl Pool {
    /// A pool whose refusals stand for `window` (see [`refusal_window`]).
    pub fn new(window: Duration) -> Pool {
        Pool {
            window,
            ..Pool::default()
        }
    }

    /// The refusal still standing for `key`, as an attempt's error.
    fn refused(&self, key: &Key) -> Option<String> {
        let r = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        match &*r {
            Some((at, k, why)) if k == key && at.elapsed() < self.window => Some(format!(
                "{why} (refused {} ms ago; not tried again within {} ms)",
                at.elapsed().as_millis(),
                self.window.as_millis()
            )),
            _ => None,
        }
    }

    fn note_refused(&self, key: &Key, why: Option<String>) {
        *self.refused.lock().unwrap_or_else(|p| p.into_inner()) =
            why.map(|w| (Instant::now(), key.clone(), w));
    }

    fn take(&self, key: &Key) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((k, conn, since)) = idle.pop() {
            if &k == key && since.elapsed() < IDLE_FOR && !conn.sender.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    fn put(&self, key: Key, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_MAX {
            idle.push((key, conn, Instant::now()));
        }
    }

    /// Connections kept now.
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// POSTs `body` with `headers` to `target`, on a kept connection when one
/// is free; never longer than `timeout`.
pub async fn post(
    pool: &Pool,
    target: &Target,
    remote: bool,
    tls: Option<&Arc<rustls::ClientConfig>>,
    headers: &[(String, String)],
    body: Bytes,
    timeout: Duration,
) -> Outcome {
    let started = Instant::now();
    let mut out =
        match tokio::time::timeout(timeout, exchange(pool, target, remote, tls, headers, body))
            .await
        {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => Outcome {
                error: Some(e),
                ..Outcome::default()
            },
            Err(_) => Outcome {
                error: Some(format!("no response within {} s", timeout.as_secs_f64())),
                ..Outcome::default()
            },
        };
    out.latency = started.elapsed();
    if out.error.is_none() && !out.ok() {
        out.error = Some(match out.status {
            Some(s) if (300..400).contains(&s) => {
                format!("{s}: a redirect is a failure (not followed)")
            }
            Some(s) => format!("{s}: only a 2xx counts as delivered"),
            None => "no status".into(),
        });
    }
    out
}

async fn exchange(
    pool: &Pool,
    target: &Target,
    remote: bool,
    tls: Option<&Arc<rustls::ClientConfig>>,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<Outcome, String> {
    let key: Key = (target.host.clone(), target.port, target.tls);
    if let Some(conn) = pool.take(&key) {
        // A kept connection the server closed meanwhile fails before any
        // status: try once more on a new one. (The server may have read the
        // request; receivers deduplicate on `svix-id`, as with any retry.)
        if let Ok((out, back)) = send(conn, target, headers, body.clone()).await {
            if let Some(c) = back {
                pool.put(key, c);
            }
            return Ok(out);
        }
    }
    if let Some(why) = pool.refused(&key) {
        return Err(why);
    }
    let conn = match connect(target, remote, tls).await {
        Ok(c) => {
            pool.note_refused(&key, None);
            c
        }
        Err(Connect::Refused(why)) => {
            pool.note_refused(&key, Some(why.clone()));
            return Err(why);
        }
        Err(Connect::Other(why)) => return Err(why),
    };
    let (out, back) = send(conn, target, headers, body).await?;
    if let Some(c) = back {
        pool.put(key, c);
    }
    Ok(out)
}

/// Why a new connection failed: refused (the endpoint is down, see
/// [`refusal_window`]), or anything else.
enum Connect {
    Refused(String),
    Other(String),
}

impl From<String> for Connect {
    fn from(s: String) -> Connect {
        Connect::Other(s)
    }
}

impl From<&str> for Connect {
    fn from(s: &str) -> Connect {
        Connect::Other(s.to_string())
    }
}

/// A new connection: loopback checked on the resolved address, TLS for
/// `https`, the HTTP/1.1 handshake with the response head capped.
async fn connect(
    target: &Target,
    remote: bool,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Conn, Connect> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        // A name that resolves elsewhere must not take a loopback-only
        // endpoint off the machine.
        .filter(|a| remote || a.ip().is_loopback())
        .collect();
    let Some(addr) = addrs.first() else {
        return Err(format!("{} resolves to no loopback address", target.host).into());
    };
    let tcp = TcpStream::connect(addr).await.map_err(|e| {
        let why = format!("connect to {addr}: {e}");
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            Connect::Refused(why)
        } else {
            Connect::Other(why)
        }
    })?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if target.tls {
        let config = tls.ok_or("no TLS configuration for an https endpoint")?;
        let name = rustls_pki_types::ServerName::try_from(target.host.clone())
            .map_err(|_| format!("{} is not a valid TLS server name", target.host))?;
        let s = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {}: {e}", target.authority))?;
        Box::new(s)
    } else {
        Box::new(tcp)
    };
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    })
    .abort_handle();
    Ok(Conn { sender, driver })
}

/// One request on `conn`; the connection comes back if it can carry
/// another (the whole response was read).
async fn send(
    mut conn: Conn,
    target: &Target,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<(Outcome, Option<Conn>), String> {
    let mut req = Request::post(target.path.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "Svix-Webhooks/1.0 (mailtape)");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    // A connection just given back may still be finishing its last
    // response: wait until it takes a request.
    conn.sender.ready().await.map_err(|e| describe(&e))?;
    let resp = conn
        .sender
        .send_request(req)
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status().as_u16();
    let abort = resp
        .headers()
        .get("webhook-delivery")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("abort-message"));
    let mut kept = 0;
    let mut hs = Vec::new();
    for (k, v) in resp.headers() {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        kept += k.as_str().len() + v.len();
        if kept > KEEP_HEADERS {
            break;
        }
        hs.push((k.as_str().to_string(), v));
    }
    // Keep the first bytes; then read on (up to DRAIN bytes, for at most
    // LINGER) only to find the end, so that the connection can be kept. A
    // huge, endless or slow body is cut there and its connection closed.
    let mut body = resp.into_body();
    let (mut first, mut read, mut ended) = (Vec::new(), 0usize, false);
    let mut linger = None;
    while read <= DRAIN {
        let frame = if first.len() < KEEP_BODY {
            body.frame().await
        } else {
            let until = *linger.get_or_insert_with(|| tokio::time::Instant::now() + LINGER);
            match tokio::time::timeout_at(until, body.frame()).await {
                Ok(f) => f,
                Err(_) => break,
            }
        };
        match frame {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    let room = KEEP_BODY.saturating_sub(first.len());
                    first.extend_from_slice(&d[..d.len().min(room)]);
                    read += d.len();
                }
            }
            Some(Err(_)) => break,
            None => {
                ended = true;
                break;
            }
        }
    }
    let out = Outcome {
        status: Some(status),
        headers: hs,
        body: String::from_utf8_lossy(&first).into_owned(),
        abort,
        ..Outcome::default()
    };
    Ok((out, ended.then_some(conn)))
}

fn describe(e: &hyper::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(s) => format!("HTTP: {e}: {s}"),
        None => format!("HTTP: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:9000/hooks?x=1", false).unwrap();
        assert_eq!(
            (t.port, t.path.as_str(), t.tls),
            (9000, "/hooks?x=1", false)
        );
        assert_eq!(
            Target::parse("https://localhost/", false).unwrap().port,
            443
        );
        assert!(Target::parse("http://[::1]:8/", false).is_ok());
        let e = Target::parse("http://example.com/", false).unwrap_err();
        assert!(e.contains("--webhook-allow-remote"), "{e}");
        assert!(Target::parse("http://example.com/", true).is_ok());
        assert!(
            Target::parse("ftp://127.0.0.1/", false)
                .unwrap_err()
                .contains("http://")
        );
        assert!(Target::parse("nonsense", false).is_err());
        assert!(
            Target::parse("http://u:p@127.0.0.1/", false)
                .unwrap_err()
                .contains("user info")
        );
    }

    #[test]
    fn schedule_scales() {
        assert_eq!(wait_before(0, 1.0), Duration::ZERO);
        assert_eq!(wait_before(1, 0.001), Duration::from_millis(5));
        assert_eq!(wait_before(2, 0.001), Duration::from_millis(300));
        assert_eq!(wait_before(8, 1.0), Duration::ZERO);
    }
}
