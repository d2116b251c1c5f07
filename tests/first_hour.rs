//! The first hour of a new user (issue 15): what the banner promises about
//! keys and what a refused key is told, where messages go (stdout JSON
//! only with `--json`), exit statuses, `check` finding the TLS mode itself,
//! `bench` failing loudly, `replay --loop` counting, `--help` examples.

mod common;

use std::process::Command;

use common::cli::{BIN, Running, Smtp, ephemeral, leaks, parses, plain};
use common::{Raw, plain_payload};
use mailtape::MockServer;

const KEY: &str = "re_First1234_hourABCD";

/// AUTH PLAIN with `key` on a fresh session; the reply and the session's transcript.
async fn auth_with(s: &MockServer, key: &str) -> (String, String) {
    let before = s.transcripts().len();
    let mut c = common::ehloed(s).await;
    let reply = c
        .cmd(&format!("AUTH PLAIN {}", plain_payload("resend", key)))
        .await;
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
    assert!(
        s.wait_for_sessions(before + 1, std::time::Duration::from_secs(5))
            .await
    );
    let t = s.transcripts().pop().unwrap().snapshot();
    (reply, t)
}

#[tokio::test]
async fn a_malformed_key_is_refused_as_resend_does_and_the_note_says_what_is_wrong() {
    let s = MockServer::builder().start().await.unwrap();
    for (key, why) in [
        (
            "re_test",
            "*: the key is refused: 4 characters after re_, a key has at least 8 (re_ then at least 8 of A-Z a-z 0-9 _)",
        ),
        (
            "re_123",
            "*: the key is refused: 3 characters after re_, a key has at least 8 (re_ then at least 8 of A-Z a-z 0-9 _)",
        ),
        (
            "re_abc-defgh-ijk",
            "*: the key is refused: it holds `-`, which a key never does (re_ then at least 8 of A-Z a-z 0-9 _)",
        ),
        (
            "re_abc defgh",
            "*: the key is refused: it holds ` ` (a space), which a key never does (re_ then at least 8 of A-Z a-z 0-9 _)",
        ),
        (
            "hunter2hunter2",
            "*: the key is refused: it does not start with re_ (re_ then at least 8 of A-Z a-z 0-9 _)",
        ),
    ] {
        let (reply, t) = auth_with(&s, key).await;
        assert_eq!(reply, "535 Authentication credentials invalid", "{key}");
        assert!(t.contains(why), "{key}: {t}");
        assert!(!t.contains(key), "the key itself is never written: {t}");
    }
    // the smallest well-formed key is accepted, and no note is added
    let (reply, t) = auth_with(&s, "re_12345678").await;
    assert_eq!(reply, "235 Authentication successful");
    assert!(!t.contains("refused"), "{t}");
}

#[test]
fn the_explanation_of_a_refused_key_states_the_rule_not_just_the_prefix() {
    use mailtape::resend::explain::{User, explain};
    let said = explain(
        535,
        "Authentication credentials invalid",
        User::Resend,
        false,
    )
    .unwrap()
    .text;
    assert!(!said.contains("it starts with re_"), "{said}");
    assert!(
        said.contains("re_ then at least 8 of A-Z a-z 0-9 _"),
        "{said}"
    );
}

