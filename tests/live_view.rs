//! The live view never slows SMTP: a stdout nobody reads costs only the lines
//! it missed (and says how many once read again), and a reader that keeps up
//! gets every line of every session, in order.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::cli::{Smtp, plain, wait_exit};

const FLAGS: &[&str] = &[
    "mock",
    "--ui",
    "off",
    "--json",
    "--scenario",
    "unlimited",
    "--smtps",
    "off",
    "--starttls",
    "off",
    "--plain",
    "127.0.0.1:0",
];

/// The two tests run one at a time: each loads both cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts the mock; returns it, its stdout (only the ready line read) and
/// the plain listener's address.
fn start(
    extra: &[&str],
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    String,
) {
    let mut child = common::cli::bin()
        .args(FLAGS)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mailtape");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    out.read_line(&mut ready).expect("the ready line");
    let v: serde_json::Value = serde_json::from_str(&ready).expect("the ready line is JSON");
    let addr = v["plain"].as_str().expect("plain address").to_string();
    (child, out, addr)
}

/// One whole session with a message; returns how long it took.
fn session(addr: &str, n: usize) -> Duration {
    let t = Instant::now();
    let mut s = Smtp::connect(addr);
    assert!(s.reply().starts_with("220 "));
    assert!(s.cmd("EHLO stalled.test").starts_with("250"));
    let auth = s.cmd(&format!(
        "AUTH PLAIN {}",
        plain("resend", "re_live_view_0123456789")
    ));
    assert!(auth.starts_with("235 "), "{auth}");
    assert!(s.cmd("MAIL FROM:<app@yourcompany.com>").starts_with("250 "));
    assert!(s.cmd("RCPT TO:<delivered@resend.dev>").starts_with("250 "));
    assert!(s.cmd("DATA").starts_with("354 "));
    let end = s.cmd(&format!(
        "From: app@yourcompany.com\r\nTo: delivered@resend.dev\r\nSubject: message {n}\r\n\r\nHello {n}.\r\n."
    ));
    assert!(end.starts_with("250 "), "{end}");
    assert!(s.cmd("QUIT").starts_with("221 "));
    t.elapsed()
}

fn term(child: &mut std::process::Child) -> i32 {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    wait_exit(child)
}

#[test]
fn a_reader_that_stops_reading_never_stalls_a_session() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // A small queue, so that 500 sessions overflow it (the default holds more).
    let (mut child, out, addr) = start(&["--view-queue", "1000"]);
    // From here nobody reads stdout: the pipe fills after a few sessions.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                (0..125)
                    .map(|i| session(&addr, t * 125 + i))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let times: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a client thread"))
        .collect();
    assert_eq!(times.len(), 500);
    let slowest = times.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_millis(500),
        "the slowest of 500 sessions took {slowest:?} with stdout not read"
    );

    // Reading again: the view catches up and says what it dropped.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let dropped = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("a line saying what was dropped");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON lines");
        if v["type"] == "dropped" {
            break v["dropped"].as_u64().expect("a count");
        }
    };
    assert!(dropped > 0);
    // And the server still serves, and stops cleanly.
    assert!(session(&addr, 500) < Duration::from_secs(1));
    assert_eq!(term(&mut child), 0);
}

#[test]
fn a_reader_that_keeps_up_gets_every_line_of_2000_sessions_in_order() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // Room for the whole run: this is about order and completeness, and the
    // debug build's view on a busy machine formats slower than 20 clients
    // produce (the release build keeps up: BENCHMARKS.md).
    let (mut child, out, addr) = start(&["--view-queue", "100000"]);
    let port = addr.rsplit(':').next().expect("a port").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let bench = common::cli::bin()
        .args(["bench", "--port", &port, "--connections", "20"])
        .args(["--messages", "2000", "--per-connection", "1", "--json"])
        .output()
        .expect("run mailtape bench");
    assert!(bench.status.success());
    let report: serde_json::Value = serde_json::from_slice(&bench.stdout).expect("bench JSON");
    assert_eq!(report["accepted"], 2000, "{report}");

    // Every session's events, in the order they came.
    let mut sessions: BTreeMap<u64, Vec<serde_json::Value>> = BTreeMap::new();
    let mut ended = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while ended < 2000 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("more lines");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON lines");
        assert_ne!(
            v["type"], "dropped",
            "a reader that keeps up lost lines: {v}"
        );
        let id = v["session"]
            .as_u64()
            .expect("every event names its session");
        if v["type"] == "end" {
            ended += 1;
        }
        sessions.entry(id).or_default().push(v);
    }
    assert_eq!(term(&mut child), 0);

    assert_eq!(sessions.len(), 2000);
    let shape = |events: &[serde_json::Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| match e["type"].as_str() {
                Some("line") => format!("line {}", e["kind"]),
                other => other.unwrap_or("?").to_string(),
            })
            .collect()
    };
    let first = shape(sessions.values().next().expect("a session"));
    assert_eq!(first.first().map(String::as_str), Some("session"));
    assert_eq!(first.last().map(String::as_str), Some("end"));
    assert!(first.len() > 15, "{first:?}");
    for (id, events) in &sessions {
        assert_eq!(shape(events), first, "session {id} differs");
        let at: Vec<f64> = events.iter().filter_map(|e| e["at"].as_f64()).collect();
        assert!(
            at.windows(2).all(|w| w[0] <= w[1]),
            "session {id} out of order: {at:?}"
        );
        let codes = &events.last().expect("end")["codes"];
        assert_eq!(
            codes,
            &serde_json::json!([220, 250, 235, 250, 250, 354, 250, 221])
        );
    }
}
