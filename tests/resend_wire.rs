//! One test per row of shared/RESEND.md (issue #13): what the default
//! profile puts on the wire, byte for byte, on each listener. A row that is a
//! variant is tested under its variant. Test names follow the rows.

mod common;

use std::time::Duration;

use common::{KEY, Raw, plain_payload};
use mailtape::MockServer;

const GREETING: &str = "220 Resend SMTP Relay ESMTP\r\n";
const ACCEPTED: &str = "250 Accepted\r\n";

async fn mock(scenario: &str) -> MockServer {
    MockServer::builder()
        .scenario(scenario)
        .start()
        .await
        .expect("mock starts")
}

/// The sandbox scenario with its owner.
async fn sandbox() -> MockServer {
    MockServer::builder()
        .scenario("sandbox")
        .owner("you@yourcompany.com")
        .start()
        .await
        .expect("mock starts")
}

fn ehlo_lines(extra: &[&str]) -> String {
    let mut lines = vec![
        "Resend SMTP Relay Nice to meet you, [127.0.0.1]",
        "PIPELINING",
        "8BITMIME",
        "SMTPUTF8",
    ];
    lines.extend_from_slice(extra);
    let n = lines.len();
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("250{}{l}\r\n", if i + 1 == n { ' ' } else { '-' }))
        .collect()
}

/// A session on the plain listener, greeted.
async fn plain(s: &MockServer) -> Raw {
    let mut c = Raw::connect(s.plain_addr().expect("plain")).await;
    assert_eq!(c.wire_reply().await, GREETING);
    c
}

/// Plain listener, greeted, EHLO'd and authenticated as `resend`.
async fn authed_plain(s: &MockServer) -> Raw {
    let mut c = plain(s).await;
    c.wire("EHLO app.local").await;
    let auth = format!("AUTH PLAIN {}", plain_payload("resend", KEY));
    assert_eq!(c.wire(&auth).await, "235 Authentication successful\r\n");
    c
}

