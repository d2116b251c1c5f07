//! Resend's REST API in the mock (issue #17): the shapes of Resend's OpenAPI
//! document, errors as `{"statusCode","name","message"}`, one account with
//! the SMTP door (keys, domains, sandbox, rate, quotas, idempotency), real
//! MIME messages in the same inbox, and redacted transcripts.

mod common;

use std::time::Duration;

use common::{KEY, Raw, http, plain_payload};
use mailtape::MockServer;
use serde_json::{Value, json};

async fn mock(scenario: &str) -> MockServer {
    MockServer::builder()
        .scenario(scenario)
        .rest()
        .start()
        .await
        .expect("mock starts")
}

/// An older team's account (`--variant legacy`): 2 requests per second,
/// as the rate tests below count.
async fn legacy(scenario: &str) -> MockServer {
    MockServer::builder()
        .scenario(scenario)
        .variant("legacy")
        .rest()
        .start()
        .await
        .expect("mock starts")
}

fn auth(key: &str) -> String {
    format!("Bearer {key}")
}

async fn post(
    s: &MockServer,
    path: &str,
    body: &Value,
    extra: &[(&str, &str)],
) -> common::HttpResponse {
    let a = auth(KEY);
    let mut h = vec![("Authorization", a.as_str())];
    h.extend_from_slice(extra);
    http(
        &s.rest_url().unwrap(),
        "POST",
        path,
        &h,
        Some(&body.to_string()),
    )
    .await
}

async fn get(s: &MockServer, path: &str) -> common::HttpResponse {
    let a = auth(KEY);
    http(
        &s.rest_url().unwrap(),
        "GET",
        path,
        &[("Authorization", &a)],
        None,
    )
    .await
}

fn email() -> Value {
    json!({
        "from": "Acme <billing@acme.com>",
        "to": ["delivered@resend.dev"],
        "subject": "Your invoice",
        "html": "<p>Thanks</p>",
        "text": "Thanks",
    })
}

