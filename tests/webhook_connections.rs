//! How webhook deliveries use connections (issue 22, "a dead endpoint never
//! slows 1,000 SMTP sends"): events to one endpoint share kept-alive
//! connections; a kept connection the endpoint closed is replaced without
//! losing the event; a long or endless response body is cut and its
//! connection not reused; the sender runs on a thread of its own at the
//! lowest priority, which ends with the server; a dead endpoint's waiting
//! retries fill its own budget, never a live endpoint's.
//!
//! The receiving endpoints here are raw TCP servers speaking just enough
//! HTTP/1.1, so that each test decides what a connection does.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Mode;
use lettre::transport::smtp::authentication::Mechanism;
use mailtape::MockServer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// The tests of this file run one at a time: the thread test counts the
/// sender threads of the whole process.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the endpoint does after reading a request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// `200`, empty body, connection kept.
    KeepAlive,
    /// `200`, then the connection is closed without saying so first.
    CloseAfterEach,
    /// `200` with a body of this many bytes, connection kept.
    LongBody(usize),
    /// `200` and a chunked body that never ends.
    EndlessBody,
    /// A status line, then header lines for ever.
    EndlessHeaders,
    /// Reads the request, then closes the connection with no answer.
    CloseWithoutAnswer,
    /// Reads the request and never answers.
    Silent,
}

#[derive(Clone)]
struct Endpoint {
    /// TLS (mailtape's own generated certificate), for `https` URLs.
    tls: Option<Arc<rustls::ServerConfig>>,
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Endpoint {
    async fn start(behaviour: Behaviour) -> Endpoint {
        Endpoint::start_with(behaviour, None).await
    }

    async fn start_with(behaviour: Behaviour, tls: Option<Arc<rustls::ServerConfig>>) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let e = Endpoint {
            url: match tls {
                Some(_) => format!("https://localhost:{port}/hooks"),
                None => format!("http://127.0.0.1:{port}/hooks"),
            },
            tls: tls.clone(),
            connections: Arc::default(),
            requests: Arc::default(),
        };
        let (conns, reqs) = (e.connections.clone(), e.requests.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                conns.fetch_add(1, Ordering::SeqCst);
                let reqs = reqs.clone();
                match &tls {
                    Some(config) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                        tokio::spawn(async move {
                            if let Ok(s) = acceptor.accept(socket).await {
                                serve(s, behaviour, reqs).await;
                            }
                        });
                    }
                    None => {
                        tokio::spawn(serve(socket, behaviour, reqs));
                    }
                }
            }
        });
        e
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    async fn wait_for(&self, n: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.requests() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.requests()
    }
}