/// MAIL, RCPT (each `250 Accepted`) and DATA (354), then the body and the
/// final dot; returns the reply to the dot, exactly.
async fn message(c: &mut Raw, from: &str, to: &[&str], body: &str) -> String {
    assert_eq!(c.wire(&format!("MAIL FROM:<{from}>")).await, ACCEPTED);
    for t in to {
        assert_eq!(c.wire(&format!("RCPT TO:<{t}>")).await, ACCEPTED);
    }
    assert_eq!(
        c.wire("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    c.write(format!("From: <{from}>\r\n{body}\r\n.\r\n").as_bytes())
        .await;
    c.wire_reply().await
}

fn accepted_id(reply: &str) -> String {
    let id = reply
        .strip_prefix("250 OK ")
        .and_then(|r| r.strip_suffix("\r\n"))
        .unwrap_or_else(|| panic!("not an accepted reply: {reply:?}"));
    assert_eq!(id.len(), 36, "{reply:?}");
    id.to_string()
}

// ── Connection ──────────────────────────────────────────────────────────

#[tokio::test]
async fn greeting_is_the_same_on_every_listener() {
    let s = mock("default").await;
    let ca = s.ca_pem().expect("ca").to_string();
    let mut t = Raw::connect_tls(s.smtps_addr().unwrap(), &ca).await;
    assert_eq!(t.wire_reply().await, GREETING);
    let mut st = Raw::connect(s.starttls_addr().unwrap()).await;
    assert_eq!(st.wire_reply().await, GREETING);
    plain(&s).await;
}

#[tokio::test]
async fn ehlo_lines_on_each_listener_before_and_after_tls_and_auth() {
    let s = mock("default").await;
    let ca = s.ca_pem().expect("ca").to_string();
    // 465-style: already encrypted, so no STARTTLS.
    let mut t = Raw::connect_tls(s.smtps_addr().unwrap(), &ca).await;
    t.wire_reply().await;
    assert_eq!(
        t.wire("EHLO app.local").await,
        ehlo_lines(&["AUTH PLAIN LOGIN"])
    );
    // 587-style: STARTTLS after AUTH (the library's order), gone after the upgrade.
    let mut st = Raw::connect(s.starttls_addr().unwrap()).await;
    st.wire_reply().await;
    assert_eq!(
        st.wire("EHLO app.local").await,
        ehlo_lines(&["AUTH PLAIN LOGIN", "STARTTLS"])
    );
    assert_eq!(st.wire("STARTTLS").await, "220 Ready to start TLS\r\n");
    let mut st = st.upgrade(&ca).await;
    assert_eq!(
        st.wire("EHLO app.local").await,
        ehlo_lines(&["AUTH PLAIN LOGIN"])
    );
    // The plain listener (mailtape's own) offers no STARTTLS.
    let mut c = plain(&s).await;
    assert_eq!(
        c.wire("EHLO app.local").await,
        ehlo_lines(&["AUTH PLAIN LOGIN"])
    );
    // Once authenticated the library leaves AUTH out.
    let auth = format!("AUTH PLAIN {}", plain_payload("resend", KEY));
    c.wire(&auth).await;
    assert_eq!(c.wire("EHLO app.local").await, ehlo_lines(&[]));
    // HELO names the client the same way, alone.
    assert_eq!(
        c.wire("HELO app.local").await,
        "250 Resend SMTP Relay Nice to meet you, [127.0.0.1]\r\n"
    );
}

#[tokio::test]
async fn username_is_the_literal_resend_and_the_password_the_key() {
    let s = mock("default").await;
    let mut c = authed_plain(&s).await;
    assert_eq!(c.wire("QUIT").await, "221 Bye\r\n");
}

#[tokio::test]
async fn auth_mechanisms_are_plain_and_login_only() {
    let s = mock("default").await;
    let mut c = plain(&s).await;
    c.wire("EHLO app.local").await;
    assert_eq!(
        c.wire("AUTH CRAM-MD5").await,
        "504 Error: Unrecognized authentication type\r\n"
    );
    assert_eq!(c.wire("AUTH PLAIN").await, "334 \r\n");
    assert_eq!(
        c.wire(&plain_payload("resend", KEY)).await,
        "235 Authentication successful\r\n"
    );
    assert_eq!(
        c.wire("AUTH LOGIN").await,
        "503 Error: No identity changes permitted\r\n"
    );
}

#[tokio::test]
async fn auth_before_starttls_on_587_is_538() {
    let s = mock("default").await;
    let mut c = Raw::connect(s.starttls_addr().unwrap()).await;
    c.wire_reply().await;
    c.wire("EHLO app.local").await;
    let auth = format!("AUTH PLAIN {}", plain_payload("resend", KEY));
    assert_eq!(
        c.wire(&auth).await,
        "538 Error: Must issue a STARTTLS command first\r\n"
    );
}

#[tokio::test]
async fn auth_login_prompts_and_always_asks_for_the_password() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let s = mock("default").await;
    let mut c = plain(&s).await;
    c.wire("EHLO app.local").await;
    assert_eq!(c.wire("AUTH LOGIN").await, "334 VXNlcm5hbWU6\r\n");
    // A wrong user name still gets the password prompt; the verdict comes after.
    assert_eq!(c.wire(&b64("me@acme.com")).await, "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(c.wire(&b64(KEY)).await, "535 Invalid username\r\n");
    assert_eq!(c.wire("AUTH LOGIN").await, "334 VXNlcm5hbWU6\r\n");
    assert_eq!(c.wire(&b64("resend")).await, "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(c.wire(&b64(KEY)).await, "235 Authentication successful\r\n");
}

#[tokio::test]
async fn mail_rcpt_data_accepted_and_quit() {
    let s = mock("default").await;
    let mut c = authed_plain(&s).await;
    let r = message(
        &mut c,
        "a@acme.com",
        &["delivered@resend.dev"],
        "Subject: x\r\n\r\nhi",
    )
    .await;
    accepted_id(&r);
    assert_eq!(c.wire("QUIT").await, "221 Bye\r\n");
    assert!(c.closed().await);
}

#[tokio::test]
async fn after_a_550_at_the_final_dot_the_session_is_reset_and_stays_open() {
    let s = MockServer::builder()
        .verified_domain("yourcompany.com")
        .start()
        .await
        .unwrap();
    let mut c = authed_plain(&s).await;
    let r = message(
        &mut c,
        "a@acme.com",
        &["delivered@resend.dev"],
        "Subject: x\r\n\r\nhi",
    )
    .await;
    assert_eq!(
        r,
        "550 The acme.com domain is not verified. Please, add and verify your domain on https://resend.com/domains\r\n"
    );
    // Reset: no transaction is left open...
    assert_eq!(
        c.wire("RCPT TO:<delivered@resend.dev>").await,
        "503 Error: need MAIL command\r\n"
    );
    assert_eq!(c.wire("DATA").await, "503 Error: need RCPT command\r\n");
    // ...the login holds, and the next message goes through on the same connection.
    let r = message(
        &mut c,
        "a@yourcompany.com",
        &["delivered@resend.dev"],
        "Subject: x\r\n\r\nhi",
    )
    .await;
    accepted_id(&r);
}

#[tokio::test]
async fn library_defaults_for_out_of_order_and_unknown_commands() {
    let s = mock("default").await;
    let mut c = plain(&s).await;
    assert_eq!(
        c.wire("MAIL FROM:<a@acme.com>").await,
        "503 Error: send HELO/EHLO first\r\n"
    );
    assert_eq!(
        c.wire("XYZZY").await,
        "500 Error: command not recognized\r\n"
    );
    c.wire("EHLO app.local").await;
    assert_eq!(
        c.wire("MAIL FROM:<a@acme.com>").await,
        "530 Error: authentication Required\r\n"
    );
    assert_eq!(c.wire("NOOP").await, "250 OK\r\n");
    assert_eq!(c.wire("RSET").await, "250 Flushed\r\n");
    let mut c = authed_plain(&s).await;
    assert_eq!(c.wire("DATA").await, "503 Error: need RCPT command\r\n");
    assert_eq!(c.wire("MAIL FROM:<a@acme.com>").await, ACCEPTED);
    assert_eq!(
        c.wire("MAIL FROM:<a@acme.com>").await,
        "503 Error: nested MAIL command\r\n"
    );
    assert_eq!(c.wire("DATA").await, "503 Error: need RCPT command\r\n");
}

#[tokio::test]
async fn idle_timeout_is_421_timeout_closing_connection() {
    let s = MockServer::builder()
        .idle_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let mut c = plain(&s).await;
    assert_eq!(c.wire_reply().await, "421 Timeout - closing connection\r\n");
    assert!(c.closed().await);
}

#[tokio::test]
async fn ten_commands_before_auth_get_421_too_many_unauthenticated() {
    let s = mock("default").await;
    let mut c = plain(&s).await;
    c.wire("EHLO app.local").await;
    for _ in 0..8 {
        assert_eq!(c.wire("NOOP").await, "250 OK\r\n");
    }
    assert_eq!(
        c.wire("NOOP").await,
        "421 Error: too many unauthenticated commands\r\n"
    );
    assert!(c.closed().await);
}

#[tokio::test]
async fn ten_unknown_commands_get_421_too_many_unrecognized() {
    let s = mock("default").await;
    let mut c = authed_plain(&s).await;
    for _ in 0..9 {
        assert_eq!(
            c.wire("XYZZY").await,
            "500 Error: command not recognized\r\n"
        );
    }
    assert_eq!(
        c.wire("XYZZY").await,
        "421 Error: too many unrecognized commands\r\n"
    );
    assert!(c.closed().await);
}

#[tokio::test]
async fn message_size_is_552_with_the_fixed_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "[limits]\nmessage_size = 100\n").unwrap();
    let s = MockServer::builder()
        .profile_file(&profile)
        .start()
        .await
        .unwrap();
    let mut c = authed_plain(&s).await;
    assert_eq!(
        c.wire("MAIL FROM:<a@acme.com> SIZE=101").await,
        "552 Error: message exceeds fixed maximum message size 100\r\n"
    );
    let body = format!("Subject: x\r\n\r\n{}", "x".repeat(200));
    assert_eq!(
        message(&mut c, "a@acme.com", &["delivered@resend.dev"], &body).await,
        "552 Error: message exceeds fixed maximum message size 100\r\n"
    );
}

// ── Failures ────────────────────────────────────────────────────────────

#[tokio::test]
async fn a_user_name_other_than_resend_is_535_invalid_username() {
    let s = mock("default").await;
    let mut c = plain(&s).await;
    c.wire("EHLO app.local").await;
    for user in ["me@acme.com", "Resend", "RESEND"] {
        let auth = format!("AUTH PLAIN {}", plain_payload(user, KEY));
        assert_eq!(c.wire(&auth).await, "535 Invalid username\r\n", "{user}");
    }
}

#[tokio::test]
async fn a_wrong_revoked_or_malformed_key_is_535_credentials_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("a.toml");
    std::fs::write(
        &account,
        format!(
            "[[keys]]\nkey = \"{KEY}\"\n[[keys]]\nkey = \"re_Revoked_0000aaaa\"\nrevoked = true\n"
        ),
    )
    .unwrap();
    let s = MockServer::builder()
        .account_file(&account)
        .start()
        .await
        .unwrap();
    let mut c = plain(&s).await;
    c.wire("EHLO app.local").await;
    for key in ["re_Revoked_0000aaaa", "re_Unknown_1111bbbb", "not-a-key"] {
        let auth = format!("AUTH PLAIN {}", plain_payload("resend", key));
        assert_eq!(
            c.wire(&auth).await,
            "535 Authentication credentials invalid\r\n",
            "{key}"
        );
    }
}