fn error(r: &common::HttpResponse) -> (u16, String, String) {
    let v = r.json();
    assert_eq!(v["statusCode"], r.status, "{}", r.body);
    (
        r.status,
        v["name"].as_str().unwrap().to_string(),
        v["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn send_get_and_list_with_a_real_mime_message_in_the_same_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let s = MockServer::builder()
        .scenario("unlimited")
        .mailbox(dir.path())
        .rest()
        .start()
        .await
        .unwrap();
    let mut body = email();
    body["cc"] = json!("cc@acme.com");
    body["bcc"] = json!(["hidden@acme.com"]);
    body["reply_to"] = json!("support@acme.com");
    body["headers"] = json!({"X-Entity-Ref-ID": "inv-7"});
    body["tags"] = json!([{"name": "category", "value": "invoice"}]);
    body["attachments"] = json!([{"filename": "invoice.pdf", "content": "JVBERi0xLjQ="}]);
    let r = post(&s, "/emails", &body, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    assert_eq!(r.header("content-type"), Some("application/json"));

    let got = get(&s, &format!("/emails/{id}")).await;
    assert_eq!(got.status, 200);
    let e = got.json();
    assert_eq!(e["object"], "email");
    assert_eq!(e["id"], id.as_str());
    assert_eq!(e["from"], "Acme <billing@acme.com>");
    assert_eq!(e["to"], json!(["delivered@resend.dev"]));
    assert_eq!(e["cc"], json!(["cc@acme.com"]));
    assert_eq!(e["bcc"], json!(["hidden@acme.com"]));
    assert_eq!(e["reply_to"], json!(["support@acme.com"]));
    assert_eq!(e["subject"], "Your invoice");
    assert_eq!(e["last_event"], "delivered");
    assert_eq!(e["tags"], json!([{"name": "category", "value": "invoice"}]));

    let list = get(&s, "/emails").await.json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    assert_eq!(list["data"][0]["id"], id.as_str());

    assert!(s.wait_for_sessions(3, Duration::from_secs(5)).await);
    let msgs = s.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.id, id);
    assert_eq!(m.from, "billing@acme.com");
    assert_eq!(
        m.to,
        vec!["delivered@resend.dev", "cc@acme.com", "hidden@acme.com"]
    );
    let mime = String::from_utf8_lossy(&m.data);
    for want in [
        "From: Acme <billing@acme.com>",
        "Subject: Your invoice",
        "X-Entity-Ref-ID: inv-7",
        "multipart/alternative",
        "filename=\"invoice.pdf\"",
    ] {
        assert!(mime.contains(want), "{want} in\n{mime}");
    }
    assert!(!mime.contains("hidden@acme.com"), "{mime}");
    let eml = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(eml, 1, "the mailbox holds the REST email");
}

#[tokio::test]
async fn the_exchange_is_a_redacted_transcript() {
    let s = mock("unlimited").await;
    let mut body = email();
    body["attachments"] = json!([{"filename": "a.txt", "content": "c2VjcmV0IGZpbGUgYm9keQ=="}]);
    let r = post(&s, "/emails", &body, &[("Idempotency-Key", "order-1")]).await;
    assert_eq!(r.status, 200);
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    let t = &s.transcripts()[0];
    let tape = t.to_tape();
    assert!(t.meta.id > 1_000_000, "REST exchanges are numbered apart");
    assert_eq!(t.meta.listener, "http");
    assert!(tape.contains("C: POST /emails\n"), "{tape}");
    assert!(
        tape.contains("C: authorization: Bearer <redacted key=re_…"),
        "{tape}"
    );
    assert!(tape.contains("C: idempotency-key: order-1"), "{tape}");
    assert!(tape.contains("<24 bytes elided, sha256 "), "{tape}");
    assert!(tape.contains("S: 200 OK\n"), "{tape}");
    assert!(
        tape.contains("S: ratelimit-limit: 2\n") || !tape.contains("ratelimit"),
        "{tape}"
    );
    assert!(
        tape.contains(&format!(
            "S: {{\"id\":\"{}\"}}",
            r.json()["id"].as_str().unwrap()
        )),
        "{tape}"
    );
    assert!(!tape.contains(KEY) && !tape.contains("c2VjcmV0"), "{tape}");
}

#[tokio::test]
async fn keys_missing_invalid_revoked_and_restricted() {
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("a.toml");
    std::fs::write(
        &account,
        format!(
            "[[keys]]\nkey = \"{KEY}\"\n[[keys]]\nkey = \"re_Revoked_0000aaaa\"\nrevoked = true\n[[keys]]\nkey = \"re_SendOnly_1111bbbb\"\npermission = \"sending_access\"\n"
        ),
    )
    .unwrap();
    let s = MockServer::builder()
        .scenario("unlimited")
        .account_file(&account)
        .rest()
        .start()
        .await
        .unwrap();
    let base = s.rest_url().unwrap();
    let body = email().to_string();
    let r = http(&base, "POST", "/emails", &[], Some(&body)).await;
    assert_eq!(
        error(&r),
        (
            401,
            "missing_api_key".into(),
            "Missing API key in the authorization header.".into()
        )
    );
    for key in ["re_Revoked_0000aaaa", "re_Unknown_2222cccc", "not-a-key"] {
        let a = auth(key);
        let r = http(
            &base,
            "POST",
            "/emails",
            &[("Authorization", &a)],
            Some(&body),
        )
        .await;
        // Resend since 2026-08: a 401 on the sending endpoints.
        assert_eq!(
            error(&r),
            (401, "validation_error".into(), "API key is invalid".into()),
            "{key}"
        );
    }
    let a = auth("re_SendOnly_1111bbbb");
    let r = http(
        &base,
        "POST",
        "/emails",
        &[("Authorization", &a)],
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 200, "a sending key sends: {}", r.body);
    for path in ["/emails", "/domains", "/api-keys"] {
        let r = http(&base, "GET", path, &[("Authorization", &a)], None).await;
        assert_eq!(
            error(&r),
            (
                401,
                "restricted_api_key".into(),
                "This API key is restricted to only send emails.".into()
            ),
            "{path}"
        );
    }
    // The key list names keys by fingerprint only.
    let keys = get(&s, "/api-keys").await;
    assert_eq!(
        keys.json()["data"].as_array().unwrap().len(),
        2,
        "{}",
        keys.body
    );
    assert!(
        !keys.body.contains(KEY) && !keys.body.contains("SendOnly"),
        "{}",
        keys.body
    );
}

#[tokio::test]
async fn validation_errors_as_resend_names_them() {
    let s = mock("unlimited").await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"to": "a@b.co", "subject": "x"}),
            422,
            "missing_required_field",
            "Missing `from` field.",
        ),
        (
            json!({"from": "a@acme.com", "subject": "x"}),
            422,
            "missing_required_field",
            "Missing `to` field.",
        ),
        (
            json!({"from": "not an address", "to": "delivered@resend.dev", "subject": "x"}),
            422,
            "validation_error",
            "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
        ),
        (
            json!({"from": "a@acme.com", "to": "delivered@resend.dev", "subject": "x", "attachments": [{"filename": "a.pdf"}]}),
            422,
            "invalid_attachment",
            "Attachment must have either a `content` or `path`.",
        ),
        (
            json!({"from": "a@acme.com", "to": "someone@example.com", "subject": "x"}),
            422,
            "validation_error",
            "Invalid `to` field. Please use our testing email address instead of domains like `example.com`.",
        ),
    ];
    for (body, status, name, message) in cases {
        let r = post(&s, "/emails", &body, &[]).await;
        assert_eq!(
            error(&r),
            (status, name.to_string(), message.to_string()),
            "{body}"
        );
    }
    let too_many: Vec<String> = (0..51)
        .map(|i| format!("delivered+{i}@resend.dev"))
        .collect();
    let r = post(
        &s,
        "/emails",
        &json!({"from": "a@acme.com", "to": too_many, "subject": "x"}),
        &[],
    )
    .await;
    assert_eq!(error(&r).0, 422);
    let r = http(
        &s.rest_url().unwrap(),
        "POST",
        "/emails",
        &[("Authorization", &auth(KEY))],
        Some("{not json"),
    )
    .await;
    assert_eq!(error(&r).1, "validation_error");
    let r = http(
        &s.rest_url().unwrap(),
        "DELETE",
        "/emails",
        &[("Authorization", &auth(KEY))],
        None,
    )
    .await;
    assert_eq!(error(&r).0, 405);
}

