//! The REST API and the inbox attacked from outside over real sockets: a key
//! `re_…`, or its base64, put where a careless user puts it (a custom header
//! in JSON, a text body on its own line, a path) must come back out of no
//! response, transcript or tape.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{KEY, http};
use mailtape::MockServer;
use serde_json::{Value, json};

async fn mock() -> MockServer {
    MockServer::builder()
        .scenario("unlimited")
        .rest()
        .start()
        .await
        .expect("mock starts")
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every form of the key found in `hay`.
fn leaked(hay: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if hay.contains(KEY) {
        out.push("key");
    }
    if hay.contains(&b64(KEY)) {
        out.push("base64");
    }
    if hay.contains(&b64(&format!("user:{KEY}"))) {
        out.push("basic");
    }
    out
}

async fn call(
    s: &MockServer,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> common::HttpResponse {
    let a = format!("Bearer {KEY}");
    let body = body.map(Value::to_string);
    http(
        &s.rest_url().unwrap(),
        method,
        path,
        &[("Authorization", &a)],
        body.as_deref(),
    )
    .await
}

fn all_tapes(s: &MockServer) -> String {
    s.transcripts().iter().map(|t| t.to_tape()).collect()
}

#[tokio::test]
async fn a_base64_key_in_json_never_reaches_the_transcript() {
    let s = mock().await;
    let email = json!({
        "from": "billing@acme.com",
        "to": ["delivered@resend.dev"],
        "subject": "Hi",
        "text": "Hi",
        "headers": {"X-B64": b64(KEY), "X-Basic": format!("Basic {}", b64(&format!("user:{KEY}")))},
    });
    let r = call(&s, "POST", "/emails", Some(&email)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    let tapes = all_tapes(&s);
    assert_eq!(leaked(&tapes), Vec::<&str>::new(), "{tapes}");
    assert!(tapes.contains("<redacted base64 key=re_…"), "{tapes}");
}

#[tokio::test]
async fn a_key_on_a_line_of_its_own_is_redacted_in_transcript_and_read_back() {
    let s = mock().await;
    let email = json!({
        "from": "billing@acme.com",
        "to": ["delivered@resend.dev"],
        "subject": "Your key",
        "text": format!("Your key:\n{KEY}\n"),
        "html": format!("<p>Your key:</p>\n{KEY}"),
    });
    let r = call(&s, "POST", "/emails", Some(&email)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let one = call(&s, "GET", &format!("/emails/{id}"), None).await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(leaked(&one.body), Vec::<&str>::new(), "{}", one.body);
    assert!(
        one.json()["text"]
            .as_str()
            .unwrap()
            .starts_with("Your key:\nre_…")
    );
    let list = call(&s, "GET", "/emails", None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(leaked(&list.body), Vec::<&str>::new(), "{}", list.body);
    assert!(s.wait_for_sessions(3, Duration::from_secs(5)).await);
    let tapes = all_tapes(&s);
    assert_eq!(leaked(&tapes), Vec::<&str>::new(), "{tapes}");
}

#[tokio::test]
async fn errors_that_quote_the_request_never_quote_a_base64_key() {
    let s = mock().await;
    // 405 quotes the path, 422 quotes a bad header name.
    let r = call(&s, "DELETE", &format!("/emails/{}", b64(KEY)), None).await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.json()["name"], "method_not_allowed");
    assert_eq!(leaked(&r.body), Vec::<&str>::new(), "{}", r.body);
    let email = json!({
        "from": "billing@acme.com",
        "to": ["delivered@resend.dev"],
        "subject": "Hi",
        "text": "Hi",
        "headers": {format!("{} x", b64(KEY)): "v"},
    });
    let r = call(&s, "POST", "/emails", Some(&email)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["name"], "validation_error");
    assert_eq!(leaked(&r.body), Vec::<&str>::new(), "{}", r.body);
    assert!(s.wait_for_sessions(2, Duration::from_secs(5)).await);
    let tapes = all_tapes(&s);
    assert_eq!(leaked(&tapes), Vec::<&str>::new(), "{tapes}");
}

#[tokio::test]
async fn a_header_name_with_a_line_break_is_refused_not_injected() {
    let s = mock().await;
    for name in ["X-A\r\nBcc", "X-A\nBcc", "X-A\rB", "X-A\tB"] {
        let email = json!({
            "from": "billing@acme.com",
            "to": ["delivered@resend.dev"],
            "subject": "Hi",
            "text": "Hi",
            "headers": {name: "evil@attacker.example"},
        });
        let r = call(&s, "POST", "/emails", Some(&email)).await;
        assert_eq!(r.status, 422, "{name:?}: {}", r.body);
        assert_eq!(r.json()["name"], "validation_error", "{}", r.body);
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("invalid header name"),
            "{}",
            r.body
        );
    }
    assert!(s.messages().is_empty(), "nothing was sent");
}

/// Writes `head` and then up to `body` bytes of `chunk`s (stopping quietly
/// when the server closes), and reads the response.
async fn oversized(s: &MockServer, head: String, chunked: bool, body: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = s.rest_url().unwrap().replace("http://", "");
    let mut c = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    c.write_all(head.as_bytes()).await.expect("head");
    let (mut rd, mut wr) = c.into_split();
    let writer = tokio::spawn(async move {
        let piece = vec![b' '; 1 << 20];
        let mut sent = 0;
        while sent < body {
            let chunk = if chunked {
                let mut c = format!("{:x}\r\n", piece.len()).into_bytes();
                c.extend_from_slice(&piece);
                c.extend_from_slice(b"\r\n");
                c
            } else {
                piece.clone()
            };
            if wr.write_all(&chunk).await.is_err() {
                return sent;
            }
            sent += piece.len();
        }
        sent
    });
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), rd.read_to_end(&mut raw))
        .await
        .expect("an answer within 30 s")
        .ok();
    writer.abort();
    String::from_utf8_lossy(&raw).into_owned()
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_resend_shaped_413_read_no_further() {
    let s = mock().await;
    let host = s.rest_url().unwrap().replace("http://", "");
    let auth = format!("Authorization: Bearer {KEY}\r\n");
    // Declared too large: refused before a byte of it is read.
    let head = format!(
        "POST /emails HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
    );
    let answer = oversized(&s, head, false, 1 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").expect("a body") + 4..];
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["statusCode"], 413, "{v}");
    assert_eq!(v["name"], "validation_error", "{v}");
    assert_eq!(
        v["message"], "The request body is too large: a request may hold up to 128 MB.",
        "{v}"
    );
    // Chunked, no length said: read up to the limit, then refused alike.
    let head = format!(
        "POST /emails/batch HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let answer = oversized(&s, head, true, 130 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains("\"statusCode\":413"), "{answer}");
    assert!(s.wait_for_sessions(2, Duration::from_secs(5)).await);
    let tapes = all_tapes(&s);
    assert!(
        tapes.contains("request body of 10000000000 bytes refused unread"),
        "{tapes}"
    );
}

#[tokio::test]
async fn a_key_typed_as_an_address_is_redacted_in_the_mailbox_and_inbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = MockServer::builder()
        .scenario("unlimited")
        .rest()
        .mailbox(dir.path())
        .start()
        .await
        .expect("mock starts");
    let email = json!({
        "from": "billing@acme.com",
        "to": [format!("{KEY}@resend.dev"), format!("{}@acme.com", b64(KEY))],
        "subject": "Hi",
        "text": "Hi",
    });
    let r = call(&s, "POST", "/emails", Some(&email)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let msgs = s.messages();
    assert_eq!(msgs.len(), 1);
    let shown = format!("{:?}", msgs[0].to);
    assert_eq!(leaked(&shown), Vec::<&str>::new(), "{shown}");
    let eml = common::cli::all_bytes(dir.path());
    let eml = String::from_utf8_lossy(&eml);
    assert_eq!(leaked(&eml), Vec::<&str>::new(), "{eml}");
    // Both forms name the same key: one fingerprint.
    let clear = mailtape::tape::redact::scrub(KEY).into_owned();
    assert!(eml.contains(&format!("<{clear}@resend.dev>")), "{eml}");
    assert!(
        eml.contains(&format!("<<redacted base64 key={clear}>@acme.com>")),
        "{eml}"
    );
}

/// Issue 25, item 1: the REST API's own listener (`--rest`) carries the
/// inbox's guard: a page using DNS rebinding (`Host: evil.example`) reads
/// nothing and sends nothing, even with a key; and every answer says
/// nosniff and no caching.
#[tokio::test]
async fn the_rest_listener_refuses_a_foreign_host_like_the_inbox() {
    let s = mock().await;
    let base = s.rest_url().unwrap();
    let email = json!({
        "from": "billing@acme.com",
        "to": ["delivered@resend.dev"],
        "subject": "Reset link",
        "text": "https://acme.com/reset?t=secret",
    });
    let sent = call(&s, "POST", "/emails", Some(&email)).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    for h in ["nosniff", "no-store"] {
        assert!(
            sent.headers.iter().any(|(_, v)| v == h),
            "{h}: {:?}",
            sent.headers
        );
    }
    assert_eq!(sent.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(sent.header("cache-control"), Some("no-store"));
    for host in ["evil.example", "evil.example:80", "localhost.evil.example"] {
        let read = common::http_raw(
            &base,
            format!(
                "GET /emails HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(read.status, 403, "{host}: {}", read.body);
        assert!(
            read.body
                .contains("is not this REST API (DNS rebinding guard)"),
            "{}",
            read.body
        );
        assert!(!read.body.contains("Reset link"), "{}", read.body);
        assert_eq!(read.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(read.header("cache-control"), Some("no-store"));
        let body = email.to_string();
        let send = common::http_raw(
            &base,
            format!(
                "POST /emails HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(send.status, 403, "{host}: {}", send.body);
    }
    // A cross-site browser write is refused too (a form post to localhost).
    let body = email.to_string();
    let host = base.trim_start_matches("http://");
    let cross = common::http_raw(
        &base,
        format!(
            "POST /emails HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(cross.status, 403, "{}", cross.body);
    assert_eq!(s.messages().len(), 1, "only the first email was sent");
}

/// Issue 25, item 10: a path that is not UTF-8 gets each API's JSON error
/// shape (not axum's plain text); a REST exchange on the inbox's listener
/// records who called; a text-only message is not said to have HTML.
#[tokio::test]
async fn paths_clients_and_plain_mail_are_reported_as_they_are() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .expect("mock starts");
    let base = s.rest_url().unwrap();
    for path in ["/emails/%FF%FE", "/domains/%FF", "/emails/%C3%28/cancel"] {
        let method = if path.ends_with("cancel") {
            "POST"
        } else {
            "GET"
        };
        let r = call(&s, method, path, None).await;
        assert!(
            matches!(r.status, 400 | 404 | 422),
            "{path}: {} {}",
            r.status,
            r.body
        );
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        let v = r.json();
        assert_eq!(v["statusCode"], r.status, "{path}: {v}");
        assert!(
            v["name"].is_string() && v["message"].is_string(),
            "{path}: {v}"
        );
    }
    for path in ["/api/messages/%FF", "/api/sessions/%C3%28/tape"] {
        let r = common::http(&base, "GET", path, &[], None).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(
            r.json()["error"].as_str().unwrap().contains("UTF-8"),
            "{}",
            r.body
        );
    }
    // Plain text over REST: no HTML body, no generated one.
    let email = json!({
        "from": "billing@acme.com",
        "to": ["delivered@resend.dev"],
        "subject": "Plain",
        "text": "Just text.",
    });
    let sent = call(&s, "POST", "/emails", Some(&email)).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let id = sent.json()["id"].as_str().unwrap().to_string();
    let m = common::http(&base, "GET", &format!("/api/messages/{id}"), &[], None).await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.json()["has_html"], false, "{}", m.body);
    let m = common::http(&base, "GET", &format!("/api/v1/message/{id}"), &[], None).await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.json()["HTML"], "", "{}", m.body);
    assert_eq!(m.json()["Text"], "Just text.", "{}", m.body);
    // Both sessions were on the inbox's listener: who called is recorded.
    assert!(s.wait_for_sessions(2, Duration::from_secs(5)).await);
    let ui = base.trim_start_matches("http://").to_string();
    for t in s.transcripts() {
        let client: std::net::SocketAddr = t
            .meta
            .client
            .parse()
            .unwrap_or_else(|e| panic!("{e}: {:?}", t.meta));
        assert!(client.ip().is_loopback(), "{:?}", t.meta);
        assert_eq!(t.meta.local, ui, "{:?}", t.meta);
    }
}

/// One keep-alive HTTP/1.1 connection: a request is written the moment the
/// previous answer is read, as a test's client does.
struct KeepAlive {
    rd: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
    host: String,
}

impl KeepAlive {
    async fn open(base: &str) -> KeepAlive {
        let host = base.trim_start_matches("http://").to_string();
        let c = tokio::net::TcpStream::connect(&host)
            .await
            .expect("connect");
        c.set_nodelay(true).expect("nodelay");
        let (rd, wr) = c.into_split();
        KeepAlive {
            rd: tokio::io::BufReader::new(rd),
            wr,
            host,
        }
    }

    async fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let body = body.unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.wr.write_all(req.as_bytes()).await.expect("write");
        let mut status = String::new();
        self.rd.read_line(&mut status).await.expect("status");
        let code: u16 = status
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("code");
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.rd.read_line(&mut line).await.expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().expect("length");
            }
        }
        let mut out = vec![0; length];
        self.rd.read_exact(&mut out).await.expect("body");
        (code, String::from_utf8(out).expect("UTF-8"))
    }
}

/// Issue 25, item 8: a message is in the inbox before its REST `200` or its
/// SMTP `250` leaves, so a test that sends and reads at once always finds
/// it (Mailpit's API, `GET /api/v1/message/{id}`). 200 REST sends and 50
/// SMTP ones from 10 clients at once, each read back right after its reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_in_the_inbox_before_its_reply() {
    use lettre::AsyncTransport;
    use lettre::transport::smtp::authentication::Mechanism;
    let s = MockServer::builder()
        .scenario("unlimited")
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .expect("mock starts");
    let base = s.rest_url().unwrap();
    let mut tasks = Vec::new();
    for c in 0..10 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut missing = Vec::new();
            let mut conn = KeepAlive::open(&base).await;
            for i in 0..20 {
                let email = json!({
                    "from": "billing@acme.com",
                    "to": ["delivered@resend.dev"],
                    "subject": format!("REST {c}/{i}"),
                    "html": "<p>Hi</p>".repeat(200),
                    "text": "Hi",
                });
                let (code, body) = conn.call("POST", "/emails", Some(&email.to_string())).await;
                assert_eq!(code, 200, "{body}");
                let v: Value = serde_json::from_str(&body).expect("JSON");
                let id = v["id"].as_str().unwrap().to_string();
                let (code, _) = conn
                    .call("GET", &format!("/api/v1/message/{id}"), None)
                    .await;
                if code != 200 {
                    missing.push(id);
                }
            }
            missing
        }));
    }
    for c in 0..10 {
        let t = common::transport(&s, common::Mode::Plain, "resend", KEY, Mechanism::Plain);
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut missing = Vec::new();
            let mut conn = KeepAlive::open(&base).await;
            for i in 0..5 {
                let to = format!("delivered+{c}-{i}@resend.dev");
                let reply = t
                    .send(common::message("billing@acme.com", &[&to]))
                    .await
                    .expect("250");
                // "250 OK <id>": the id the inbox lists the message under.
                let text: String = reply.message().collect::<Vec<_>>().join(" ");
                let id = text.trim_start_matches("OK ").trim().to_string();
                let (code, _) = conn
                    .call("GET", &format!("/api/v1/message/{id}"), None)
                    .await;
                if code != 200 {
                    missing.push(id);
                }
            }
            missing
        }));
    }
    let mut missing = Vec::new();
    for t in tasks {
        missing.extend(t.await.expect("task"));
    }
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "read right after the reply: 404"
    );
    assert_eq!(s.messages().len(), 250);
}

