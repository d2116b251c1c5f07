//! Webhooks (issue 22): Resend's events after the send, signed as Resend
//! signs them, delivered in order per email and retried on the (scaled)
//! schedule; the management API on the REST door; the test API.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{KEY, Mode, http};
use lettre::transport::smtp::authentication::Mechanism;
use mailtape::MockServer;
use serde_json::{Value, json};

/// One request the receiving app got.
#[derive(Debug, Clone)]
struct Got {
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// When mailtape made the event (the payload's `created_at`): the gap
/// between two events is the configured one whenever they are delivered.
fn made_at(g: &Got) -> time::OffsetDateTime {
    let v = g.json()["created_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("created_at {v:?}: {e}"))
}

/// An answer: a status and maybe one header.
type Answer = (u16, Option<(&'static str, &'static str)>);

/// A receiving app: records every request, answers from a script of
/// statuses (then 200), with an optional header on each answer.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<Vec<Answer>>>,
    url: String,
}

impl Receiver {
    async fn start(script: Vec<Answer>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let r = Receiver {
            got: Arc::default(),
            script: Arc::new(Mutex::new(script)),
            url,
        };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push(Got {
                        headers,
                        body,
                        at: Instant::now(),
                    });
                    let next = {
                        let mut s = state.script.lock().unwrap();
                        if s.is_empty() {
                            (200, None)
                        } else {
                            s.remove(0)
                        }
                    };
                    let mut resp = (StatusCode::from_u16(next.0).unwrap(), "ok").into_response();
                    if let Some((k, v)) = next.1 {
                        resp.headers_mut().insert(k, v.parse().unwrap());
                    }
                    resp
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        r
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Got> {
        // Generous: the sender works on spare CPU, which a loaded machine
        // has little of.
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.got().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.got()
    }
}

/// The Standard Webhooks check, written here from the spec (not mailtape's
/// code): HMAC-SHA256 over `id.timestamp.body`, any `v1,` signature.
fn verify(secret: &str, got: &Got) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_"))
        .expect("base64 secret");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let signed = [
        got.header("svix-id").as_bytes(),
        b".",
        got.header("svix-timestamp").as_bytes(),
        b".",
        &got.body,
    ]
    .concat();
    let ts: i64 = got.header("svix-timestamp").parse().expect("timestamp");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    (now - ts).abs() <= 300
        && got.header("svix-signature").split(' ').any(|s| {
            s.strip_prefix("v1,")
                .and_then(|b| STANDARD.decode(b).ok())
                .is_some_and(|sig| ring::hmac::verify(&key, &signed, &sig).is_ok())
        })
}

async fn mock_to(url: &str, scale: f64) -> MockServer {
    MockServer::builder()
        .scenario("unlimited")
        .rest()
        .webhook(url)
        .webhooks(|w| w.retry_scale = scale)
        .start()
        .await
        .expect("mock starts")
}

async fn smtp(server: &MockServer, to: &[&str]) {
    common::send(
        server,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "Acme <onboarding@acme.com>",
        to,
    )
    .await
    .expect("accepted");
}

async fn rest_send(server: &MockServer, body: Value) -> Value {
    let a = format!("Bearer {KEY}");
    let r = http(
        &server.rest_url().unwrap(),
        "POST",
        "/emails",
        &[("Authorization", &a)],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn kinds(got: &[Got]) -> Vec<String> {
    got.iter().map(Got::kind).collect()
}

/// Each test address over SMTP gets its sequence, signed, in order, with
/// the payload's shape (issue 22: "an end-to-end test per test address and
/// per door").
#[tokio::test]
async fn smtp_test_addresses_produce_their_signed_sequences() {
    let cases: [(&str, &[&str]); 5] = [
        ("delivered@resend.dev", &["email.sent", "email.delivered"]),
        ("bounced@resend.dev", &["email.sent", "email.bounced"]),
        (
            "complained@resend.dev",
            &["email.sent", "email.delivered", "email.complained"],
        ),
        ("suppressed@resend.dev", &["email.suppressed"]),
        ("someone@acme.org", &["email.sent", "email.delivered"]),
    ];
    for (to, want) in cases {
        let rx = Receiver::start(vec![]).await;
        let server = mock_to(&rx.url, 1.0).await;
        let secret = server.webhook_secret(&rx.url).expect("secret");
        smtp(&server, &[to]).await;
        let got = rx.wait_for(want.len()).await;
        assert_eq!(kinds(&got), want, "{to}");
        let email_id = server.messages()[0].id.clone();
        for g in &got {
            assert!(verify(&secret, g), "{to}: signature refused");
            assert!(g.header("svix-id").starts_with("msg_"));
            let v = g.json();
            let data = &v["data"];
            assert_eq!(data["email_id"], email_id.as_str());
            assert_eq!(data["from"], "Acme <onboarding@acme.com>");
            assert_eq!(data["to"], json!([to]));
            assert_eq!(data["subject"], "Hello from mailtape tests");
            let created = v["created_at"].as_str().unwrap();
            assert!(
                created.len() == 24 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
                "{created}"
            );
        }
        let last = got.last().unwrap().json();
        match to {
            "bounced@resend.dev" => {
                assert_eq!(last["data"]["bounce"]["type"], "Permanent");
                assert_eq!(last["data"]["bounce"]["subType"], "General");
                assert!(
                    last["data"]["bounce"]["diagnosticCode"][0]
                        .as_str()
                        .unwrap()
                        .starts_with("smtp; 550 5.1.1")
                );
            }
            "suppressed@resend.dev" => {
                assert_eq!(
                    last["data"]["suppressed"]["type"],
                    "OnAccountSuppressionList"
                );
                assert_eq!(last["data"]["suppressed"]["reason"], "previous_bounce");
            }
            _ => {}
        }
        // The test API sees the same, with each endpoint's answer.
        let ev = server
            .wait_for_webhook(
                |e| e.kind == *want.last().unwrap() && e.delivered(),
                Duration::from_secs(5),
            )
            .await
            .expect("event delivered");
        assert_eq!(ev.attempts[0].status, Some(200));
        server.shutdown().await;
    }
}

/// Over REST: tags as a map, custom headers as a list, and the id the API
/// answered.
#[tokio::test]
async fn rest_sends_carry_tags_and_headers() {
    let rx = Receiver::start(vec![]).await;
    let server = mock_to(&rx.url, 1.0).await;
    let secret = server.webhook_secret(&rx.url).unwrap();
    let r = rest_send(
        &server,
        json!({
            "from": "Acme <billing@acme.com>",
            "to": ["bounced@resend.dev"],
            "subject": "Your invoice",
            "html": "<p>hi</p>",
            "tags": [{"name": "category", "value": "invoice"}],
            "headers": {"X-Entity-Ref-ID": "inv-7"},
        }),
    )
    .await;
    let got = rx.wait_for(2).await;
    assert_eq!(kinds(&got), ["email.sent", "email.bounced"]);
    for g in &got {
        assert!(verify(&secret, g));
        let d = &g.json()["data"];
        assert_eq!(d["email_id"], r["id"]);
        assert_eq!(d["tags"], json!({"category": "invoice"}));
        assert_eq!(
            d["headers"],
            json!([{"name": "X-Entity-Ref-ID", "value": "inv-7"}])
        );
        assert_eq!(d["subject"], "Your invoice");
        assert_eq!(d["from"], "Acme <billing@acme.com>");
    }
    server.shutdown().await;
}

/// A tampered body or a changed signature does not verify (so the
/// verification above can fail).
#[tokio::test]
async fn tampering_is_caught_by_the_check() {
    let rx = Receiver::start(vec![]).await;
    let server = mock_to(&rx.url, 1.0).await;
    let secret = server.webhook_secret(&rx.url).unwrap();
    smtp(&server, &["delivered@resend.dev"]).await;
    let mut g = rx.wait_for(1).await[0].clone();
    assert!(verify(&secret, &g));
    g.body = Bytes::from(String::from_utf8_lossy(&g.body).replace("delivered@", "bounced@"));
    assert!(!verify(&secret, &g));
    let other = mailtape::webhook::sign::Secret::generate();
    assert!(!verify(other.expose(), &rx.got()[0]));
    server.shutdown().await;
}

/// Fails twice, then 200: three attempts on the scaled schedule (at once,
/// 5 s, 5 min → 0, 5 ms, 305 ms at 0.001), the same id and body each time.
#[tokio::test]
async fn retries_on_the_scaled_schedule_then_stop_at_200() {
    let rx = Receiver::start(vec![(500, None), (503, None)]).await;
    let server = MockServer::builder()
        .scenario("unlimited")
        .webhooks(|w| w.retry_scale = 0.001)
        .config(|c| {
            c.webhooks
                .as_mut()
                .unwrap()
                .endpoints
                .push(mailtape::webhook::EndpointSpec {
                    url: rx.url.clone(),
                    events: vec!["email.sent".into()],
                    ..Default::default()
                })
        })
        .start()
        .await
        .unwrap();
    smtp(&server, &["delivered@resend.dev"]).await;
    let ev = server
        .wait_for_webhook(|e| e.delivered(), Duration::from_secs(10))
        .await
        .expect("delivered in the end");
    let got = rx.got();
    assert_eq!(got.len(), 3, "three attempts");
    assert_eq!(kinds(&got), ["email.sent"; 3], "only the subscribed event");
    assert!(
        got.iter()
            .all(|g| g.header("svix-id") == got[0].header("svix-id"))
    );
    assert!(got.iter().all(|g| g.body == got[0].body));
    let gap1 = got[1].at - got[0].at;
    let gap2 = got[2].at - got[1].at;
    assert!(gap1 >= Duration::from_millis(5), "{gap1:?}");
    assert!(gap2 >= Duration::from_millis(300), "{gap2:?}");
    assert!(gap2 < Duration::from_secs(3), "{gap2:?}");
    let statuses: Vec<_> = ev.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    assert!(
        ev.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("only a 2xx")
    );
    server.shutdown().await;
}

/// `webhook-delivery: abort-message` stops the retries; a redirect is a
/// failure and is not followed.
#[tokio::test]
async fn abort_message_stops_and_redirects_are_failures() {
    let rx = Receiver::start(vec![
        (500, Some(("webhook-delivery", "abort-message"))),
        (302, Some(("location", "http://127.0.0.1:1/elsewhere"))),
    ])
    .await;
    let server = mock_to(&rx.url, 0.001).await;
    smtp(&server, &["delivered@resend.dev"]).await;
    // email.sent: aborted after one attempt; email.delivered: 302, then 200.
    let delivered = server
        .wait_for_webhook(
            |e| e.kind == "email.delivered" && e.delivered(),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered after the redirect failed");
    let sent = &server.webhook_events()[0];
    assert_eq!(sent.kind, "email.sent");
    assert_eq!(sent.attempts.len(), 1);
    assert_eq!(
        sent.deliveries[0].1,
        mailtape::webhook::DeliveryState::Aborted
    );
    assert_eq!(delivered.attempts[0].status, Some(302));
    assert!(
        delivered.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("not followed")
    );
    assert_eq!(rx.got().len(), 3);
    server.shutdown().await;
}

/// An endpoint that is down costs the sends nothing; shutdown says what
/// was left undelivered.
#[tokio::test]
async fn a_dead_endpoint_never_stalls_sends() {
    // A port that was free a moment ago: connections are refused.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hooks", l.local_addr().unwrap())
    };
    let server = mock_to(&dead, 1.0).await;
    let started = Instant::now();
    for _ in 0..20 {
        smtp(&server, &["delivered@resend.dev"]).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let ev = server
        .wait_for_webhook(|e| !e.attempts.is_empty(), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        ev.attempts[0].error.as_deref().unwrap().contains("connect"),
        "{:?}",
        ev.attempts[0]
    );
    assert!(server.webhooks().pending() > 0, "retries wait 5 s");
    let hooks = server.webhooks().clone();
    server.shutdown().await;
    assert_eq!(hooks.pending(), 0, "stopped");
}

/// Resend's management API on the REST door: create (201 with the secret),
/// list, read, update, delete; Resend-shaped 422s; the key is required; the
/// secret never reaches the transcript.
#[tokio::test]
async fn the_management_api_on_the_rest_door() {
    let rx = Receiver::start(vec![]).await;
    let server = MockServer::builder()
        .scenario("unlimited")
        .rest()
        .start()
        .await
        .unwrap();
    let base = server.rest_url().unwrap();
    let a = format!("Bearer {KEY}");
    let h = [("Authorization", a.as_str())];
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let base = base.clone();
        let a = a.clone();
        async move {
            let h = [("Authorization", a.as_str())];
            http(
                &base,
                method,
                &path,
                &h,
                body.map(|b| b.to_string()).as_deref(),
            )
            .await
        }
    };
    let r = http(&base, "GET", "/webhooks", &[], None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let created = call(
        "POST",
        "/webhooks".into(),
        Some(json!({"endpoint": rx.url, "events": ["email.sent", "email.bounced"]})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let c = created.json();
    assert_eq!(c["object"], "webhook");
    let id = c["id"].as_str().unwrap().to_string();
    let secret = c["signing_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    for (body, says) in [
        (
            json!({"endpoint": rx.url, "events": ["email.sent"]}),
            "already exists",
        ),
        (
            json!({"endpoint": "not a url", "events": ["email.sent"]}),
            "not a URL",
        ),
        (
            json!({"endpoint": "http://10.1.2.3/x", "events": ["email.sent"]}),
            "not loopback",
        ),
        (
            json!({"endpoint": "http://127.0.0.1:9/x", "events": ["email.nope"]}),
            "unknown webhook event",
        ),
        (
            json!({"endpoint": "http://127.0.0.1:9/x", "events": []}),
            "at least one event",
        ),
    ] {
        let r = call("POST", "/webhooks".into(), Some(body)).await;
        assert_eq!(r.status, 422, "{}", r.body);
        let v = r.json();
        assert_eq!(v["statusCode"], 422);
        assert_eq!(v["name"], "validation_error");
        assert!(v["message"].as_str().unwrap().contains(says), "{}", r.body);
    }
    let list = call("GET", "/webhooks".into(), None).await.json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert_eq!(list["data"][0]["status"], "enabled");
    assert!(list["data"][0].get("signing_secret").is_none());
    let one = call("GET", format!("/webhooks/{id}"), None).await.json();
    assert_eq!(one["events"], json!(["email.sent", "email.bounced"]));
    smtp(&server, &["bounced@resend.dev"]).await;
    let got = rx.wait_for(2).await;
    assert_eq!(kinds(&got), ["email.sent", "email.bounced"]);
    assert!(got.iter().all(|g| verify(&secret, g)));
    // The endpoint has the request before mailtape has its answer.
    server
        .wait_for_webhook(
            |e| e.kind == "email.bounced" && e.delivered(),
            Duration::from_secs(10),
        )
        .await
        .expect("the answer is recorded");
    // Events and attempts of this endpoint (the paths and shapes of
    // Resend's Node SDK); replay one.
    let events = call("GET", format!("/webhooks/{id}/events"), None)
        .await
        .json();
    let list = events["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["type"], "email.bounced", "newest first");
    assert_eq!(list[0]["status"], "success");
    let event_id = list[1]["id"].as_str().unwrap().to_string();
    let one = call("GET", format!("/webhooks/{id}/events/{event_id}"), None)
        .await
        .json();
    assert_eq!(one["object"], "webhook_event");
    assert_eq!(one["payload"]["type"], "email.sent");
    let attempts = call(
        "GET",
        format!("/webhooks/{id}/events/{event_id}/attempts"),
        None,
    )
    .await
    .json();
    assert_eq!(attempts["data"][0]["http_status_code"], 200);
    assert_eq!(attempts["data"][0]["response"], "ok");
    let r = call(
        "POST",
        format!("/webhooks/{id}/events/{event_id}/replay"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], event_id.as_str());
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].header("svix-id"), event_id);
    // Rotation: both secrets sign for the window.
    let rotated = call(
        "POST",
        format!("/webhooks/{id}/signing-secret/rotate"),
        None,
    )
    .await
    .json();
    let new_secret = rotated["signing_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    call(
        "POST",
        format!("/webhooks/{id}/events/{event_id}/replay"),
        None,
    )
    .await;
    let got = rx.wait_for(4).await;
    assert!(verify(&new_secret, &got[3]) && verify(&secret, &got[3]));
    assert_eq!(got[3].header("svix-signature").split(' ').count(), 2);
    // Disabled: nothing more is sent.
    let r = call(
        "PATCH",
        format!("/webhooks/{id}"),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        "PATCH",
        format!("/webhooks/{id}"),
        Some(json!({"status": "paused"})),
    )
    .await;
    assert_eq!(r.status, 422);
    smtp(&server, &["bounced@resend.dev"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.got().len(), 4);
    let r = call("DELETE", format!("/webhooks/{id}"), None).await.json();
    assert_eq!(r["deleted"], true);
    let r = call("GET", format!("/webhooks/{id}"), None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["name"], "not_found");
    // The transcripts of those exchanges never hold a secret.
    let tapes: String = server.transcripts().iter().map(|t| t.snapshot()).collect();
    assert!(tapes.contains("POST /webhooks"), "recorded");
    assert!(!tapes.contains(&secret) && !tapes.contains(&new_secret));
    assert!(tapes.contains("whsec_…"));
    let _ = h;
    server.shutdown().await;
}

/// Scheduled mail: email.scheduled at once, the rest when it is due.
#[tokio::test]
async fn scheduled_mail_sends_scheduled_then_the_rest() {
    let rx = Receiver::start(vec![]).await;
    let server = mock_to(&rx.url, 1.0).await;
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = rest_send(
        &server,
        json!({"from": "a@acme.com", "to": "delivered@resend.dev", "subject": "Later", "text": "x", "scheduled_at": at}),
    )
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(kinds(&got), ["email.scheduled"]);
    assert_eq!(got[0].json()["data"]["email_id"], r["id"]);
    let got = rx.wait_for(3).await;
    assert_eq!(
        kinds(&got),
        ["email.scheduled", "email.sent", "email.delivered"]
    );
    server.shutdown().await;
}

/// Opens and clicks on demand, over mailtape's own API.
#[tokio::test]
async fn opens_and_clicks_on_demand() {
    let rx = Receiver::start(vec![]).await;
    let server = MockServer::builder()
        .scenario("unlimited")
        .webhook(&rx.url)
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    smtp(&server, &["delivered@resend.dev"]).await;
    rx.wait_for(2).await;
    let id = server.messages()[0].id.clone();
    let ui = server.ui_url().unwrap();
    let ui = ui.trim_end_matches('/');
    let r = http(
        ui,
        "POST",
        &format!("/api/webhooks/emails/{id}/click"),
        &[],
        Some(r#"{"link":"https://acme.com/confirm"}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = http(
        ui,
        "POST",
        &format!("/api/webhooks/emails/{id}/open"),
        &[],
        Some(""),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let got = rx.wait_for(4).await;
    assert_eq!(
        kinds(&got),
        [
            "email.sent",
            "email.delivered",
            "email.clicked",
            "email.opened"
        ]
    );
    let click = &got[2].json()["data"]["click"];
    assert_eq!(click["link"], "https://acme.com/confirm");
    assert!(click["timestamp"].as_str().unwrap().ends_with('Z'));
    let r = http(ui, "POST", "/api/webhooks/emails/nope/open", &[], Some("")).await;
    assert_eq!(r.status, 404);
    let list = http(
        ui,
        "GET",
        &format!("/api/webhooks/events?email_id={id}"),
        &[],
        None,
    )
    .await
    .json();
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert_eq!(list[0]["attempts"][0]["status"], 200);
    server.shutdown().await;
}

/// A replayed tape's session produces the events the mock would send, under
/// the id the tape's 250 gave (issue 22: "a replayed tape's sessions produce
/// the same events").
#[tokio::test]
async fn a_replayed_session_produces_the_same_events() {
    let rx = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.tape");
    std::fs::write(
        &path,
        "# mailtape tape v1

## session 1
S: 220 Resend SMTP Relay ESMTP
C: EHLO x
S: 250-smtp.resend.com
S: 250 AUTH PLAIN LOGIN
C: AUTH PLAIN <redacted>
S: 235 Authentication successful
C: MAIL FROM:<*>
S: 250 Accepted
C: RCPT TO:<*@resend.dev>
S: 250 Accepted
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: .
S: 250 OK 1b4e28ba-2fa1-41d2-883f-0016d3cca427
C: QUIT
S: 221 Bye
",
    )
    .unwrap();
    let s = mailtape::ReplayServer::builder(path.display().to_string())
        .config(|c| {
            c.webhooks = Some(mailtape::webhook::WebhookConfig {
                endpoints: vec![mailtape::webhook::EndpointSpec {
                    url: rx.url.clone(),
                    ..Default::default()
                }],
                ..Default::default()
            })
        })
        .start()
        .await
        .unwrap();
    let secret = s.webhooks().unwrap().endpoints()[0].secret();
    common::send(
        &s,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "Acme <onboarding@acme.com>",
        &["bounced@resend.dev"],
    )
    .await
    .expect("accepted as on the tape");
    let got = rx.wait_for(2).await;
    assert_eq!(kinds(&got), ["email.sent", "email.bounced"]);
    for g in &got {
        assert!(verify(&secret, g));
        let d = &g.json()["data"];
        assert_eq!(d["email_id"], "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
        assert_eq!(d["subject"], "Hello from mailtape tests");
        assert_eq!(d["to"], json!(["bounced@resend.dev"]));
    }
    s.shutdown().await;
}

/// The whsec_ secrets are said in the banner (and the --json ready line)
/// and nowhere else: not in the live view, the tapes, the mailbox, or the
/// REST exchanges' transcripts (issue 22).
#[tokio::test(flavor = "multi_thread")]
async fn secrets_appear_only_in_the_banner() {
    use common::cli::{Running, all_bytes, plain_only};
    use lettre::AsyncTransport;
    let rx = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let (tapes, mailbox) = (dir.path().join("tapes"), dir.path().join("mailbox"));
    let args = plain_only(
        dir.path(),
        &[
            "--scenario",
            "unlimited",
            "--rest",
            "127.0.0.1:0",
            "--tapes",
            tapes.to_str().unwrap(),
            "--mailbox",
            mailbox.to_str().unwrap(),
            "--webhook",
            &rx.url,
        ],
    );
    let mut m = Running::start_with(&args, common::cli::bin());
    m.err_until(|l| l.trim_start().starts_with("login"));
    let row = |name: &str| -> Vec<String> {
        let l = m
            .stderr
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("a {name} row in {:?}", m.stderr));
        l.split_whitespace().map(String::from).collect()
    };
    let secret = row("webhook ").last().unwrap().clone();
    assert!(secret.starts_with("whsec_"));
    let rest = row("rest ")[1].clone();
    let plain: std::net::SocketAddr = row("plain ")[1].parse().unwrap();
    let t = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(plain.port())
        .credentials(lettre::transport::smtp::authentication::Credentials::new(
            "resend".into(),
            KEY.into(),
        ))
        .build();
    t.send(common::message(
        "Acme <a@acme.com>",
        &["bounced@resend.dev"],
    ))
    .await
    .unwrap();
    assert_eq!(
        kinds(&rx.wait_for(2).await),
        ["email.sent", "email.bounced"]
    );
    assert!(verify(&secret, &rx.got()[0]));
    // Secrets made over REST: answered to the caller, kept from the tapes.
    let a = format!("Bearer {KEY}");
    let h = [("Authorization", a.as_str())];
    let body =
        json!({"endpoint": "http://127.0.0.1:9/other", "events": ["email.sent"]}).to_string();
    let created = http(&rest, "POST", "/webhooks", &h, Some(&body))
        .await
        .json();
    let id = created["id"].as_str().unwrap();
    let mut rest_secrets = vec![created["signing_secret"].as_str().unwrap().to_string()];
    let one = http(&rest, "GET", &format!("/webhooks/{id}"), &h, None)
        .await
        .json();
    assert_eq!(one["signing_secret"], rest_secrets[0].as_str());
    let rotated = http(
        &rest,
        "POST",
        &format!("/webhooks/{id}/signing-secret/rotate"),
        &h,
        None,
    )
    .await
    .json();
    rest_secrets.push(rotated["signing_secret"].as_str().unwrap().to_string());
    let (_, stdout, stderr) = m.term();
    let stdout = stdout.join("\n");
    assert!(
        stdout.contains("webhook email.bounced"),
        "the live view shows events"
    );
    assert_eq!(
        stderr.matches(&secret).count(),
        1,
        "the banner only:\n{stderr}"
    );
    let files = [all_bytes(&tapes), all_bytes(&mailbox)].concat();
    let files = String::from_utf8_lossy(&files);
    assert!(
        files.contains("POST /webhooks"),
        "the REST exchanges are taped"
    );
    assert!(
        files.contains("· listener webhook ·") && files.contains("C: svix-signature: v1,"),
        "the attempts are taped, signature and all"
    );
    assert!(!files.contains(KEY), "no API key in a file");
    for s in std::iter::once(&secret).chain(&rest_secrets) {
        let key = s.trim_start_matches("whsec_");
        assert!(!stdout.contains(key), "live view");
        assert!(!files.contains(key), "tapes or mailbox");
    }
    for s in &rest_secrets {
        assert!(!stderr.contains(s.trim_start_matches("whsec_")), "stderr");
    }
}

/// The README's "Webhooks" section as written: its `mailtape mock
/// --webhook …` line (the endpoint moved to this test's receiver, the
/// listeners to free ports) prints the banner row the section shows, and
/// each recipient of its table gets the events the table lists.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_webhooks_section_runs_as_written() {
    use common::cli::Running;
    use lettre::AsyncTransport;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("\n## Webhooks\n").expect("a Webhooks section");
    let section = &readme[start + 1..];
    let section = &section[..section[1..].find("\n## ").unwrap() + 1];
    let line = section
        .lines()
        .find(|l| l.starts_with("mailtape mock --webhook "))
        .expect("the command");
    let shown_url = line.split_whitespace().nth(3).unwrap();
    let rx = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|a| {
            if a == shown_url {
                rx.url.clone()
            } else {
                a.to_string()
            }
        })
        .collect();
    args.extend(
        [
            "--scenario",
            "unlimited",
            "--ui",
            "off",
            "--smtps",
            "off",
            "--starttls",
            "off",
            "--plain",
            "127.0.0.1:0",
            "--certs",
        ]
        .map(String::from),
    );
    args.push(dir.path().join("certs").display().to_string());
    let mut m = Running::start_with(&args, common::cli::bin());
    let row = m.err_until(|l| l.trim_start().starts_with("webhook "));
    let shown_row = section
        .lines()
        .find(|l| l.starts_with("  webhook http"))
        .expect("the banner row");
    assert_eq!(
        row.trim()
            .replace(&rx.url, shown_url)
            .rsplit_once(' ')
            .unwrap()
            .0,
        shown_row.trim().rsplit_once(' ').unwrap().0,
        "the banner row as the README shows it"
    );
    let plain: std::net::SocketAddr = m
        .err_until(|l| l.trim_start().starts_with("plain ") || l.trim_start().starts_with("login"))
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap_or_else(|_| {
            let l = m
                .stderr
                .iter()
                .find(|l| l.trim_start().starts_with("plain "))
                .unwrap();
            l.split_whitespace().nth(1).unwrap().parse().unwrap()
        });
    let t = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(plain.port())
        .credentials(lettre::transport::smtp::authentication::Credentials::new(
            "resend".into(),
            KEY.into(),
        ))
        .build();
    let mut want = 0;
    for row in section
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains("@resend.dev`"))
    {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let to = cells[1].split('`').nth(1).unwrap();
        let events: Vec<String> = cells[2]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|e| e.starts_with("email."))
            .map(String::from)
            .collect();
        let before = rx.got().len();
        t.send(common::message("Acme <a@acme.com>", &[to]))
            .await
            .unwrap();
        want += events.len();
        let got = rx.wait_for(want).await;
        assert_eq!(kinds(&got[before..]), events, "{to}");
    }
    assert!(want >= 10, "the table's rows were read");
    m.term();
}

/// The account file's `[[webhooks]]`: endpoint, events, secret, status.
#[tokio::test]
async fn account_file_webhooks() {
    let rx = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("account.toml");
    let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    std::fs::write(
        &path,
        format!(
            "[[webhooks]]\nendpoint = \"{}\"\nevents = [\"email.bounced\"]\nsecret = \"{secret}\"\n\n[[webhooks]]\nendpoint = \"http://127.0.0.1:9/off\"\nstatus = \"disabled\"\n",
            rx.url
        ),
    )
    .unwrap();
    let server = MockServer::builder()
        .scenario("unlimited")
        .account_file(&path)
        .start()
        .await
        .unwrap();
    assert_eq!(server.webhook_secret(&rx.url).as_deref(), Some(secret));
    smtp(&server, &["bounced@resend.dev"]).await;
    let got = rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        kinds(&rx.got()),
        ["email.bounced"],
        "only the events asked for"
    );
    assert!(verify(secret, &got[0]));
    let events = server.webhook_events();
    let bounced = events.iter().find(|e| e.kind == "email.bounced").unwrap();
    assert_eq!(
        bounced.deliveries.len(),
        1,
        "the disabled endpoint gets nothing"
    );
    let sent = events.iter().find(|e| e.kind == "email.sent").unwrap();
    assert!(sent.deliveries.is_empty(), "no endpoint takes email.sent");
    server.shutdown().await;
    std::fs::write(
        &path,
        "[[webhooks]]\nendpoint = \"http://127.0.0.1:9/x\"\nstatus = \"paused\"\n",
    )
    .unwrap();
    let e = MockServer::builder()
        .account_file(&path)
        .start()
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("\"enabled\" or \"disabled\""), "{e}");
}

/// ISO times (`2026-12-07T10:39:12.126Z`, `…:12Z`) as `TIME`, `+0.003 `
/// offsets as `+T `: a transcript's text without what changes per run.
fn mask_times(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    while i < b.len() {
        let iso = b.len() >= i + 20
            && digits(&b[i..i + 4])
            && b[i + 4] == b'-'
            && b[i + 10] == b'T'
            && b[i + 13] == b':';
        if iso {
            let end = text[i..].find('Z').map_or(b.len(), |z| i + z + 1);
            out.push_str("TIME");
            i = end;
            continue;
        }
        let offset = b[i] == b'+'
            && (i == 0 || b[i - 1] == b'\n')
            && text[i + 1..].find(' ').is_some_and(|sp| {
                text[i + 1..i + 1 + sp]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.')
            });
        if offset {
            let sp = text[i..].find(' ').unwrap_or(0);
            out.push_str("+T");
            i += sp;
            continue;
        }
        let c = text[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The `.tape` files of a folder: name, text.
fn tape_files(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tape"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p.file_name()?.to_string_lossy().into_owned(), text))
        })
        .collect();
    files.sort();
    files
}

/// `--tapes` gets every attempt as a transcript of its own (`listener
/// webhook`): the request mailtape sent, the answer, what came of it; no
/// `whsec_` secret and no `re_` key in any file; `mailtape show` reads
/// them, as text and as JSON (issue 22: "events and attempts written to
/// `--tapes` as redacted transcripts").
#[tokio::test(flavor = "multi_thread")]
async fn attempts_are_taped_redacted_and_shown() {
    let rx = Receiver::start(vec![(500, None)]).await;
    let dir = tempfile::tempdir().unwrap();
    let tapes = dir.path().join("tapes");
    std::fs::create_dir(&tapes).unwrap();
    let server = MockServer::builder()
        .scenario("unlimited")
        .rest()
        .webhook(&rx.url)
        .webhooks(|w| w.retry_scale = 0.001)
        .tapes(&tapes)
        .start()
        .await
        .unwrap();
    let secret = server.webhook_secret(&rx.url).unwrap();
    let port = rx.url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let port = port.to_string();
    let r = rest_send(
        &server,
        json!({
            "from": "Acme <billing@acme.com>",
            "to": ["delivered@resend.dev"],
            "subject": "Your invoice",
            "html": "<p>hi</p>",
            "headers": {"X-Debug": KEY},
        }),
    )
    .await;
    let email_id = r["id"].as_str().unwrap().to_string();
    server
        .wait_for_webhook(
            |e| e.kind == "email.delivered" && e.delivered(),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");
    server.shutdown().await;

    let files = tape_files(&tapes);
    let hooks: Vec<&(String, String)> = files
        .iter()
        .filter(|(_, t)| t.contains("· listener webhook ·"))
        .collect();
    assert_eq!(
        hooks.len(),
        3,
        "email.sent twice (500, then 200), email.delivered once: {files:#?}"
    );
    // Every file in the folder (hidden ones too): no secret, no key.
    let b64 = secret.trim_start_matches("whsec_");
    for e in std::fs::read_dir(&tapes).unwrap() {
        let p = e.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        assert!(!text.contains(b64), "{}: the secret", p.display());
        assert!(!text.contains(KEY), "{}: the API key", p.display());
        for (i, _) in text.match_indices("whsec_") {
            let next = text[i + 6..].chars().next().unwrap_or(' ');
            assert!(
                !(next.is_ascii_alphanumeric() || next == '+' || next == '/'),
                "{}: a whsec_ secret",
                p.display()
            );
        }
    }
    for (name, text) in &hooks {
        let tape = mailtape::tape::Tape::parse(text, name).expect("a tape mailtape reads");
        let t = &tape.sessions[0];
        assert!(mailtape::tape::http::is_webhook(&t.meta));
        let ex = mailtape::tape::http::Exchange::from_transcript(t).expect("one exchange");
        assert_eq!(ex.method, "POST");
        assert_eq!(ex.target, "/hooks");
        assert!(
            ex.request_header("svix-signature")
                .unwrap()
                .starts_with("v1,")
        );
    }
    // One attempt, whole, with what changes per run masked.
    let (_, first) = hooks
        .iter()
        .find(|(_, t)| t.contains("S: 500"))
        .expect("the failed attempt");
    let msg = first
        .lines()
        .find_map(|l| l.split("svix-id: ").nth(1))
        .unwrap()
        .to_string();
    let sig = first
        .lines()
        .find_map(|l| l.split("svix-signature: ").nth(1))
        .unwrap()
        .to_string();
    let ts = first
        .lines()
        .find_map(|l| l.split("svix-timestamp: ").nth(1))
        .unwrap()
        .to_string();
    let session = first
        .lines()
        .find_map(|l| l.strip_prefix("## session "))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_string();
    let snap = mask_times(
        &first
            .replace(&msg, "msg_ID")
            .replace(&sig, "v1,SIGNATURE")
            .replace(&ts, "UNIX_TIME")
            .replace(&email_id, "EMAIL_ID")
            .replace(&port, "PORT")
            .replace(&format!("## session {session} "), "## session N "),
    );
    let snap = match snap.split_once(", 500 in ") {
        Some((a, b)) => format!("{a}, 500 in N{}", &b[b.find(" ms").unwrap()..]),
        None => snap,
    };
    insta::assert_snapshot!("webhook_attempt_tape", snap);

    // `mailtape show` reads the folder: text and JSON.
    let show = |json: bool| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mailtape"));
        c.arg("show").arg(&tapes);
        if json {
            c.arg("--json");
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = show(false);
    assert!(text.contains("C: POST /hooks"), "{text}");
    assert!(text.contains("S: 500 Internal Server Error"), "{text}");
    assert!(text.contains("*: retry 2 of 8 at "), "{text}");
    // The endpoint's answer is the app's: no explanation of it as Resend's.
    let after = text.split("S: 500 Internal Server Error").nth(1).unwrap();
    assert!(!after.lines().nth(1).unwrap().contains('↳'), "{text}");
    for block in text.split("── ").filter(|b| b.contains("· webhook http")) {
        assert!(!block.contains('↳') && !block.contains('✓'), "{block}");
    }
    assert_eq!(text.matches("*: delivered").count(), 2, "{text}");
    assert!(!text.contains(b64) && !text.contains(KEY));
    let docs: Vec<Value> = show(true)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let webhook_sessions: Vec<&Value> = docs
        .iter()
        .flat_map(|d| d["sessions"].as_array().unwrap())
        .filter(|s| s["meta"]["listener"] == "webhook")
        .collect();
    assert_eq!(webhook_sessions.len(), 3);
    assert_eq!(webhook_sessions[0]["meta"]["mode"], "webhook");
    assert_eq!(webhook_sessions[0]["events"][0]["text"], "POST /hooks");
}

/// A file in `--tapes` is there whole or not at all: a reader listing the
/// folder while hundreds of attempts are written never sees a partial
/// tape; each attempt gets its own file.
#[tokio::test(flavor = "multi_thread")]
async fn attempt_tapes_appear_whole() {
    let rx = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let tapes = dir.path().join("tapes");
    std::fs::create_dir(&tapes).unwrap();
    let server = MockServer::builder()
        .scenario("unlimited")
        .rest()
        .webhook(&rx.url)
        .tapes(&tapes)
        .start()
        .await
        .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (tapes, done) = (tapes.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                for (name, text) in tape_files(&tapes) {
                    mailtape::tape::Tape::parse(&text, &name)
                        .unwrap_or_else(|e| panic!("{name} read half-written: {e}"));
                    reads += 1;
                }
            }
            reads
        })
    };
    const EMAILS: usize = 100;
    for i in 0..EMAILS {
        rest_send(
            &server,
            json!({"from": "a@acme.com", "to": ["delivered@resend.dev"], "subject": format!("n{i}"), "text": "hi"}),
        )
        .await;
    }
    let got = rx.wait_for(EMAILS * 2).await;
    assert_eq!(got.len(), EMAILS * 2);
    server.shutdown().await;
    done.store(true, std::sync::atomic::Ordering::Release);
    let reads = reader.join().expect("no partial tape seen");
    assert!(reads > 0);
    let hooks = tape_files(&tapes)
        .into_iter()
        .filter(|(_, t)| t.contains("· listener webhook ·"))
        .count();
    assert_eq!(hooks, EMAILS * 2, "one file per attempt");
}

/// A `--tapes` folder holding webhook attempts replays: `mailtape replay
/// DIR` plays its SMTP sessions file by file, skips the attempts (they were
/// mailtape's own requests, not a client's) and, with an endpoint, sends
/// the events anew from the sessions it plays.
#[tokio::test]
async fn a_tapes_folder_with_attempts_replays() {
    let rx = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let tapes = dir.path().join("tapes");
    std::fs::create_dir(&tapes).unwrap();
    let server = MockServer::builder()
        .scenario("unlimited")
        .webhook(&rx.url)
        .tapes(&tapes)
        .start()
        .await
        .unwrap();
    smtp(&server, &["delivered@resend.dev"]).await;
    assert_eq!(rx.wait_for(2).await.len(), 2);
    server.shutdown().await;
    assert_eq!(tape_files(&tapes).len(), 3, "a session and two attempts");

    let again = Receiver::start(vec![]).await;
    let s = mailtape::ReplayServer::builder(tapes.display().to_string())
        .config(|c| {
            c.webhooks = Some(mailtape::webhook::WebhookConfig {
                endpoints: vec![mailtape::webhook::EndpointSpec {
                    url: again.url.clone(),
                    ..Default::default()
                }],
                ..Default::default()
            })
        })
        .start()
        .await
        .unwrap();
    assert_eq!(s.outcome().total, 1, "the SMTP session only");
    assert_eq!(s.webhook_attempts(), 2);
    common::send(
        &s,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "Acme <onboarding@acme.com>",
        &["delivered@resend.dev"],
    )
    .await
    .expect("accepted as on the tape");
    assert_eq!(
        kinds(&again.wait_for(2).await),
        ["email.sent", "email.delivered"]
    );
    let outcome = s.shutdown().await;
    assert!(outcome.ok(), "{outcome}");
    assert_eq!(outcome.played, 1);
    // `mailtape replay DIR` says what it skipped.
    let args: Vec<String> = [
        "replay",
        tapes.to_str().unwrap(),
        "--ui",
        "off",
        "--smtps",
        "off",
        "--starttls",
        "off",
        "--plain",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut m = common::cli::Running::start_with(&args, common::cli::bin());
    let title = m.err_until(|l| l.starts_with("mailtape replay"));
    assert!(
        title.ends_with(
            "· 1 session · 2 webhook attempts not played (mailtape's own requests; --webhook sends them anew)"
        ),
        "{title}"
    );
    m.term();
}

/// While a retry waits, `next_attempt_at` says when it is due — in the
/// management API's event, its list and its attempts, and in mailtape's
/// `/api/webhooks/events` — and is null again once delivered.
#[tokio::test(flavor = "multi_thread")]
async fn next_attempt_at_is_set_while_a_retry_waits() {
    // Two failures, then 200; at 0.01 the third attempt waits 3 s (5 min).
    let rx = Receiver::start(vec![(500, None), (502, None)]).await;
    let server = MockServer::builder()
        .scenario("unlimited")
        .rest()
        .ui("127.0.0.1:0".parse().unwrap())
        .webhooks(|w| w.retry_scale = 0.01)
        .config(|c| {
            c.webhooks
                .as_mut()
                .unwrap()
                .endpoints
                .push(mailtape::webhook::EndpointSpec {
                    url: rx.url.clone(),
                    events: vec!["email.sent".into()],
                    ..Default::default()
                })
        })
        .start()
        .await
        .unwrap();
    let base = server.rest_url().unwrap();
    let ui = server.ui_url().unwrap();
    let ui = ui.trim_end_matches('/');
    let a = format!("Bearer {KEY}");
    let h = [("Authorization", a.as_str())];
    smtp(&server, &["delivered@resend.dev"]).await;
    rx.wait_for(2).await;
    let ev = server
        .wait_for_webhook(
            |e| e.attempts.len() == 2 && e.next_attempt_at.is_some(),
            Duration::from_secs(5),
        )
        .await
        .expect("a retry waits after the second failure");
    let due = ev.next_attempt_at.clone().unwrap();
    let at = time::OffsetDateTime::parse(&due, &time::format_description::well_known::Rfc3339)
        .expect("an RFC 3339 time");
    let wait = (at - time::OffsetDateTime::now_utc()).as_seconds_f64();
    assert!((1.0..=3.5).contains(&wait), "due in {wait} s: {due}");
    assert!(due.len() == 24 && due.ends_with('Z'), "{due}");
    let hook = server.webhooks().endpoints()[0].id().to_string();
    let one = http(
        &base,
        "GET",
        &format!("/webhooks/{hook}/events/{}", ev.id),
        &h,
        None,
    )
    .await
    .json();
    assert_eq!(one["status"], "attempting");
    assert_eq!(one["next_attempt_at"], due.as_str());
    let list = http(&base, "GET", &format!("/webhooks/{hook}/events"), &h, None)
        .await
        .json();
    assert_eq!(list["data"][0]["next_attempt_at"], due.as_str());
    let attempts = http(
        &base,
        "GET",
        &format!("/webhooks/{hook}/events/{}/attempts", ev.id),
        &h,
        None,
    )
    .await
    .json();
    assert_eq!(attempts["data"][0]["http_status_code"], 502);
    assert_eq!(attempts["data"][0]["next_attempt_at"], due.as_str());
    assert!(attempts["data"][1]["next_attempt_at"].is_string());
    let mine = http(ui, "GET", "/api/webhooks/events", &[], None)
        .await
        .json();
    assert_eq!(mine[0]["next_attempt_at"], due.as_str());
    assert_eq!(
        mine[0]["attempts"][1]["outcome"],
        format!("retry 3 of 8 at {due}")
    );
    // Delivered: nothing waits any more.
    let ev = server
        .wait_for_webhook(|e| e.delivered(), Duration::from_secs(10))
        .await
        .expect("delivered at the third attempt");
    assert_eq!(ev.attempts.len(), 3);
    assert_eq!(ev.next_attempt_at, None);
    let one = http(
        &base,
        "GET",
        &format!("/webhooks/{hook}/events/{}", ev.id),
        &h,
        None,
    )
    .await
    .json();
    assert_eq!(one["status"], "success");
    assert_eq!(one["next_attempt_at"], Value::Null);
    server.shutdown().await;
}

/// An endpoint whose every attempt failed for 5 days is disabled (Resend,
/// as Svix), the 5 days scaled like the retries: at 0.00001, 4.32 s. The
/// live view, the attempt and `GET /webhooks/{id}` say so; no more is sent
/// to it; `PATCH … {"status":"enabled"}` brings it back.
#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_failing_for_five_days_is_disabled() {
    let rx = Receiver::start(vec![(500, None); 10_000]).await;
    let server = MockServer::builder()
        .scenario("unlimited")
        .rest()
        .webhook(&rx.url)
        .webhooks(|w| w.retry_scale = 0.00001)
        .start()
        .await
        .unwrap();
    let mut live = server.sink().subscribe(4096);
    let base = server.rest_url().unwrap();
    let a = format!("Bearer {KEY}");
    let h = [("Authorization", a.as_str())];
    let hook = server.webhooks().endpoints()[0].id().to_string();
    let started = Instant::now();
    while server.webhooks().endpoints()[0].enabled() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still enabled after 15 s of failures"
        );
        smtp(&server, &["delivered@resend.dev"]).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(4), "disabled after {took:?}");
    let reason = "every attempt failed for 5 days (4.320 s at --webhook-retry-scale 0.00001)";
    let one = http(&base, "GET", &format!("/webhooks/{hook}"), &h, None)
        .await
        .json();
    assert_eq!(one["status"], "disabled");
    // The endpoint is disabled a moment before its attempt is recorded.
    let disabling = |e: &mailtape::webhook::WebhookEvent| {
        e.attempts
            .iter()
            .any(|a| a.outcome.starts_with("endpoint disabled"))
    };
    server
        .wait_for_webhook(disabling, Duration::from_secs(10))
        .await;
    let events = server.webhook_events();
    let last = events
        .iter()
        .flat_map(|e| e.attempts.iter())
        .find(|a| a.outcome.starts_with("endpoint disabled"))
        .expect("the attempt that disabled it");
    assert_eq!(last.outcome, format!("endpoint disabled: {reason}"));
    let mut said = None;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), live.recv()).await {
        if let mailtape::SinkEvent::Webhook { text, json, .. } = &*e
            && json["type"] == "webhook_endpoint_disabled"
        {
            said = Some((text.clone(), json.clone()));
        }
    }
    let (text, json) = said.expect("said live");
    assert_eq!(
        text,
        format!("webhook endpoint {} disabled: {reason}", rx.url)
    );
    assert_eq!(json["reason"], reason);
    // Nothing more goes to it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rx.got().len();
    smtp(&server, &["delivered@resend.dev"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.got().len(), before, "a disabled endpoint gets nothing");
    // Enabled again by hand, it gets the next email's events.
    rx.script.lock().unwrap().clear();
    let r = http(
        &base,
        "PATCH",
        &format!("/webhooks/{hook}"),
        &h,
        Some(r#"{"status":"enabled"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    smtp(&server, &["delivered@resend.dev"]).await;
    assert_eq!(rx.wait_for(before + 2).await.len(), before + 2);
    server.shutdown().await;
}

/// A scenario's `[webhooks]` (a delay, whose mail is delayed) and its
/// account's `[[webhooks]]` endpoints apply when switched to — by the Rust
/// API or `PUT /api/scenario` (what the pytest and Node helpers'
/// `set_scenario` call) — and its endpoints go when switched away; those of
/// `--webhook` and of the test API stay. The built-in `delivery-delayed`
/// sends `email.delivery_delayed` for every recipient.
#[tokio::test(flavor = "multi_thread")]
async fn scenarios_delay_events_and_bring_their_endpoints() {
    let rx = Receiver::start(vec![]).await;
    let scenario_rx = Receiver::start(vec![]).await;
    let api_rx = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late.toml");
    let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    std::fs::write(
        &file,
        format!(
            r#"description = "two recipients' mail is late"

[limits]
per_second = 0

[webhooks]
delivery_delayed = ["late@acme.org", "slow.example"]
delay_ms = 400

[[account.webhooks]]
endpoint = "{}"
events = ["email.delivery_delayed", "email.delivered"]
secret = "{secret}"
"#,
            scenario_rx.url
        ),
    )
    .unwrap();
    let server = MockServer::builder()
        .scenario("unlimited")
        .webhook(&rx.url)
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let ui = server.ui_url().unwrap().trim_end_matches('/').to_string();
    // The test API adds an endpoint (and a switch leaves it alone).
    let r = http(
        &ui,
        "POST",
        "/api/webhooks",
        &[],
        Some(&json!({"endpoint": api_rx.url, "events": ["email.sent"]}).to_string()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let api_id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.webhooks().endpoints().len(), 2);

    server.set_scenario(file.to_str().unwrap()).unwrap();
    assert_eq!(
        server.webhooks().endpoints().len(),
        3,
        "the scenario's endpoint came"
    );
    assert_eq!(
        server.webhook_secret(&scenario_rx.url).as_deref(),
        Some(secret)
    );
    smtp(
        &server,
        &["late@acme.org", "x@eu.slow.example", "on@time.org"],
    )
    .await;
    let got = rx.wait_for(3).await;
    assert_eq!(
        kinds(&got),
        ["email.sent", "email.delivery_delayed", "email.delivered"]
    );
    assert_eq!(
        got[1].json()["data"]["to"],
        json!(["late@acme.org", "x@eu.slow.example"]),
        "only the scenario's recipients are late"
    );
    assert_eq!(
        got[2].json()["data"]["to"],
        json!(["late@acme.org", "x@eu.slow.example", "on@time.org"])
    );
    let gap = made_at(&got[2]) - made_at(&got[1]);
    assert!(
        gap >= time::Duration::milliseconds(380),
        "delivered {gap:?} after the delay"
    );
    let theirs = scenario_rx.wait_for(2).await;
    assert_eq!(
        kinds(&theirs),
        ["email.delivery_delayed", "email.delivered"]
    );
    assert!(verify(secret, &theirs[0]));

    // Switched away over HTTP: the scenario's endpoint goes, the others stay;
    // nothing is late any more.
    let r = http(
        &ui,
        "PUT",
        "/api/scenario",
        &[],
        Some(r#"{"scenario":"unlimited"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let urls: Vec<String> = server
        .webhooks()
        .endpoints()
        .iter()
        .map(|e| e.url())
        .collect();
    assert_eq!(urls, [rx.url.clone(), api_rx.url.clone()]);
    smtp(&server, &["late@acme.org"]).await;
    let got = rx.wait_for(5).await;
    assert_eq!(kinds(&got[3..]), ["email.sent", "email.delivered"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(scenario_rx.got().len(), 2, "removed: it gets nothing more");

    // The built-in scenario: every recipient is late, delivered 1 s after.
    let r = http(
        &ui,
        "PUT",
        "/api/scenario",
        &[],
        Some(r#"{"scenario":"delivery-delayed"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    smtp(&server, &["someone@acme.org", "bounced@resend.dev"]).await;
    let got = rx.wait_for(9).await;
    assert_eq!(
        kinds(&got[5..]),
        [
            "email.sent",
            "email.delivery_delayed",
            "email.delivered",
            "email.bounced"
        ]
    );
    assert_eq!(got[6].json()["data"]["to"], json!(["someone@acme.org"]));
    assert!(made_at(&got[7]) - made_at(&got[6]) >= time::Duration::milliseconds(950));

    // The test API removes what it added.
    let r = http(
        &ui,
        "DELETE",
        &format!("/api/webhooks/endpoints/{api_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.webhooks().endpoints().len(), 1);
    let r = http(
        &ui,
        "DELETE",
        &format!("/api/webhooks/endpoints/{api_id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    // And the Rust API does the same.
    let e = server
        .webhooks()
        .add(&mailtape::webhook::EndpointSpec {
            url: api_rx.url.clone(),
            ..Default::default()
        })
        .unwrap();
    assert!(server.webhooks().remove(e.id()).is_some());
    server.shutdown().await;
}

/// A scenario file's `[webhooks]` that names neither an address nor a
/// domain is refused at start, naming the file and the entry.
#[tokio::test]
async fn a_bad_webhooks_section_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[webhooks]\ndelivery_delayed = [\"not an address\"]\n",
    )
    .unwrap();
    let err = MockServer::builder()
        .scenario(file.to_str().unwrap())
        .start()
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("[webhooks] delivery_delayed: \"not an address\" is not an address (a@b.com) or a domain (b.com)"),
        "{err}"
    );
    std::fs::write(&file, "[webhooks]\ndelay = \"2s\"\n").unwrap();
    let err = MockServer::builder()
        .scenario(file.to_str().unwrap())
        .start()
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("delay"), "{err}");
}

/// The REST door's domain calls send `domain.created`, `domain.updated`
/// (a change, a verification's status, and again when a slow one comes
/// through) and `domain.deleted`, signed, with `data` as Resend's
/// `DomainEventData` (`id`, `name`, `status`, `created_at`, `region`,
/// `records`); `tests/clients/webhooks_matrix.py` validates them against
/// Resend's OpenAPI schemas. An endpoint may subscribe to `contact.*` and
/// `email.received`, which mailtape never sends.
#[tokio::test]
async fn domain_calls_send_domain_events() {
    let rx = Receiver::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.toml");
    std::fs::write(
        &file,
        "[limits]\nper_second = 0\n\n[behaviour]\ndomain_verification = \"delayed\"\ndomain_verification_delay_ms = 300\n",
    )
    .unwrap();
    let server = MockServer::builder()
        .scenario(file.to_str().unwrap())
        .rest()
        .start()
        .await
        .unwrap();
    let base = server.rest_url().unwrap();
    let a = format!("Bearer {KEY}");
    let h = [("Authorization", a.as_str())];
    let r = http(
        &base,
        "POST",
        "/webhooks",
        &h,
        Some(
            &json!({"endpoint": rx.url, "events": ["domain.created", "domain.updated", "domain.deleted", "contact.created", "email.received"]})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.json()["signing_secret"].as_str().unwrap().to_string();
    let d = http(
        &base,
        "POST",
        "/domains",
        &h,
        Some(r#"{"name":"Mail.Acme.org","region":"eu-west-1"}"#),
    )
    .await;
    assert_eq!(d.status, 201, "{}", d.body);
    let id = d.json()["id"].as_str().unwrap().to_string();
    let r = http(
        &base,
        "PATCH",
        &format!("/domains/{id}"),
        &h,
        Some(r#"{"click_tracking":true}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(&base, "POST", &format!("/domains/{id}/verify"), &h, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = rx.wait_for(4).await;
    assert_eq!(
        kinds(&got),
        [
            "domain.created",
            "domain.updated",
            "domain.updated",
            "domain.updated"
        ],
        "created, changed, pending, then verified 300 ms later"
    );
    let statuses: Vec<Value> = got
        .iter()
        .map(|g| g.json()["data"]["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [
            json!("not_started"),
            json!("not_started"),
            json!("pending"),
            json!("verified")
        ]
    );
    assert!(made_at(&got[3]) - made_at(&got[2]) >= time::Duration::milliseconds(250));
    let r = http(&base, "DELETE", &format!("/domains/{id}"), &h, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = rx.wait_for(5).await;
    assert_eq!(got[4].kind(), "domain.deleted");
    for g in &got {
        assert!(verify(&secret, g), "signed");
        let v = g.json();
        let data = &v["data"];
        assert_eq!(data["id"], id.as_str());
        assert_eq!(data["name"], "mail.acme.org");
        assert_eq!(data["region"], "eu-west-1");
        let created = data["created_at"].as_str().unwrap();
        assert!(created.len() == 24 && created.ends_with('Z'), "{created}");
        let records = data["records"].as_array().unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2]["record"], "DKIM");
        let raw = String::from_utf8_lossy(&g.body);
        assert!(
            raw.starts_with(&format!("{{\"type\":\"{}\",\"created_at\":\"", g.kind()))
                && raw.contains(",\"data\":{"),
            "Resend's field order: {raw}"
        );
    }
    // The test API and the live events say what they are about.
    let ev = server
        .webhook_events()
        .into_iter()
        .find(|e| e.kind == "domain.deleted")
        .unwrap();
    assert_eq!(ev.domain_id.as_deref(), Some(id.as_str()));
    assert_eq!(ev.email_id, "");
    // Email events do not go to an endpoint that asked for domains only.
    let sent = rest_send(
        &server,
        json!({"from": "a@acme.org", "to": ["delivered@resend.dev"], "subject": "s", "text": "t"}),
    )
    .await;
    assert!(sent["id"].is_string());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.got().len(), 5);
    server.shutdown().await;
}

/// The endpoint list is bounded: the 101st `POST /webhooks` is a 422 that
/// says the limit and what to do; after a `DELETE` there is room again.
#[tokio::test]
async fn at_most_a_hundred_endpoints() {
    let server = MockServer::builder()
        .scenario("unlimited")
        .rest()
        .start()
        .await
        .unwrap();
    let rest = server.rest_url().unwrap();
    let a = format!("Bearer {KEY}");
    let h = [("Authorization", a.as_str())];
    let mut first = String::new();
    for i in 0..100 {
        let body =
            json!({"endpoint": format!("http://127.0.0.1:9/hooks/{i}"), "events": ["email.sent"]});
        let r = http(&rest, "POST", "/webhooks", &h, Some(&body.to_string())).await;
        assert_eq!(r.status, 201, "{i}: {}", r.body);
        if i == 0 {
            first = r.json()["id"].as_str().unwrap().to_string();
        }
    }
    let body = json!({"endpoint": "http://127.0.0.1:9/hooks/100", "events": ["email.sent"]});
    let r = http(&rest, "POST", "/webhooks", &h, Some(&body.to_string())).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["name"], "validation_error");
    assert_eq!(
        r.json()["message"],
        "at most 100 webhook endpoints; delete one (DELETE /webhooks/{id}) before adding another"
    );
    let r = http(&rest, "DELETE", &format!("/webhooks/{first}"), &h, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(&rest, "POST", "/webhooks", &h, Some(&body.to_string())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    server.shutdown().await;
}

/// A retry waiting for an endpoint ends as soon as the endpoint is removed
/// or disabled, not at its due time: nothing is pending, nothing waits,
/// and shutdown has nothing left to count.
#[tokio::test(flavor = "multi_thread")]
async fn removing_or_disabling_an_endpoint_ends_its_waiting_retries() {
    let rx = Receiver::start(vec![(500, None), (500, None)]).await;
    let other = Receiver::start(vec![(503, None)]).await;
    let server = MockServer::builder()
        .scenario("unlimited")
        .rest()
        .webhook(&rx.url)
        .webhook(&other.url)
        .config(|c| {
            for e in &mut c.webhooks.as_mut().unwrap().endpoints {
                e.events = vec!["email.sent".into()];
            }
        })
        .start()
        .await
        .unwrap();
    let base = server.rest_url().unwrap();
    let a = format!("Bearer {KEY}");
    let h = [("Authorization", a.as_str())];
    smtp(&server, &["delivered@resend.dev"]).await;
    // Both failed once; their retries wait 5 s (scale 1).
    server
        .wait_for_webhook(|e| e.next_attempts.len() == 2, Duration::from_secs(5))
        .await
        .expect("two retries waiting");
    assert_eq!(server.webhooks().pending(), 2);
    let ids: Vec<String> = server
        .webhooks()
        .endpoints()
        .iter()
        .map(|e| e.id().to_string())
        .collect();
    let t0 = Instant::now();
    let r = http(&base, "DELETE", &format!("/webhooks/{}", ids[0]), &h, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(
        &base,
        "PATCH",
        &format!("/webhooks/{}", ids[1]),
        &h,
        Some(r#"{"status":"disabled"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ev = server
        .wait_for_webhook(
            |e| e.next_attempt_at.is_none() && e.attempts.len() == 2,
            Duration::from_secs(3),
        )
        .await
        .expect("no retry waits any more");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    let state = |id: &str| ev.deliveries.iter().find(|(e, _)| e == id).unwrap().1;
    assert_eq!(state(&ids[0]), mailtape::webhook::DeliveryState::Dropped);
    assert_eq!(state(&ids[1]), mailtape::webhook::DeliveryState::Failed);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.webhooks().pending() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.webhooks().pending(), 0);
    assert_eq!(rx.got().len() + other.got().len(), 2, "no further attempt");
    server.shutdown().await;
}