/// Reads one request (head, then `content-length` bytes); `false` at the
/// end of the connection.
async fn read_request(socket: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> bool {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let whole = end + 4 + len;
            while buf.len() < whole {
                let mut chunk = [0u8; 8192];
                match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.drain(..whole);
            return true;
        }
        let mut chunk = [0u8; 8192];
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn serve(
    mut socket: impl AsyncRead + AsyncWrite + Unpin,
    behaviour: Behaviour,
    requests: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    while read_request(&mut socket, &mut buf).await {
        requests.fetch_add(1, Ordering::SeqCst);
        let ok = match behaviour {
            Behaviour::KeepAlive | Behaviour::CloseAfterEach => socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .is_ok(),
            Behaviour::LongBody(n) => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n");
                socket.write_all(head.as_bytes()).await.is_ok()
                    && socket.write_all(&vec![b'x'; n]).await.is_ok()
            }
            Behaviour::EndlessBody => {
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    .await;
                // 1 KiB chunks, one every 50 ms, for ever (until the
                // client goes).
                loop {
                    let chunk = format!("400\r\n{}\r\n", "y".repeat(1024));
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Behaviour::EndlessHeaders => {
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\n").await;
                loop {
                    let line = format!("x-filler: {}\r\n", "z".repeat(1000));
                    if socket.write_all(line.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
            Behaviour::CloseWithoutAnswer => return,
            Behaviour::Silent => {
                // Hold the connection open, say nothing, until mailtape goes.
                let mut rest = [0u8; 64];
                while matches!(socket.read(&mut rest).await, Ok(n) if n > 0) {}
                return;
            }
        };
        if !ok || matches!(behaviour, Behaviour::CloseAfterEach) {
            return;
        }
    }
}

async fn mock_to(url: &str) -> MockServer {
    mock_with(url, |_| {}).await
}

/// A mock sending to `url` with the sender's settings changed by `f`.
async fn mock_with(url: &str, f: impl FnOnce(&mut mailtape::webhook::WebhookConfig)) -> MockServer {
    MockServer::builder()
        .scenario("unlimited")
        .webhook(url)
        .webhooks(f)
        .start()
        .await
        .expect("mock starts")
}

/// An `https` endpoint's certificate, signed by mailtape's generated CA
/// (for `localhost` and `127.0.0.1`), and that CA's file.
fn generated_tls(dir: &std::path::Path) -> (Arc<rustls::ServerConfig>, std::path::PathBuf) {
    let tls = mailtape::Tls::load(&mailtape::CertSource::Generated(dir.to_path_buf()))
        .expect("certificates");
    (tls.config, tls.ca_path.expect("a generated CA"))
}

/// One message to `delivered@resend.dev`: two events (sent, delivered).
async fn send_one(server: &MockServer) {
    common::send(
        server,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "Acme <onboarding@acme.com>",
        &["delivered@resend.dev"],
    )
    .await
    .expect("accepted");
}

/// Every event got a 2xx on its first attempt.
/// (The endpoint has each request before mailtape has its answer: waits
/// until every event's attempt is recorded.)
async fn all_delivered_at_once(server: &MockServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline
        && !(server.webhook_events().len() == n
            && server.webhook_events().iter().all(|e| e.delivered()))
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = server.webhook_events();
    assert_eq!(events.len(), n);
    for e in &events {
        assert_eq!(e.attempts.len(), 1, "{e:?}");
        assert!(e.attempts[0].ok, "{:?}", e.attempts[0]);
    }
}

/// 20 messages, 40 events: they reach the endpoint over a few kept
/// connections (at most 16, the sender's per-endpoint limit), not one
/// connection per event as before.
#[tokio::test]
async fn events_to_one_endpoint_share_kept_alive_connections() {
    let _one = ONE_AT_A_TIME.lock().await;
    let endpoint = Endpoint::start(Behaviour::KeepAlive).await;
    let server = mock_to(&endpoint.url).await;
    for _ in 0..20 {
        send_one(&server).await;
    }
    assert_eq!(endpoint.wait_for(40).await, 40);
    assert!(
        endpoint.connections() <= 16,
        "40 events took {} connections",
        endpoint.connections()
    );
    // Settled: every event has its one successful attempt.
    all_delivered_at_once(&server, 40).await;
    server.shutdown().await;
}

/// An endpoint that closes each connection after its answer (without
/// `connection: close`): every event still arrives once, each on its first
/// attempt; the kept connection that turned out closed is replaced inside
/// the attempt.
#[tokio::test]
async fn a_kept_connection_the_endpoint_closed_is_replaced() {
    let _one = ONE_AT_A_TIME.lock().await;
    let endpoint = Endpoint::start(Behaviour::CloseAfterEach).await;
    let server = mock_to(&endpoint.url).await;
    // Back to back: a connection may be taken as its close is on the way.
    for _ in 0..5 {
        send_one(&server).await;
    }
    assert_eq!(endpoint.wait_for(10).await, 10);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(endpoint.requests(), 10, "no event twice");
    assert_eq!(endpoint.connections(), 10, "one connection per request");
    all_delivered_at_once(&server, 10).await;
    server.shutdown().await;
}

/// A 1 MB answer is a delivery (a 2xx) with its first 512 bytes kept; its
/// connection is not reused (the rest was not read). An endless body costs
/// the attempt its first bytes and 100 ms, not the 15 s timeout.
#[tokio::test]
async fn long_and_endless_bodies_are_cut() {
    let _one = ONE_AT_A_TIME.lock().await;
    let long = Endpoint::start(Behaviour::LongBody(1024 * 1024)).await;
    let server = mock_to(&long.url).await;
    for _ in 0..3 {
        send_one(&server).await;
    }
    assert_eq!(long.wait_for(6).await, 6);
    all_delivered_at_once(&server, 6).await;
    for e in server.webhook_events() {
        assert_eq!(e.attempts[0].response_body, "x".repeat(512));
    }
    assert_eq!(
        long.connections(),
        6,
        "a connection with unread body is not reused"
    );
    server.shutdown().await;

    let endless = Endpoint::start(Behaviour::EndlessBody).await;
    let server = mock_to(&endless.url).await;
    send_one(&server).await;
    let ev = server
        .wait_for_webhook(
            |e| e.kind == "email.delivered" && !e.attempts.is_empty(),
            Duration::from_secs(10),
        )
        .await
        .expect("the delivered event was attempted");
    let a = &ev.attempts[0];
    assert!(a.ok, "{a:?}");
    assert_eq!(a.response_body, "y".repeat(512));
    assert!(a.latency_ms < 2_000, "took {} ms", a.latency_ms);
    server.shutdown().await;
}

/// An `https` endpoint signed by a CA given with `--ca-file`: every event
/// arrives over TLS, on kept connections (a handshake per connection, not
/// per event). Without the CA the attempt fails and says why.
#[tokio::test]
async fn https_endpoints_trust_the_ca_file_and_keep_connections() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (config, ca) = generated_tls(dir.path());
    let endpoint = Endpoint::start_with(Behaviour::KeepAlive, Some(config)).await;
    assert!(endpoint.tls.is_some() && endpoint.url.starts_with("https://localhost:"));
    let server = mock_with(&endpoint.url, |w| w.ca_file = Some(ca.clone())).await;
    for _ in 0..10 {
        send_one(&server).await;
    }
    assert_eq!(endpoint.wait_for(20).await, 20);
    assert!(
        endpoint.connections() <= 16,
        "20 events took {} TLS connections",
        endpoint.connections()
    );
    all_delivered_at_once(&server, 20).await;
    server.shutdown().await;

    // The same endpoint without the CA: Mozilla's roots do not know it.
    let server = mock_to(&endpoint.url).await;
    send_one(&server).await;
    let ev = server
        .wait_for_webhook(|e| !e.attempts.is_empty(), Duration::from_secs(10))
        .await
        .expect("attempted");
    let err = ev.attempts[0].error.clone().unwrap_or_default();
    assert!(
        err.starts_with(&format!(
            "TLS handshake with {}",
            endpoint
                .url
                .trim_start_matches("https://")
                .trim_end_matches("/hooks")
        )) && err.contains("certificate"),
        "{err}"
    );
    assert_eq!(endpoint.requests(), 20, "nothing sent without trust");
    server.shutdown().await;
}

/// Hostile and broken endpoints cost only the attempt: a never-ending head
/// is cut at 16 KiB, a connection closed without an answer and a silent
/// endpoint (the attempt's timeout, 15 s in production, 300 ms here) are
/// failures that say what happened and are retried; the sends meanwhile go
/// at their usual pace.
#[tokio::test]
async fn hostile_endpoints_cost_only_the_attempt() {
    let _one = ONE_AT_A_TIME.lock().await;
    for (behaviour, says) in [
        (Behaviour::EndlessHeaders, "message head is too large"),
        (
            Behaviour::CloseWithoutAnswer,
            "connection closed before message completed",
        ),
        (Behaviour::Silent, "no response within 0.3 s"),
    ] {
        let endpoint = Endpoint::start(behaviour).await;
        let server = mock_with(&endpoint.url, |w| {
            w.timeout = Duration::from_millis(300);
            w.retry_scale = 0.001;
        })
        .await;
        let started = Instant::now();
        for _ in 0..5 {
            send_one(&server).await;
        }
        let sending = started.elapsed();
        assert!(
            sending < Duration::from_secs(3),
            "{says}: 5 sends took {sending:?}"
        );
        // The first event's first two attempts (the second 5 ms later).
        let ev = server
            .wait_for_webhook(|e| e.attempts.len() >= 2, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{says}: no retry"));
        for a in &ev.attempts[..2] {
            assert!(!a.ok && a.status.is_none(), "{a:?}");
            let err = a.error.as_deref().unwrap_or_default();
            assert!(err.contains(says), "{says}: {err}");
            assert!(a.latency_ms < 2_000, "{says}: {} ms", a.latency_ms);
        }
        server.shutdown().await;
    }
}

/// Every event to a dead endpoint waits for its retries; at its budget of
/// waiting deliveries (20,000; 30 here) more are dropped and counted — for
/// that endpoint only: the live endpoint beside it gets every event.
#[tokio::test]
async fn a_dead_endpoint_fills_its_own_budget_not_a_live_ones() {
    let _one = ONE_AT_A_TIME.lock().await;
    let live = Endpoint::start(Behaviour::KeepAlive).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hooks", l.local_addr().unwrap())
    };
    let server = MockServer::builder()
        .scenario("unlimited")
        .webhook(&dead)
        .webhook(&live.url)
        .webhooks(|w| w.pending_per_endpoint = 30)
        .start()
        .await
        .expect("mock starts");
    for i in 1..=25 {
        send_one(&server).await;
        assert_eq!(live.wait_for(2 * i).await, 2 * i);
    }
    let dead_id = server
        .webhooks()
        .endpoints()
        .into_iter()
        .find(|e| e.url() == dead)
        .unwrap()
        .id()
        .to_string();
    // The live endpoint's answers are recorded just after it has them.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && !server.webhook_events().iter().all(|e| e.delivered()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = server.webhook_events();
    assert_eq!(events.len(), 50);
    let state = |e: &mailtape::webhook::WebhookEvent, id: &str| {
        e.deliveries
            .iter()
            .find(|(d, _)| d == id)
            .map(|(_, s)| *s)
            .unwrap()
    };
    use mailtape::webhook::DeliveryState::{Delivered, Dropped, Pending};
    let dead_states: Vec<_> = events.iter().map(|e| state(e, &dead_id)).collect();
    assert_eq!(dead_states.iter().filter(|s| **s == Pending).count(), 30);
    assert_eq!(dead_states.iter().filter(|s| **s == Dropped).count(), 20);
    assert!(
        events.iter().all(|e| e.delivered()),
        "the live endpoint got all 50"
    );
    assert!(
        events
            .iter()
            .all(|e| e.deliveries.iter().any(|(_, s)| *s == Delivered))
    );
    assert_eq!(server.webhooks().dropped(), 20);
    server.shutdown().await;
}

/// A burst of events to an endpoint that refuses connections costs one
/// refused connection: for a second (never longer than the first retry's
/// wait) the attempts after it fail at once with that refusal, and say so.
/// Once the endpoint listens, the next event past the second gets through.
#[tokio::test]
async fn a_refusing_endpoint_costs_one_connection_a_second() {
    let _one = ONE_AT_A_TIME.lock().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hooks");
    let server = mock_to(&url).await;
    for _ in 0..10 {
        send_one(&server).await;
    }
    // Each email's first event is attempted (its next ones wait behind its
    // retry); under load the sender's thread may take a while.
    let deadline = Instant::now() + Duration::from_secs(20);
    let attempts = loop {
        let a: Vec<_> = server
            .webhook_events()
            .iter()
            .flat_map(|e| e.attempts.clone())
            .collect();
        if a.len() >= 10 || Instant::now() > deadline {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(attempts.len(), 10, "{attempts:?}");
    let errors: Vec<String> = attempts
        .iter()
        .map(|a| a.error.clone().unwrap_or_default())
        .collect();
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with(&format!("connect to 127.0.0.1:{port}: ")))
    );
    let fresh = errors
        .iter()
        .filter(|e| !e.contains("not tried again"))
        .count();
    let held = errors
        .iter()
        .filter(|e| e.contains("ms ago; not tried again within 1000 ms)"))
        .count();
    // One refused connection a second at most, over the seconds the
    // attempts took.
    let first = attempts.iter().map(|a| a.at).min().unwrap();
    let last = attempts.iter().map(|a| a.at).max().unwrap();
    let span = (last - first).whole_seconds() as usize;
    assert!(fresh >= 1 && fresh <= 1 + span, "{errors:?}");
    assert_eq!(fresh + held, 10);
    // The endpoint comes up: past the second, events get through.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, Behaviour::KeepAlive, g.clone()));
        }
    });
    tokio::time::sleep(Duration::from_millis(1100)).await;
    send_one(&server).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(got.load(Ordering::SeqCst), 2);
    server.shutdown().await;
}

/// Work normally waits for spare CPU; past the backlog mark (10,000
/// pieces; 0 here, so everything is past it) it runs at normal priority
/// on the catch-up thread, and every event still arrives in order. Without
/// a backlog nothing runs there.
#[tokio::test]
async fn past_the_backlog_mark_the_work_runs_at_normal_priority() {
    let _one = ONE_AT_A_TIME.lock().await;
    let endpoint = Endpoint::start(Behaviour::KeepAlive).await;
    let server = mock_with(&endpoint.url, |w| w.backlog_high = 0).await;
    for _ in 0..10 {
        send_one(&server).await;
    }
    assert_eq!(endpoint.wait_for(20).await, 20);
    all_delivered_at_once(&server, 20).await;
    // Each message, and each of its deliveries, was such a task.
    assert!(
        server.webhooks().caught_up() >= 10,
        "{}",
        server.webhooks().caught_up()
    );
    assert_eq!(server.webhooks().backlog(), 0);
    server.shutdown().await;

    let server = mock_to(&endpoint.url).await;
    for _ in 0..10 {
        send_one(&server).await;
    }
    assert_eq!(endpoint.wait_for(40).await, 40);
    assert_eq!(server.webhooks().caught_up(), 0);
    server.shutdown().await;
}

/// The sender's threads of a process: (name as Linux shows it, 15
/// characters; thread id; nice value; scheduling policy).
#[cfg(target_os = "linux")]
fn sender_threads(pid: &str) -> Vec<(String, u64, i64, i64)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let dir = t.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if comm != "mailtape-webhoo" && comm != "mailtape-catchu" {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis, from field 3:
        // nice is field 19, policy field 41.
        let rest: Vec<i64> = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .unwrap_or_default()
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(-1))
            .collect();
        let tid = t.file_name().to_string_lossy().parse().unwrap_or(0);
        out.push((comm.to_string(), tid, rest[16], rest[38]));
    }
    out.sort();
    out
}

