//! The inbox (issue 14): its API, Mailpit's field names, the Host and
//! cross-site guards, hostile messages, the scenario switch, `--keep`, the
//! live events, and a secret scan over every response. Real SMTP (lettre
//! and a raw client) in, real HTTP over loopback out.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{KEY, Mode, authed, plain_payload, send, wait};
use lettre::transport::smtp::authentication::Mechanism;
use mailtape::MockServer;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// Everything a client sees, for the secret scan.
    fn all(&self) -> String {
        let mut s = String::new();
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\n"));
        }
        s + &self.text()
    }
}

/// A plain HTTP/1.1 request over loopback (`Connection: close`).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut s = TcpStream::connect(addr)
        .await
        .expect("connect to the inbox");
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !extra.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in extra {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("answer within 10 s")
        .expect("read");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..i]).trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[i + 2..i + 2 + size]);
            rest = &rest[i + 2 + size + 2..];
        }
        body = out;
    }
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    http(addr, "GET", path, &[], "").await
}

/// One message with lettre over the plain listener, AUTH PLAIN.
async fn plain(server: &MockServer, user: &str, from: &str, to: &[&str]) -> Result<String, String> {
    send(server, Mode::Plain, Mechanism::Plain, user, from, to).await
}

async fn inbox(scenario: &str) -> MockServer {
    MockServer::builder()
        .scenario(scenario)
        .ui("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("mock with inbox starts")
}

fn ui(server: &MockServer) -> SocketAddr {
    let url = server.ui_url().expect("the inbox is on");
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("ui address")
}

/// Waits until the inbox lists `n` sessions (it is fed through a queue).
async fn listed(addr: SocketAddr, n: u64) -> Value {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let v = get(addr, "/api/sessions").await.json();
        if v["total"].as_u64() >= Some(n) || Instant::now() > until {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const HOSTILE: &str = "From: Acme <billing@acme.com>\r\nTo: delivered@resend.dev\r\nSubject: Reset your password\r\nMessage-ID: <m1@acme.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\nReset it: https://app.acme.com/reset?token=abc&u=7\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p><a href=\"https://app.acme.com/reset?token=abc&amp;u=7\">Reset</a><script>parent.document.title='pwned'</script><img src=\"https://tracker.example/p.gif\"></p>\r\n--b2--\r\n--b1\r\nContent-Type: text/html; name=\"x.html\"\r\nContent-Disposition: attachment; filename=\"../../x.html\"\r\n\r\n<script>alert(document.cookie)</script>\r\n--b1--\r\n";

/// Sends the hostile message over a raw session (AUTH with the test key).
async fn send_hostile(server: &MockServer) {
    let mut c = authed(server).await;
    assert_eq!(c.cmd("MAIL FROM:<billing@acme.com>").await, "250 Accepted");
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    let body = format!("{HOSTILE}The key is {KEY}\r\n.\r\n");
    c.write(body.as_bytes()).await;
    assert!(c.reply().await.code == 250);
    c.send("QUIT").await;
    assert_eq!(c.reply().await.code, 221);
}

#[tokio::test]
async fn the_library_starts_no_inbox_unless_asked() {
    let server = MockServer::builder().start().await.expect("mock");
    assert!(server.ui_url().is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_are_listed_with_their_outcome_and_filtered() {
    let server = inbox("default").await;
    let addr = ui(&server);
    let ok = plain(
        &server,
        "resend",
        "billing@acme.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
    let bad = plain(
        &server,
        "billing@acme.com",
        "billing@acme.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert!(bad.is_err());
    wait(&server, 2).await;
    let v = listed(addr, 2).await;
    assert_eq!(v["total"], 2);
    let rows = v["sessions"].as_array().expect("rows");
    // Newest first.
    assert_eq!(rows[0]["outcome"], "refused_auth");
    assert_eq!(rows[0]["code"], 535);
    assert_eq!(rows[0]["reply"], "Invalid username");
    assert_eq!(rows[0]["user"], "billing@acme.com");
    assert_eq!(rows[1]["outcome"], "accepted");
    assert_eq!(rows[1]["from"], "billing@acme.com");
    assert_eq!(rows[1]["to"][0], "delivered@resend.dev");
    assert_eq!(rows[1]["subjects"][0], "Hello from mailtape tests");
    assert_eq!(rows[1]["protocol"], "smtp");
    assert_eq!(rows[1]["listener"], "plain");
    assert_eq!(rows[1]["messages"].as_array().map(Vec::len), Some(1));

    let refused = get(addr, "/api/sessions?outcome=refused").await.json();
    assert_eq!(refused["matched"], 1);
    let searched = get(addr, "/api/sessions?q=hello%20from").await.json();
    assert_eq!(searched["matched"], 1);
    assert_eq!(searched["sessions"][0]["outcome"], "accepted");
    let bad = get(addr, "/api/sessions?outcome=nope").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("refused_auth")
    );

    // One session: the transcript with the same explanation `show` gives.
    let key = rows[0]["key"].as_u64().expect("key");
    let one = get(addr, &format!("/api/sessions/{key}")).await.json();
    let explained: Vec<&str> = one["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["explain"]["text"].as_str())
        .collect();
    assert!(
        explained.iter().any(|t| t.contains("user name")),
        "{explained:?}"
    );
    assert!(
        one["text"]
            .as_str()
            .unwrap_or_default()
            .contains("S: 535 Invalid username")
    );
    let tape = get(addr, &format!("/api/sessions/{key}/tape")).await;
    assert_eq!(tape.status, 200);
    assert!(
        tape.header("content-disposition")
            .unwrap_or_default()
            .starts_with("attachment")
    );
    assert!(tape.text().starts_with("# mailtape tape v1"));
    let reparsed = mailtape::tape::Tape::parse(&tape.text(), "download").expect("a tape");
    assert_eq!(reparsed.sessions.len(), 1);
    assert_eq!(get(addr, "/api/sessions/999").await.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn mailpit_clients_get_mailpits_field_names() {
    let server = inbox("default").await;
    let addr = ui(&server);
    send_hostile(&server).await;
    wait(&server, 1).await;
    listed(addr, 1).await;
    let list = get(addr, "/api/v1/messages").await.json();
    for k in [
        "total",
        "unread",
        "count",
        "messages_count",
        "messages_unread",
        "start",
        "tags",
        "messages",
    ] {
        assert!(list.get(k).is_some(), "list has {k}: {list}");
    }
    let m = &list["messages"][0];
    for k in [
        "ID",
        "MessageID",
        "Read",
        "From",
        "To",
        "Cc",
        "Bcc",
        "ReplyTo",
        "Subject",
        "Created",
        "Username",
        "Tags",
        "Size",
        "Attachments",
        "Snippet",
    ] {
        assert!(m.get(k).is_some(), "summary has {k}: {m}");
    }
    assert_eq!(m["From"]["Address"], "billing@acme.com");
    assert_eq!(m["From"]["Name"], "Acme");
    assert_eq!(m["Subject"], "Reset your password");
    assert_eq!(m["Attachments"], 1);
    assert_eq!(m["Username"], "resend");
    let id = m["ID"].as_str().expect("id").to_string();

    let full = get(addr, "/api/v1/message/latest").await.json();
    for k in [
        "ID",
        "MessageID",
        "From",
        "To",
        "Cc",
        "Bcc",
        "ReplyTo",
        "ReturnPath",
        "Subject",
        "ListUnsubscribe",
        "Date",
        "Tags",
        "Username",
        "Text",
        "HTML",
        "Size",
        "Inline",
        "Attachments",
    ] {
        assert!(full.get(k).is_some(), "message has {k}");
    }
    assert_eq!(full["ID"], id.as_str());
    assert_eq!(full["MessageID"], "m1@acme.com");
    assert!(
        full["Text"]
            .as_str()
            .unwrap_or_default()
            .contains("https://app.acme.com/reset?token=abc&u=7")
    );
    let att = &full["Attachments"][0];
    assert_eq!(att["FileName"], "../../x.html");
    assert_eq!(att["PartID"], "1");
    assert!(
        att["Checksums"]["SHA256"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );

    let headers = get(addr, &format!("/api/v1/message/{id}/headers"))
        .await
        .json();
    assert_eq!(headers["Subject"][0], "Reset your password");
    assert_eq!(headers["Message-Id"][0], "<m1@acme.com>");
    let raw = get(addr, &format!("/api/v1/message/{id}/raw")).await;
    assert!(raw.text().starts_with("From: Acme <billing@acme.com>\r\n"));

    let found = get(
        addr,
        "/api/v1/search?query=subject:%22reset%20your%22%20to:delivered",
    )
    .await
    .json();
    assert_eq!(found["messages_count"], 1);
    let none = get(addr, "/api/v1/search?query=-subject:reset")
        .await
        .json();
    assert_eq!(none["messages_count"], 0);
    assert_eq!(get(addr, "/api/v1/search").await.status, 400);

    // GET changed nothing; PUT marks read; DELETE removes.
    assert_eq!(get(addr, "/api/v1/info").await.json()["Unread"], 1);
    let put = http(
        addr,
        "PUT",
        "/api/v1/messages",
        &[("Content-Type", "application/json")],
        &format!("{{\"IDs\":[\"{id}\"],\"Read\":true}}"),
    )
    .await;
    assert_eq!((put.status, put.text().as_str()), (200, "ok"));
    assert_eq!(get(addr, "/api/v1/info").await.json()["Unread"], 0);
    let del = http(
        addr,
        "DELETE",
        "/api/v1/messages",
        &[("Content-Type", "application/json")],
        &format!("{{\"IDs\":[\"{id}\"]}}"),
    )
    .await;
    assert_eq!(del.status, 200);
    assert_eq!(get(addr, "/api/v1/messages").await.json()["total"], 0);
    assert_eq!(
        get(addr, &format!("/api/v1/message/{id}")).await.status,
        404
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_hostile_message_cannot_script_the_page_or_name_a_path() {
    let server = inbox("default").await;
    let addr = ui(&server);
    send_hostile(&server).await;
    wait(&server, 1).await;
    listed(addr, 1).await;
    let m = get(addr, "/api/messages/latest").await.json();
    let id = m["id"].as_str().expect("id").to_string();
    assert_eq!(m["links"][0], "https://app.acme.com/reset?token=abc&u=7");

    let html = get(addr, &format!("/api/messages/{id}/html")).await;
    let csp = html
        .header("content-security-policy")
        .expect("a CSP")
        .to_string();
    assert!(csp.starts_with("sandbox "), "{csp}");
    assert!(
        !csp.contains("allow-scripts") && !csp.contains("allow-same-origin"),
        "{csp}"
    );
    assert!(
        csp.contains("img-src data:;"),
        "no remote images by default: {csp}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let remote = get(addr, &format!("/api/messages/{id}/html?remote=1")).await;
    assert!(
        remote
            .header("content-security-policy")
            .unwrap_or_default()
            .contains("img-src data: http: https:")
    );

    let part = get(addr, &format!("/api/messages/{id}/parts/1")).await;
    assert_eq!(part.status, 200);
    assert_eq!(
        part.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        part.header("content-disposition"),
        Some("attachment; filename=\"x.html\"")
    );
    assert_eq!(part.header("x-content-type-options"), Some("nosniff"));
    let v1 = get(addr, &format!("/api/v1/message/{id}/part/1")).await;
    assert_eq!(
        v1.header("content-disposition"),
        Some("attachment; filename=\"x.html\"")
    );
    let raw = get(addr, &format!("/api/messages/{id}/raw")).await;
    assert!(
        raw.header("content-disposition")
            .unwrap_or_default()
            .starts_with("attachment; filename=\"")
    );

    // The page itself: its own script only.
    let page = get(addr, "/").await;
    let csp = page.header("content-security-policy").expect("page CSP");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn dns_rebinding_and_cross_site_writes_are_refused() {
    let server = inbox("default").await;
    let addr = ui(&server);
    let port = addr.port();
    for host in [
        "evil.example",
        &format!("evil.example:{port}"),
        "127.0.0.1.nip.io",
    ] {
        let a = http(addr, "GET", "/api/sessions", &[("Host", host)], "").await;
        assert_eq!(a.status, 403, "{host}");
        assert!(a.text().contains("DNS rebinding"), "{}", a.text());
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(
            http(addr, "GET", "/api/v1/info", &[("Host", &host)], "")
                .await
                .status,
            200
        );
    }
    let body = "{\"scenario\":\"sandbox\"}";
    let json = ("Content-Type", "application/json");
    let evil = http(
        addr,
        "PUT",
        "/api/scenario",
        &[json, ("Origin", "http://evil.example")],
        body,
    )
    .await;
    assert_eq!(evil.status, 403);
    assert!(evil.text().contains("cross-site"));
    let sibling = http(
        addr,
        "POST",
        "/api/clear",
        &[("Sec-Fetch-Site", "same-site")],
        "",
    )
    .await;
    assert_eq!(sibling.status, 403);
    let other_port = http(
        addr,
        "DELETE",
        "/api/v1/messages",
        &[("Origin", "http://127.0.0.1:3000")],
        "",
    )
    .await;
    assert_eq!(other_port.status, 403);
    assert_eq!(
        get(addr, "/api/scenario").await.json()["scenario"],
        "default"
    );
    // The page's own origin, and programs (no Origin; an SDK's bearer token) pass.
    let own_origin = format!("http://127.0.0.1:{port}");
    let own = http(
        addr,
        "PUT",
        "/api/scenario",
        &[
            json,
            ("Origin", &own_origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        body,
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.text());
    let sdk = http(
        addr,
        "POST",
        "/api/clear",
        &[("Authorization", "Bearer re_sdk_123")],
        "",
    )
    .await;
    assert_eq!(sdk.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn the_scenario_switch_changes_the_next_sessions_reply() {
    let server = inbox("default").await;
    let addr = ui(&server);
    let before = plain(
        &server,
        "resend",
        "onboarding@resend.dev",
        &["bob@gmail.com"],
    )
    .await;
    assert!(before.is_ok(), "{before:?}");
    let s = http(
        addr,
        "PUT",
        "/api/scenario",
        &[("Content-Type", "application/json")],
        "{\"scenario\":\"sandbox\"}",
    )
    .await;
    assert_eq!(s.status, 200);
    let state = s.json();
    assert_eq!(state["scenario"], "sandbox");
    assert_eq!(state["owner"], "you@yourcompany.com");
    let after = plain(
        &server,
        "resend",
        "onboarding@resend.dev",
        &["bob@gmail.com"],
    )
    .await;
    let err = after.expect_err("the sandbox refuses strangers");
    assert!(err.contains("You can only send testing emails"), "{err}");
    wait(&server, 2).await;
    let v = listed(addr, 2).await;
    assert_eq!(v["sessions"][0]["source"], "sandbox");
    assert_eq!(v["sessions"][0]["outcome"], "refused_data");
    let unknown = http(
        addr,
        "PUT",
        "/api/scenario",
        &[("Content-Type", "application/json")],
        "{\"scenario\":\"../../etc/passwd\"}",
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown scenario")
    );
    let garbage = http(
        addr,
        "PUT",
        "/api/scenario",
        &[("Content-Type", "application/json")],
        "{",
    )
    .await;
    assert_eq!(garbage.status, 400);
    server.shutdown().await;
}

#[tokio::test]
async fn keep_drops_the_oldest_and_counts_them() {
    let server = MockServer::builder()
        .ui("127.0.0.1:0".parse().expect("addr"))
        .config(|c| {
            if let Some(w) = c.service.web.as_mut() {
                w.keep = 3;
            }
        })
        .scenario("unlimited")
        .start()
        .await
        .expect("mock");
    let addr = ui(&server);
    for _ in 0..5 {
        let r = plain(&server, "resend", "a@acme.com", &["delivered@resend.dev"]).await;
        assert!(r.is_ok(), "{r:?}");
    }
    wait(&server, 5).await;
    let until = Instant::now() + Duration::from_secs(5);
    let mut v = get(addr, "/api/sessions").await.json();
    while v["dropped"] != 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
        v = get(addr, "/api/sessions").await.json();
    }
    assert_eq!(v["total"], 3);
    assert_eq!(v["dropped"], 2);
    assert_eq!(v["sessions"][0]["session"], 5);
    let m = get(addr, "/api/messages").await.json();
    assert_eq!(
        (m["total"].as_u64(), m["dropped"].as_u64()),
        (Some(3), Some(2))
    );
    let info = get(addr, "/api/info").await.json();
    assert_eq!(info["counts"]["keep"], 3);
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_session_reaches_an_open_event_stream_within_a_second() {
    let server = inbox("default").await;
    let addr = ui(&server);
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The stream says hello first.
    while !String::from_utf8_lossy(&seen).contains("event: hello") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("hello")
            .expect("read");
        assert!(n > 0, "stream closed");
        seen.extend_from_slice(&buf[..n]);
    }
    let sent = Instant::now();
    let r = plain(&server, "resend", "a@acme.com", &["delivered@resend.dev"]).await;
    assert!(r.is_ok());
    while !String::from_utf8_lossy(&seen).contains("event: session") {
        let n = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf))
            .await
            .expect("a session event within a second")
            .expect("read");
        assert!(n > 0, "stream closed");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("event: message"), "{text}");
    assert!(text.contains("\"outcome\":\"accepted\""), "{text}");
    assert!(!text.contains(KEY));
    drop(s);
    server.shutdown().await;
}

#[tokio::test]
async fn no_key_in_any_response() {
    let server = inbox("default").await;
    let addr = ui(&server);
    // A session stream open the whole time.
    let mut events = TcpStream::connect(addr).await.expect("connect");
    events
        .write_all(format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    send_hostile(&server).await;
    let lettre = send(
        &server,
        Mode::Plain,
        Mechanism::Login,
        "resend",
        "a@acme.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert!(lettre.is_ok());
    // A client that sends its key again after a refused AUTH, in the clear.
    let mut c = common::ehloed(&server).await;
    c.send(&format!("AUTH PLAIN {}", plain_payload("nobody", KEY)))
        .await;
    let _ = c.reply().await;
    c.send(KEY).await;
    let _ = c.reply().await;
    c.send("QUIT").await;
    let _ = c.reply().await;
    wait(&server, 3).await;
    listed(addr, 3).await;

    let mut answers = Vec::new();
    let mut paths: Vec<String> = [
        "/",
        "/assets/app.js",
        "/api/info",
        "/api/sessions",
        "/api/messages",
        "/api/scenario",
        "/api/v1/info",
        "/api/v1/messages",
        "/api/v1/search?query=acme",
        "/api/v1/webui",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    for s in get(addr, "/api/sessions").await.json()["sessions"]
        .as_array()
        .expect("rows")
    {
        let k = &s["key"];
        paths.push(format!("/api/sessions/{k}"));
        paths.push(format!("/api/sessions/{k}/tape"));
    }
    for m in get(addr, "/api/messages").await.json()["messages"]
        .as_array()
        .expect("rows")
    {
        let id = m["id"].as_str().expect("id");
        for p in ["", "/raw", "/html", "/parts/1"] {
            paths.push(format!("/api/messages/{id}{p}"));
        }
        for p in ["", "/headers", "/raw", "/part/1"] {
            paths.push(format!("/api/v1/message/{id}{p}"));
        }
        paths.push(format!("/view/{id}.html"));
        paths.push(format!("/view/{id}.txt"));
    }
    for p in &paths {
        let a = get(addr, p).await;
        assert!(
            a.status == 200 || p.ends_with("/parts/1") || p.ends_with("/part/1"),
            "{p}: {}",
            a.status
        );
        answers.push((p.clone(), a.all()));
    }
    let mut buf = vec![0u8; 1 << 20];
    let n = tokio::time::timeout(Duration::from_secs(2), events.read(&mut buf))
        .await
        .expect("events")
        .expect("read");
    answers.push((
        "/api/events".into(),
        String::from_utf8_lossy(&buf[..n]).into_owned(),
    ));

    let b64 = base64::engine::general_purpose::STANDARD;
    let forms = [
        KEY.to_string(),
        b64.encode(KEY),
        plain_payload("resend", KEY),
        plain_payload("nobody", KEY),
        KEY["re_".len()..].to_string(),
    ];
    for (p, text) in &answers {
        for f in &forms {
            assert!(
                !text.contains(f.as_str()),
                "{p} shows the key ({f}):\n{text}"
            );
        }
    }
    // The redacted form is there instead.
    assert!(answers.iter().any(|(_, t)| t.contains("key=re_…")));
    server.shutdown().await;
}

#[test]
fn the_binary_announces_the_inbox_and_serves_it() {
    let dir = tempfile::tempdir().expect("dir");
    let mut args = common::cli::ephemeral("mock", dir.path());
    let i = args.iter().position(|a| a == "--ui").expect("--ui");
    args[i + 1] = "127.0.0.1:0".into();
    args.push("--json".into());
    let mut run = common::cli::Running::start_with(&args, common::cli::bin());
    let ready: Value = serde_json::from_str(&run.line()).expect("ready line");
    let url = ready["ui"]
        .as_str()
        .expect("\"ui\" in the ready line")
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("addr");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let info = rt.block_on(get(addr, "/api/info")).json();
    assert_eq!(info["mode"], "mock");
    assert_eq!(info["scenario"], "default");
    let page = rt.block_on(get(addr, "/"));
    assert!(page.text().contains("<title>mailtape inbox</title>"));
    let (code, _, _) = run.term();
    assert_eq!(code, 0);

    // People get a banner line with the URL.
    let mut args = common::cli::ephemeral("mock", dir.path());
    let i = args.iter().position(|a| a == "--ui").expect("--ui");
    args[i + 1] = "127.0.0.1:0".into();
    let mut run = common::cli::Running::start_with(&args, common::cli::bin());
    // (the banner is on stderr: stdout is the live view's)
    let line = run.err_until(|l| l.trim_start().starts_with("inbox"));
    assert!(
        line.contains("http://127.0.0.1:") && line.contains("/api/v1"),
        "{line}"
    );
    run.term();
}

#[tokio::test]
async fn a_replay_departure_is_a_fault_and_marked() {
    let server = mailtape::ReplayServer::builder("builtin:sandbox")
        .ui("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("replay");
    let addr = {
        let url = server.ui_url().expect("inbox");
        url.trim_start_matches("http://")
            .trim_end_matches('/')
            .parse::<SocketAddr>()
            .expect("addr")
    };
    let mut c = common::Raw::connect(server.plain_addr().expect("plain")).await;
    assert_eq!(c.reply().await.code, 220);
    c.send("HELO app.local").await;
    assert_eq!(c.reply().await.code, 451);
    c.send("QUIT").await;
    let _ = c.reply().await;
    let v = listed(addr, 1).await;
    let s = &v["sessions"][0];
    assert_eq!(s["mode"], "replay");
    assert_eq!(s["diverged"], true);
    assert_eq!(s["outcome"], "fault");
    let one = get(addr, &format!("/api/sessions/{}", s["key"]))
        .await
        .json();
    assert!(
        one["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "note"
                && e["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("diverged from the tape")),
        "{one}"
    );
    assert_eq!(get(addr, "/api/info").await.json()["mode"], "replay");
    assert_eq!(get(addr, "/api/scenario").await.status, 404);
    let _ = server.shutdown().await;
}

#[tokio::test]
async fn tls_sessions_show_their_version_and_disk_is_read_at_start() {
    let dir = tempfile::tempdir().expect("dir");
    let (tapes, mailbox) = (dir.path().join("tapes"), dir.path().join("mailbox"));
    std::fs::create_dir_all(&tapes).expect("tapes");
    std::fs::create_dir_all(&mailbox).expect("mailbox");
    let first = MockServer::builder()
        .tapes(&tapes)
        .mailbox(&mailbox)
        .ui("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("mock");
    let r = send(
        &first,
        Mode::Smtps,
        Mechanism::Plain,
        "resend",
        "a@acme.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert!(r.is_ok(), "{r:?}");
    wait(&first, 1).await;
    let v = listed(ui(&first), 1).await;
    assert!(
        v["sessions"][0]["tls"]
            .as_str()
            .is_some_and(|t| t.starts_with("TLSv1.3")),
        "{v}"
    );
    assert_eq!(v["sessions"][0]["listener"], "smtps");
    first.shutdown().await;

    // A new server over the same folders shows what is on disk.
    let second = MockServer::builder()
        .tapes(&tapes)
        .mailbox(&mailbox)
        .ui("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("mock");
    let addr = ui(&second);
    let v = listed(addr, 1).await;
    assert_eq!(v["total"], 1);
    assert!(
        v["sessions"][0]["origin"]
            .as_str()
            .unwrap_or_default()
            .ends_with(".tape")
    );
    assert_eq!(v["sessions"][0]["outcome"], "accepted");
    let until = Instant::now() + Duration::from_secs(5);
    let mut m = get(addr, "/api/messages").await.json();
    while m["total"] != 1 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
        m = get(addr, "/api/messages").await.json();
    }
    assert_eq!(m["total"], 1);
    assert_eq!(m["messages"][0]["from"], "a@acme.com");
    assert_eq!(m["messages"][0]["to"][0], "delivered@resend.dev");
    assert_eq!(m["messages"][0]["subject"], "Hello from mailtape tests");
    second.shutdown().await;
}

#[tokio::test]
async fn a_busy_server_loses_no_session_to_the_inbox_queue() {
    let server = MockServer::builder()
        .scenario("unlimited")
        .ui("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("mock");
    let addr = ui(&server);
    let n = 200;
    let mut tasks = Vec::new();
    for i in 0..n {
        let t = common::transport(&server, Mode::Plain, "resend", KEY, Mechanism::Plain);
        tasks.push(tokio::spawn(async move {
            use lettre::AsyncTransport;
            let to = format!("delivered+{i}@resend.dev");
            t.send(common::message("a@acme.com", &[&to])).await.is_ok()
        }));
    }
    for t in tasks {
        assert!(t.await.expect("task"), "a send failed");
    }
    wait(&server, n).await;
    let v = listed(addr, n as u64).await;
    assert_eq!(v["total"], n);
    let c = &get(addr, "/api/info").await.json()["counts"];
    assert_eq!(c["messages"], n);
    assert_eq!(c["dropped_queue"], 0);
    server.shutdown().await;
}

/// Routes merged in by other parts (Resend's REST API) pass the same guards:
/// an SDK (a bearer key, no Origin) gets through; a page elsewhere does not.
#[tokio::test]
async fn merged_routes_pass_the_same_guards() {
    let routes = mailtape::RouteMaker(std::sync::Arc::new(
        |_sink: &std::sync::Arc<mailtape::Sink>| {
            axum::Router::new().route("/extra", axum::routing::post(|| async { "sent" }))
        },
    ));
    let server = MockServer::builder()
        .ui("127.0.0.1:0".parse().expect("addr"))
        .config(move |c| {
            if let Some(w) = c.service.web.as_mut() {
                w.routes.push(routes);
            }
        })
        .start()
        .await
        .expect("mock");
    let addr = ui(&server);
    let sdk = http(
        addr,
        "POST",
        "/extra",
        &[
            ("Authorization", "Bearer re_sdk_123"),
            ("Content-Type", "application/json"),
        ],
        "{}",
    )
    .await;
    assert_eq!((sdk.status, sdk.text().as_str()), (200, "sent"));
    assert_eq!(sdk.header("x-content-type-options"), Some("nosniff"));
    let page = http(
        addr,
        "POST",
        "/extra",
        &[("Origin", "http://evil.example")],
        "{}",
    )
    .await;
    assert_eq!(page.status, 403);
    let rebound = http(addr, "POST", "/extra", &[("Host", "evil.example")], "{}").await;
    assert_eq!(rebound.status, 403);
    server.shutdown().await;
}
