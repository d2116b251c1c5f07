//! Every scenario in every TLS mode, with lettre as the client (issue 2):
//! exact codes and texts, and normalised transcripts snapshotted.

mod common;

use std::time::{Duration, Instant};

use common::{KEY, MODES, Mode, send, wait};
use lettre::transport::smtp::authentication::Mechanism;
use mailtape::MockServer;

const SANDBOX_TEXT: &str = "You can only send testing emails to your own email address (you@yourcompany.com). To send emails to other recipients, please verify a domain at resend.com/domains";

async fn server(scenario: &str) -> MockServer {
    MockServer::builder()
        .scenario(scenario)
        .start()
        .await
        .expect("mock starts")
}

/// The transcripts of a server, normalised, in session order.
fn snapshot_all(server: &MockServer) -> String {
    let mut ts = server.transcripts();
    ts.sort_by_key(|t| t.meta.id);
    ts.iter()
        .map(|t| {
            format!(
                "── session {} ({})\n{}",
                t.meta.id,
                t.meta.listener,
                t.snapshot()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sends one message per mode (AUTH PLAIN on implicit TLS and plain, LOGIN
/// on STARTTLS) and returns the three outcomes.
async fn each_mode(
    server: &MockServer,
    user: &str,
    from: &str,
    to: &[&str],
) -> Vec<Result<String, String>> {
    let mut out = Vec::new();
    for mode in MODES {
        let mech = if mode == Mode::Starttls {
            Mechanism::Login
        } else {
            Mechanism::Plain
        };
        out.push(send(server, mode, mech, user, from, to).await);
    }
    wait(server, 3).await;
    out
}

fn accepted(r: &Result<String, String>) -> bool {
    r.as_ref()
        .is_ok_and(|t| t.starts_with("250 OK ") && t.len() == "250 OK ".len() + 36)
}

#[tokio::test]
async fn default_accepts_in_every_mode_with_plain_and_login() {
    let s = server("unlimited").await;
    for mode in MODES {
        for mech in [Mechanism::Plain, Mechanism::Login] {
            let r = send(
                &s,
                mode,
                mech,
                "resend",
                "Acme <billing@acme.com>",
                &["delivered@resend.dev"],
            )
            .await;
            assert!(accepted(&r), "{mode:?} {mech:?}: {r:?}");
        }
    }
    wait(&s, 6).await;
    let msgs = s.messages();
    assert_eq!(msgs.len(), 6);
    assert_eq!(msgs[0].from, "billing@acme.com");
    assert_eq!(msgs[0].to, vec!["delivered@resend.dev"]);
    assert!(String::from_utf8_lossy(&msgs[0].data).contains("Subject: Hello from mailtape tests"));
    // every 250 after DATA carries the id the message was stored under
    for t in s.transcripts() {
        let last_250 = t
            .events
            .iter()
            .rev()
            .find_map(|e| e.kind.text().strip_prefix("250 OK ").map(str::to_string));
        assert!(
            msgs.iter().any(|m| Some(&m.id) == last_250.as_ref()),
            "{}",
            t.to_tape()
        );
    }
    let mut ts = s.transcripts();
    ts.sort_by_key(|t| t.meta.id);
    let picked: Vec<_> = ts
        .iter()
        .step_by(2)
        .map(|t| format!("── {}\n{}", t.meta.listener, t.snapshot()))
        .collect();
    insta::assert_snapshot!("default_plain_auth_each_mode", picked.join("\n"));
    let login = ts
        .iter()
        .find(|t| t.meta.listener == "starttls" && t.client_lines().contains(&"AUTH LOGIN"))
        .unwrap();
    insta::assert_snapshot!("default_login_starttls", login.snapshot());
}

#[tokio::test]
async fn wrong_username_is_535_invalid_username() {
    let s = server("default").await;
    for r in each_mode(
        &s,
        "billing@acme.com",
        "billing@acme.com",
        &["delivered@resend.dev"],
    )
    .await
    {
        assert_eq!(r.unwrap_err(), "permanent error (535): Invalid username");
    }
    insta::assert_snapshot!(snapshot_all(&s));
}

#[tokio::test]
async fn invalid_key_is_535_credentials_invalid() {
    let s = server("invalid-key").await;
    for r in each_mode(&s, "resend", "billing@acme.com", &["delivered@resend.dev"]).await {
        assert_eq!(
            r.unwrap_err(),
            "permanent error (535): Authentication credentials invalid"
        );
    }
    insta::assert_snapshot!(snapshot_all(&s));
}

#[tokio::test]
async fn brief_variant_says_authentication_failed() {
    let s = MockServer::builder()
        .variant("brief")
        .start()
        .await
        .unwrap();
    let r = send(
        &s,
        Mode::Smtps,
        Mechanism::Plain,
        "Resend",
        "a@acme.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert_eq!(
        r.unwrap_err(),
        "permanent error (535): Authentication failed"
    );
    let s = MockServer::builder()
        .variant("brief")
        .scenario("unverified-domain")
        .start()
        .await
        .unwrap();
    let r = send(
        &s,
        Mode::Smtps,
        Mechanism::Plain,
        "resend",
        "a@acme.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert_eq!(
        r.unwrap_err(),
        "permanent error (550): Sender address not verified"
    );
}

#[tokio::test]
async fn sandbox_only_the_owner_receives() {
    let s = server("sandbox").await;
    for r in each_mode(
        &s,
        "resend",
        "onboarding@resend.dev",
        &["someone@gmail.com"],
    )
    .await
    {
        assert_eq!(
            r.unwrap_err(),
            format!("permanent error (550): {SANDBOX_TEXT}")
        );
    }
    insta::assert_snapshot!(snapshot_all(&s));
    let ok = send(
        &s,
        Mode::Smtps,
        Mechanism::Plain,
        "resend",
        "onboarding@resend.dev",
        &["you@yourcompany.com"],
    )
    .await;
    assert!(accepted(&ok), "{ok:?}");
    // the owner flag replaces the scenario's owner
    let s = MockServer::builder()
        .scenario("sandbox")
        .owner("me@corp.io")
        .start()
        .await
        .unwrap();
    let r = send(
        &s,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "onboarding@resend.dev",
        &["x@corp.io"],
    )
    .await;
    assert!(
        r.unwrap_err()
            .contains("your own email address (me@corp.io)")
    );
}

#[tokio::test]
async fn unverified_domain_names_the_domain() {
    let s = server("unverified-domain").await;
    for r in each_mode(&s, "resend", "billing@acme.com", &["delivered@resend.dev"]).await {
        assert_eq!(
            r.unwrap_err(),
            "permanent error (550): The acme.com domain is not verified. Please, add and verify your domain on https://resend.com/domains"
        );
    }
    insta::assert_snapshot!(snapshot_all(&s));
    // a verified domain flag lets that domain through
    let s = MockServer::builder()
        .verified_domain("acme.com")
        .start()
        .await
        .unwrap();
    assert!(accepted(
        &send(
            &s,
            Mode::Plain,
            Mechanism::Plain,
            "resend",
            "a@acme.com",
            &["delivered@resend.dev"]
        )
        .await
    ));
    let r = send(
        &s,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "a@other.io",
        &["delivered@resend.dev"],
    )
    .await;
    assert!(
        r.unwrap_err()
            .contains("The other.io domain is not verified")
    );
}

#[tokio::test]
async fn reserved_test_domains_are_refused() {
    let s = server("default").await;
    let r = send(
        &s,
        Mode::Smtps,
        Mechanism::Plain,
        "resend",
        "a@acme.com",
        &["user@example.com"],
    )
    .await;
    assert_eq!(
        r.unwrap_err(),
        "permanent error (550): Invalid `to` field. Please use our testing email address instead of domains like `example.com`."
    );
}

#[tokio::test]
async fn restricted_key_sends_only_from_its_domain() {
    let s = server("restricted-key").await;
    for r in each_mode(&s, "resend", "billing@acme.com", &["delivered@resend.dev"]).await {
        assert_eq!(
            r.unwrap_err(),
            "permanent error (550): This API key is not authorized to send emails from acme.com"
        );
    }
    insta::assert_snapshot!(snapshot_all(&s));
    let ok = send(
        &s,
        Mode::Smtps,
        Mechanism::Plain,
        "resend",
        "a@yourcompany.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert!(accepted(&ok), "{ok:?}");
}

#[tokio::test]
async fn rate_limited_is_550_by_default_and_421_on_the_brief_variant() {
    // #13: real sessions get a permanent 550 at the final dot; the brief's 421 is a variant.
    let s = server("rate-limited").await;
    for r in each_mode(&s, "resend", "a@acme.com", &["delivered@resend.dev"]).await {
        assert_eq!(
            r.unwrap_err(),
            "permanent error (550): Too many requests. You can only make 5 requests per second."
        );
    }
    insta::assert_snapshot!(snapshot_all(&s));
    let s = MockServer::builder()
        .scenario("rate-limited")
        .variant("brief")
        .start()
        .await
        .unwrap();
    let r = send(
        &s,
        Mode::Smtps,
        Mechanism::Plain,
        "resend",
        "a@acme.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert_eq!(
        r.unwrap_err(),
        "transient error (421): Too many requests. You can only make 5 requests per second. Please retry after a brief pause."
    );
}

#[tokio::test]
async fn default_limits_five_messages_per_second_and_legacy_two() {
    // Resend's default since late 2026 (issue 24); older teams: 2.
    let s = server("default").await;
    let t = common::transport(&s, Mode::Plain, "resend", KEY, Mechanism::Plain);
    let mut outcomes = Vec::new();
    for _ in 0..6 {
        let m = common::message("a@acme.com", &["delivered@resend.dev"]);
        outcomes.push(
            lettre::AsyncTransport::send(&t, m)
                .await
                .map(|r| r.code().to_string())
                .map_err(|e| e.to_string()),
        );
    }
    assert!(outcomes[..5].iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(
        outcomes[5].as_ref().unwrap_err(),
        "permanent error (550): Too many requests. You can only make 5 requests per second.",
        "{outcomes:?}"
    );
    let old = MockServer::builder()
        .variant("legacy")
        .start()
        .await
        .unwrap();
    let t = common::transport(&old, Mode::Plain, "resend", KEY, Mechanism::Plain);
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let m = common::message("a@acme.com", &["delivered@resend.dev"]);
        outcomes.push(
            lettre::AsyncTransport::send(&t, m)
                .await
                .map(|r| r.code().to_string())
                .map_err(|e| e.to_string()),
        );
    }
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
    assert_eq!(
        outcomes[2].as_ref().unwrap_err(),
        "permanent error (550): Too many requests. You can only make 2 requests per second.",
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn quotas_exhausted() {
    let s = server("daily-quota").await;
    for r in each_mode(&s, "resend", "a@acme.com", &["delivered@resend.dev"]).await {
        assert_eq!(
            r.unwrap_err(),
            "permanent error (550): You have reached your daily email sending quota."
        );
    }
    insta::assert_snapshot!(snapshot_all(&s));
    let s = server("monthly-quota").await;
    for r in each_mode(&s, "resend", "a@acme.com", &["delivered@resend.dev"]).await {
        assert_eq!(
            r.unwrap_err(),
            "permanent error (550): You have reached your monthly email sending quota."
        );
    }
}

#[tokio::test]
async fn too_many_recipients_after_data() {
    let s = server("unlimited").await;
    let many: Vec<String> = (0..51)
        .map(|i| format!("delivered+{i}@resend.dev"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let r = send(
        &s,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "a@acme.com",
        &refs,
    )
    .await;
    assert_eq!(
        r.unwrap_err(),
        "permanent error (550): Too many recipients. You can only send to 50 recipients per email."
    );
    let ok = send(
        &s,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "a@acme.com",
        &refs[..50],
    )
    .await;
    assert!(accepted(&ok), "{ok:?}");
}

#[tokio::test]
async fn temporary_failure_then_success_on_retry() {
    for mode in MODES {
        let s = server("temporary-failure").await;
        let first = send(
            &s,
            mode,
            Mechanism::Plain,
            "resend",
            "a@acme.com",
            &["delivered@resend.dev"],
        )
        .await;
        assert_eq!(
            first.unwrap_err(),
            "transient error (421): Resend SMTP Relay Temporary failure, please try again later",
            "{mode:?}"
        );
        let retry = send(
            &s,
            mode,
            Mechanism::Login,
            "resend",
            "a@acme.com",
            &["delivered@resend.dev"],
        )
        .await;
        assert!(accepted(&retry), "{mode:?}: {retry:?}");
        wait(&s, 2).await;
        if mode == Mode::Smtps {
            insta::assert_snapshot!(snapshot_all(&s));
        }
    }
}

#[tokio::test]
async fn slow_delays_every_reply_in_every_mode() {
    let s = server("slow").await;
    let start = Instant::now();
    let (a, b, c) = tokio::join!(
        send(
            &s,
            Mode::Smtps,
            Mechanism::Plain,
            "resend",
            "a@acme.com",
            &["delivered@resend.dev"]
        ),
        send(
            &s,
            Mode::Starttls,
            Mechanism::Login,
            "resend",
            "a@acme.com",
            &["delivered@resend.dev"]
        ),
        send(
            &s,
            Mode::Plain,
            Mechanism::Plain,
            "resend",
            "a@acme.com",
            &["delivered@resend.dev"]
        ),
    );
    for r in [a, b, c] {
        assert!(accepted(&r), "{r:?}");
    }
    // greeting, EHLO, AUTH, MAIL, RCPT, DATA, the final dot: at least 7 delays of 500 ms
    assert!(
        start.elapsed() >= Duration::from_millis(3500),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn silent_never_greets_and_the_client_times_out() {
    let s = MockServer::builder()
        .scenario("silent")
        .idle_timeout(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    for addr in [s.plain_addr().unwrap(), s.starttls_addr().unwrap()] {
        let mut c = common::Raw::connect(addr).await;
        // what a client's connection timeout sees: no greeting
        assert!(c.try_reply(Duration::from_millis(800)).await.is_none());
        c.send("EHLO app.local").await;
        assert!(c.try_reply(Duration::from_millis(300)).await.is_none());
        // at the idle timeout the server hangs up, still without a word
        assert!(c.closed().await);
    }
    wait(&s, 2).await;
    for t in s.transcripts() {
        assert!(t.reply_codes().is_empty(), "{}", t.to_tape());
        assert!(t.to_tape().contains("*: idle timeout"), "{}", t.to_tape());
    }
}

#[tokio::test]
async fn drop_after_data_closes_without_a_reply() {
    let s = server("drop-after-data").await;
    for r in each_mode(&s, "resend", "a@acme.com", &["delivered@resend.dev"]).await {
        let err = r.unwrap_err();
        assert!(
            err.contains("incomplete response") || err.contains("network error"),
            "{err}"
        );
    }
    insta::assert_snapshot!(snapshot_all(&s));
    assert!(s.messages().is_empty());
}

#[tokio::test]
async fn auth_before_starttls_is_538_and_mail_without_auth_is_530() {
    let s = server("default").await;
    let addr = s.starttls_addr().unwrap();
    let t = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(addr.port())
        .tls(lettre::transport::smtp::client::Tls::None)
        .credentials(lettre::transport::smtp::authentication::Credentials::new(
            "resend".into(),
            KEY.into(),
        ))
        .authentication(vec![Mechanism::Plain])
        .build();
    let err =
        lettre::AsyncTransport::send(&t, common::message("a@acme.com", &["delivered@resend.dev"]))
            .await
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "permanent error (538): Error: Must issue a STARTTLS command first"
    );
    let t = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(s.plain_addr().unwrap().port())
        .tls(lettre::transport::smtp::client::Tls::None)
        .build();
    let err =
        lettre::AsyncTransport::send(&t, common::message("a@acme.com", &["delivered@resend.dev"]))
            .await
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "permanent error (530): Error: authentication Required"
    );
}

#[tokio::test]
async fn ipv6_loopback_works() {
    let any6 = Some("[::1]:0".parse().unwrap());
    let s = MockServer::builder()
        .addrs(mailtape::Addrs {
            smtps: any6,
            starttls: any6,
            plain: any6,
        })
        .start()
        .await;
    let Ok(s) = s else {
        eprintln!("no IPv6 loopback on this machine: {:?}", s.err());
        return;
    };
    assert!(s.smtps_addr().unwrap().is_ipv6());
    for mode in MODES {
        let r = send(
            &s,
            mode,
            Mechanism::Plain,
            "resend",
            "a@acme.com",
            &["delivered@resend.dev"],
        )
        .await;
        assert!(
            accepted(&r)
                || r.as_ref()
                    .is_err_and(|e| e.contains("550): Too many requests")),
            "{mode:?}: {r:?}"
        );
    }
}

/// Explanations key off the reply's name, never its text: a profile that
/// rewords `unverified_domain` still gets the unverified-domain explanation,
/// in the events the sink hands its subscribers (what the live view shows).
#[tokio::test]
async fn an_explanation_survives_a_reworded_reply() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.toml");
    std::fs::write(
        &profile,
        "[replies]\nunverified_domain = { code = 550, text = \"Domain {domain}: add it first\", source = \"guess\" }\n",
    )
    .unwrap();
    let s = MockServer::builder()
        .scenario("unverified-domain")
        .profile_file(&profile)
        .start()
        .await
        .unwrap();
    let mut events = s.sink().subscribe(1000);
    let r = send(
        &s,
        Mode::Plain,
        Mechanism::Plain,
        "resend",
        "billing@acme.com",
        &["delivered@resend.dev"],
    )
    .await;
    assert_eq!(
        r.unwrap_err(),
        "permanent error (550): Domain acme.com: add it first"
    );
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    let mut said = Vec::new();
    while let Some(e) = events.try_recv() {
        if let mailtape::SinkEvent::Explained { said: x, .. } = &*e {
            said.push(x.text);
        }
    }
    assert!(
        said.iter()
            .any(|t| t.contains("the From domain is not verified")),
        "{said:?}"
    );
}
