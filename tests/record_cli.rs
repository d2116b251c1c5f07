//! `mailtape record` as users run it: every AUTH form with a known key goes
//! to the upstream intact, and no byte mailtape writes (stdout, stderr with
//! trace logs, the tape) holds the key or its base64 (issue 3).

mod common;

use std::time::Duration;

use base64::Engine;
use common::cli::{Running, Smtp, ephemeral, leaks, plain};
use mailtape::MockServer;

const KEY: &str = "re_Record42_qwertyUIOP0987";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_auth_form_reaches_upstream_and_no_key_is_written() {
    // the upstream accepts only this key, so a 235 proves the key went through intact
    let upstream = MockServer::builder()
        .scenario("unlimited")
        .key(KEY)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("recorded.tape");
    let mut args = ephemeral("record", dir.path());
    for a in [
        "--json",
        "--upstream",
        &upstream.smtps_addr().unwrap().to_string(),
        "--upstream-tls",
        "implicit",
        "--upstream-ca",
        &upstream.ca_path().unwrap().display().to_string(),
        "--tape",
        &tape.display().to_string(),
    ] {
        args.push(a.to_string());
    }
    let mut cmd = common::cli::bin();
    cmd.env("MAILTAPE_LOG", "trace");
    let mut m = Running::start_with(&args, cmd);
    let ready: serde_json::Value =
        tokio::task::block_in_place(|| serde_json::from_str(&m.line())).unwrap();
    let plain_addr = ready["plain"].as_str().unwrap().to_string();

    let forms: Vec<Vec<(String, &str)>> = vec![
        vec![(format!("AUTH PLAIN {}", plain("resend", KEY)), "235")],
        vec![("AUTH PLAIN".into(), "334"), (plain("resend", KEY), "235")],
        vec![(
            format!("AUTH PLAIN {}", b64(&format!("resend\0resend\0{KEY}"))),
            "235",
        )],
        vec![
            ("AUTH LOGIN".into(), "334"),
            (b64("resend"), "334"),
            (b64(KEY), "235"),
        ],
        vec![
            (format!("AUTH LOGIN {}", b64("resend")), "334"),
            (b64(KEY), "235"),
        ],
        // a key pasted as the user name, and a wrong one: refused, still redacted
        vec![
            ("AUTH LOGIN".into(), "334"),
            (b64(KEY), "334"),
            (b64(KEY), "535"),
        ],
    ];
    let n = forms.len();
    let addr = plain_addr.clone();
    tokio::task::spawn_blocking(move || {
        for steps in forms {
            let mut c = Smtp::connect(&addr);
            assert!(c.reply().starts_with("220 "));
            assert!(c.cmd("EHLO app.local").starts_with("250-"));
            for (line, code) in &steps {
                let r = c.cmd(line);
                assert!(r.starts_with(code), "{line}: {r}");
            }
            if steps.last().is_some_and(|(_, code)| *code == "235") {
                assert_eq!(c.cmd("MAIL FROM:<a@acme.com>"), "250 Accepted");
                assert_eq!(c.cmd("RCPT TO:<delivered@resend.dev>"), "250 Accepted");
                assert!(c.cmd("DATA").starts_with("354"));
                let r = c.cmd(&format!(
                    "Subject: key {KEY}\r\n\r\nthe key is {KEY}\r\n{}\r\n.",
                    b64(KEY)
                ));
                assert!(r.starts_with("250 OK "), "{r}");
            }
            assert_eq!(c.cmd("QUIT"), "221 Bye");
        }
    })
    .await
    .unwrap();
    assert!(upstream.wait_for_sessions(n, Duration::from_secs(10)).await);
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        m.until(|l| l.contains("\"type\":\"end\"") && l.contains(&format!("\"session\":{n}")));
        m.term()
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stderr}");

    let text = std::fs::read_to_string(&tape).unwrap();
    let parsed = mailtape::tape::Tape::parse(&text, "recorded.tape").unwrap();
    assert_eq!(parsed.sessions.len(), n);
    assert!(
        text.contains("AUTH PLAIN <redacted user=resend key=re_…"),
        "{text}"
    );
    for (what, bytes) in [
        ("stdout", stdout.join("\n").into_bytes()),
        ("stderr", stderr.into_bytes()),
        ("tape", text.into_bytes()),
    ] {
        assert!(
            leaks(&bytes, KEY).is_empty(),
            "{what} leaks {:?}",
            leaks(&bytes, KEY)
        );
    }
    // the upstream did get the real key and the real body
    assert!(
        upstream
            .messages()
            .iter()
            .all(|m| String::from_utf8_lossy(&m.data).contains("the key is re_…"))
    );
}
