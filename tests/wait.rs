//! Waiting for mail instead of sleeping (issue 26): the server-side wait
//! over HTTP and in Rust, extraction of codes and links, tags, which key
//! sent what, deep links, and the wait's bad input (a malformed query, a
//! wait over the cap, a client that goes away). Real SMTP (lettre) and
//! real REST in, real HTTP over loopback out; a second message sent 200 ms
//! after the first makes a wait that answers with the wrong one fail.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{KEY, Mode};
use lettre::AsyncTransport;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Mechanism;
use mailtape::MockServer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Another key, for a second app sharing the mock.
const KEY2: &str = "re_Other987_zyxwVUTS4321";

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// A plain HTTP/1.1 request (`Connection: close`); bodies here are never chunked.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw))
        .await
        .expect("an answer within 20 s")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    Answer {
        status,
        body: raw[split + 4..].to_vec(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    http(addr, "GET", path, &[], "").await
}

async fn inbox() -> MockServer {
    MockServer::builder()
        .scenario("unlimited")
        .ui("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("mock with inbox")
}

fn ui(server: &MockServer) -> SocketAddr {
    let url = server.ui_url().expect("inbox on");
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("ui addr")
}

/// A sign-in mail with a code and a link, sent with lettre as an app would.
async fn send_code(server: &MockServer, key: &str, to: &str, code: &str, token: &str) {
    let msg = lettre::Message::builder()
        .from("Acme <login@acme.com>".parse().expect("from"))
        .to(to.parse().expect("to"))
        .subject("Your Acme sign-in code")
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "Hi,\n\nYour verification code is {code}. It expires in 10 minutes.\n\nOr open https://app.acme.com/login?token={token}\n\nUnsubscribe: https://acme.com/unsubscribe\n"
        ))
        .expect("message");
    let t = common::transport(server, Mode::Plain, "resend", key, Mechanism::Plain);
    t.send(msg).await.expect("250");
}

async fn cursor(addr: SocketAddr) -> u64 {
    get(addr, "/api/cursor").await.json()["cursor"]
        .as_u64()
        .expect("cursor")
}