/// Opens `n` connections to `addr` that send half a request head and then
/// nothing (slowloris).
async fn half_open(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut out = Vec::new();
    for _ in 0..n {
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        // Unanswered connections wait in the listen queue: writing succeeds.
        c.write_all(b"GET /api/info HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .await
            .expect("write");
        out.push(c);
    }
    out
}

/// Waits until the server has closed each connection; how long that took.
async fn all_closed(conns: Vec<tokio::net::TcpStream>, within: Duration) -> Duration {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let waits = conns.into_iter().map(|mut c| async move {
        let mut buf = [0u8; 256];
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    tokio::time::timeout(within, futures_util::future::join_all(waits))
        .await
        .expect("every half-open connection closed by the server");
    start.elapsed()
}

/// Issue 25, item 9: the HTTP listeners have a header deadline, a body
/// deadline and a connection cap shared by both; SMTP is never starved.
/// 40 half-open connections on each listener, a cap of 16: at most 16 are
/// taken at once (the rest wait in the listen queue), SMTP answers at once,
/// every one is closed after the 1 s header deadline, a real request is
/// served as soon as slots free, and a body that stalls is a Resend-shaped
/// 408.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_http_connections_are_capped_and_closed_and_smtp_goes_on() {
    use lettre::AsyncTransport;
    use lettre::transport::smtp::authentication::Mechanism;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = mailtape::HttpLimits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        body_min_rate: 1024,
        max_connections: 16,
    };
    let s = MockServer::builder()
        .scenario("unlimited")
        .ui("127.0.0.1:0".parse().unwrap())
        .rest()
        .http_limits(limits)
        .start()
        .await
        .expect("mock starts");
    let ui = s
        .ui_url()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let rest = s
        .rest_url()
        .unwrap()
        .trim_start_matches("http://")
        .to_string();
    let start = std::time::Instant::now();
    let mut slow = half_open(&ui, 40).await;
    slow.extend(half_open(&rest, 40).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(s.http_connections() <= 16, "{}", s.http_connections());
    assert!(s.http_connections() >= 8, "{}", s.http_connections());
    // SMTP is not held up by any of it.
    let t = common::transport(&s, common::Mode::Plain, "resend", KEY, Mechanism::Plain);
    let sent = tokio::time::timeout(
        Duration::from_secs(2),
        t.send(common::message(
            "billing@acme.com",
            &["delivered@resend.dev"],
        )),
    )
    .await
    .expect("SMTP answers while HTTP is full");
    assert!(sent.is_ok(), "{sent:?}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // A real request waits for a free slot, then is served.
    let r = common::http(&format!("http://{ui}"), "GET", "/api/info", &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // 80 connections, 16 at a time, 1 s each: all closed in about 5 s.
    let took = all_closed(slow, Duration::from_secs(20)).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while s.http_connections() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.http_connections(), 0);
    // A body that stops: 408 in Resend's shape, the connection closed.
    for addr in [&ui, &rest] {
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        c.write_all(
            format!(
                "POST /emails HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"from\":"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
        let asked = std::time::Instant::now();
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut raw))
            .await
            .expect("an answer and a close within 5 s")
            .expect("read");
        let waited = asked.elapsed();
        assert!(waited >= Duration::from_millis(900), "{waited:?}");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
        let body: Value = serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..])
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(body["statusCode"], 408, "{body}");
        assert_eq!(body["name"], "request_timeout", "{body}");
        assert_eq!(
            body["message"],
            "The request body did not arrive in time: each piece within 1 s, and 1024 octets a second on average after that.",
            "{body}"
        );
    }
    assert_eq!(s.messages().len(), 1, "only the SMTP message");
    let tapes = all_tapes(&s);
    assert!(
        tapes.contains(
            "request body refused: the request body stopped arriving in time (after 8 octets)"
        ),
        "{tapes}"
    );
}

/// Issue 25, item 9, as reported: the binary under a 256-descriptor limit
/// and 300 HTTP connections that never finish their headers. The HTTP cap
/// is a quarter of the descriptors (64), so the SMTP listener still
/// accepts and greets at once; the half-open connections it took are
/// closed after the default 10 s header deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_descriptor_limit_http_never_starves_smtp() {
    use std::io::{BufRead, BufReader, Write};
    let args: Vec<String> = [
        "-c",
        "ulimit -n 256 && exec \"$0\" \"$@\"",
        common::cli::BIN,
        "mock",
        "--json",
        "--scenario",
        "unlimited",
        "--plain",
        "127.0.0.1:0",
        "--smtps",
        "off",
        "--starttls",
        "off",
        "--ui",
        "127.0.0.1:0",
        "--rest",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut run = common::cli::Running::start_with(&args, std::process::Command::new("sh"));
    let ready: Value = serde_json::from_str(&run.line()).expect("ready line");
    let plain = ready["plain"].as_str().expect("plain").to_string();
    let ui = ready["ui"]
        .as_str()
        .expect("ui")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let rest = ready["rest"]
        .as_str()
        .expect("rest")
        .trim_start_matches("http://")
        .to_string();
    let opened = std::time::Instant::now();
    let mut slow = half_open(&ui, 150).await;
    slow.extend(half_open(&rest, 150).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SMTP: greeted, and a whole session, at once.
    let smtp = tokio::task::spawn_blocking(move || {
        let asked = std::time::Instant::now();
        let s = std::net::TcpStream::connect(&plain).expect("SMTP connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let mut line = String::new();
        r.read_line(&mut line).expect("greeting");
        assert!(line.starts_with("220 "), "{line}");
        let greeted = asked.elapsed();
        w.write_all(b"EHLO app.local\r\n").unwrap();
        loop {
            line.clear();
            r.read_line(&mut line).expect("EHLO reply");
            if line.starts_with("250 ") {
                break;
            }
            assert!(line.starts_with("250-"), "{line}");
        }
        w.write_all(b"QUIT\r\n").unwrap();
        greeted
    })
    .await
    .expect("SMTP client");
    assert!(smtp < Duration::from_secs(1), "greeted after {smtp:?}");
    // The first 64 the server took are closed at the header deadline; the
    // rest wait in the listen queue. Close ours: the queue drains at once.
    let (taken, queued): (Vec<_>, Vec<_>) =
        slow.into_iter().enumerate().partition(|(i, _)| *i < 20);
    drop(queued);
    let took = all_closed(
        taken.into_iter().map(|(_, c)| c).collect(),
        Duration::from_secs(20),
    )
    .await;
    let since = opened.elapsed();
    assert!(
        since >= Duration::from_secs(9) && took < Duration::from_secs(15),
        "closed {since:?} after opening"
    );
    let r = common::http(&format!("http://{ui}"), "GET", "/api/info", &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (code, _, stderr) = run.term();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("accept on the"), "{stderr}");
}

/// Issue 25, item 3: a retried request with an `Idempotency-Key` gets the
/// first answer again, byte for byte: a batch's `{"data":[…]}`, a
/// permissive batch's `errors`, an all-invalid permissive batch's empty
/// `data` (the ids were stored comma-joined and the shape guessed back).
#[tokio::test]
async fn an_idempotent_retry_gets_the_first_answer_as_it_was() {
    let s = mock().await;
    let base = s.rest_url().unwrap();
    let good = json!({"from": "billing@acme.com", "to": ["delivered@resend.dev"], "subject": "Hi", "text": "Hi"});
    let bad = json!({"from": "billing@acme.com", "to": ["not an address"], "subject": "Hi", "text": "Hi"});
    let a = format!("Bearer {KEY}");
    let cases: Vec<(&str, &str, Value, bool)> = vec![
        ("one", "/emails", good.clone(), false),
        (
            "strict",
            "/emails/batch",
            json!([good.clone(), good.clone()]),
            false,
        ),
        (
            "mixed",
            "/emails/batch",
            json!([good.clone(), bad.clone()]),
            true,
        ),
        (
            "none-valid",
            "/emails/batch",
            json!([bad.clone(), bad.clone()]),
            true,
        ),
    ];
    for (key, path, body, permissive) in cases {
        let mut headers = vec![("Authorization", a.as_str()), ("Idempotency-Key", key)];
        if permissive {
            headers.push(("x-batch-validation", "permissive"));
        }
        let first = http(&base, "POST", path, &headers, Some(&body.to_string())).await;
        assert_eq!(first.status, 200, "{key}: {}", first.body);
        let again = http(&base, "POST", path, &headers, Some(&body.to_string())).await;
        assert_eq!(again.status, 200, "{key}: {}", again.body);
        assert_eq!(again.body, first.body, "{key}");
        assert_eq!(again.header("content-type"), Some("application/json"));
        let v = first.json();
        match key {
            "one" => assert!(v["id"].is_string(), "{v}"),
            "strict" => assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}"),
            "mixed" => {
                assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
                assert_eq!(v["errors"][0]["index"], 1, "{v}");
            }
            _ => {
                assert_eq!(v["data"], json!([]), "{v}");
                assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
            }
        }
    }
    assert_eq!(s.messages().len(), 1 + 2 + 1, "retries send nothing");
}

/// Issue 25, item 5: a custom `From` header over REST is judged like the
/// `from` field, as the SMTP door judges the header From: from a verified
/// `@resend.dev` with `headers: {"From": "ceo@unverified.io"}`, both doors
/// refuse (403 / 550, unverified domain) and nothing is sent.
#[tokio::test]
async fn a_custom_from_header_is_judged_on_both_doors_alike() {
    use lettre::AsyncTransport;
    use lettre::transport::smtp::authentication::Mechanism;
    let s = MockServer::builder()
        .scenario("unverified-domain")
        .rest()
        .start()
        .await
        .expect("mock starts");
    // The from field alone passes: resend.dev needs no verification.
    let plain = json!({"from": "onboarding@resend.dev", "to": ["delivered@resend.dev"], "subject": "Hi", "text": "Hi"});
    let r = call(&s, "POST", "/emails", Some(&plain)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for from in ["ceo@unverified.io", "The CEO <ceo@unverified.io>"] {
        for name in ["From", "from", "FROM"] {
            let mut email = plain.clone();
            email["headers"] = json!({name: from});
            let r = call(&s, "POST", "/emails", Some(&email)).await;
            assert_eq!(r.status, 403, "{name}: {from}: {}", r.body);
            assert_eq!(
                r.json()["message"],
                "The unverified.io domain is not verified. Please, add and verify your domain on https://resend.com/domains",
                "{}",
                r.body
            );
            let batch = call(&s, "POST", "/emails/batch", Some(&json!([email]))).await;
            assert_eq!(batch.status, 403, "{}", batch.body);
        }
    }
    let mut email = plain.clone();
    email["headers"] = json!({"From": "not an address"});
    let r = call(&s, "POST", "/emails", Some(&email)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid `from` field."),
        "{}",
        r.body
    );
    // The SMTP door, the same message: 550 with the same words.
    let t = common::transport(&s, common::Mode::Plain, "resend", KEY, Mechanism::Plain);
    let envelope = lettre::address::Envelope::new(
        Some("onboarding@resend.dev".parse().unwrap()),
        vec!["delivered@resend.dev".parse().unwrap()],
    )
    .unwrap();
    let raw = "From: ceo@unverified.io\r\nTo: delivered@resend.dev\r\nSubject: Hi\r\n\r\nHi\r\n";
    let err = t
        .send_raw(&envelope, raw.as_bytes())
        .await
        .expect_err("550");
    let text = err.to_string();
    assert!(text.contains("550") || text.contains("permanent"), "{text}");
    assert!(
        text.contains("The unverified.io domain is not verified"),
        "{text}"
    );
    assert_eq!(s.messages().len(), 1, "only the first email was sent");
}

/// Issue 25, item 4: a scheduled email is never evicted by the account's
/// cap of 10,000 emails while it is pending: after 10,100 newer ones it is
/// still listed as scheduled, and it goes out when due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_email_outlives_ten_thousand_newer_ones() {
    let s = mock().await;
    let base = s.rest_url().unwrap();
    let rfc = |d: time::Duration| {
        (time::OffsetDateTime::now_utc() + d)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let mut scheduled = json!({"from": "billing@acme.com", "to": ["delivered@resend.dev"], "subject": "Later", "text": "Later"});
    scheduled["scheduled_at"] = json!(rfc(time::Duration::hours(1)));
    let r = call(&s, "POST", "/emails", Some(&scheduled)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let one = json!({"from": "billing@acme.com", "to": ["delivered@resend.dev"], "subject": "Now", "text": "Now"});
    let batch = Value::Array(vec![one; 100]);
    let mut conn = KeepAlive::open(&base).await;
    for _ in 0..101 {
        let (code, body) = conn
            .call("POST", "/emails/batch", Some(&batch.to_string()))
            .await;
        assert_eq!(code, 200, "{body}");
    }
    let (code, body) = conn.call("GET", &format!("/emails/{id}"), None).await;
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["last_event"], "scheduled", "{v}");
    // Due in a second: it is sent.
    let soon = json!({"scheduled_at": rfc(time::Duration::seconds(1))});
    let (code, body) = conn
        .call("PATCH", &format!("/emails/{id}"), Some(&soon.to_string()))
        .await;
    assert_eq!(code, 200, "{body}");
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !s
        .messages()
        .iter()
        .any(|m| String::from_utf8_lossy(&m.data).contains("Subject: Later"))
        && std::time::Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, body) = conn.call("GET", &format!("/emails/{id}"), None).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["last_event"], "delivered", "{v}");
}
