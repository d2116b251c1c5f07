//! The README's "Wait for the mail" examples run as written (issue 26):
//! the curl block (it sends its own mail), the Python and Node snippets
//! (the test sends the mail their comment stands for, once they wait), and
//! the `mailtape wait` line, against `mailtape mock` with the README's
//! ports swapped for free ones. Each must print what the README says. A
//! tool that is not installed (curl and jq, python3 with requests, node)
//! skips its part with a line saying so; CI has them all.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{BIN, Running, Smtp, plain};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const HEADING: &str = "### Wait for the mail, then take its code or link\n";
const MAIL: &str = "From: login@acme.com\r\nTo: bob@acme.com\r\nSubject: Your sign-in code\r\n\r\nYour verification code is 482913.\r\nOr open https://app.acme.com/login?token=t1\r\n";

/// The fenced blocks of the section: (language, body).
fn section_blocks() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README");
    let start = readme.find(HEADING).expect("the README's wait section");
    let rest = &readme[start + HEADING.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    let mut out = Vec::new();
    let mut lines = rest[..end].lines();
    while let Some(l) = lines.next() {
        if let Some(lang) = l.strip_prefix("```")
            && !lang.is_empty()
        {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            out.push((lang.to_string(), body.join("\n") + "\n"));
        }
    }
    out
}

fn has(cmd: &str, args: &[&str]) -> bool {
    let ok = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("{cmd} {args:?} failed: that part of the README's wait section was not run");
    }
    ok
}

/// The mail the snippets' comment stands for, sent as the app would.
fn send(plain_addr: &str) {
    let mut c = Smtp::connect(plain_addr);
    assert!(c.reply().starts_with("220"));
    assert!(c.cmd("EHLO app.local").starts_with("250"));
    let auth = c.cmd(&format!(
        "AUTH PLAIN {}",
        plain("resend", "re_123456789_abcdefghijkl")
    ));
    assert!(auth.starts_with("235"), "{auth}");
    assert!(c.cmd("MAIL FROM:<login@acme.com>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<bob@acme.com>").starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    c.write_raw(MAIL.as_bytes());
    let done = c.cmd(".");
    assert!(done.starts_with("250"), "{done}");
    c.cmd("QUIT");
}

/// Runs a snippet that waits, sends the mail once it waits, and returns
/// what it printed.
fn run_waiting(mut cmd: Command, ui: &str, plain_addr: &str) -> String {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the snippet");
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("curl")
            .args(["-s", &format!("http://{ui}/api/cursor")])
            .output()
            .expect("curl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if v["waiters"].as_u64() >= Some(1) {
            break;
        }
        assert!(Instant::now() < until, "the snippet never waited");
        std::thread::sleep(Duration::from_millis(20));
    }
    send(plain_addr);
    let out = child.wait_with_output().expect("the snippet ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_readme_wait_examples_run_as_written() {
    if !has("curl", &["--version"]) || !has("jq", &["--version"]) {
        return;
    }
    let blocks = section_blocks();
    let block = |lang: &str, nth: usize| -> String {
        blocks
            .iter()
            .filter(|(l, _)| l == lang)
            .nth(nth)
            .unwrap_or_else(|| panic!("no {lang} block #{nth} in the wait section"))
            .1
            .clone()
    };
    let dir = tempfile::tempdir().expect("tmp");
    let args: Vec<String> = [
        "mock",
        "--ui",
        "127.0.0.1:0",
        "--plain",
        "127.0.0.1:0",
        "--smtps",
        "off",
        "--starttls",
        "off",
        "--certs",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.path().join("certs").display().to_string()])
    .collect();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir.path());
    let mut mock = Running::start_with(&args, cmd);
    mock.err_until(|l| l.trim_start().starts_with("login"));
    let row = |name: &str| -> String {
        mock.stderr
            .iter()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(name))
                    .then(|| w.next().map(str::to_string))
                    .flatten()
            })
            .unwrap_or_else(|| panic!("no {name} row in the banner: {:?}", mock.stderr))
    };
    let ui = row("inbox")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let plain_addr = row("plain");
    let ports = |code: &str| {
        code.replace("127.0.0.1:8025", &ui)
            .replace("127.0.0.1:2525", &plain_addr)
    };
    let expected = block("text", 0);

    // curl: it sends its own mail.
    let out = Command::new("sh")
        .arg("-c")
        .arg(ports(&block("sh", 0)))
        .current_dir(dir.path())
        .output()
        .expect("sh");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        expected,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let one_line = expected.trim().replace('\n', " ") + "\n";

    // Python with requests.
    if has("python3", &["-c", "import requests"]) {
        let mut py = Command::new("python3");
        py.args(["-c", &ports(&block("python", 0))]);
        assert_eq!(run_waiting(py, &ui, &plain_addr), one_line, "python");
    }
    // Node with fetch.
    if has("node", &["-e", "fetch"]) {
        let mut node = Command::new("node");
        node.args(["--input-type=module", "-e", &ports(&block("js", 0))]);
        assert_eq!(run_waiting(node, &ui, &plain_addr), one_line, "node");
    }
    // The shell line: the newest kept match at once.
    let line = block("sh", 1);
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], "mailtape");
    let out = Command::new(BIN)
        .args(&words[1..])
        .args(["--ui", &ui])
        .output()
        .expect("mailtape wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "https://app.acme.com/login?token=t1\n"
    );
    let (code, _, err) = mock.term();
    assert_eq!(code, 0, "{err}");
}
