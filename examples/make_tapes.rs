//! Makes the shipped tapes in `fixtures/tapes/`: each is recorded through
//! `mailtape record` in front of `mailtape mock --scenario …`, with lettre as
//! the client for SMTP and an HTTP client for the REST API (`rest-*`, the
//! mock serving it over HTTPS as api.resend.com would), so every tape can
//! be made again the same way.
//!
//! ```sh
//! cargo run --example make_tapes          # all of them
//! cargo run --example make_tapes -- rest  # the REST ones only (or `smtp`)
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mailtape::UpstreamTls;
use mailtape::{MockServer, RecordServer, Service};

const KEY: &str = "re_MadeForTapes_0000";

#[derive(Clone, Copy, PartialEq)]
enum Leg {
    Smtps,
    Starttls,
    Plain,
}

struct Case {
    name: &'static str,
    about: &'static str,
    scenario: &'static str,
    variant: Option<&'static str>,
    leg: Leg,
    mechanism: Mechanism,
    user: &'static str,
    from: Option<&'static str>,
    to: &'static str,
}

const fn case(name: &'static str, about: &'static str, scenario: &'static str) -> Case {
    Case {
        name,
        about,
        scenario,
        variant: None,
        leg: Leg::Smtps,
        mechanism: Mechanism::Plain,
        user: "resend",
        from: Some("billing@yourcompany.com"),
        to: "delivered@resend.dev",
    }
}

fn transport(server: &Service, leg: Leg, c: &Case) -> AsyncSmtpTransport<Tokio1Executor> {
    let (addr, tls) = match leg {
        Leg::Smtps | Leg::Starttls => {
            let ca = Certificate::from_pem(server.ca_pem().expect("ca").as_bytes()).expect("ca");
            let params = TlsParameters::builder("localhost".into())
                .add_root_certificate(ca)
                .build_rustls()
                .expect("tls");
            if leg == Leg::Smtps {
                (server.smtps_addr(), Tls::Wrapper(params))
            } else {
                (server.starttls_addr(), Tls::Required(params))
            }
        }
        Leg::Plain => (server.plain_addr(), Tls::None),
    };
    let addr = addr.expect("listener");
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(tls)
        .hello_name(ClientId::Domain("app.local".into()))
        .credentials(Credentials::new(c.user.into(), KEY.into()))
        .authentication(vec![c.mechanism])
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

fn comments(c: &Case, how: &str) -> Vec<String> {
    vec![
        c.about.to_string(),
        format!("made by `cargo run --example make_tapes`: {how}"),
        format!("replay it: mailtape replay builtin:{}", c.name),
    ]
}

async fn record(dir: &Path, c: Case) {
    let path = dir.join(format!("{}.tape", c.name));
    let _ = std::fs::remove_file(&path);
    let mut mock = MockServer::builder().scenario(c.scenario);
    if let Some(v) = c.variant {
        mock = mock.variant(v);
    }
    let mock = mock.start().await.expect("mock");
    let variant = c
        .variant
        .map(|v| format!(" --variant {v}"))
        .unwrap_or_default();
    // AUTH before STARTTLS only shows when the upstream leg is the plain
    // start of a STARTTLS port, as an app on 587 would see it.
    let (upstream, tls) = if c.name == "auth-before-starttls" {
        (mock.starttls_addr(), UpstreamTls::None)
    } else {
        (mock.smtps_addr(), UpstreamTls::Implicit)
    };
    let how = format!(
        "recorded by `mailtape record` in front of `mailtape mock --scenario {}{variant}`",
        c.scenario
    );
    let proxy = RecordServer::builder()
        .upstream(upstream.expect("upstream").to_string())
        .upstream_tls(tls)
        .upstream_ca(mock.ca_path().expect("ca"))
        .tape_file(&path)
        .tape_comments(comments(&c, &how))
        .start()
        .await
        .expect("proxy");
    let t = transport(&proxy, c.leg, &c);
    let result = match c.from {
        Some(from) => {
            let msg = lettre::Message::builder()
                .from(from.parse().expect("from"))
                .to(c.to.parse().expect("to"))
                .subject("Hello from mailtape")
                .body(String::from("Hi,\nthis is a test.\n"))
                .expect("message");
            t.send(msg).await.map(|r| r.code().to_string())
        }
        None => {
            let env = Envelope::new(None, vec![c.to.parse().expect("to")]).expect("envelope");
            t.send_raw(&env, b"Subject: no sender\r\n\r\nHi\r\n")
                .await
                .map(|r| r.code().to_string())
        }
    };
    drop(t);
    assert!(
        proxy.wait_for_sessions(1, Duration::from_secs(10)).await,
        "{}: no session",
        c.name
    );
    proxy.shutdown().await;
    println!("{:<22} {:?}", c.name, result.map_err(|e| e.to_string()));
}

/// A silent server cannot be recorded through the proxy (the proxy would
/// time out and say so); this tape is the mock's own transcript.
async fn silent(dir: &Path) {
    let path = dir.join("silent.tape");
    let _ = std::fs::remove_file(&path);
    let c = case(
        "silent",
        "a server that accepts the connection and never says a word: the client's timeout",
        "silent",
    );
    let mock = MockServer::builder()
        .scenario("silent")
        .tape_file(&path)
        .tape_comments(comments(
            &c,
            "the transcript of `mailtape mock --scenario silent` itself",
        ))
        .idle_timeout(Duration::from_secs(2))
        .start()
        .await
        .expect("mock");
    let conn = tokio::net::TcpStream::connect(mock.plain_addr().expect("plain"))
        .await
        .expect("connect");
    assert!(mock.wait_for_sessions(1, Duration::from_secs(10)).await);
    drop(conn);
    mock.shutdown().await;
    println!("{:<22} no greeting, closed at the idle timeout", "silent");
}

/// One REST tape: the scenario of the mock it is recorded from, the
/// requests (method, path, headers, JSON body), and where what it shows
/// comes from.
struct RestCase {
    name: &'static str,
    about: &'static str,
    source: &'static str,
    scenario: &'static str,
    requests: Vec<RestRequest>,
}

struct RestRequest {
    method: &'static str,
    path: &'static str,
    key: bool,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<serde_json::Value>,
}

fn send(body: serde_json::Value) -> RestRequest {
    RestRequest {
        method: "POST",
        path: "/emails",
        key: true,
        headers: Vec::new(),
        body: Some(body),
    }
}

fn email(from: &str, to: &str, subject: &str) -> serde_json::Value {
    serde_json::json!({
        "from": from,
        "to": [to],
        "subject": subject,
        "html": "<p>Hi, this is a test.</p>",
    })
}

async fn record_rest(dir: &Path, c: RestCase) {
    use http_body_util::{BodyExt, Full};
    let path = dir.join(format!("{}.tape", c.name));
    let _ = std::fs::remove_file(&path);
    let mock = MockServer::builder()
        .scenario(c.scenario)
        .rest_tls()
        .start()
        .await
        .expect("mock");
    let how = format!(
        "recorded by `mailtape record --rest-upstream` in front of `mailtape mock --scenario {} --rest-tls`",
        c.scenario
    );
    let comments = vec![
        c.about.to_string(),
        format!("source: {}", c.source),
        format!("made by `cargo run --example make_tapes -- rest`: {how}"),
        format!(
            "replay it: mailtape replay builtin:{} (RESEND_BASE_URL=http://127.0.0.1:8025)",
            c.name
        ),
    ];
    let proxy = RecordServer::builder()
        .rest_upstream(mock.rest_url().expect("rest"))
        .rest_upstream_ca(mock.ca_path().expect("ca"))
        .tape_file(&path)
        .tape_comments(comments)
        .start()
        .await
        .expect("proxy");
    let base = proxy.rest_url().expect("rest door");
    let client = mailtape::http_client(None, Duration::from_secs(10), false).expect("client");
    let mut said = Vec::new();
    for r in &c.requests {
        let body = r.body.as_ref().map(|b| b.to_string()).unwrap_or_default();
        let mut req = hyper::Request::builder()
            .method(r.method)
            .uri(format!("{base}{}", r.path));
        if r.key {
            req = req.header("Authorization", format!("Bearer {KEY}"));
        }
        if r.body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        for (k, v) in &r.headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(bytes::Bytes::from(body)))
            .expect("request");
        let resp = client.request(req).await.expect("answer");
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        said.push(status);
    }
    assert!(
        proxy
            .wait_for_sessions(c.requests.len(), Duration::from_secs(10))
            .await,
        "{}: exchanges",
        c.name
    );
    proxy.shutdown().await;
    mock.shutdown().await;
    println!("{:<26} {said:?}", c.name);
}