#[tokio::test]
async fn brief_variant_says_535_authentication_failed_for_both() {
    let s = MockServer::builder()
        .variant("brief")
        .start()
        .await
        .unwrap();
    let mut c = plain(&s).await;
    c.wire("EHLO app.local").await;
    for (user, key) in [("me@acme.com", KEY), ("resend", "not-a-key")] {
        let auth = format!("AUTH PLAIN {}", plain_payload(user, key));
        assert_eq!(c.wire(&auth).await, "535 Authentication failed\r\n");
    }
}

#[tokio::test]
async fn an_empty_or_malformed_mail_from_is_550_invalid_from_at_mail() {
    let s = mock("default").await;
    let mut c = authed_plain(&s).await;
    let invalid = "550 Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.\r\n";
    assert_eq!(c.wire("MAIL FROM:<>").await, invalid);
    assert_eq!(c.wire("MAIL FROM:<not-an-address>").await, invalid);
    assert_eq!(c.wire("MAIL FROM:<a@acme.com").await, invalid);
    assert_eq!(c.wire("MAIL FROM:<a@acme.com>").await, ACCEPTED);
}

#[tokio::test]
async fn unverified_domain_after_data_and_its_brief_form() {
    let s = mock("unverified-domain").await;
    let mut c = authed_plain(&s).await;
    assert_eq!(
        message(&mut c, "a@acme.com", &["delivered@resend.dev"], "\r\nhi").await,
        "550 The acme.com domain is not verified. Please, add and verify your domain on https://resend.com/domains\r\n"
    );
    let s = MockServer::builder()
        .scenario("unverified-domain")
        .variant("brief")
        .start()
        .await
        .unwrap();
    let mut c = authed_plain(&s).await;
    assert_eq!(
        message(&mut c, "a@acme.com", &["delivered@resend.dev"], "\r\nhi").await,
        "550 Sender address not verified\r\n"
    );
}