#[test]
fn the_banner_and_help_state_the_key_rule() {
    let dir = tempfile::tempdir().unwrap();
    let args = ephemeral("mock", dir.path());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut m = Running::start(&argv);
    let login = m.err_until(|l| l.trim_start().starts_with("login"));
    assert_eq!(
        login.trim(),
        "login     user `resend`, password re_ then at least 8 of A-Z a-z 0-9 _ (re_12345678 will do) · Ctrl-C stops"
    );
    let (code, _, _) = m.term();
    assert_eq!(code, 0);
    let help = Command::new(BIN).args(["mock", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("re_ then at least 8 of A-Z a-z 0-9 _"),
        "{help}"
    );
}

/// With `--json`, every line on stdout is JSON from the ready line to the
/// exit; what mailtape says to people (the stopping line) is on stderr.
#[test]
fn with_json_stdout_is_json_only_and_the_stopping_line_is_on_stderr() {
    for mode in ["mock", "replay"] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = ephemeral(mode, dir.path());
        if mode == "replay" {
            args.push("builtin:wrong-key".into());
        }
        args.push("--json".into());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut m = Running::start(&argv);
        let ready: serde_json::Value = serde_json::from_str(&m.line()).unwrap();
        let addr = ready["plain"].as_str().unwrap().to_string();
        let mut c = Smtp::connect(&addr);
        assert!(c.reply().starts_with("220 "));
        assert!(c.cmd("EHLO app.local").starts_with("250-"));
        c.cmd(&format!("AUTH PLAIN {}", plain("resend", KEY)));
        assert_eq!(c.cmd("QUIT"), "221 Bye");
        m.until(|l| l.contains("\"type\":\"end\""));
        let (code, stdout, stderr) = m.term();
        assert_eq!(code, 0, "{mode}: {stderr}");
        for l in &stdout {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("{mode}: not JSON on stdout: {l:?}: {e}"));
        }
        assert!(
            stderr.contains("mailtape: stopping; open sessions get 421\n"),
            "{mode}: {stderr}"
        );
        assert!(leaks(stderr.as_bytes(), KEY).is_empty());
    }
}

/// Argument errors are clap's (status 2, `error:` and a usage line); every
/// other error is one line `mailtape: …` with status 1.
#[test]
fn usage_errors_exit_2_and_runtime_errors_are_one_line_with_status_1() {
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("RESEND_API_KEY")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, err) = run(&["mock", "--no-such-flag"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: unexpected argument '--no-such-flag' found"),
        "{err}"
    );
    assert!(err.contains("Usage: mailtape mock [OPTIONS]"), "{err}");
    let (code, err) = run(&["check", "--port", "lots"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: invalid value 'lots' for '--port <PORT>'"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs").display().to_string();
    for (args, line) in [
        (
            vec![
                "mock",
                "--plain",
                "127.0.0.1:0",
                "--smtps",
                "off",
                "--starttls",
                "off",
                "--certs",
                &certs,
                "--scenario",
                "sandbx",
            ],
            "mailtape: unknown scenario \"sandbx\"; known: default, unlimited, sandbox, unverified-domain, invalid-key, restricted-key, restricted-key-unverified, key-invalid-after-auth, rate-limited, daily-quota, monthly-quota, temporary-failure, slow, silent, drop-after-data, domains-verify-slowly, domains-never-verify, delivery-delayed\n",
        ),
        (
            vec!["show", "no-such.tape"],
            "mailtape: cannot read the tape no-such.tape: No such file or directory (os error 2)\n",
        ),
        (
            vec!["check", "--host", "127.0.0.1"],
            "mailtape: no key: set RESEND_API_KEY, or type it at the prompt\n",
        ),
    ] {
        let (code, err) = run(&args);
        assert_eq!((code, err.as_str()), (1, line), "{args:?}");
    }
}

/// `--host 127.0.0.1 --port P` (no `--tls`) for each of the mock's listeners.
fn at(port: u16) -> Vec<String> {
    ["--host", "127.0.0.1", "--port", &port.to_string()]
        .map(String::from)
        .to_vec()
}

fn check(args: &[String]) -> (i32, serde_json::Value) {
    let out = Command::new(BIN)
        .arg("check")
        .args(args)
        .arg("--json")
        .args(if args.iter().any(|a| a == "--timeout") {
            &[][..]
        } else {
            &["--timeout", "5"][..]
        })
        .env("RESEND_API_KEY", KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(leaks(stdout.as_bytes(), KEY).is_empty() && leaks(&out.stderr, KEY).is_empty());
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}")),
    )
}

