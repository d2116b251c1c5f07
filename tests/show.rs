//! `mailtape show` (issue 5): every shipped tape rendered with its
//! explanations, snapshotted; folders, stdin, JSON, one session.

mod common;

use std::io::Write;
use std::process::Stdio;

use mailtape::tools::show::{ShowOptions, render};
use mailtape::{BUILTIN_TAPES, load_tape};

#[test]
fn every_shipped_tape_shown_with_its_explanations() {
    for (name, _) in BUILTIN_TAPES {
        let (label, tape) = load_tape(&format!("builtin:{name}")).unwrap();
        let text = render(&label, &tape, &ShowOptions::default());
        insta::assert_snapshot!(format!("show_{name}"), text);
    }
}

fn show(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = common::cli::bin()
        .arg("show")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn folders_stdin_json_and_one_session() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sandbox", "wrong-key"] {
        let text = BUILTIN_TAPES.iter().find(|(n, _)| *n == name).unwrap().1;
        std::fs::write(dir.path().join(format!("{name}.tape")), text).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a tape").unwrap();
    let (code, out, _) = show(&[dir.path().to_str().unwrap()], None);
    assert_eq!(code, 0);
    assert!(
        out.contains("sandbox.tape · session 1") && out.contains("wrong-key.tape · session 1"),
        "{out}"
    );
    assert!(
        out.contains(
            "↳ the password must be a Resend API key, re_ then at least 8 of A-Z a-z 0-9 _"
        ),
        "{out}"
    );
    assert!(out.contains("✓ credentials accepted"), "{out}");
    assert!(!out.contains('\x1b'), "plain with NO_COLOR");

    let text = BUILTIN_TAPES
        .iter()
        .find(|(n, _)| *n == "success-login")
        .unwrap()
        .1;
    let (code, out, _) = show(&["-"], Some(text));
    assert_eq!(code, 0);
    assert!(
        out.contains("✓ message accepted: the relay took the email for delivery"),
        "{out}"
    );

    let (code, out, _) = show(&["builtin:unverified-domain", "--json"], None);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let explained: Vec<&serde_json::Value> = v["sessions"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("explain").is_some())
        .collect();
    assert_eq!(explained.last().unwrap()["explain"]["ok"], false);
    assert!(
        explained.last().unwrap()["explain"]["text"]
            .as_str()
            .unwrap()
            .contains("SPF and DKIM")
    );

    let (code, out, _) = show(&["builtin:sandbox", "--no-explain", "--session", "1"], None);
    assert_eq!(code, 0);
    assert!(!out.contains('↳'));
    let (code, _, err) = show(&["builtin:sandbox", "--session", "7"], None);
    assert_eq!(
        (code, err.trim()),
        (1, "mailtape: no session 7 in builtin:sandbox")
    );
    let (code, _, err) = show(&["-"], Some("# mailtape tape v1\n## session 1\nQ: ?\n"));
    assert_eq!(code, 1);
    assert!(err.starts_with("mailtape: -:3: expected `C: `"), "{err}");
}
