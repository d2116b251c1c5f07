//! `mailtape check` (issue 5) against `mailtape mock` in each scenario and
//! TLS mode: the verdict, the explanation and the exit status.

mod common;

use common::cli::leaks;
use mailtape::MockServer;

const KEY: &str = "re_Check123_asdfGHJK";

struct Out {
    code: i32,
    json: serde_json::Value,
    stderr: String,
}

/// Runs `mailtape check ARGS --json` off the test's runtime (the mock it
/// talks to runs on that runtime).
async fn check<S: AsRef<str>>(env_key: Option<&'static str>, args: &[S]) -> Out {
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
    tokio::task::spawn_blocking(move || check_blocking(env_key, &args))
        .await
        .unwrap()
}

fn check_blocking(env_key: Option<&str>, args: &[String]) -> Out {
    let mut cmd = common::cli::bin();
    cmd.arg("check")
        .args(args)
        .arg("--json")
        .arg("--timeout")
        .arg("2")
        .env("NO_COLOR", "1");
    match env_key {
        Some(k) => cmd.env("RESEND_API_KEY", k),
        None => cmd.env_remove("RESEND_API_KEY"),
    };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(leaks(stdout.as_bytes(), KEY).is_empty() && leaks(&out.stderr, KEY).is_empty());
    Out {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `--host 127.0.0.1 --port P --tls MODE --ca-file CA` for each listener.
fn modes(s: &MockServer) -> Vec<Vec<String>> {
    let ca = s.ca_path().unwrap().display().to_string();
    [
        (s.smtps_addr(), "implicit"),
        (s.starttls_addr(), "starttls"),
        (s.plain_addr(), "none"),
    ]
    .into_iter()
    .map(|(a, tls)| {
        let a = a.unwrap();
        [
            "--host",
            "127.0.0.1",
            "--port",
            &a.port().to_string(),
            "--tls",
            tls,
            "--ca-file",
            &ca,
        ]
        .map(String::from)
        .to_vec()
    })
    .collect()
}

fn step<'a>(o: &'a Out, name: &str) -> &'a serde_json::Value {
    o.json["verdict"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap()
}

/// Runs each mode with `extra` and checks the exit status and the failing
/// step's explanation.
async fn expect(scenario: &str, extra: &[&str], code: i32, failed: Option<(&str, &str, &str)>) {
    let s = MockServer::builder()
        .scenario(scenario)
        .start()
        .await
        .unwrap();
    for mut args in modes(&s) {
        args.extend(extra.iter().map(|a| a.to_string()));
        let o = check(Some(KEY), &args).await;
        assert_eq!(o.code, code, "{scenario} {args:?}: {}", o.json);
        assert_eq!(o.json["verdict"]["exit"], code);
        if let Some((name, detail, explain)) = failed {
            let st = step(&o, name);
            assert_eq!(st["status"], "failed", "{}", o.json);
            assert!(st["detail"].as_str().unwrap().starts_with(detail), "{st}");
            assert!(
                st["explain"].as_str().unwrap_or("").contains(explain),
                "{st}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_in_every_mode() {
    expect("unlimited", &[], 0, None).await;
    let s = MockServer::builder()
        .scenario("unlimited")
        .start()
        .await
        .unwrap();
    let mut args = modes(&s)[1].clone();
    args.extend(["--no-send", "--auth", "login"].map(String::from));
    let o = check(Some(KEY), &args).await;
    assert_eq!(o.code, 0);
    assert_eq!(step(&o, "authentication")["status"], "passed");
    assert_eq!(step(&o, "message")["status"], "skipped");
    let tls = &o.json["verdict"]["tls"];
    assert_eq!(tls["version"], "TLSv1.3");
    assert_eq!(tls["subject"], "CN=mailtape local SMTP server");
    assert!(tls["not_after"].as_str().unwrap().starts_with("20"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_by_class() {
    expect(
        "default",
        &["--user", "me@acme.com"],
        12,
        Some((
            "authentication",
            "535 Invalid username",
            "literal lowercase `resend`",
        )),
    )
    .await;
    expect(
        "invalid-key",
        &[],
        12,
        Some((
            "authentication",
            "535 Authentication credentials invalid",
            "re_ then at least 8 of A-Z a-z 0-9 _",
        )),
    )
    .await;
    expect(
        "unlimited",
        &["--from", "billing"],
        13,
        Some((
            "sender",
            "550 Invalid `from` field",
            "Name <email@example.com>",
        )),
    )
    .await;
    expect(
        "unverified-domain",
        &["--from", "billing@acme.com"],
        14,
        Some((
            "message",
            "550 The acme.com domain is not verified",
            "SPF and DKIM",
        )),
    )
    .await;
    expect(
        "sandbox",
        &["--to", "someone@gmail.com"],
        14,
        Some(("message", "550 You can only send testing emails", "sandbox")),
    )
    .await;
    expect(
        "daily-quota",
        &[],
        14,
        Some((
            "message",
            "550 You have reached your daily",
            "100 emails a day",
        )),
    )
    .await;
    expect(
        "rate-limited",
        &[],
        14,
        // #13: refused for good at the final dot, as real sessions are.
        Some(("message", "550 Too many requests", "rate limited")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_and_tls_failures() {
    let s = MockServer::builder()
        .scenario("silent")
        .start()
        .await
        .unwrap();
    let port = s.plain_addr().unwrap().port().to_string();
    let o = check(
        Some(KEY),
        &["--host", "127.0.0.1", "--port", &port, "--tls", "none"],
    )
    .await;
    assert_eq!(o.code, 10);
    assert!(
        step(&o, "connection")["explain"]
            .as_str()
            .unwrap()
            .starts_with("no greeting")
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let o = check(Some(KEY), &["--host", "127.0.0.1", "--port", &closed]).await;
    assert_eq!(o.code, 10);
    assert!(
        step(&o, "connection")["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be reached")
    );

    let s = MockServer::builder().start().await.unwrap();
    // the CA is not trusted without --ca-file
    let port = s.smtps_addr().unwrap().port().to_string();
    let o = check(
        Some(KEY),
        &["--host", "127.0.0.1", "--port", &port, "--tls", "implicit"],
    )
    .await;
    assert_eq!(o.code, 11);
    assert!(
        step(&o, "TLS")["detail"]
            .as_str()
            .unwrap()
            .contains("invalid peer certificate: UnknownIssuer"),
        "{}",
        o.json
    );
    // implicit TLS on a STARTTLS port, STARTTLS on an implicit-TLS port
    let ca = s.ca_path().unwrap().display().to_string();
    let (sp, ip) = (
        s.starttls_addr().unwrap().port().to_string(),
        s.smtps_addr().unwrap().port().to_string(),
    );
    let o = check(
        Some(KEY),
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &sp,
            "--tls",
            "implicit",
            "--ca-file",
            &ca,
        ],
    )
    .await;
    assert_eq!(o.code, 11);
    assert!(
        step(&o, "TLS")["explain"]
            .as_str()
            .unwrap()
            .contains("use --tls starttls"),
        "{}",
        o.json
    );
    let o = check(
        Some(KEY),
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &ip,
            "--tls",
            "starttls",
            "--ca-file",
            &ca,
        ],
    )
    .await;
    assert_eq!(o.code, 10);
    assert!(
        step(&o, "connection")["explain"]
            .as_str()
            .unwrap()
            .contains("use --tls implicit"),
        "{}",
        o.json
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_argument_is_warned_about_and_never_shown() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .start()
        .await
        .unwrap();
    let mut args = modes(&s)[0].clone();
    args.extend(["--key", KEY].map(String::from));
    let o = check(None, &args).await;
    assert_eq!(o.code, 0);
    assert!(
        o.stderr
            .contains("warning: a key given as an argument lands in your shell history"),
        "{}",
        o.stderr
    );
    // with no key at all and no terminal, stdin is read; empty is a clear error
    let out = common::cli::bin()
        .args(["check", "--host", "127.0.0.1"])
        .env_remove("RESEND_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key: set RESEND_API_KEY"));
}

#[test]
fn mistakes_visible_before_connecting() {
    use mailtape::UpstreamTls;
    use mailtape::tools::check::{AuthChoice, CheckOptions, warnings};
    let base = CheckOptions {
        host: "smtp.resend.com".into(),
        port: 465,
        tls: Some(UpstreamTls::Implicit),
        user: "resend".into(),
        key: "re_12345678".into(),
        from: "a@b.c".into(),
        to: "d@e.f".into(),
        ca_file: None,
        auth: AuthChoice::Auto,
        send: true,
        timeout: std::time::Duration::from_secs(1),
    };
    assert!(warnings(&base).is_empty());
    let w = warnings(&CheckOptions {
        user: "Resend".into(),
        key: "hunter2".into(),
        port: 25,
        ..base.clone()
    });
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        warnings(&CheckOptions {
            port: 587,
            ..base.clone()
        })[0]
            .contains("expects STARTTLS")
    );
    assert!(
        warnings(&CheckOptions {
            tls: Some(UpstreamTls::Starttls),
            ..base
        })[0]
            .contains("expects implicit TLS")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_the_profile_only_guesses_is_named_as_such() {
    // #13: check says where the built-in profile's text for a reply is a guess.
    let s = MockServer::builder()
        .scenario("unlimited")
        .start()
        .await
        .unwrap();
    let args = modes(&s)[2].clone();
    let out = tokio::task::spawn_blocking(move || {
        common::cli::bin()
            .arg("check")
            .args(&args)
            .env("RESEND_API_KEY", KEY)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("250 after DATA: text not confirmed from a real session (profile reply `accepted`, source guess)"),
        "{text}"
    );
    // Seen and library replies are not flagged.
    assert_eq!(text.matches("not confirmed").count(), 1, "{text}");
}