#[tokio::test]
async fn sandbox_and_unverified_domain_are_403_and_test_addresses_report_their_event() {
    let s = MockServer::builder()
        .scenario("sandbox")
        .owner("you@yourcompany.com")
        .rest()
        .start()
        .await
        .unwrap();
    let r = post(
        &s,
        "/emails",
        &json!({"from": "onboarding@resend.dev", "to": "friend@gmail.com", "subject": "x", "text": "x"}),
        &[],
    )
    .await;
    assert_eq!(
        error(&r),
        (
            403,
            "validation_error".into(),
            "You can only send testing emails to your own email address (you@yourcompany.com). To send emails to other recipients, please verify a domain at resend.com/domains".into()
        )
    );
    let r = post(
        &s,
        "/emails",
        &json!({"from": "a@acme.com", "to": "you@yourcompany.com", "subject": "x"}),
        &[],
    )
    .await;
    assert_eq!(
        error(&r),
        (
            403,
            "validation_error".into(),
            "The acme.com domain is not verified. Please, add and verify your domain on https://resend.com/domains".into()
        )
    );
    for (to, event) in [
        ("bounced+signup@resend.dev", "bounced"),
        ("complained@resend.dev", "complained"),
        ("delivered+x@resend.dev", "delivered"),
    ] {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = post(
            &s,
            "/emails",
            &json!({"from": "onboarding@resend.dev", "to": to, "subject": "x"}),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{to}: {}", r.body);
        let id = r.json()["id"].as_str().unwrap().to_string();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let e = get(&s, &format!("/emails/{id}")).await.json();
        assert_eq!(e["last_event"], event, "{to}");
        assert_eq!(e["to"], json!([to]));
    }
}

#[tokio::test]
async fn rate_limit_is_429_with_headers_and_shared_with_smtp() {
    let s = legacy("default").await;
    for remaining in ["1", "0"] {
        let r = post(&s, "/emails", &email(), &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("ratelimit-limit"), Some("2"));
        assert_eq!(r.header("ratelimit-remaining"), Some(remaining));
        assert_eq!(r.header("ratelimit-reset"), Some("1"));
    }
    // The third request in the second, at the other door: SMTP's own refusal.
    let mut c = common::authed(&s).await;
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    c.cmd("DATA").await;
    c.write(b"Subject: x\r\n\r\nhi\r\n.\r\n").await;
    assert_eq!(
        c.wire_reply().await,
        "550 Too many requests. You can only make 2 requests per second.\r\n"
    );
    let r = post(&s, "/emails", &email(), &[]).await;
    assert_eq!(
        error(&r),
        (
            429,
            "rate_limit_exceeded".into(),
            "Too many requests. You can only make 2 requests per second.".into()
        )
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(post(&s, "/emails", &email(), &[]).await.status, 200);
}

#[tokio::test]
async fn smtp_then_rest_in_one_second_refuses_the_rest_call() {
    let s = legacy("default").await;
    for _ in 0..2 {
        let mut c = common::authed(&s).await;
        c.cmd("MAIL FROM:<a@acme.com>").await;
        c.cmd("RCPT TO:<delivered@resend.dev>").await;
        c.cmd("DATA").await;
        c.write(b"Subject: x\r\n\r\nhi\r\n.\r\n").await;
        assert!(c.wire_reply().await.starts_with("250 OK "));
    }
    let r = post(&s, "/emails", &email(), &[]).await;
    assert_eq!(error(&r).1, "rate_limit_exceeded");
}

#[tokio::test]
async fn quotas_are_429_by_name() {
    for (scenario, name, message) in [
        (
            "daily-quota",
            "daily_quota_exceeded",
            "You have reached your daily email sending quota.",
        ),
        (
            "monthly-quota",
            "monthly_quota_exceeded",
            "You have reached your monthly email sending quota.",
        ),
    ] {
        let s = mock(scenario).await;
        let r = post(&s, "/emails", &email(), &[]).await;
        assert_eq!(error(&r), (429, name.into(), message.into()));
    }
}

#[tokio::test]
async fn idempotency_keys_are_shared_by_both_doors() {
    let s = mock("unlimited").await;
    let h = [("Idempotency-Key", "welcome/42")];
    let first = post(&s, "/emails", &email(), &h).await.json()["id"].clone();
    let again = post(&s, "/emails", &email(), &h).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], first, "same key, same body: same id");
    let mut other = email();
    other["subject"] = json!("Something else");
    let r = post(&s, "/emails", &other, &h).await;
    assert_eq!(
        error(&r),
        (
            409,
            "invalid_idempotent_request".into(),
            "Same idempotency key used with a different request payload. Change your idempotency key or payload.".into()
        )
    );
    // A refused request does not keep its key: the corrected retry is sent.
    let bad = json!({"from": "a@acme.com", "to": "someone@example.com", "subject": "x"});
    let k2 = [("Idempotency-Key", "retry/1")];
    assert_eq!(post(&s, "/emails", &bad, &k2).await.status, 422);
    assert_eq!(post(&s, "/emails", &email(), &k2).await.status, 200);
    let long = "k".repeat(257);
    let r = post(&s, "/emails", &email(), &[("Idempotency-Key", &long)]).await;
    assert_eq!(
        error(&r),
        (
            400,
            "invalid_idempotency_key".into(),
            "The key must be between 1-256 chars.".into()
        )
    );
    // SMTP with the same key and another message: refused at its door.
    let mut c = common::authed(&s).await;
    c.cmd("MAIL FROM:<a@acme.com>").await;
    c.cmd("RCPT TO:<delivered@resend.dev>").await;
    c.cmd("DATA").await;
    c.write(b"Resend-Idempotency-Key: welcome/42\r\nSubject: x\r\n\r\nhi\r\n.\r\n")
        .await;
    assert_eq!(
        c.wire_reply().await,
        "550 Same idempotency key used with a different request payload. Change your idempotency key or payload.\r\n"
    );
    c.cmd("QUIT").await;
    // Six REST exchanges and one SMTP session.
    assert!(s.wait_for_sessions(7, Duration::from_secs(5)).await);
    assert_eq!(s.messages().len(), 2, "sent once, and the corrected retry");
}

