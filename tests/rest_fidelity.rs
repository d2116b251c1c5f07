//! Fidelity, round three (issue 24): the account writable through the API
//! (keys and domains, on both doors at once), the departures an independent
//! check against Resend's OpenAPI spec found (each test names its number),
//! the RESEND.md facts of late 2026, and malformed requests answered in
//! Resend's JSON error shape with nothing stored.

mod common;

use std::time::Duration;

use common::{KEY, Mode, http, plain_payload};
use lettre::AsyncTransport;
use lettre::transport::smtp::authentication::Mechanism;
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

async fn call(
    s: &MockServer,
    method: &str,
    path: &str,
    key: &str,
    body: Option<&Value>,
) -> common::HttpResponse {
    let a = format!("Bearer {key}");
    let text = body.map(Value::to_string);
    http(
        &s.rest_url().unwrap(),
        method,
        path,
        &[("Authorization", &a)],
        text.as_deref(),
    )
    .await
}

async fn get(s: &MockServer, path: &str) -> common::HttpResponse {
    call(s, "GET", path, KEY, None).await
}

async fn post(s: &MockServer, path: &str, body: &Value) -> common::HttpResponse {
    call(s, "POST", path, KEY, Some(body)).await
}

/// `(status, name, message)` of a Resend error, checking its shape.
fn error(r: &common::HttpResponse) -> (u16, String, String) {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.body
    );
    let v = r.json();
    assert_eq!(v["statusCode"], r.status, "{}", r.body);
    (
        r.status,
        v["name"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn email(from: &str) -> Value {
    json!({"from": from, "to": ["delivered@resend.dev"], "subject": "Hi", "text": "Hi"})
}

/// Sends one message over SMTP with lettre as `resend` / `key`.
async fn smtp_send(s: &MockServer, key: &str, from: &str) -> Result<String, String> {
    let t = common::transport(s, Mode::Plain, "resend", key, Mechanism::Plain);
    match t
        .send(common::message(from, &["delivered@resend.dev"]))
        .await
    {
        Ok(r) => Ok(format!(
            "{} {}",
            r.code(),
            r.message().collect::<Vec<_>>().join(" ")
        )),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test]
async fn a_key_made_over_rest_sends_over_smtp_and_once_deleted_gets_535() {
    let s = mock("unlimited").await;
    let r = post(&s, "/api-keys", &json!({"name": "ci"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = r.json();
    let (id, token) = (
        made["id"].as_str().unwrap().to_string(),
        made["token"].as_str().unwrap().to_string(),
    );
    assert!(token.starts_with("re_") && token.len() >= 20, "{token}");
    // Listed by name and id, never by its token.
    let keys = get(&s, "/api-keys").await;
    assert_eq!(keys.json()["data"][0]["id"], id.as_str());
    assert_eq!(keys.json()["data"][0]["name"], "ci");
    assert!(!keys.body.contains(&token));

    let sent = smtp_send(&s, &token, "billing@acme.com").await;
    assert!(
        sent.as_ref().is_ok_and(|r| r.starts_with("250 OK ")),
        "{sent:?}"
    );
    // It works on the REST door too, and was used.
    assert_eq!(call(&s, "GET", "/domains", &token, None).await.status, 200);
    assert!(get(&s, "/api-keys").await.json()["data"][0]["last_used_at"].is_string());

    // A session that logged in with it before the delete, still open.
    let mut open = common::ehloed(&s).await;
    assert_eq!(
        open.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", &token)))
            .await,
        "235 Authentication successful"
    );

    let del = call(&s, "DELETE", &format!("/api-keys/{id}"), KEY, None).await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(
        del.json(),
        json!({"object": "api_key", "id": id, "deleted": true})
    );

    // The next AUTH with it: refused, as a revoked key is.
    let mut c = common::ehloed(&s).await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", &token)))
            .await,
        "535 Authentication credentials invalid"
    );
    let err = smtp_send(&s, &token, "billing@acme.com").await.unwrap_err();
    assert!(err.contains("Authentication credentials invalid"), "{err}");
    // The open session is refused at its next message, as the API refuses the key.
    assert_eq!(
        open.cmd("MAIL FROM:<billing@acme.com>").await,
        "250 Accepted"
    );
    assert_eq!(
        open.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    open.cmd("DATA").await;
    open.write(b"Subject: x\r\n\r\nhi\r\n.\r\n").await;
    assert_eq!(open.wire_reply().await, "550 API key is invalid\r\n");
    // And on the REST door.
    let r = call(
        &s,
        "POST",
        "/emails",
        &token,
        Some(&email("billing@acme.com")),
    )
    .await;
    assert_eq!(
        error(&r),
        (401, "validation_error".into(), "API key is invalid".into())
    );
    assert_eq!(
        call(&s, "DELETE", &format!("/api-keys/{id}"), KEY, None)
            .await
            .status,
        404
    );
    // The token is in no transcript.
    for t in s.transcripts() {
        assert!(!t.to_tape().contains(&token), "token in a transcript");
    }
}

#[tokio::test]
async fn a_sending_key_tied_to_a_domain_is_honoured_on_both_doors() {
    let s = mock("unlimited").await;
    let d = post(&s, "/domains", &json!({"name": "acme.com"}))
        .await
        .json();
    let domain_id = d["id"].as_str().unwrap().to_string();
    post(&s, &format!("/domains/{domain_id}/verify"), &json!({})).await;
    let r = post(
        &s,
        "/api-keys",
        &json!({"name": "app", "permission": "sending_access", "domain_id": domain_id}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert!(smtp_send(&s, &token, "billing@acme.com").await.is_ok());
    let err = smtp_send(&s, &token, "billing@other.io").await.unwrap_err();
    assert!(
        err.contains("This API key is not authorized to send emails from other.io"),
        "{err}"
    );
    let r = call(&s, "POST", "/emails", &token, Some(&email("a@other.io"))).await;
    assert_eq!(error(&r).0, 403);
    let r = call(&s, "GET", "/domains", &token, None).await;
    assert_eq!(error(&r).1, "restricted_api_key");
    // A domain id that is not the account's.
    let r = post(
        &s,
        "/api-keys",
        &json!({"name": "x", "permission": "sending_access", "domain_id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"}),
    )
    .await;
    assert_eq!(error(&r).1, "not_found");
}

#[tokio::test]
async fn domains_are_created_verified_changed_and_deleted_with_their_records() {
    let s = mock("unlimited").await;
    let r = post(
        &s,
        "/domains",
        &json!({"name": "mail.acme.com", "region": "eu-west-1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let d = r.json();
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["status"], "not_started");
    assert!(!d["created_at"].as_str().unwrap().starts_with("1970"));
    let records = d["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["record"], "SPF");
    assert_eq!(records[0]["type"], "MX");
    assert_eq!(records[0]["name"], "send.mail");
    assert_eq!(records[0]["value"], "feedback-smtp.eu-west-1.amazonses.com");
    assert_eq!(records[2]["record"], "DKIM");
    assert_eq!(records[2]["name"], "resend._domainkey.mail");
    // Not verified yet: both doors refuse mail from it.
    let r = post(&s, "/emails", &email("a@mail.acme.com")).await;
    assert_eq!(
        error(&r),
        (
            403,
            "validation_error".into(),
            "The mail.acme.com domain is not verified. Please, add and verify your domain on https://resend.com/domains".into()
        )
    );
    let err = smtp_send(&s, KEY, "a@mail.acme.com").await.unwrap_err();
    assert!(
        err.contains("mail.acme.com domain is not verified"),
        "{err}"
    );
    // The same name again.
    let r = post(&s, "/domains", &json!({"name": "mail.acme.com"})).await;
    assert_eq!(error(&r).1, "validation_error");

    let v = post(&s, &format!("/domains/{id}/verify"), &json!({})).await;
    assert_eq!(v.json(), json!({"object": "domain", "id": id}));
    let got = get(&s, &format!("/domains/{id}")).await.json();
    assert_eq!(got["status"], "verified");
    assert_eq!(got["records"][1]["status"], "verified");
    assert_eq!(
        post(&s, "/emails", &email("a@mail.acme.com")).await.status,
        200
    );
    assert!(smtp_send(&s, KEY, "a@mail.acme.com").await.is_ok());

    let p = call(
        &s,
        "PATCH",
        &format!("/domains/{id}"),
        KEY,
        Some(&json!({"open_tracking": true, "tls": "enforced"})),
    )
    .await;
    assert_eq!(p.json(), json!({"object": "domain", "id": id}));
    let got = get(&s, &format!("/domains/{id}")).await.json();
    assert_eq!(
        (got["open_tracking"].clone(), got["tls"].clone()),
        (json!(true), json!("enforced"))
    );
    let p = call(
        &s,
        "PATCH",
        &format!("/domains/{id}"),
        KEY,
        Some(&json!({"tls": 5})),
    )
    .await;
    assert_eq!(error(&p).1, "validation_error");

    let del = call(&s, "DELETE", &format!("/domains/{id}"), KEY, None).await;
    assert_eq!(
        del.json(),
        json!({"object": "domain", "id": id, "deleted": true})
    );
    assert_eq!(get(&s, &format!("/domains/{id}")).await.status, 404);
    assert_eq!(
        error(&post(&s, "/emails", &email("a@mail.acme.com")).await).0,
        403
    );
}

#[tokio::test]
async fn verification_by_scenario_after_a_delay_or_never() {
    let s = MockServer::builder()
        .scenario("domains-verify-slowly")
        .rest()
        .start()
        .await
        .unwrap();
    // The scenario's 10 s, shortened for the test through a scenario file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow-dns.toml");
    std::fs::write(
        &file,
        "description = \"x\"\n[behaviour]\ndomain_verification = \"delayed\"\ndomain_verification_delay_ms = 600\n",
    )
    .unwrap();
    s.set_scenario(file.to_str().unwrap()).unwrap();
    let id = post(&s, "/domains", &json!({"name": "slow.io"}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    post(&s, &format!("/domains/{id}/verify"), &json!({})).await;
    assert_eq!(
        get(&s, &format!("/domains/{id}")).await.json()["status"],
        "pending"
    );
    assert_eq!(
        error(&post(&s, "/emails", &email("a@slow.io")).await).0,
        403
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        get(&s, &format!("/domains/{id}")).await.json()["status"],
        "verified"
    );
    assert_eq!(post(&s, "/emails", &email("a@slow.io")).await.status, 200);

    let n = mock("domains-never-verify").await;
    let id = post(&n, "/domains", &json!({"name": "never.io"}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    post(&n, &format!("/domains/{id}/verify"), &json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let listed = get(&n, "/domains").await.json();
    assert_eq!(listed["data"][0]["status"], "pending");
    assert_eq!(
        error(&post(&n, "/emails", &email("a@never.io")).await).0,
        403
    );
}

/// Departure 1: `GET /domains` and `GET /api-keys` page and check `limit`.
#[tokio::test]
async fn departure_1_domains_and_keys_page_and_check_limit() {
    let s = mock("unlimited").await;
    for name in ["a.io", "b.io", "c.io"] {
        assert_eq!(
            post(&s, "/domains", &json!({"name": name})).await.status,
            201
        );
        assert_eq!(
            post(&s, "/api-keys", &json!({"name": name})).await.status,
            201
        );
    }
    for list in ["/domains", "/api-keys"] {
        let one = get(&s, &format!("{list}?limit=1")).await.json();
        assert_eq!(one["data"].as_array().unwrap().len(), 1, "{list}");
        assert_eq!(one["has_more"], true);
        let first = one["data"][0]["id"].as_str().unwrap().to_string();
        let next = get(&s, &format!("{list}?limit=2&after={first}"))
            .await
            .json();
        assert_eq!(next["data"].as_array().unwrap().len(), 2, "{list}");
        assert_eq!(next["has_more"], false, "{list}");
        for bad in ["limit=101", "limit=abc", "limit=0", "limit=-1"] {
            let r = get(&s, &format!("{list}?{bad}")).await;
            assert_eq!(
                error(&r),
                (
                    422,
                    "validation_error".into(),
                    "The `limit` parameter must be a number between 1 and 100.".into()
                ),
                "{list}?{bad}"
            );
        }
        let r = get(&s, &format!("{list}?after={first}&before={first}")).await;
        assert_eq!(error(&r).0, 422);
        let r = get(&s, &format!("{list}?after=nope")).await;
        assert_eq!(error(&r).1, "invalid_parameter");
    }
}

/// Departure 2: tags are validated.
#[tokio::test]
async fn departure_2_tags_are_validated() {
    let s = mock("unlimited").await;
    let long = "a".repeat(257);
    for tag in [
        json!({"name": "bad tag!", "value": "x"}),
        json!({"name": "ok", "value": "two words"}),
        json!({"name": "", "value": "x"}),
    ] {
        let mut body = email("a@acme.com");
        body["tags"] = json!([tag]);
        assert_eq!(
            error(&post(&s, "/emails", &body).await),
            (
                422,
                "validation_error".into(),
                "Tags should only contain ASCII letters, numbers, underscores, or dashes.".into()
            ),
            "{tag}"
        );
    }
    let mut body = email("a@acme.com");
    body["tags"] = json!([{"name": long, "value": "x"}]);
    assert_eq!(error(&post(&s, "/emails", &body).await).0, 422);
    body["tags"] = json!([{"name": "category", "value": "confirm_email-2"}]);
    assert_eq!(post(&s, "/emails", &body).await.status, 200);
    // Nothing was stored for the refused ones.
    assert_eq!(
        get(&s, "/emails").await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Departure 3: unknown paths and methods are JSON, never an empty body.
#[tokio::test]
async fn departure_3_unknown_paths_and_methods_are_json() {
    let s = mock("unlimited").await;
    for path in ["/emailz", "/contacts", "/emails/batch/x/y", "/"] {
        let r = get(&s, path).await;
        assert_eq!(
            error(&r),
            (
                404,
                "not_found".into(),
                "The requested endpoint does not exist.".into()
            ),
            "{path}"
        );
    }
    let r = call(&s, "DELETE", "/emails", KEY, None).await;
    assert_eq!(error(&r).1, "method_not_allowed");
    let r = call(&s, "PUT", "/api-keys", KEY, None).await;
    assert_eq!(error(&r).0, 405);
}

/// Departure 4: `scheduled_at` in natural language.
#[tokio::test]
async fn departure_4_scheduled_at_in_natural_language() {
    let s = mock("unlimited").await;
    let mut body = email("a@acme.com");
    body["scheduled_at"] = json!("in 1 min");
    let r = post(&s, "/emails", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let e = get(&s, &format!("/emails/{id}")).await.json();
    assert_eq!(e["last_event"], "scheduled");
    assert!(e["scheduled_at"].is_string());
    let p = call(
        &s,
        "PATCH",
        &format!("/emails/{id}"),
        KEY,
        Some(&json!({"scheduled_at": "tomorrow at 9am"})),
    )
    .await;
    assert_eq!(p.status, 200, "{}", p.body);
    body["scheduled_at"] = json!("whenever you like");
    assert_eq!(error(&post(&s, "/emails", &body).await).0, 422);
}

/// Departure 5: real `created_at`, DNS `records`, `message_id`, attachments.
#[tokio::test]
async fn departure_5_created_at_records_message_id_and_attachments() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .verified_domain("acme.com")
        .rest()
        .start()
        .await
        .unwrap();
    let listed = get(&s, "/domains").await.json();
    let d = &listed["data"][0];
    assert_eq!(d["name"], "acme.com");
    assert!(
        !d["created_at"].as_str().unwrap().starts_with("1970"),
        "{d}"
    );
    let one = get(&s, &format!("/domains/{}", d["id"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(one["records"].as_array().unwrap().len(), 3);

    let mut body = email("a@acme.com");
    body["attachments"] = json!([
        {"filename": "invoice.pdf", "content": "JVBERi0xLjQK"},
        {"filename": "logo.png", "content": "iVBORw0KGgo=", "content_id": "logo"},
        {"path": "https://example.org/terms.pdf"},
    ]);
    let id = post(&s, "/emails", &body).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = get(&s, &format!("/emails/{id}")).await.json();
    assert_eq!(e["message_id"], format!("<{id}@resend.dev>"));
    let list = get(&s, &format!("/emails/{id}/attachments")).await.json();
    assert_eq!(list["object"], "list");
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["filename"], "invoice.pdf");
    assert_eq!(data[0]["content_type"], "application/pdf");
    assert_eq!(data[0]["content_disposition"], "attachment");
    assert_eq!(data[0]["size"], 9);
    assert_eq!(data[1]["content_disposition"], "inline");
    assert_eq!(data[1]["content_id"], "logo");
    assert_eq!(data[2]["download_url"], "https://example.org/terms.pdf");
    let aid = data[0]["id"].as_str().unwrap();
    let one = get(&s, &format!("/emails/{id}/attachments/{aid}"))
        .await
        .json();
    assert_eq!(one["object"], "attachment");
    let url = one["download_url"].as_str().unwrap();
    let path = url.split_once("//").unwrap().1.split_once('/').unwrap().1;
    let got = http(
        &s.rest_url().unwrap(),
        "GET",
        &format!("/{path}"),
        &[],
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, "%PDF-1.4\n");
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));

    // An email sent over SMTP lists its attachments too.
    let mut c = common::at_data(&s).await;
    c.write(
        b"From: a@acme.com\r\nTo: delivered@resend.dev\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"r.csv\"\r\n\r\na,b\r\n--b--\r\n.\r\n",
    )
    .await;
    let reply = c.wire_reply().await;
    let smtp_id = reply.trim().strip_prefix("250 OK ").unwrap().to_string();
    let list = get(&s, &format!("/emails/{smtp_id}/attachments"))
        .await
        .json();
    assert_eq!(list["data"][0]["filename"], "r.csv", "{list}");
    assert_eq!(list["data"][0]["content_type"], "text/csv");
}

/// Departure 6 and bad input: ids that are not UUIDs (or not UTF-8) get
/// Resend's `invalid_parameter`, as JSON, on every endpoint with an id.
#[tokio::test]
async fn departure_6_bad_ids_are_invalid_parameter_as_json() {
    let s = mock("unlimited").await;
    for (method, path) in [
        ("GET", "/emails/%ff%fe"),
        ("GET", "/emails/not-a-uuid"),
        ("PATCH", "/emails/123"),
        ("POST", "/emails/%ff/cancel"),
        ("GET", "/emails/x/attachments"),
        (
            "GET",
            "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c/attachments/%c3%28",
        ),
        ("GET", "/domains/%ff%fe"),
        ("PATCH", "/domains/acme.com"),
        ("DELETE", "/domains/1"),
        ("POST", "/domains/x/verify"),
        ("DELETE", "/api-keys/%ff"),
    ] {
        let r = call(&s, method, path, KEY, Some(&json!({}))).await;
        let (status, name, _) = error(&r);
        assert_eq!(
            (status, name.as_str()),
            (422, "invalid_parameter"),
            "{method} {path}"
        );
    }
    // A well-formed id that is not there.
    let r = get(&s, "/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c").await;
    assert_eq!(error(&r).1, "not_found");
}

#[tokio::test]
async fn malformed_account_writes_are_refused_and_store_nothing() {
    let s = mock("unlimited").await;
    let cases: Vec<(&str, &str, String)> = vec![
        ("POST", "/domains", "{".into()),
        ("POST", "/domains", "[]".into()),
        ("POST", "/domains", json!({}).to_string()),
        ("POST", "/domains", json!({"name": 5}).to_string()),
        (
            "POST",
            "/domains",
            json!({"name": "not a domain"}).to_string(),
        ),
        (
            "POST",
            "/domains",
            json!({"name": "x.io", "region": "mars-1"}).to_string(),
        ),
        (
            "POST",
            "/domains",
            json!({"name": "x.io", "open_tracking": "yes"}).to_string(),
        ),
        ("POST", "/api-keys", json!({}).to_string()),
        ("POST", "/api-keys", json!({"name": ["a"]}).to_string()),
        (
            "POST",
            "/api-keys",
            json!({"name": "a".repeat(51)}).to_string(),
        ),
        (
            "POST",
            "/api-keys",
            json!({"name": "a", "permission": "root"}).to_string(),
        ),
        (
            "POST",
            "/api-keys",
            json!({"name": "a", "domain_id": "acme"}).to_string(),
        ),
    ];
    let a = format!("Bearer {KEY}");
    for (method, path, body) in cases {
        let r = http(
            &s.rest_url().unwrap(),
            method,
            path,
            &[("Authorization", &a)],
            Some(&body),
        )
        .await;
        let (status, name, _) = error(&r);
        assert!(
            status == 422 && !name.is_empty(),
            "{method} {path} {body}: {}",
            r.body
        );
    }
    assert_eq!(get(&s, "/domains").await.json()["data"], json!([]));
    assert_eq!(get(&s, "/api-keys").await.json()["data"], json!([]));
}

#[tokio::test]
async fn resend_md_facts_of_late_2026() {
    // 5 requests per second by default.
    let s = mock("default").await;
    let r = post(&s, "/emails", &email("a@acme.com")).await;
    assert_eq!(r.header("ratelimit-limit"), Some("5"));
    // The used counts, not what is left.
    let mut two = email("a@acme.com");
    two["to"] = json!(["delivered@resend.dev", "bounced@resend.dev"]);
    let r = post(&s, "/emails", &two).await;
    assert_eq!(r.header("x-resend-daily-quota"), Some("3"));
    assert_eq!(r.header("x-resend-monthly-quota"), Some("3"));
    // A bad key: 401 on sending, 400 elsewhere.
    let r = call(&s, "GET", "/emails", "re_Wrong", None).await;
    assert_eq!(
        error(&r),
        (400, "validation_error".into(), "API key is invalid".into())
    );
    // suppressed@resend.dev.
    let mut sup = email("a@acme.com");
    sup["to"] = json!(["suppressed+x@resend.dev"]);
    let id = post(&s, "/emails", &sup).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get(&s, &format!("/emails/{id}")).await.json()["last_event"],
        "suppressed"
    );

    // The older picture, one flag away.
    let old = MockServer::builder()
        .variant("legacy")
        .rest()
        .start()
        .await
        .unwrap();
    let r = call(
        &old,
        "POST",
        "/emails",
        "not-a-key",
        Some(&email("a@acme.com")),
    )
    .await;
    assert_eq!(
        error(&r),
        (403, "invalid_api_key".into(), "API key is invalid.".into())
    );
    let r = call(&old, "POST", "/emails", KEY, Some(&email("a@acme.com"))).await;
    assert_eq!(r.header("ratelimit-limit"), Some("2"));

    // The daily quota over SMTP.
    let q = mock("daily-quota").await;
    let mut c = common::at_data(&q).await;
    c.write(b"Subject: x\r\n\r\nhi\r\n.\r\n").await;
    assert_eq!(
        c.wire_reply().await,
        "550 You have reached your daily email sending quota.\r\n"
    );
}

/// The inbox shows the account as the API left it: keys by fingerprint
/// (never the key), domains with their status.
#[tokio::test]
async fn the_inbox_shows_the_account_keys_by_fingerprint_and_domains() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .key(KEY)
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let base = s.rest_url().unwrap();
    let made = post(
        &s,
        "/api-keys",
        &json!({"name": "ci", "permission": "sending_access"}),
    )
    .await;
    let token = made.json()["token"].as_str().unwrap().to_string();
    let d = post(&s, "/domains", &json!({"name": "acme.io"}))
        .await
        .json();
    post(
        &s,
        &format!("/domains/{}/verify", d["id"].as_str().unwrap()),
        &json!({}),
    )
    .await;
    let a = http(&base, "GET", "/api/account", &[], None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        !a.body.contains(&token) && !a.body.contains(KEY),
        "{}",
        a.body
    );
    let v = a.json();
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{v}");
    assert_eq!(keys[0]["name"], "ci");
    assert_eq!(keys[0]["permission"], "sending_access");
    assert_eq!(keys[0]["origin"], "api");
    assert!(keys[0]["fingerprint"].as_str().unwrap().starts_with("re_…"));
    assert_eq!(keys[1]["origin"], "start");
    assert_eq!(v["domains"][0]["name"], "acme.io");
    assert_eq!(v["domains"][0]["status"], "verified");
    // The page has the panel that shows it.
    let page = http(&base, "GET", "/assets/app.js", &[], None).await;
    assert!(page.body.contains("/api/account"));
}