fn rest_cases() -> Vec<RestCase> {
    let ok = || {
        email(
            "Acme <billing@yourcompany.com>",
            "delivered@resend.dev",
            "Hello from mailtape",
        )
    };
    vec![
        RestCase {
            name: "rest-invalid-key",
            about: "401 validation_error \"API key is invalid\": POST /emails with a wrong, revoked or deleted key",
            source: "seen (a 2026-09 production log: 401 on the sending endpoints; 403 invalid_api_key before), RESEND.md",
            scenario: "invalid-key",
            requests: vec![send(ok())],
        },
        RestCase {
            name: "rest-missing-key",
            about: "401 missing_api_key: POST /emails without an Authorization header",
            source: "docs (Resend's errors page), RESEND.md",
            scenario: "default",
            requests: vec![RestRequest {
                key: false,
                ..send(ok())
            }],
        },
        RestCase {
            name: "rest-sandbox",
            about: "403 validation_error: a sandbox account may only send to its owner",
            source: "docs (Resend's errors page; the SMTP 550 of the same refusal is seen), RESEND.md",
            scenario: "sandbox",
            requests: vec![send(email(
                "onboarding@resend.dev",
                "someone@gmail.com",
                "Hello from mailtape",
            ))],
        },
        RestCase {
            name: "rest-unverified-domain",
            about: "403 validation_error: the From domain is not verified",
            source: "docs (Resend's errors page; the SMTP 550 of the same refusal is seen), RESEND.md",
            scenario: "unverified-domain",
            requests: vec![send(ok())],
        },
        RestCase {
            name: "rest-invalid-from",
            about: "422: a `from` that is not an email address",
            source: "docs (Resend's errors page: 422 validation_error; invalid_from_address before 2026-08), RESEND.md",
            scenario: "default",
            requests: vec![send(email(
                "not an address",
                "delivered@resend.dev",
                "Hello",
            ))],
        },
        RestCase {
            name: "rest-rate-limited",
            about: "429 rate_limit_exceeded with retry-after and the ratelimit-* headers",
            source: "docs (Resend's errors page and rate-limit headers), RESEND.md",
            scenario: "rate-limited",
            requests: vec![send(ok())],
        },
        RestCase {
            name: "rest-daily-quota",
            about: "429 daily_quota_exceeded: the day's sending quota is used up",
            source: "docs (Resend's errors page), RESEND.md",
            scenario: "daily-quota",
            requests: vec![send(ok())],
        },
        RestCase {
            name: "rest-idempotency-conflict",
            about: "409 invalid_idempotent_request: an Idempotency-Key used again for another body (the first send is 200)",
            source: "docs (Resend's errors page and idempotency keys, 24 h), RESEND.md",
            scenario: "unlimited",
            requests: vec![
                RestRequest {
                    headers: vec![("Idempotency-Key", "welcome-42")],
                    ..send(ok())
                },
                RestRequest {
                    headers: vec![("Idempotency-Key", "welcome-42")],
                    ..send(email(
                        "Acme <billing@yourcompany.com>",
                        "delivered@resend.dev",
                        "Another body",
                    ))
                },
            ],
        },
        RestCase {
            name: "rest-batch-permissive",
            about: "200 with errors: a batch in permissive mode sends the valid emails and lists the others",
            source: "docs (POST /emails/batch, x-batch-validation: permissive), RESEND.md",
            scenario: "unlimited",
            requests: vec![RestRequest {
                method: "POST",
                path: "/emails/batch",
                key: true,
                headers: vec![("x-batch-validation", "permissive")],
                body: Some(serde_json::json!([
                    ok(),
                    email("not an address", "delivered@resend.dev", "Hello"),
                ])),
            }],
        },
    ]
}

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tapes");
    std::fs::create_dir_all(&dir).expect("fixtures/tapes");
    let only = std::env::args().nth(1);
    if only.as_deref() != Some("smtp") {
        for c in rest_cases() {
            record_rest(&dir, c).await;
        }
    }
    if only.as_deref() == Some("rest") {
        return;
    }
    let cases = [
        Case {
            about: "a clean send over implicit TLS (465-style) with AUTH PLAIN",
            ..case("success-plain", "", "unlimited")
        },
        Case {
            about: "a clean send over STARTTLS (587-style) with AUTH LOGIN",
            leg: Leg::Starttls,
            mechanism: Mechanism::Login,
            ..case("success-login", "", "unlimited")
        },
        Case {
            about: "535 Invalid username: the user name must be the literal `resend`",
            user: "me@yourcompany.com",
            ..case("wrong-username", "", "default")
        },
        case(
            "wrong-key",
            "535 Authentication credentials invalid: the API key is wrong, revoked or malformed",
            "invalid-key",
        ),
        Case {
            about: "538 AUTH before STARTTLS on the STARTTLS port (587)",
            leg: Leg::Plain,
            ..case("auth-before-starttls", "", "default")
        },
        Case {
            about: "550 Invalid `from` field: an empty or malformed sender",
            from: None,
            ..case("invalid-from", "", "default")
        },
        case(
            "unverified-domain",
            "550 The yourcompany.com domain is not verified (after DATA)",
            "unverified-domain",
        ),
        Case {
            about: "550 sandbox: a new account may only send to its owner (after DATA)",
            from: Some("onboarding@resend.dev"),
            to: "someone@gmail.com",
            ..case("sandbox", "", "sandbox")
        },
        Case {
            about: "550 Invalid `to` field: example.com and other reserved domains (after DATA)",
            to: "user@example.com",
            ..case("reserved-test-domain", "", "default")
        },
        case(
            "rate-limited",
            "550 Too many requests, as real sessions get it: a permanent refusal (after DATA)",
            "rate-limited",
        ),
        Case {
            about: "421 Too many requests, as the brief says: retry after a pause (after DATA)",
            variant: Some("brief"),
            ..case("rate-limited-421", "", "rate-limited")
        },
        Case {
            about: "550 This API key is not authorized to send emails from acme.com (after DATA)",
            from: Some("billing@acme.com"),
            ..case("restricted-key", "", "restricted-key")
        },
        case(
            "key-domain-unverified",
            "550 The associated domain with your API key is not verified (after DATA)",
            "restricted-key-unverified",
        ),
        case(
            "daily-quota",
            "550 the daily sending quota is used up (after DATA)",
            "daily-quota",
        ),
        case(
            "monthly-quota",
            "550 the monthly sending quota is used up (after DATA)",
            "monthly-quota",
        ),
    ];
    for c in cases {
        record(&dir, c).await;
    }
    silent(&dir).await;
}