fn step<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["verdict"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap()
}

#[test]
fn check_finds_the_tls_mode_of_each_listener_by_itself() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .start_blocking()
        .unwrap();
    let ca = s.ca_path().unwrap().display().to_string();
    for (addr, mode) in [
        (s.smtps_addr(), "implicit TLS"),
        (s.starttls_addr(), "STARTTLS"),
        (s.plain_addr(), "no TLS"),
    ] {
        let mut args = at(addr.unwrap().port());
        args.extend(["--ca-file".into(), ca.clone()]);
        let started = std::time::Instant::now();
        let (code, v) = check(&args);
        assert_eq!(code, 0, "{mode}: {v}");
        assert_eq!(v["tls_mode"], mode, "{v}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(4),
            "{mode}: detection must not wait for a timeout"
        );
        if mode == "no TLS" {
            assert_eq!(step(&v, "TLS")["status"], "skipped", "{v}");
            assert!(
                v["warnings"][0]
                    .as_str()
                    .unwrap()
                    .contains("offers no TLS: the key crosses the network in the clear"),
                "{v}"
            );
        } else {
            assert_eq!(step(&v, "TLS")["status"], "passed", "{v}");
        }
    }
}

#[test]
fn check_hints_name_the_real_fix() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .start_blocking()
        .unwrap();
    let ca = s.ca_path().unwrap().display().to_string();
    let (smtps, starttls) = (
        s.smtps_addr().unwrap().port(),
        s.starttls_addr().unwrap().port(),
    );
    // the CA is not trusted: found by itself or told, the fix is --ca-file
    for tls in [None, Some("implicit")] {
        let mut args = at(smtps);
        if let Some(t) = tls {
            args.extend(["--tls".into(), t.into()]);
        }
        let (code, v) = check(&args);
        assert_eq!(code, 11, "{v}");
        let st = step(&v, "TLS");
        assert!(
            st["detail"]
                .as_str()
                .unwrap()
                .contains("invalid peer certificate: UnknownIssuer"),
            "{st}"
        );
        let explain = st["explain"].as_str().unwrap();
        assert!(
            explain.contains("--ca-file certs/ca.pem"),
            "{tls:?}: {explain}"
        );
        assert!(!explain.contains("--tls"), "no mode mix-up here: {explain}");
    }
    // implicit TLS asked of the STARTTLS port: the server spoke plain SMTP
    let mut args = at(starttls);
    args.extend(["--tls", "implicit", "--ca-file", &ca].map(String::from));
    let (code, v) = check(&args);
    assert_eq!(code, 11, "{v}");
    let explain = step(&v, "TLS")["explain"].as_str().unwrap().to_string();
    assert!(
        explain.contains("the server spoke plain SMTP first") && explain.contains("--tls starttls"),
        "{explain}"
    );
    // STARTTLS asked of the implicit-TLS port: silent, and a TLS handshake
    // there works, so that is the cause
    let mut args = at(smtps);
    args.extend(["--tls", "starttls", "--ca-file", &ca, "--timeout", "1"].map(String::from));
    let (code, v) = check(&args);
    assert_eq!(code, 10, "{v}");
    let explain = step(&v, "connection")["explain"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        explain.contains("this port speaks implicit TLS") && explain.contains("--tls implicit"),
        "{explain}"
    );
    drop(s);
}

#[test]
fn check_names_what_is_wrong_with_a_malformed_key() {
    let s = MockServer::builder().start_blocking().unwrap();
    let out = Command::new(BIN)
        .arg("check")
        .args(at(s.plain_addr().unwrap().port()))
        .args(["--no-send", "--json", "--tls", "none"])
        .env("RESEND_API_KEY", "re_abc-defgh-ijk")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(12), "{v}");
    let st = step(&v, "authentication");
    assert_eq!(st["detail"], "535 Authentication credentials invalid");
    assert_eq!(
        st["explain"],
        "the key is not shaped like a Resend API key: it holds `-`, which a key never does (re_ then at least 8 of A-Z a-z 0-9 _); copy it again from resend.com/api-keys"
    );
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("the key is not shaped like a Resend API key: it holds `-`"),
        "{v}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("re_abc-defgh-ijk"));
}