#[tokio::test]
async fn batch_strict_and_permissive() {
    let s = mock("unlimited").await;
    let mut second = email();
    second["to"] = json!("bounced@resend.dev");
    let r = post(&s, "/emails/batch", &json!([email(), second]), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 2);
    let bad = json!({"from": "a@acme.com", "subject": "no to"});
    let r = post(&s, "/emails/batch", &json!([email(), bad]), &[]).await;
    let (status, name, message) = error(&r);
    assert_eq!((status, name.as_str()), (422, "missing_required_field"));
    assert!(message.starts_with("emails[1]: "), "{message}");
    let r = post(
        &s,
        "/emails/batch",
        &json!([email(), bad]),
        &[("x-batch-validation", "permissive")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"][0]["index"], 1);
    let too_many: Vec<Value> = (0..101).map(|_| email()).collect();
    assert_eq!(
        error(&post(&s, "/emails/batch", &json!(too_many), &[]).await).0,
        422
    );
    assert!(s.wait_for_sessions(4, Duration::from_secs(5)).await);
    assert_eq!(s.messages().len(), 3);
}

#[tokio::test]
async fn an_email_sent_over_smtp_is_readable_over_rest() {
    let s = mock("unlimited").await;
    let mut c = common::authed(&s).await;
    c.cmd("MAIL FROM:<billing@acme.com>").await;
    c.cmd("RCPT TO:<complained@resend.dev>").await;
    c.cmd("RCPT TO:<secret@acme.com>").await;
    c.cmd("DATA").await;
    c.write(b"From: Acme <billing@acme.com>\r\nTo: complained@resend.dev\r\nSubject: Over SMTP\r\n\r\nhi\r\n.\r\n")
        .await;
    let reply = c.wire_reply().await;
    let id = reply
        .trim_end()
        .strip_prefix("250 OK ")
        .unwrap()
        .to_string();
    let e = get(&s, &format!("/emails/{id}")).await.json();
    assert_eq!(e["subject"], "Over SMTP");
    assert_eq!(e["from"], "Acme <billing@acme.com>");
    assert_eq!(e["to"], json!(["complained@resend.dev"]));
    assert_eq!(e["bcc"], json!(["secret@acme.com"]));
    assert_eq!(e["last_event"], "complained");
    let r = get(&s, "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c").await;
    assert_eq!(
        error(&r),
        (404, "not_found".into(), "Email not found".into())
    );
}

#[tokio::test]
async fn scheduled_mail_waits_moves_and_cancels() {
    let s = mock("unlimited").await;
    let later = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut body = email();
    body["scheduled_at"] = json!(later);
    let id = post(&s, "/emails", &body, &[]).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        get(&s, &format!("/emails/{id}")).await.json()["last_event"],
        "scheduled"
    );
    // Moved to a second from now: it goes out then.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = http(
        &s.rest_url().unwrap(),
        "PATCH",
        &format!("/emails/{id}"),
        &[("Authorization", &auth(KEY))],
        Some(&json!({"scheduled_at": soon}).to_string()),
    )
    .await;
    assert_eq!(r.json(), json!({"object": "email", "id": id}));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(s.messages().len(), 1);
    assert_eq!(
        get(&s, &format!("/emails/{id}")).await.json()["last_event"],
        "delivered"
    );
    // Another, canceled: never sent; a sent one cannot be canceled.
    let id2 = post(&s, "/emails", &body, &[]).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(&s, &format!("/emails/{id2}/cancel"), &json!({}), &[]).await;
    assert_eq!(r.json(), json!({"object": "email", "id": id2}));
    assert_eq!(
        get(&s, &format!("/emails/{id2}")).await.json()["last_event"],
        "canceled"
    );
    let r = post(&s, &format!("/emails/{id}/cancel"), &json!({}), &[]).await;
    assert_eq!(error(&r).0, 422);
    assert_eq!(s.messages().len(), 1);
}