#[tokio::test]
async fn a_wait_answers_with_the_first_match_after_its_cursor_not_the_one_200ms_later() {
    let server = inbox().await;
    let addr = ui(&server);
    // An earlier mail to the same person never answers a later wait.
    send_code(&server, KEY, "bob@shop.dev", "111111", "old").await;
    let old = get(addr, "/api/wait/message?query=token=old&timeout=5s")
        .await
        .json();
    assert_eq!(old["code"], "111111");
    let since = old["cursor"].as_u64().expect("cursor");
    let waiting = tokio::spawn(async move {
        get(
            addr,
            &format!(
                "/api/wait/message?query=to:bob@shop.dev&since={since}&timeout=10s&link=/login"
            ),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    send_code(&server, KEY, "bob@shop.dev", "482913", "first").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    send_code(&server, KEY, "bob@shop.dev", "775120", "second").await;
    let a = waiting.await.expect("task");
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["code"], "482913");
    assert_eq!(v["link"], "https://app.acme.com/login?token=first");
    assert_eq!(v["codes"][0]["code"], "482913");
    assert_eq!(v["codes"][0]["kind"], "digits");
    assert_eq!(v["codes"][0]["found_in"], "text");
    assert!(
        v["codes"][0]["context"]
            .as_str()
            .unwrap_or_default()
            .contains("Your verification code is 482913. It expires"),
        "{}",
        v["codes"][0]
    );
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(v["url"], format!("/#/message/{id}"));
    // The next wait from this answer's cursor gets the second message.
    let next = get(
        addr,
        &format!(
            "/api/wait/message?query=to:bob@shop.dev&since={}&timeout=5s",
            v["cursor"]
        ),
    )
    .await
    .json();
    assert_eq!(next["code"], "775120");
    // Without since: the newest kept match, at once.
    let newest = get(addr, "/api/wait/message?query=to:bob@shop.dev&timeout=1s")
        .await
        .json();
    assert_eq!(newest["code"], "775120");
    // The first link matching a pattern, for one message.
    let l = get(addr, &format!("/api/messages/{id}/link?match=unsub*"))
        .await
        .json();
    assert_eq!(l["link"], "https://acme.com/unsubscribe");
    let none = get(addr, &format!("/api/messages/{id}/link?match=/reset")).await;
    assert_eq!(none.status, 404);
    assert!(
        none.text()
            .contains("its links: https://app.acme.com/login?token=first"),
        "{}",
        none.text()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_rust_api_waits_and_extracts() {
    // No page: the test API's keep gives the store all the same.
    let server = MockServer::builder()
        .scenario("unlimited")
        .start()
        .await
        .expect("mock");
    let before = server.inbox_cursor().expect("an inbox for the test API");
    let s2 = &server;
    let (found, ()) = tokio::join!(
        s2.wait_for_message_after(
            before,
            "to:ann@shop.dev subject:sign-in",
            Duration::from_secs(10)
        ),
        async {
            send_code(s2, KEY, "ann@shop.dev", "904417", "ann1").await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            send_code(s2, KEY, "ann@shop.dev", "300512", "ann2").await;
        }
    );
    let found = found.expect("found");
    assert_eq!(found.code(), Some("904417"));
    assert_eq!(
        found.link_matching("/login?token="),
        Some("https://app.acme.com/login?token=ann1")
    );
    assert_eq!(found.user.as_deref(), Some("resend"));
    assert_eq!(
        found.key.as_deref(),
        Some(format!("re_…{}", fp(KEY)).as_str())
    );
    assert_eq!(found.url, format!("/#/message/{}", found.id));
    let second = server
        .wait_for_message_after(found.cursor, "to:ann@shop.dev", Duration::from_secs(5))
        .await
        .expect("second");
    assert_eq!(second.code(), Some("300512"));
    // The newest match without a cursor; a bad query; a timeout that says
    // what came instead.
    let newest = server
        .wait_for_message("to:ann@shop.dev", Duration::from_secs(1))
        .await
        .expect("newest");
    assert_eq!(newest.id, second.id);
    let bad = server
        .wait_for_message("to:", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "bad query: to: needs a value (write to:something, quoted if it has spaces)"
    );
    let over = server
        .wait_for_message("", Duration::from_secs(301))
        .await
        .unwrap_err();
    assert_eq!(over.to_string(), "a wait of 301s is over the cap of 5m");
    let late = server
        .wait_for_message_after(
            second.cursor,
            "to:nobody@shop.dev",
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert_eq!(
        late.to_string(),
        "no message matched \"to:nobody@shop.dev\" within 300ms; none arrived meanwhile"
    );
    server.shutdown().await;
}

fn fp(key: &str) -> String {
    mailtape::tape::redact::fingerprint(key.as_bytes())
}

#[tokio::test]
async fn bad_waits_are_refused_naming_the_problem_and_a_timeout_lists_what_came() {
    let server = inbox().await;
    let addr = ui(&server);
    let cases = [
        (
            "query=to:",
            "bad query: to: needs a value (write to:something, quoted if it has spaces)",
        ),
        (
            "query=subject:%22reset",
            "bad query: the query has an unclosed quote (after \"subject:reset\")",
        ),
        (
            "query=is:new",
            "bad query: is:new is not known; use is:read, is:unread, is:tagged, is:untagged",
        ),
        (
            "timeout=6m",
            "timeout 6m is over the cap of 300s; wait at most 5m",
        ),
        (
            "timeout=soon",
            "timeout \"soon\" is not a duration; write 10s, 500ms or 2m",
        ),
        (
            "since=yesterday",
            "since \"yesterday\" is neither a cursor (a number from /api/cursor or an answer's \"cursor\"), now, nor an RFC 3339 time",
        ),
    ];
    for (params, why) in cases {
        let a = get(addr, &format!("/api/wait/message?{params}")).await;
        assert_eq!(a.status, 400, "{params}: {}", a.text());
        assert_eq!(a.json()["error"], why, "{params}");
    }
    let s = get(addr, "/api/wait/session?query=outcome:nope").await;
    assert_eq!(s.status, 400);
    assert!(
        s.text().contains("outcome:nope is not known"),
        "{}",
        s.text()
    );
    // Mailpit's routes answer in Mailpit's plain text.
    let m = get(addr, "/api/v1/search?query=to:").await;
    assert_eq!(m.status, 400);
    assert_eq!(
        m.text(),
        "Error: to: needs a value (write to:something, quoted if it has spaces)"
    );

    // A timeout: 408, with what did arrive.
    let since = cursor(addr).await;
    let waiting = tokio::spawn(async move {
        get(
            addr,
            &format!("/api/wait/message?query=to:carol@shop.dev&since={since}&timeout=700ms"),
        )
        .await
    });
    send_code(&server, KEY, "dave@shop.dev", "123456", "d").await;
    let started = Instant::now();
    let a = waiting.await.expect("task");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(a.status, 408, "{}", a.text());
    let v = a.json();
    assert_eq!(
        v["error"],
        "no message matched \"to:carol@shop.dev\" within 700ms; 1 message arrived meanwhile (see arrived)"
    );
    assert_eq!(v["arrived_count"], 1);
    assert_eq!(v["arrived"][0]["to"][0], "dave@shop.dev");
    assert_eq!(v["arrived"][0]["codes"][0], "123456");
    let late = get(
        addr,
        &format!("/api/v1/message/latest?query=to:carol@shop.dev&since={since}&timeout=200ms"),
    )
    .await;
    assert_eq!(late.status, 408);
    assert!(
        late.text().starts_with(
            "Error: no message matched \"to:carol@shop.dev\" within 200ms; 1 arrived meanwhile:\n  "
        ),
        "{}",
        late.text()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_waiter_whose_client_goes_away_is_freed_at_once() {
    let server = inbox().await;
    let addr = ui(&server);
    let mut clients = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "GET /api/wait/message?query=to:nobody@shop.dev&timeout=5m HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        clients.push(s);
    }
    let waiters = |v: Value| v["waiters"].as_u64().unwrap_or(u64::MAX);
    let until = Instant::now() + Duration::from_secs(5);
    while waiters(get(addr, "/api/cursor").await.json()) != 50 {
        assert!(Instant::now() < until, "the 50 waits never all started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // SMTP is not slowed by them: a message still goes through at once.
    let sent = Instant::now();
    send_code(&server, KEY, "erin@shop.dev", "424242", "e").await;
    assert!(sent.elapsed() < Duration::from_secs(2));
    drop(clients);
    let gone = Instant::now();
    while waiters(get(addr, "/api/cursor").await.json()) != 0 {
        assert!(
            gone.elapsed() < Duration::from_millis(500),
            "waits outlived their clients"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let info = get(addr, "/api/info").await.json();
    assert_eq!(info["counts"]["waiters"], 0);
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_and_feed_items_can_be_waited_for_too() {
    let server = inbox().await;
    let addr = ui(&server);
    let since = cursor(addr).await;
    let waiting = tokio::spawn(async move {
        get(
            addr,
            &format!("/api/wait/session?query=outcome:refused&since={since}&timeout=10s"),
        )
        .await
    });
    send_code(&server, KEY, "frank@shop.dev", "555123", "f").await;
    let t = common::transport(
        &server,
        Mode::Plain,
        "billing@acme.com",
        KEY,
        Mechanism::Plain,
    );
    assert!(
        t.send(common::message("a@acme.com", &["b@shop.dev"]))
            .await
            .is_err()
    );
    let a = waiting.await.expect("task");
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["outcome"], "refused_auth");
    assert_eq!(v["code"], 535);
    let n = v["session"].as_u64().expect("number");
    assert_eq!(v["url"], format!("/#/session/{n}"));
    // The deep link resolves.
    let by_number = get(addr, &format!("/api/run-sessions/{n}")).await.json();
    assert_eq!(by_number["key"], v["key"]);

    // Another part (webhooks) records items into the feed; a test waits.
    let store = server.web().expect("web").store().clone();
    let since = cursor(addr).await;
    let waiting = tokio::spawn(async move {
        get(
            addr,
            &format!("/api/wait/event?query=type:email.delivered%20frank&since={since}&timeout=5s"),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.record(
        "webhook",
        json!({"type": "email.sent", "data": {"to": ["frank@shop.dev"]}}),
    );
    store.record(
        "webhook",
        json!({"type": "email.delivered", "data": {"to": ["frank@shop.dev"]}}),
    );
    let e = waiting.await.expect("task").json();
    assert_eq!(e["kind"], "webhook");
    assert_eq!(e["data"]["type"], "email.delivered");
    server.shutdown().await;
}

#[tokio::test]
async fn tags_from_rest_and_smtp_are_one_thing_and_keys_tell_apps_apart() {
    let server = inbox().await;
    let addr = ui(&server);
    let auth = format!("Bearer {KEY2}");
    let body = json!({
        "from": "Acme <login@acme.com>", "to": ["gina@shop.dev"], "subject": "Your code",
        "text": "Your one-time code: 246810\nhttps://app.acme.com/verify?t=g",
        "tags": [{"name": "category", "value": "signin"}],
    })
    .to_string();
    let sent = http(
        addr,
        "POST",
        "/emails",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    // SMTP with Mailpit's X-Tags header, another key.
    let msg = lettre::Message::builder()
        .from("login@acme.com".parse().expect("from"))
        .to("hank@shop.dev".parse().expect("to"))
        .subject("Welcome")
        .header(XTags("signup, beta".into()))
        .header(ContentType::TEXT_PLAIN)
        .body(String::from("Welcome aboard\n"))
        .expect("message");
    common::transport(&server, Mode::Plain, "resend", KEY, Mechanism::Plain)
        .send(msg)
        .await
        .expect("250");

    let gina = get(
        addr,
        "/api/wait/message?query=tag:category%20key:re_..."
            .to_string()
            .as_str(),
    )
    .await;
    assert_eq!(
        gina.status,
        400,
        "key: with no fingerprint after the dots is refused: {}",
        gina.text()
    );
    let gina = get(
        addr,
        &format!(
            "/api/wait/message?query=tag:category%20key:{}&timeout=5s",
            fp(KEY2)
        ),
    )
    .await
    .json();
    assert_eq!(gina["to"][0], "gina@shop.dev");
    assert_eq!(gina["tags"], json!(["category=signin"]));
    assert_eq!(gina["code"], "246810");
    assert_eq!(gina["key"], format!("re_…{}", fp(KEY2)));
    let hank = get(addr, "/api/wait/message?query=tag:beta&timeout=5s")
        .await
        .json();
    assert_eq!(hank["to"][0], "hank@shop.dev");
    assert_eq!(hank["tags"], json!(["beta", "signup"]));

    // Per key: each app sees its own.
    let mine = get(addr, &format!("/api/messages?key=re_…{}", fp(KEY)))
        .await
        .json();
    assert_eq!(mine["matched"], 1);
    assert_eq!(mine["messages"][0]["to"][0], "hank@shop.dev");
    let theirs = get(addr, &format!("/api/messages?key={}", fp(KEY2)))
        .await
        .json();
    assert_eq!(theirs["matched"], 1);
    let sessions = get(addr, &format!("/api/sessions?key={}", fp(KEY2)))
        .await
        .json();
    assert!(sessions["sessions"].as_array().is_some_and(|s| {
        s.iter()
            .all(|r| r["api_key"] == format!("re_…{}", fp(KEY2)))
    }));
    assert_eq!(
        get(addr, "/api/messages?tag=signup").await.json()["matched"],
        1
    );

    // Mailpit's tag endpoints.
    assert_eq!(
        get(addr, "/api/v1/tags").await.json(),
        json!(["beta", "category=signin", "signup"])
    );
    let id = hank["id"].as_str().expect("id");
    let set = http(
        addr,
        "PUT",
        "/api/v1/tags",
        &[("Content-Type", "application/json")],
        &json!({"IDs": [id], "Tags": ["vip", "b@d!"]}).to_string(),
    )
    .await;
    assert_eq!((set.status, set.text().as_str()), (200, "ok"));
    let renamed = http(
        addr,
        "PUT",
        "/api/v1/tags/vip",
        &[("Content-Type", "application/json")],
        r#"{"Name":"gold"}"#,
    )
    .await;
    assert_eq!(renamed.text(), "ok");
    let summary = get(addr, &format!("/api/v1/message/{id}")).await.json();
    assert_eq!(summary["Tags"], json!(["bd", "gold"]));
    let searched = get(addr, "/api/v1/search?query=tag:gold").await.json();
    assert_eq!(searched["messages_count"], 1);
    assert_eq!(searched["messages"][0]["Tags"], json!(["bd", "gold"]));
    assert_eq!(
        http(addr, "DELETE", "/api/v1/tags/gold", &[], "")
            .await
            .text(),
        "ok"
    );
    assert_eq!(
        get(addr, "/api/v1/tags").await.json(),
        json!(["bd", "category=signin"])
    );
    let info = get(addr, "/api/v1/info").await.json();
    assert_eq!(info["Tags"], json!({"bd": 1, "category=signin": 1}));
    // No key in anything these answered.
    for path in [
        "/api/messages",
        "/api/sessions",
        "/api/v1/messages",
        "/api/cursor",
    ] {
        let t = get(addr, path).await.text();
        assert!(!t.contains(KEY) && !t.contains(KEY2), "{path}: {t}");
    }
    server.shutdown().await;
}

#[derive(Clone)]
struct XTags(String);

impl lettre::message::header::Header for XTags {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("X-Tags")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(XTags(s.into()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[tokio::test]
async fn mailpits_latest_waits_when_asked() {
    let server = inbox().await;
    let addr = ui(&server);
    let none = get(addr, "/api/v1/message/latest").await;
    assert_eq!(none.status, 404, "plain latest does not wait");
    let waiting = tokio::spawn(async move {
        get(
            addr,
            "/api/v1/message/latest?query=to:ivy@shop.dev&timeout=10s",
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    send_code(&server, KEY, "ivy@shop.dev", "808080", "i").await;
    let a = waiting.await.expect("task");
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["To"][0]["Address"], "ivy@shop.dev");
    assert!(v["Text"].as_str().unwrap_or_default().contains("808080"));
    // `latest/headers` still reaches the message route.
    let h = get(addr, "/api/v1/message/latest/headers").await;
    assert_eq!(h.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn webhook_events_can_be_waited_for() {
    // Nothing listens on the endpoint: the events are emitted (and their
    // attempts fail), which is what a test waits for here.
    let server = MockServer::builder()
        .scenario("unlimited")
        .ui("127.0.0.1:0".parse().expect("addr"))
        .webhook("http://127.0.0.1:9/hook")
        .webhooks(|w| w.retry_scale = 0.0001)
        .start()
        .await
        .expect("mock with webhooks");
    let addr = ui(&server);
    let since = cursor(addr).await;
    let waiting = tokio::spawn(async move {
        get(
            addr,
            &format!("/api/wait/event?query=type:webhook_event%20email.delivered&since={since}&timeout=10s"),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = common::transport(&server, Mode::Plain, "resend", KEY, Mechanism::Plain);
    t.send(common::message("a@acme.com", &["delivered@resend.dev"]))
        .await
        .expect("250");
    let a = waiting.await.expect("task");
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["kind"], "webhook");
    assert_eq!(v["data"]["type"], "webhook_event");
    assert_eq!(v["data"]["event"], "email.delivered");
    server.shutdown().await;
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_waiters_cost_memory_in_proportion_and_do_not_slow_smtp() {
    // The HTTP listener's own cap (256 connections by default) raised, so
    // a thousand waits are all parked at once.
    let server = MockServer::builder()
        .scenario("unlimited")
        .ui("127.0.0.1:0".parse().expect("addr"))
        .http_limits(mailtape::HttpLimits {
            max_connections: 2000,
            ..Default::default()
        })
        .start()
        .await
        .expect("mock");
    let addr = ui(&server);
    let send_20 = || async {
        let t = common::transport(&server, Mode::Plain, "resend", KEY, Mechanism::Plain);
        let started = Instant::now();
        for i in 0..20 {
            let m = lettre::Message::builder()
                .from("a@acme.com".parse().expect("from"))
                .to(format!("r{i}@shop.dev").parse().expect("to"))
                .subject("load")
                .body(String::from("x\n"))
                .expect("message");
            t.send(m).await.expect("250");
        }
        started.elapsed()
    };
    let alone = send_20().await;
    let before = rss_kb();
    let mut clients = Vec::new();
    for k in 0..1000 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "GET /api/wait/message?query=to:nobody{k}@shop.dev&since=now&timeout=5m HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        clients.push(s);
    }
    let until = Instant::now() + Duration::from_secs(20);
    while get(addr, "/api/cursor").await.json()["waiters"] != 1000 {
        assert!(Instant::now() < until, "the 1,000 waits never all started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let grown = rss_kb().saturating_sub(before);
    // Each wait (its connection, request, query and future, both ends in
    // this process) in tens of KiB, not megabytes.
    assert!(
        grown < 64 * 1024,
        "1,000 waits grew the process by {grown} KiB"
    );
    let crowded = send_20().await;
    assert!(
        crowded < alone * 3 + Duration::from_millis(500),
        "20 messages took {crowded:?} with 1,000 waits parked, {alone:?} without"
    );
    eprintln!(
        "1,000 waits: +{grown} KiB ({} KiB each); 20 messages {alone:?} alone, {crowded:?} with them",
        grown / 1000
    );
    drop(clients);
    let gone = Instant::now();
    while get(addr, "/api/cursor").await.json()["waiters"] != 0 {
        assert!(
            gone.elapsed() < Duration::from_secs(2),
            "waits outlived their clients"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.shutdown().await;
}