fn bench(port: u16, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["bench", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--connections", "4", "--messages", "12"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn bench_fails_when_messages_fail_and_names_the_mock_rate_limit() {
    const HINT: &str =
        "the mock's default account allows 5 a second: start it with --scenario unlimited";
    for variant in ["default", "brief"] {
        let s = MockServer::builder()
            .variant(variant)
            .start_blocking()
            .unwrap();
        let (code, stdout, stderr) = bench(s.plain_addr().unwrap().port(), &[]);
        assert_eq!(code, 1, "{variant}: {stdout}{stderr}");
        assert!(stdout.contains(" errors"), "{stdout}");
        assert!(stderr.contains(HINT), "{variant}: {stderr}");
        assert!(
            stderr.starts_with("mailtape: bench: ") && stderr.contains(" of 12 messages failed"),
            "{stderr}"
        );
        // the JSON report is still the only thing on stdout
        let (code, stdout, stderr) = bench(s.plain_addr().unwrap().port(), &["--json"]);
        assert_eq!(code, 1);
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert!(report["errors"].as_u64().unwrap() > 0, "{report}");
        assert!(stderr.contains(HINT), "{stderr}");
    }
    let s = MockServer::builder()
        .scenario("unlimited")
        .start_blocking()
        .unwrap();
    let (code, stdout, stderr) = bench(s.plain_addr().unwrap().port(), &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("12 messages in "), "{stdout}");
    assert!(!stderr.contains(HINT));
    // refused for another reason: fails, without the rate-limit hint
    let s = MockServer::builder()
        .scenario("invalid-key")
        .start_blocking()
        .unwrap();
    let (code, _, stderr) = bench(s.plain_addr().unwrap().port(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains(HINT), "{stderr}");
}

#[tokio::test]
async fn replay_loop_counts_every_session_played() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = ephemeral("replay", dir.path());
    args.extend(["builtin:wrong-key", "--loop", "--json"].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut m = Running::start(&argv);
    let ready: serde_json::Value = serde_json::from_str(&m.line()).unwrap();
    let addr = ready["plain"].as_str().unwrap().parse().unwrap();
    for n in 1..=3 {
        let mut c = Raw::connect(addr).await;
        assert_eq!(c.reply().await.code, 220);
        assert!(c.cmd("EHLO app.local").await.contains("AUTH PLAIN LOGIN"));
        assert_eq!(
            c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
                .await,
            "535 Authentication credentials invalid"
        );
        drop(c);
        m.until(|l| l.contains("\"type\":\"end\"") && l.contains(&format!("\"session\":{n}")));
    }
    let (code, _, stderr) = m.term();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("mailtape: replay: 3 sessions played, looping over the tape's 1 session\n"),
        "{stderr}"
    );
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    for sub in [
        "mock", "record", "replay", "show", "check", "bench", "profile",
    ] {
        let out = Command::new(BIN).args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        let tail: Vec<&str> = help
            .trim_end()
            .lines()
            .rev()
            .take_while(|l| !l.starts_with("Examples:"))
            .collect();
        let examples: Vec<&&str> = tail
            .iter()
            .filter(|l| l.starts_with(&format!("  mailtape {sub}")))
            .collect();
        assert!(
            help.contains("\nExamples:\n") && (2..=3).contains(&examples.len()),
            "{sub} --help:\n{help}"
        );
        // every example parses: its flags exist and its values are accepted
        // (with --help last, clap checks the line and stops there)
        for example in examples {
            let args = example.trim_start().trim_start_matches("mailtape");
            if let Err(e) = parses(args) {
                panic!("{example}: {e}");
            }
        }
    }
}