#[tokio::test]
async fn list_pages_by_cursor_and_domains_reflect_the_account() {
    let s = MockServer::builder()
        .scenario("restricted-key-unverified")
        .rest()
        .start()
        .await
        .unwrap();
    let domains = get(&s, "/domains").await;
    // The unlisted key is tied to newbrand.io: a sending key, so it may not read.
    assert_eq!(error(&domains).1, "restricted_api_key");
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("a.toml");
    std::fs::write(
        &account,
        format!("verified_domains = [\"yourcompany.com\"]\n[[keys]]\nkey = \"{KEY}\"\n[[keys]]\nkey = \"re_Branded_3333dddd\"\npermission = \"sending_access\"\ndomain = \"newbrand.io\"\n"),
    )
    .unwrap();
    let s = MockServer::builder()
        .scenario("unlimited")
        .account_file(&account)
        .rest()
        .start()
        .await
        .unwrap();
    let d = get(&s, "/domains").await.json();
    let names: Vec<(&str, &str)> = d["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["name"].as_str().unwrap(), x["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("yourcompany.com", "verified"),
            ("newbrand.io", "not_started")
        ]
    );
    let one = get(
        &s,
        &format!("/domains/{}", d["data"][0]["id"].as_str().unwrap()),
    )
    .await
    .json();
    assert_eq!(one["object"], "domain");
    assert_eq!(one["name"], "yourcompany.com");
    // The branded key is refused for another domain, as over SMTP.
    let a = auth("re_Branded_3333dddd");
    let r = http(
        &s.rest_url().unwrap(),
        "POST",
        "/emails",
        &[("Authorization", &a)],
        Some(
            &json!({"from": "a@yourcompany.com", "to": "delivered@resend.dev", "subject": "x"})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(
        error(&r),
        (
            403,
            "validation_error".into(),
            "The associated domain with your API key is not verified. Please, create a new API key with full access or with a verified domain.".into()
        )
    );
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut b = email();
        b["from"] = json!("a@yourcompany.com");
        b["subject"] = json!(format!("n{i}"));
        ids.push(
            post(&s, "/emails", &b, &[]).await.json()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let p1 = get(&s, "/emails?limit=2").await.json();
    assert_eq!(p1["has_more"], true);
    assert_eq!(p1["data"][0]["id"], ids[4].as_str());
    let last = p1["data"][1]["id"].as_str().unwrap().to_string();
    let p2 = get(&s, &format!("/emails?limit=2&after={last}"))
        .await
        .json();
    assert_eq!(p2["data"][0]["id"], ids[2].as_str());
    let p3 = get(&s, &format!("/emails?limit=2&after={}", ids[1]))
        .await
        .json();
    assert_eq!(
        (p3["data"].as_array().unwrap().len(), &p3["has_more"]),
        (1, &json!(false))
    );
    assert_eq!(error(&get(&s, "/emails?limit=101").await).0, 422);
}

#[tokio::test]
async fn raw_smtp_and_rest_share_one_account_under_sandbox() {
    // The same scenario refuses both doors, each in its own form.
    let s = MockServer::builder()
        .scenario("sandbox")
        .owner("you@yourcompany.com")
        .rest()
        .start()
        .await
        .unwrap();
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    c.cmd("EHLO app.local").await;
    c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
        .await;
    c.cmd("MAIL FROM:<onboarding@resend.dev>").await;
    c.cmd("RCPT TO:<friend@gmail.com>").await;
    c.cmd("DATA").await;
    c.write(b"Subject: x\r\n\r\nhi\r\n.\r\n").await;
    assert!(
        c.wire_reply()
            .await
            .starts_with("550 You can only send testing emails")
    );
    let r = post(
        &s,
        "/emails",
        &json!({"from": "onboarding@resend.dev", "to": "friend@gmail.com", "subject": "x"}),
        &[],
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn served_on_the_inbox_listener_sdk_calls_pass_its_guards() {
    // #17: RESEND_BASE_URL=http://127.0.0.1:8025 — the inbox's own listener.
    let s = MockServer::builder()
        .scenario("unlimited")
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let base = s.rest_url().expect("the REST API on the inbox's listener");
    assert_eq!(Some(format!("{base}/")), s.ui_url());
    let a = auth(KEY);
    let body = email().to_string();
    // What an SDK sends: a Bearer key, no Origin; Node's fetch adds
    // `sec-fetch-mode: cors` and no `sec-fetch-site`.
    let r = http(
        &base,
        "POST",
        "/emails",
        &[
            ("Authorization", &a),
            ("sec-fetch-mode", "cors"),
            ("User-Agent", "resend-node:6.38.0"),
        ],
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        get(&s, &format!("/emails/{id}")).await.json()["id"],
        id.as_str()
    );
    // A page on another site cannot send through it.
    let r = http(
        &base,
        "POST",
        "/emails",
        &[
            ("Authorization", &a),
            ("Origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        Some(&body),
    )
    .await;
    assert!(
        r.status >= 400 && r.status != 404,
        "{} {}",
        r.status,
        r.body
    );
    // The inbox's own routes are still there.
    assert_eq!(http(&base, "GET", "/", &[], None).await.status, 200);
    assert!(s.wait_for_sessions(2, Duration::from_secs(5)).await);
    assert_eq!(s.messages().len(), 1);
}

#[tokio::test]
async fn a_rest_exchange_snapshots_like_an_smtp_session() {
    let s = mock("unlimited").await;
    let mut body = email();
    body["attachments"] = json!([{"filename": "a.txt", "content": "aGVsbG8="}]);
    post(&s, "/emails", &body, &[("Idempotency-Key", "order-7")]).await;
    let a = auth("not-a-key");
    http(
        &s.rest_url().unwrap(),
        "GET",
        "/domains",
        &[("Authorization", &a)],
        None,
    )
    .await;
    assert!(s.wait_for_sessions(2, Duration::from_secs(5)).await);
    let mut t = s.transcripts();
    t.sort_by_key(|t| t.meta.id);
    let shots: Vec<String> = t.iter().map(|t| t.snapshot()).collect();
    insta::assert_snapshot!(shots.join("\n"));
}

#[tokio::test]
async fn the_inbox_lists_rest_exchanges_beside_smtp_sessions() {
    let s = MockServer::builder()
        .scenario("sandbox")
        .owner("you@yourcompany.com")
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let ok = json!({"from": "onboarding@resend.dev", "to": "delivered@resend.dev", "subject": "Welcome"});
    let no = json!({"from": "onboarding@resend.dev", "to": "friend@gmail.com", "subject": "Hi"});
    assert_eq!(post(&s, "/emails", &ok, &[]).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(post(&s, "/emails", &no, &[]).await.status, 403);
    assert!(s.wait_for_sessions(2, Duration::from_secs(5)).await);
    let base = s.rest_url().unwrap();
    let mut list = Value::Null;
    for _ in 0..50 {
        list = http(&base, "GET", "/api/sessions?protocol=http", &[], None)
            .await
            .json();
        if list["sessions"].as_array().is_some_and(|a| a.len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sessions = list["sessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 2, "{list}");
    let (refused, accepted) = (&sessions[0], &sessions[1]);
    assert_eq!(accepted["protocol"], "http");
    assert_eq!(accepted["outcome"], "accepted", "{accepted}");
    assert_eq!(accepted["accepted"], 1);
    assert_eq!(accepted["from"], "onboarding@resend.dev");
    assert_eq!(accepted["to"], json!(["delivered@resend.dev"]));
    assert_eq!(accepted["subjects"], json!(["Welcome"]));
    assert_eq!(refused["outcome"], "refused_data", "{refused}");
    assert_eq!(refused["code"], 403);
    assert!(
        refused["reply"]
            .as_str()
            .unwrap()
            .starts_with("You can only send testing emails")
    );
    assert!(!list.to_string().contains(KEY));
}