#[tokio::test]
async fn sandbox_refuses_strangers_after_data_and_takes_test_addresses() {
    let s = sandbox().await;
    let mut c = authed_plain(&s).await;
    assert_eq!(
        message(&mut c, "a@resend.dev", &["friend@gmail.com"], "\r\nhi").await,
        "550 You can only send testing emails to your own email address (you@yourcompany.com). To send emails to other recipients, please verify a domain at resend.com/domains\r\n"
    );
    for to in [
        "you@yourcompany.com",
        "delivered@resend.dev",
        "bounced+signup@resend.dev",
        "complained+x@resend.dev",
    ] {
        let r = message(&mut c, "a@resend.dev", &[to], "\r\nhi").await;
        accepted_id(&r);
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    // An address at resend.dev that is not a test address is a stranger.
    let r = message(&mut c, "a@resend.dev", &["someone@resend.dev"], "\r\nhi").await;
    assert!(r.starts_with("550 You can only send testing emails"), "{r}");
    assert_eq!(c.wire("QUIT").await, "221 Bye\r\n");
    s.wait_for_sessions(1, Duration::from_secs(5)).await;
    let tape = s.transcripts()[0].to_tape();
    for line in [
        "delivered@resend.dev: Resend test address: Resend would report it delivered (event email.delivered)",
        "bounced+signup@resend.dev: Resend test address: Resend would report a hard bounce (event email.bounced)",
        "complained+x@resend.dev: Resend test address: Resend would deliver it, then report a spam complaint (event email.complained)",
    ] {
        assert!(tape.contains(line), "{line}\n{tape}");
    }
}

#[tokio::test]
async fn reserved_test_domains_after_data() {
    let s = mock("default").await;
    let mut c = authed_plain(&s).await;
    assert_eq!(
        message(&mut c, "a@acme.com", &["someone@example.com"], "\r\nhi").await,
        "550 Invalid `to` field. Please use our testing email address instead of domains like `example.com`.\r\n"
    );
}

#[tokio::test]
async fn too_fast_is_550_after_data_across_keys_and_421_in_the_brief() {
    // One counter per team: two keys, three messages in a second (an older
    // team's 2 a second: --variant legacy).
    let s = MockServer::builder()
        .variant("legacy")
        .start()
        .await
        .unwrap();
    let mut a = authed_plain(&s).await;
    let mut b = plain(&s).await;
    b.wire("EHLO app.local").await;
    let auth = format!(
        "AUTH PLAIN {}",
        plain_payload("resend", "re_Second_key_9999")
    );
    assert_eq!(b.wire(&auth).await, "235 Authentication successful\r\n");
    accepted_id(&message(&mut a, "a@acme.com", &["delivered@resend.dev"], "\r\n1").await);
    accepted_id(&message(&mut b, "a@acme.com", &["delivered@resend.dev"], "\r\n2").await);
    assert_eq!(
        message(&mut a, "a@acme.com", &["delivered@resend.dev"], "\r\n3").await,
        "550 Too many requests. You can only make 2 requests per second.\r\n"
    );
    // A permanent refusal: the connection stays open.
    assert_eq!(a.wire("NOOP").await, "250 OK\r\n");
    let s = MockServer::builder()
        .scenario("rate-limited")
        .variant("brief")
        .start()
        .await
        .unwrap();
    let mut c = authed_plain(&s).await;
    assert_eq!(
        message(&mut c, "a@acme.com", &["delivered@resend.dev"], "\r\nhi").await,
        "421 Too many requests. You can only make 5 requests per second. Please retry after a brief pause.\r\n"
    );
    assert!(c.closed().await);
}

#[tokio::test]
async fn a_key_the_api_refuses_after_auth_is_550_api_key_is_invalid() {
    let s = mock("key-invalid-after-auth").await;
    let mut c = authed_plain(&s).await;
    assert_eq!(
        message(&mut c, "a@acme.com", &["delivered@resend.dev"], "\r\nhi").await,
        "550 API key is invalid\r\n"
    );
}

#[tokio::test]
async fn a_key_limited_to_one_domain_sending_from_another() {
    let s = mock("restricted-key").await;
    let mut c = authed_plain(&s).await;
    assert_eq!(
        message(&mut c, "a@acme.com", &["delivered@resend.dev"], "\r\nhi").await,
        "550 This API key is not authorized to send emails from acme.com\r\n"
    );
    accepted_id(
        &message(
            &mut c,
            "a@yourcompany.com",
            &["delivered@resend.dev"],
            "\r\nhi",
        )
        .await,
    );
}

#[tokio::test]
async fn a_key_limited_to_a_domain_that_is_not_verified() {
    let s = mock("restricted-key-unverified").await;
    let mut c = authed_plain(&s).await;
    for from in ["a@newbrand.io", "a@yourcompany.com"] {
        assert_eq!(
            message(&mut c, from, &["delivered@resend.dev"], "\r\nhi").await,
            "550 The associated domain with your API key is not verified. Please, create a new API key with full access or with a verified domain.\r\n"
        );
    }
}

#[tokio::test]
async fn keys_in_the_account_file_carry_their_domain() {
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("a.toml");
    std::fs::write(
        &account,
        format!(
            "verified_domains = [\"yourcompany.com\"]\n[[keys]]\nkey = \"{KEY}\"\npermission = \"sending_access\"\ndomain = \"yourcompany.com\"\n"
        ),
    )
    .unwrap();
    let s = MockServer::builder()
        .account_file(&account)
        .start()
        .await
        .unwrap();
    let mut c = authed_plain(&s).await;
    assert_eq!(
        message(&mut c, "a@other.io", &["delivered@resend.dev"], "\r\nhi").await,
        "550 This API key is not authorized to send emails from other.io\r\n"
    );
}

#[tokio::test]
async fn order_of_checks_auth_then_sender_at_mail_then_the_rest_at_the_dot() {
    let s = sandbox().await;
    let mut c = plain(&s).await;
    c.wire("EHLO app.local").await;
    // AUTH first: a wrong user name is judged before anything about the sender.
    let auth = format!("AUTH PLAIN {}", plain_payload("me@acme.com", KEY));
    assert_eq!(c.wire(&auth).await, "535 Invalid username\r\n");
    let mut c = authed_plain(&s).await;
    // A malformed sender at MAIL.
    assert!(
        c.wire("MAIL FROM:<>")
            .await
            .starts_with("550 Invalid `from`")
    );
    // Sandbox and domain only at the final dot: MAIL and RCPT get 250 first.
    let r = message(&mut c, "a@acme.com", &["friend@gmail.com"], "\r\nhi").await;
    assert!(
        r.starts_with("550 The acme.com domain is not verified"),
        "{r}"
    );
}

#[tokio::test]
async fn daily_and_monthly_quota_exhausted() {
    for (scenario, text) in [
        (
            "daily-quota",
            "550 You have reached your daily email sending quota.\r\n",
        ),
        (
            "monthly-quota",
            "550 You have reached your monthly email sending quota.\r\n",
        ),
    ] {
        let s = mock(scenario).await;
        let mut c = authed_plain(&s).await;
        assert_eq!(
            message(&mut c, "a@acme.com", &["delivered@resend.dev"], "\r\nhi").await,
            text
        );
    }
}

// ── Limits ──────────────────────────────────────────────────────────────

#[tokio::test]
async fn the_free_tier_counts_every_recipient_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "[limits]\nper_day = 3\nper_second = 0\n").unwrap();
    let s = MockServer::builder()
        .profile_file(&profile)
        .start()
        .await
        .unwrap();
    let mut c = authed_plain(&s).await;
    let two = ["delivered@resend.dev", "delivered+b@resend.dev"];
    accepted_id(&message(&mut c, "a@acme.com", &two, "\r\nhi").await);
    assert_eq!(
        message(&mut c, "a@acme.com", &two, "\r\nhi").await,
        "550 You have reached your daily email sending quota.\r\n"
    );
    accepted_id(&message(&mut c, "a@acme.com", &two[..1], "\r\nhi").await);
}

