//! Recording and replaying the REST door: `record` in front of a mock that
//! plays api.resend.com over HTTPS, then `replay` of the tape with no
//! upstream at all; the faults of an upstream; nothing sent anywhere else.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{HttpResponse, KEY, http, http_raw};
use mailtape::tape::{Tape, http::Exchange, http::is_http};
use mailtape::{MockServer, RecordServer, ReplayServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn auth() -> (&'static str, String) {
    ("Authorization", format!("Bearer {KEY}"))
}

async fn send(base: &str, method: &str, path: &str, body: Option<&Value>) -> HttpResponse {
    let (k, v) = auth();
    let body = body.map(|b| b.to_string());
    http(base, method, path, &[(k, v.as_str())], body.as_deref()).await
}

fn email(subject: &str) -> Value {
    json!({
        "from": "Acme <billing@acme.com>",
        "to": ["delivered@resend.dev"],
        "subject": subject,
        "html": "<p>Thanks</p>",
        "attachments": [{"filename": "a.txt", "content": "c2VjcmV0IGZpbGUgYm9keQ=="}],
    })
}

/// The requests of the recording, and how each was answered.
async fn the_calls(base: &str, mock: Option<&MockServer>) -> Vec<(u16, Option<String>, String)> {
    let mut out = Vec::new();
    let ok = send(base, "POST", "/emails", Some(&email("Your invoice"))).await;
    let id = ok.json()["id"].as_str().unwrap_or_default().to_string();
    out.push(ok);
    let mut bad = email("Bad from");
    bad["from"] = json!("not an address");
    out.push(send(base, "POST", "/emails", Some(&bad)).await);
    out.push(send(base, "GET", &format!("/emails/{id}"), None).await);
    if let Some(m) = mock {
        m.set_scenario("rate-limited").unwrap();
    }
    out.push(send(base, "POST", "/emails", Some(&email("Too fast"))).await);
    out.into_iter()
        .map(|r| (r.status, r.header("retry-after").map(String::from), r.body))
        .collect()
}

#[tokio::test]
async fn record_in_front_of_an_https_mock_then_replay_byte_for_byte() {
    let mock = MockServer::builder()
        .scenario("unlimited")
        .rest_tls()
        .start()
        .await
        .unwrap();
    let upstream = mock.rest_url().unwrap();
    assert!(upstream.starts_with("https://127.0.0.1:"), "{upstream}");
    let dir = tempfile::tempdir().unwrap();
    let tape_path = dir.path().join("rest.tape");
    let rec = RecordServer::builder()
        .rest_upstream(&upstream)
        .rest_upstream_ca(mock.ca_path().unwrap())
        .tape_file(&tape_path)
        .start()
        .await
        .unwrap();
    let base = rec.rest_url().unwrap();
    let recorded = the_calls(&base, Some(&mock)).await;
    let statuses: Vec<u16> = recorded.iter().map(|r| r.0).collect();
    assert_eq!(statuses, vec![200, 422, 200, 429], "{recorded:#?}");
    assert_eq!(
        recorded[3].1.as_deref(),
        Some("1"),
        "429 says when to retry"
    );
    let snap: Vec<String> = rec
        .transcripts()
        .iter()
        .map(|t| {
            let id = serde_json::from_str::<Value>(&recorded[0].2).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            // The rate-limit headers follow the team's rate, which is the profile's.
            t.snapshot()
                .replace(&id, "[id]")
                .lines()
                .filter(|l| !l.starts_with("S: ratelimit-"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        })
        .collect();
    insta::assert_snapshot!(snap.join("\n"));
    rec.shutdown().await;
    mock.shutdown().await;

    let text = std::fs::read_to_string(&tape_path).unwrap();
    assert!(!text.contains(KEY) && !text.contains("c2VjcmV0"), "{text}");
    let tape = Tape::parse(&text, "rest.tape").unwrap();
    assert_eq!(tape.sessions.len(), 4);
    for t in &tape.sessions {
        assert!(is_http(&t.meta) && t.meta.mode == "record", "{:?}", t.meta);
        assert!(t.meta.started.ends_with('Z'), "each exchange has its clock");
        Exchange::from_transcript(t).unwrap();
    }
    assert!(text.contains("REST API) · listener http"), "{text}");

    // Replay, with no upstream running: the same answers, byte for byte.
    let replay = ReplayServer::builder(tape_path.display().to_string())
        .rest()
        .start()
        .await
        .unwrap();
    let rbase = replay.rest_url().unwrap();
    let replayed = the_calls(&rbase, None).await;
    assert_eq!(replayed, recorded);
    let o = replay.outcome();
    assert!(o.ok(), "{o}");
    assert_eq!((o.rest_total, o.rest_played), (4, 4));
    assert_eq!(
        o.to_string(),
        "0 of 0 sessions played, 4 of 4 REST exchanges played"
    );

    // A changed request is a departure: Resend-shaped 500, counted.
    let changed = send(&rbase, "POST", "/emails", Some(&email("Another subject"))).await;
    assert_eq!(changed.status, 500, "{}", changed.body);
    let v = changed.json();
    assert_eq!(v["name"], "application_error");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("mailtape replay: the tape holds no `POST /emails` with this body"),
        "{v}"
    );
    let o = replay.shutdown().await;
    assert!(!o.ok());
    assert_eq!(o.divergences.len(), 1, "{o}");
    let said = o.to_string();
    assert!(
        said.contains("1 divergence:\n  REST exchange 1000005: expected `POST /emails {"),
        "{said}"
    );
    assert!(said.contains("Another subject"), "{said}");
    assert!(!said.contains(KEY), "{said}");
}

#[tokio::test]
async fn strict_and_loop_count_rest_exchanges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tape");
    std::fs::write(
        &path,
        "# mailtape tape v1\n\n## session 1 · listener http\nC: GET /domains\nS: 200 OK\nS: content-type: application/json\nS: {\"data\":[]}\n\n\
         ## session 2 · listener http\nC: GET /api-keys\nS: 401 Unauthorized\nS: {\"statusCode\":401,\"name\":\"missing_api_key\",\"message\":\"Missing API key in the authorization header.\"}\n",
    )
    .unwrap();
    let tape = path.display().to_string();
    let r = ReplayServer::builder(&tape)
        .rest()
        .strict(true)
        .start()
        .await
        .unwrap();
    let base = r.rest_url().unwrap();
    let a = http(&base, "GET", "/domains", &[], None).await;
    assert_eq!((a.status, a.body.as_str()), (200, "{\"data\":[]}"));
    assert_eq!(a.header("content-type"), Some("application/json"));
    // played once: a second one is a departure without --loop
    let again = http(&base, "GET", "/domains", &[], None).await;
    assert_eq!(again.status, 500);
    assert!(
        again.body.contains("use --loop to start over"),
        "{}",
        again.body
    );
    let o = r.shutdown().await;
    assert!(!o.ok());
    let r = ReplayServer::builder(&tape)
        .rest()
        .strict(true)
        .start()
        .await
        .unwrap();
    let base = r.rest_url().unwrap();
    http(&base, "GET", "/domains", &[], None).await;
    let o = r.shutdown().await;
    assert!(!o.ok(), "--strict: an exchange never played fails the run");
    assert_eq!(
        o.to_string(),
        "0 of 0 sessions played, 1 of 2 REST exchanges played; --strict: 1 REST exchange never played"
    );
    let r = ReplayServer::builder(&tape)
        .rest()
        .looped(true)
        .start()
        .await
        .unwrap();
    let base = r.rest_url().unwrap();
    for _ in 0..3 {
        assert_eq!(http(&base, "GET", "/domains", &[], None).await.status, 200);
    }
    let k = http(&base, "GET", "/api-keys", &[], None).await;
    assert_eq!(k.status, 401);
    let o = r.shutdown().await;
    assert!(o.ok(), "{o}");
}

/// A TLS upstream that answers every connection with `answer` (or nothing),
/// counting connections.
async fn fake_upstream(
    certs: &std::path::Path,
    answer: Option<&'static [u8]>,
) -> (String, Arc<AtomicUsize>) {
    let tls = mailtape::Tls::load(&mailtape::CertSource::Generated(certs.to_path_buf())).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = vec![0u8; 65536];
                let _ = tls.read(&mut buf).await;
                match answer {
                    Some(a) => {
                        let _ = tls.write_all(a).await;
                        let _ = tls.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    (format!("https://127.0.0.1:{}", addr.port()), count)
}

async fn recorder(dir: &std::path::Path, upstream: &str, timeout: Duration) -> RecordServer {
    RecordServer::builder()
        .rest_upstream(upstream)
        .rest_upstream_ca(dir.join("ca.pem"))
        .tape_file(dir.join("faults.tape"))
        .config(|c| {
            if let Some(r) = &mut c.rest {
                r.timeout = timeout;
            }
        })
        .certs_dir(dir)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn upstream_faults_are_recorded_and_answered_502_or_504() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    // make the CA first
    mailtape::Tls::load(&mailtape::CertSource::Generated(certs.to_path_buf())).unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let (silent, _) = fake_upstream(certs, None).await;
    let (garbage, _) = fake_upstream(certs, Some(b"this is not HTTP at all\r\n\r\n")).await;
    let (cut, _) = fake_upstream(
        certs,
        Some(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"id\":\"half"),
    )
    .await;
    let (html, _) = fake_upstream(
        certs,
        Some(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<html>down</html>   "),
    )
    .await;
    let (resend_500, _) = fake_upstream(
        certs,
        Some(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 78\r\n\r\n{\"statusCode\":500,\"name\":\"application_error\",\"message\":\"An unexpected error.\"}"),
    )
    .await;
    for (upstream, status, words) in [
        (closed.as_str(), 502, "cannot be reached"),
        (silent.as_str(), 504, "did not answer within 1 s"),
        (garbage.as_str(), 502, "gave no HTTP answer"),
        (
            cut.as_str(),
            502,
            "broke off its answer (200 OK) in the body",
        ),
        (
            html.as_str(),
            502,
            "answered 503 Service Unavailable with a body that is not Resend's error JSON",
        ),
    ] {
        let rec = recorder(certs, upstream, Duration::from_secs(1)).await;
        let r = send(&rec.rest_url().unwrap(), "GET", "/emails", None).await;
        assert_eq!(r.status, status, "{upstream}: {}", r.body);
        let v = r.json();
        assert_eq!(v["statusCode"], status);
        assert_eq!(v["name"], "application_error");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.starts_with("mailtape record: https://127.0.0.1:"),
            "{message}"
        );
        assert!(message.contains(words), "{upstream}: {message}");
        let t = &rec.transcripts()[0];
        let tape = t.to_tape();
        assert!(tape.contains("*: upstream fault: "), "{tape}");
        assert!(tape.contains(&format!("S: {status} ")), "{tape}");
        rec.shutdown().await;
    }
    // Resend's own 5xx is what Resend answered: relayed as it is.
    let rec = recorder(certs, &resend_500, Duration::from_secs(1)).await;
    let r = send(&rec.rest_url().unwrap(), "GET", "/emails", None).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (500, Some("An unexpected error."))
    );
    rec.shutdown().await;
    // The tape of all that reads back.
    let text = std::fs::read_to_string(certs.join("faults.tape")).unwrap();
    assert_eq!(Tape::parse(&text, "faults.tape").unwrap().sessions.len(), 6);
}

#[tokio::test]
async fn oversized_bodies_and_other_hosts_never_go_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    mailtape::Tls::load(&mailtape::CertSource::Generated(certs.to_path_buf())).unwrap();
    let (up, count) = fake_upstream(
        certs,
        Some(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"data\":[]}"),
    )
    .await;
    let rec = recorder(certs, &up, Duration::from_secs(5)).await;
    let base = rec.rest_url().unwrap();
    let host = base.trim_start_matches("http://");
    // A body declared over the limit: 413 in Resend's shape, nothing sent.
    let r = http_raw(
        &base,
        format!(
            "POST /emails HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 200000000\r\nConnection: close\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["name"], "validation_error");
    assert_eq!(count.load(Ordering::SeqCst), 0, "nothing went upstream");
    // An absolute target naming another host goes to the named upstream.
    let r = http_raw(
        &base,
        format!(
            "GET http://evil.example/emails HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "{\"data\":[]}"));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let tape = rec.transcripts()[1].to_tape();
    assert!(tape.contains("C: GET /emails\n"), "{tape}");
    rec.shutdown().await;
}

/// Every shipped REST tape answers its own requests with what it recorded,
/// and says where what it shows comes from.
#[tokio::test]
async fn every_shipped_rest_tape_answers_its_requests() {
    let rest: Vec<_> = mailtape::BUILTIN_TAPES
        .iter()
        .filter(|(n, _)| n.starts_with("rest-"))
        .collect();
    assert_eq!(rest.len(), 9);
    for (name, _) in rest {
        let (_, tape) = mailtape::load_tape(&format!("builtin:{name}")).unwrap();
        assert!(
            tape.comments.iter().any(|c| c.starts_with("source: ")),
            "{name}: {:?}",
            tape.comments
        );
        let r = ReplayServer::builder(format!("builtin:{name}"))
            .rest()
            .strict(true)
            .start()
            .await
            .unwrap();
        let base = r.rest_url().unwrap();
        for t in &tape.sessions {
            let e = Exchange::from_transcript(t).unwrap();
            let mut headers: Vec<(&str, String)> = Vec::new();
            if e.request_header("authorization").is_some() {
                headers.push(("Authorization", format!("Bearer {KEY}")));
            }
            for h in ["idempotency-key", "x-batch-validation"] {
                if let Some(v) = e.request_header(h) {
                    headers.push((h, v.to_string()));
                }
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let got = http(
                &base,
                &e.method,
                &e.target,
                &headers,
                e.request_body.as_deref(),
            )
            .await;
            let want = e.response.as_ref().unwrap();
            assert_eq!(got.status, want.status, "{name}: {}", got.body);
            assert_eq!(got.body.as_bytes(), want.body_bytes().as_slice(), "{name}");
            if let Some(ra) = want.header("retry-after") {
                assert_eq!(got.header("retry-after"), Some(ra), "{name}");
            }
        }
        let o = r.shutdown().await;
        assert!(o.ok(), "{name}: {o}");
    }
}

/// Replay's REST door is on the inbox's listener by default
/// (RESEND_BASE_URL=http://127.0.0.1:8025), and the inbox lists the
/// replayed exchange as a REST session, explained outcome and all.
#[tokio::test]
async fn replay_serves_rest_on_the_inbox_and_the_inbox_lists_it() {
    let r = ReplayServer::builder("builtin:rest-rate-limited")
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let base = r.rest_url().unwrap();
    assert_eq!(Some(format!("{base}/")), r.ui_url(), "the inbox's listener");
    let body = email("Hello from mailtape");
    let mut want = body.clone();
    want["from"] = json!("Acme <billing@yourcompany.com>");
    want["html"] = json!("<p>Hi, this is a test.</p>");
    want.as_object_mut().unwrap().remove("attachments");
    let got = send(&base, "POST", "/emails", Some(&want)).await;
    assert_eq!(got.status, 429, "{}", got.body);
    assert_eq!(got.header("retry-after"), Some("1"));
    assert!(r.wait_for_sessions(1, Duration::from_secs(5)).await);
    // The inbox takes sessions from a queue of its own, on a thread of its own.
    let mut text = String::new();
    for _ in 0..100 {
        text = http(&base, "GET", "/api/sessions", &[], None)
            .await
            .json()
            .to_string();
        if text.contains("\"protocol\":\"http\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text.contains("\"protocol\":\"http\""), "{text}");
    assert!(text.contains("\"mode\":\"replay\""), "{text}");
    assert!(
        text.contains("rate_limit") || text.contains("Too many requests"),
        "{text}"
    );
    assert!(r.shutdown().await.ok());
}