/// Webhook work runs on a thread of its own at nice 19 (a library user's;
/// the binary's is SCHED_IDLE, below), with a normal-priority one beside it
/// for when work piles up; both end when the server stops.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_sender_has_its_own_threads_until_the_server_stops() {
    let _one = ONE_AT_A_TIME.lock().await;
    let endpoint = Endpoint::start(Behaviour::KeepAlive).await;
    let before = sender_threads("self");
    let server = mock_to(&endpoint.url).await;
    send_one(&server).await;
    assert_eq!(endpoint.wait_for(2).await, 2);
    let threads: Vec<_> = sender_threads("self")
        .into_iter()
        .filter(|t| !before.iter().any(|b| b.1 == t.1))
        .collect();
    let shape: Vec<_> = threads.iter().map(|t| (t.0.as_str(), t.2, t.3)).collect();
    assert_eq!(
        shape,
        [("mailtape-catchu", 0, 0), ("mailtape-webhoo", 19, 0)],
        "(name, nice, policy)"
    );
    // This test's own runtime threads keep the default.
    let main = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let fields: Vec<&str> = main
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(fields[16], "0");
    server.shutdown().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while sender_threads("self")
        .iter()
        .any(|t| threads.iter().any(|o| o.1 == t.1))
    {
        assert!(
            Instant::now() < deadline,
            "a sender thread outlived the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The binary puts its sender thread in SCHED_IDLE (policy 5): it runs
/// only on CPU the doors leave, and gives the core up at once when one of
/// their threads wakes.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_binary_sender_thread_is_sched_idle() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let mut mt = common::cli::Running::start(&[
        "mock",
        "--certs",
        certs.to_str().unwrap(),
        "--smtps",
        "off",
        "--starttls",
        "off",
        "--plain",
        "127.0.0.1:0",
        "--webhook",
        "http://127.0.0.1:9/hooks",
    ]);
    mt.banner_plain_addr();
    let pid = mt.child.id().to_string();
    let shape: Vec<_> = sender_threads(&pid)
        .into_iter()
        .map(|t| (t.0, t.3))
        .collect();
    assert_eq!(
        shape,
        [
            ("mailtape-catchu".to_string(), 0),
            ("mailtape-webhoo".to_string(), 5)
        ],
        "(name, policy)"
    );
    let (code, _, _) = mt.term();
    assert_eq!(code, 0);
}