#[tokio::test]
async fn fifty_recipients_per_email() {
    let s = mock("unlimited").await;
    let mut c = authed_plain(&s).await;
    let to: Vec<String> = (0..51)
        .map(|i| format!("delivered+{i}@resend.dev"))
        .collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    assert_eq!(
        message(&mut c, "a@acme.com", &to, "\r\nhi").await,
        "550 Too many recipients. You can only send to 50 recipients per email.\r\n"
    );
    accepted_id(&message(&mut c, "a@acme.com", &to[..50], "\r\nhi").await);
}

#[tokio::test]
async fn idempotency_key_same_message_same_id_stored_once_different_message_refused() {
    let s = mock("unlimited").await;
    let mut c = authed_plain(&s).await;
    let body = "Resend-Idempotency-Key: welcome/42\r\nSubject: Welcome\r\n\r\nhi";
    let first = accepted_id(&message(&mut c, "a@acme.com", &["delivered@resend.dev"], body).await);
    let again = accepted_id(&message(&mut c, "a@acme.com", &["delivered@resend.dev"], body).await);
    assert_eq!(first, again);
    let other = "Resend-Idempotency-Key: welcome/42\r\nSubject: Welcome\r\n\r\nchanged";
    assert_eq!(
        message(&mut c, "a@acme.com", &["delivered@resend.dev"], other).await,
        "550 Same idempotency key used with a different request payload. Change your idempotency key or payload.\r\n"
    );
    let too_long = format!("Resend-Idempotency-Key: {}\r\n\r\nhi", "k".repeat(257));
    assert_eq!(
        message(&mut c, "a@acme.com", &["delivered@resend.dev"], &too_long).await,
        "550 The idempotency key must be between 1 and 256 characters.\r\n"
    );
    assert_eq!(c.wire("QUIT").await, "221 Bye\r\n");
    s.wait_for_sessions(1, Duration::from_secs(5)).await;
    assert_eq!(s.messages().len(), 1, "stored once");
    assert!(s.transcripts()[0].to_tape().contains(&format!(
        "idempotent retry: Resend-Idempotency-Key already sent email {first}"
    )),);
}

#[tokio::test]
async fn custom_headers_pass_through() {
    let s = mock("default").await;
    let mut c = authed_plain(&s).await;
    let body = "X-Entity-Ref-ID: order-7\r\nList-Unsubscribe: <https://acme.com/u>\r\nSubject: x\r\n\r\nhi";
    accepted_id(&message(&mut c, "a@acme.com", &["delivered@resend.dev"], body).await);
    c.wire("QUIT").await;
    s.wait_for_sessions(1, Duration::from_secs(5)).await;
    let data = String::from_utf8_lossy(&s.messages()[0].data).to_string();
    assert!(data.contains("X-Entity-Ref-ID: order-7\r\n"), "{data}");
    assert!(
        data.contains("List-Unsubscribe: <https://acme.com/u>\r\n"),
        "{data}"
    );
}
