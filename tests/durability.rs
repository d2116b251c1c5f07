//! Durability and secret hygiene through the binary (issue 7): SIGTERM with
//! sessions open in every mode, kill -9 in the middle of a recording, and a
//! scan of every byte mailtape writes for a known key in every AUTH form.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::cli::{BIN, all_bytes, ephemeral, leaks};
use mailtape::MockServer;
use mailtape::tape::{EventKind, Tape, Transcript};

const KEY: &str = "re_Durable77_mnbvCXZL0246";
const SHUTTING_DOWN: &str = "421 Server shutting down";

fn b64(s: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn plain(authz: &str, key: &str) -> String {
    b64(format!("{authz}\0resend\0{key}"))
}

/// A blocking SMTP client that can also write without reading.
struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    fn write(&mut self, b: &[u8]) {
        self.w.write_all(b).expect("write");
    }

    /// One reply, lines joined with `\n`; empty at EOF.
    fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).unwrap_or(0) == 0 {
                return lines.join("\n");
            }
            let l = l.trim_end_matches(['\r', '\n']).to_string();
            let last = l.as_bytes().get(3) != Some(&b'-');
            lines.push(l);
            if last {
                return lines.join("\n");
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.write(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    fn eof(&mut self) -> bool {
        let mut rest = Vec::new();
        self.r.read_to_end(&mut rest).is_ok() && rest.is_empty()
    }
}

/// The message every session sends: the key in a header, in the subject and
/// in the body.
fn message_with_key(key: &str) -> String {
    format!(
        "From: billing@yourcompany.com\r\nTo: delivered@resend.dev\r\nSubject: key {key}\r\nX-Api-Key: {key}\r\n\r\nHi,\r\nthe key is {key}.\r\n"
    )
}

/// The ways an app logs in, each a list of (line, expected reply code).
fn auth_forms(key: &str) -> Vec<(&'static str, Vec<(String, &'static str)>)> {
    vec![
        (
            "PLAIN with initial response",
            vec![(format!("AUTH PLAIN {}", plain("", key)), "235")],
        ),
        (
            "PLAIN without initial response",
            vec![("AUTH PLAIN".into(), "334"), (plain("", key), "235")],
        ),
        (
            "PLAIN with authzid",
            vec![(format!("AUTH PLAIN {}", plain("resend", key)), "235")],
        ),
        (
            "PLAIN with authzid, without initial response",
            vec![("AUTH PLAIN".into(), "334"), (plain("resend", key), "235")],
        ),
        (
            "LOGIN without initial response",
            vec![
                ("AUTH LOGIN".into(), "334"),
                (b64("resend"), "334"),
                (b64(key), "235"),
            ],
        ),
        (
            "LOGIN with initial response",
            vec![
                (format!("AUTH LOGIN {}", b64("resend")), "334"),
                (b64(key), "235"),
            ],
        ),
    ]
}

/// One session per AUTH form, each sending a message with the key inside.
fn drive_every_auth_form(addr: &str, key: &str) -> usize {
    let forms = auth_forms(key);
    for (name, steps) in &forms {
        let mut c = Client::connect(addr);
        assert!(c.reply().starts_with("220 "), "{name}");
        assert!(c.cmd("EHLO app.local").starts_with("250-"), "{name}");
        for (line, code) in steps {
            let r = c.cmd(line);
            assert!(r.starts_with(code), "{name}: {r}");
        }
        assert_eq!(
            c.cmd("MAIL FROM:<billing@yourcompany.com>"),
            "250 Accepted",
            "{name}"
        );
        assert_eq!(
            c.cmd("RCPT TO:<delivered@resend.dev>"),
            "250 Accepted",
            "{name}"
        );
        assert!(c.cmd("DATA").starts_with("354"), "{name}");
        let r = c.cmd(&format!("{}.", message_with_key(key)));
        assert!(r.starts_with("250 OK "), "{name}: {r}");
        assert_eq!(c.cmd("QUIT"), "221 Bye", "{name}");
    }
    forms.len()
}

/// The binary running, with stdout and stderr drained as they come (a trace
/// log would fill a pipe that nobody reads, and stall the server).
struct Proc {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Proc {
    fn line(&mut self) -> String {
        let l = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a line on stdout");
        self.stdout.push(l.clone());
        l
    }

    fn until(&mut self, f: impl Fn(&str) -> bool) -> String {
        loop {
            let l = self.line();
            if f(&l) {
                return l;
            }
        }
    }

    /// Waits for the exit; returns the status code, stdout lines, stderr.
    fn finish(mut self) -> (Option<i32>, Vec<String>, String) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("mailtape did not exit within 15 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.stdout.push(l);
        }
        (status.code(), self.stdout, self.stderr.join().unwrap())
    }

    /// SIGTERM, then the exit.
    fn term(self) -> (i32, Vec<String>, String) {
        self.signal("TERM")
    }

    /// `kill -SIG`, then the exit.
    fn signal(self, sig: &str) -> (i32, Vec<String>, String) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (code, out, err) = self.finish();
        (code.unwrap_or(-1), out, err)
    }

    /// SIGKILL, then the exit.
    fn kill9(mut self) -> (Vec<String>, String) {
        self.child.kill().unwrap();
        let (code, out, err) = self.finish();
        assert_eq!(code, None, "killed by a signal");
        (out, err)
    }
}

/// Starts the binary with trace logs; returns it and its plain address.
fn start(args: Vec<String>) -> (Proc, String) {
    let json = args.iter().any(|a| a == "--json");
    let mut child = common::cli::bin()
        .args(&args)
        .env("MAILTAPE_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mailtape");
    let out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // stderr is kept whole for the checks, and its lines are passed on as
    // they come: the human banner (the plain address) is on stderr.
    let (err_tx, err_lines) = std::sync::mpsc::channel();
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(&mut err).lines().map_while(Result::ok) {
            let _ = err_tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut m = Proc {
        child,
        lines,
        stdout: Vec::new(),
        stderr,
    };
    let plain = if json {
        let ready: serde_json::Value = serde_json::from_str(&m.line()).expect("ready line");
        ready["plain"].as_str().unwrap().to_string()
    } else {
        let banner = err_lines
            .iter()
            .find(|l| l.trim_start().starts_with("plain "))
            .expect("the banner on stderr");
        banner.split_whitespace().nth(1).unwrap().to_string()
    };
    (m, plain)
}

fn arg(args: &mut Vec<String>, more: &[&str]) {
    args.extend(more.iter().map(|s| s.to_string()));
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Every tape in `dir` (all must parse), by file.
fn tapes_in(dir: &Path) -> Vec<(PathBuf, Tape)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".tape") && !name.starts_with('.'),
            "not a tape in {}: {name}",
            dir.display()
        );
        let text = std::fs::read_to_string(&p).unwrap();
        let tape = Tape::parse(&text, &path(&p)).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(tape.to_text(), text, "{} round-trips", p.display());
        out.push((p, tape));
    }
    out
}

fn notes(t: &Transcript) -> Vec<&str> {
    t.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note(n) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

/// Scans what one run wrote; panics with where the key leaked.
fn assert_no_leak(what: &str, outputs: &[(&str, Vec<u8>)]) {
    for (name, bytes) in outputs {
        let found = leaks(bytes, KEY);
        assert!(found.is_empty(), "{what}: {name} leaks {found:?}");
    }
}

fn json_events(stdout: &[String]) -> Vec<serde_json::Value> {
    stdout[1..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

// ───────────────────────── SIGTERM ─────────────────────────

/// Sessions left open in different states, to be cut by a shutdown.
struct Open {
    clients: Vec<(&'static str, Client)>,
}

/// Opens sessions: greeted, EHLO'd, mid-AUTH (unless `replay`),
/// authenticated, mid-DATA. Every state is reached before this returns.
fn open_sessions(addr: &str, replay: bool) -> Open {
    let mut clients = Vec::new();
    let mut c = Client::connect(addr);
    assert!(c.reply().starts_with("220 "));
    clients.push(("greeted", c));

    let mut c = Client::connect(addr);
    c.reply();
    assert!(c.cmd("EHLO app.local").starts_with("250-"));
    clients.push(("after EHLO", c));

    if !replay {
        let mut c = Client::connect(addr);
        c.reply();
        c.cmd("EHLO app.local");
        assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
        assert_eq!(c.cmd(&b64("resend")), "334 UGFzc3dvcmQ6");
        clients.push(("mid-AUTH", c));
    }

    let mut c = Client::connect(addr);
    c.reply();
    c.cmd("EHLO app.local");
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain("", KEY))),
        "235 Authentication successful"
    );
    clients.push(("authenticated", c));

    let mut c = Client::connect(addr);
    c.reply();
    c.cmd("EHLO app.local");
    c.cmd(&format!("AUTH PLAIN {}", plain("", KEY)));
    assert_eq!(c.cmd("MAIL FROM:<billing@yourcompany.com>"), "250 Accepted");
    assert_eq!(c.cmd("RCPT TO:<delivered@resend.dev>"), "250 Accepted");
    assert!(c.cmd("DATA").starts_with("354"));
    c.write(b"From: billing@yourcompany.com\r\nSubject: half a message\r\n");
    clients.push(("mid-DATA", c));
    // let the server read the half message
    std::thread::sleep(Duration::from_millis(300));
    Open { clients }
}

impl Open {
    /// Every open client got the 421, then the connection closed.
    fn assert_told(mut self) {
        for (state, c) in &mut self.clients {
            assert_eq!(c.reply(), SHUTTING_DOWN, "client {state}");
            assert!(c.eof(), "client {state}: closed after the 421");
        }
    }
}

/// A full session through `addr` that sends one message.
fn one_message(addr: &str) {
    let mut c = Client::connect(addr);
    c.reply();
    c.cmd("EHLO app.local");
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain("", KEY))),
        "235 Authentication successful"
    );
    assert_eq!(c.cmd("MAIL FROM:<billing@yourcompany.com>"), "250 Accepted");
    assert_eq!(c.cmd("RCPT TO:<delivered@resend.dev>"), "250 Accepted");
    assert!(c.cmd("DATA").starts_with("354"));
    assert!(
        c.cmd(&format!("{}.", message_with_key(KEY)))
            .starts_with("250 OK ")
    );
    assert_eq!(c.cmd("QUIT"), "221 Bye");
}

/// The sessions cut by the shutdown say so in their transcripts.
fn assert_cut(sessions: &[&Transcript], open: usize) {
    let cut: Vec<_> = sessions
        .iter()
        .filter(|t| {
            notes(t)
                .iter()
                .any(|n| n.starts_with("server shutting down"))
        })
        .collect();
    assert_eq!(cut.len(), open, "sessions cut by the shutdown");
    for t in cut {
        assert_eq!(t.closed_by, Some(mailtape::tape::Closer::Server));
        let last_reply = t.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::Server(s) => Some(s.as_str()),
            _ => None,
        });
        assert_eq!(last_reply, Some(SHUTTING_DOWN), "{}", t.to_tape());
    }
    assert!(
        sessions
            .iter()
            .any(|t| notes(t).contains(&"server shutting down during DATA")),
        "the mid-DATA session"
    );
}

/// Starts mailtape with `args`, sends one message, opens sessions in every
/// state, sends SIGTERM, and checks that each open session was told 421 and
/// that mailtape exited 0 (a replay's sessions cut short by the shutdown are
/// not the client's divergence). Returns the number of sessions held open,
/// stdout's lines and stderr.
fn sigterm_with_sessions_open(args: Vec<String>, replay: bool) -> (usize, Vec<String>, String) {
    signal_with_sessions_open(args, replay, "TERM")
}

/// As [`sigterm_with_sessions_open`], with the signal `sig`.
fn signal_with_sessions_open(
    args: Vec<String>,
    replay: bool,
    sig: &str,
) -> (usize, Vec<String>, String) {
    let (mut m, addr) = start(args);
    one_message(&addr);
    m.until(|l| l.contains("\"type\":\"end\""));
    let open = open_sessions(&addr, replay);
    let n_open = open.clients.len();
    let (code, stdout, stderr) = m.signal(sig);
    open.assert_told();
    assert_eq!(code, 0, "{stderr}");
    (n_open, stdout, stderr)
}

#[test]
fn sigterm_in_mock_mode_tells_open_sessions_421_and_leaves_whole_files() {
    stop_mock_with_sessions_open("TERM");
}

/// Issue 16 (9): closing the terminal (SIGHUP) stops as gracefully as
/// SIGTERM: 421 to open sessions, whole files, exit 0.
#[test]
fn sighup_in_mock_mode_is_a_graceful_stop_like_sigterm() {
    stop_mock_with_sessions_open("HUP");
}

/// The arguments of a mock (`unlimited`, `--json`) that writes tapes and a
/// mailbox under `dir`; and those two folders.
fn mock_with_files(dir: &Path) -> (Vec<String>, PathBuf, PathBuf) {
    let (tapes, mailbox) = (dir.join("tapes"), dir.join("mailbox"));
    let mut args = ephemeral("mock", dir);
    arg(&mut args, &["--json", "--scenario", "unlimited"]);
    arg(
        &mut args,
        &["--tapes", &path(&tapes), "--mailbox", &path(&mailbox)],
    );
    (args, tapes, mailbox)
}

/// A mock with tapes and a mailbox, one message sent, sessions open in
/// every state, then `sig`: every session told 421, every file whole.
fn stop_mock_with_sessions_open(sig: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (args, tapes, mailbox) = mock_with_files(dir.path());
    let (n_open, stdout, stderr) = signal_with_sessions_open(args, false, sig);

    let files = tapes_in(&tapes);
    assert_eq!(files.len(), 1 + n_open, "{files:?}");
    let sessions: Vec<&Transcript> = files.iter().flat_map(|(_, t)| &t.sessions).collect();
    assert!(sessions.iter().all(|t| t.closed_by.is_some()));
    assert_cut(&sessions, n_open);
    let emls: Vec<_> = std::fs::read_dir(&mailbox).unwrap().collect();
    assert_eq!(emls.len(), 1);
    let eml = std::fs::read_to_string(emls[0].as_ref().unwrap().path()).unwrap();
    assert!(
        eml.starts_with("X-Mailtape-Envelope-From: <billing@yourcompany.com>\r\n")
            && eml.contains("\r\nSubject: key re_…")
            && eml.contains("\r\nX-Api-Key: re_…")
            && eml.contains("\r\nthe key is re_…")
            && eml.ends_with(".\r\n"),
        "{eml}"
    );
    let events = json_events(&stdout);
    let ends = events.iter().filter(|e| e["type"] == "end").count();
    assert_eq!(ends, 1 + n_open, "an end event per session");
    assert_no_leak(
        "mock",
        &[
            ("stdout", stdout.join("\n").into_bytes()),
            ("stderr", stderr.into_bytes()),
            ("tapes", all_bytes(&tapes)),
            ("mailbox", all_bytes(&mailbox)),
        ],
    );
}

/// An upstream for record mode that accepts only `KEY`.
fn upstream() -> mailtape::Blocking<MockServer> {
    MockServer::builder()
        .scenario("unlimited")
        .key(KEY)
        .start_blocking()
        .expect("upstream")
}

fn record_args(dir: &Path, up: &MockServer, tape: &Path) -> Vec<String> {
    let mut args = ephemeral("record", dir);
    arg(
        &mut args,
        &[
            "--upstream",
            &up.smtps_addr().unwrap().to_string(),
            "--upstream-tls",
            "implicit",
            "--upstream-ca",
            &path(up.ca_path().unwrap()),
            "--tape",
            &path(tape),
        ],
    );
    args
}

#[test]
fn sigterm_in_record_mode_tells_open_sessions_421_and_leaves_a_whole_tape() {
    let up = upstream();
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("recorded.tape");
    let tapes = dir.path().join("tapes");
    let mut args = record_args(dir.path(), &up, &tape);
    arg(&mut args, &["--json", "--tapes", &path(&tapes)]);
    let (n_open, stdout, stderr) = sigterm_with_sessions_open(args, false);

    let text = std::fs::read_to_string(&tape).unwrap();
    let recorded = Tape::parse(&text, "recorded.tape").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(recorded.to_text(), text);
    assert_eq!(recorded.sessions.len(), 1 + n_open, "{text}");
    assert_cut(&recorded.sessions.iter().collect::<Vec<_>>(), n_open);
    assert_eq!(tapes_in(&tapes).len(), 1 + n_open);
    assert_eq!(up.messages().len(), 1);
    assert_no_leak(
        "record",
        &[
            ("stdout", stdout.join("\n").into_bytes()),
            ("stderr", stderr.into_bytes()),
            ("tape", text.into_bytes()),
            ("tapes", all_bytes(&tapes)),
        ],
    );
}

#[test]
fn sigterm_in_replay_mode_tells_open_sessions_421_and_leaves_whole_tapes() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = dir.path().join("tapes");
    let mut args = ephemeral("replay", dir.path());
    arg(
        &mut args,
        &[
            "builtin:success-plain",
            "--loop",
            "--json",
            "--tapes",
            &path(&tapes),
        ],
    );
    let (n_open, stdout, stderr) = sigterm_with_sessions_open(args, true);

    let files = tapes_in(&tapes);
    assert_eq!(files.len(), 1 + n_open);
    let sessions: Vec<&Transcript> = files.iter().flat_map(|(_, t)| &t.sessions).collect();
    assert_cut(&sessions, n_open);
    assert_no_leak(
        "replay",
        &[
            ("stdout", stdout.join("\n").into_bytes()),
            ("stderr", stderr.into_bytes()),
            ("tapes", all_bytes(&tapes)),
        ],
    );
}

// ───────────────────────── kill -9 ─────────────────────────

/// A small pseudo-random number generator (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn new() -> Lcg {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("kill -9 rounds: seed {seed}");
        Lcg(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Sends messages on `addr` until the server goes away; never panics.
fn hammer(addr: String, big: bool) {
    let body = if big {
        format!(
            "Subject: big\r\n\r\n{}",
            "0123456789abcdef\r\n".repeat(2000)
        )
    } else {
        "Subject: small\r\n\r\nhi\r\n".to_string()
    };
    let session = |addr: &str| -> Option<()> {
        let s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut r = BufReader::new(s.try_clone().ok()?);
        let mut w = s;
        let mut line = String::new();
        let mut step = |w: &mut TcpStream, out: &str| -> Option<()> {
            w.write_all(out.as_bytes()).ok()?;
            loop {
                line.clear();
                if r.read_line(&mut line).ok()? == 0 {
                    return None;
                }
                if line.as_bytes().get(3) != Some(&b'-') {
                    return Some(());
                }
            }
        };
        step(&mut w, "")?; // greeting
        step(&mut w, "EHLO app.local\r\n")?;
        step(&mut w, &format!("AUTH PLAIN {}\r\n", plain("", KEY)))?;
        step(&mut w, "MAIL FROM:<a@acme.com>\r\n")?;
        step(&mut w, "RCPT TO:<delivered@resend.dev>\r\n")?;
        step(&mut w, "DATA\r\n")?;
        step(&mut w, &format!("{body}.\r\n"))?;
        step(&mut w, "QUIT\r\n")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && session(&addr).is_some() {}
}

#[test]
fn kill_9_in_the_middle_of_a_recording_leaves_only_parseable_tapes() {
    let up = upstream();
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("recorded.tape");
    let tapes = dir.path().join("tapes");
    let mut rng = Lcg::new();
    let mut torn = Vec::new();
    let mut hidden_leftovers = Vec::new();
    for round in 0..5 {
        let mut args = record_args(dir.path(), &up, &tape);
        arg(&mut args, &["--json", "--tapes", &path(&tapes)]);
        let (m, addr) = start(args);
        let clients: Vec<_> = (0..6)
            .map(|i| {
                let a = addr.clone();
                std::thread::spawn(move || hammer(a, i % 3 == 0))
            })
            .collect();
        let wait = Duration::from_millis(300 + rng.below(1500));
        std::thread::sleep(wait);
        let (stdout, stderr) = m.kill9();
        for c in clients {
            c.join().unwrap();
        }
        assert_no_leak(
            "kill -9",
            &[
                ("stdout", stdout.join("\n").into_bytes()),
                ("stderr", stderr.into_bytes()),
            ],
        );

        // the folder: whole tapes only; a temporary file is allowed only hidden
        for e in std::fs::read_dir(&tapes).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') {
                assert!(name.ends_with(".tmp"), "unexpected hidden file {name}");
                hidden_leftovers.push(name);
                std::fs::remove_file(&p).unwrap();
            }
        }
        let per_session = tapes_in(&tapes);
        // the appended tape file
        let text = std::fs::read_to_string(&tape).unwrap_or_default();
        if !text.is_empty() {
            match Tape::parse(&text, "recorded.tape") {
                Ok(t) => assert!(t.sessions.len() <= per_session.len() + 1),
                Err(e) => torn.push(format!("round {round} after {wait:?}: {e}")),
            }
        }
        assert_no_leak(
            "kill -9",
            &[("tape", text.into_bytes()), ("tapes", all_bytes(&tapes))],
        );
    }
    assert!(
        std::fs::metadata(&tape).is_ok_and(|m| m.len() > 0),
        "nothing was recorded in 5 rounds"
    );
    eprintln!("hidden temporary files left by kill -9: {hidden_leftovers:?}");
    assert!(
        torn.is_empty(),
        "the appended tape did not parse after kill -9: {torn:?}"
    );
}

#[test]
fn a_tape_file_torn_by_a_crash_is_cut_back_when_recording_starts_again() {
    let up = upstream();
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("recorded.tape");
    let whole = "# mailtape tape v1\n\n## session 1 · mode record\nS: 220 x\n*: closed by client\n";
    std::fs::write(&tape, format!("{whole}\n## session 2 · mode record\n+0.01")).unwrap();
    let mut args = record_args(dir.path(), &up, &tape);
    arg(&mut args, &["--json"]);
    let (mut m, addr) = start(args);
    one_message(&addr);
    m.until(|l| l.contains("\"type\":\"end\""));
    let (code, _, stderr) = m.term();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("cut back a last session torn by a crash"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&tape).unwrap();
    assert!(text.starts_with(whole), "{text}");
    let t = Tape::parse(&text, "recorded.tape").unwrap();
    assert_eq!(t.sessions.len(), 2);
}

// ───────────────────────── secrets ─────────────────────────

/// Runs `mode` with `view` (`--json` or human), drives every AUTH form, and
/// scans every byte the run wrote. Returns the tape file when recording.
fn scan_mode(
    mode: &str,
    json: bool,
    up: &MockServer,
    replay_tape: Option<&Path>,
) -> Option<PathBuf> {
    let dir = tempfile::tempdir().unwrap();
    let tapes = dir.path().join("tapes");
    let mailbox = dir.path().join("mailbox");
    let tape = dir.path().join("recorded.tape");
    let mut args = match mode {
        "record" => record_args(dir.path(), up, &tape),
        _ => ephemeral(mode, dir.path()),
    };
    match mode {
        "mock" => arg(
            &mut args,
            &["--scenario", "unlimited", "--mailbox", &path(&mailbox)],
        ),
        "replay" => arg(&mut args, &[&path(replay_tape.unwrap()), "--strict"]),
        _ => {}
    }
    arg(&mut args, &["--tapes", &path(&tapes)]);
    if json {
        arg(&mut args, &["--json"]);
    }
    let (mut m, addr) = start(args);
    let n = drive_every_auth_form(&addr, KEY);
    if json {
        m.until(|l| l.contains("\"type\":\"end\"") && l.contains(&format!("\"session\":{n}")));
    } else {
        m.until(|l| l.starts_with(&format!("#{n} ── closed by")));
    }
    let (code, stdout, stderr) = m.term();
    let what = format!("{mode} ({})", if json { "json" } else { "human" });
    assert_eq!(code, 0, "{what}: {stderr}");
    // (mailtape logs only warnings and errors of its own; with trace on,
    // whatever its libraries log lands here too and is scanned)
    if json {
        json_events(&stdout); // every event line is JSON
    }
    let mut outputs = vec![
        ("stdout", stdout.join("\n").into_bytes()),
        ("stderr", stderr.into_bytes()),
        ("tapes", all_bytes(&tapes)),
    ];
    let files = tapes_in(&tapes);
    assert_eq!(files.len(), n, "{what}");
    let body_lines: Vec<String> = files
        .iter()
        .flat_map(|(_, t)| &t.sessions)
        .flat_map(|s| &s.events)
        .filter_map(|e| match &e.kind {
            EventKind::Data(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    // keys in headers and bodies are scrubbed, not dropped
    assert!(
        body_lines.iter().any(|l| l.starts_with("X-Api-Key: re_…"))
            && body_lines
                .iter()
                .any(|l| l.starts_with("Subject: key re_…"))
            && body_lines.iter().any(|l| l.starts_with("the key is re_…")),
        "{what}: {body_lines:?}"
    );
    if mode == "mock" {
        outputs.push(("mailbox", all_bytes(&mailbox)));
        assert_eq!(std::fs::read_dir(&mailbox).unwrap().count(), n);
    }
    if mode == "record" {
        outputs.push(("tape", std::fs::read(&tape).unwrap()));
    }
    assert_no_leak(&what, &outputs);
    if mode == "record" {
        let keep = std::env::temp_dir().join(format!(
            "mailtape-durability-{}-{}.tape",
            std::process::id(),
            json
        ));
        std::fs::copy(&tape, &keep).unwrap();
        return Some(keep);
    }
    None
}

#[test]
fn no_key_in_any_output_of_any_mode_for_any_auth_form() {
    let up = upstream();
    for json in [true, false] {
        scan_mode("mock", json, &up, None);
        let recorded = scan_mode("record", json, &up, None).unwrap();
        // the recording, replayed with the same client, in strict mode
        scan_mode("replay", json, &up, Some(&recorded));
        let _ = std::fs::remove_file(&recorded);
    }
    // the upstream got the real key every time (it accepts nothing else)
    assert_eq!(up.messages().len(), 2 * auth_forms(KEY).len());
}

#[test]

fn a_base64_key_in_a_body_is_scrubbed_in_the_mailbox_too() {
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mailbox");
    let tapes = dir.path().join("tapes");
    let mut args = ephemeral("mock", dir.path());
    arg(
        &mut args,
        &[
            "--json",
            "--mailbox",
            &path(&mailbox),
            "--tapes",
            &path(&tapes),
        ],
    );
    let (mut m, addr) = start(args);
    let mut c = Client::connect(&addr);
    c.reply();
    c.cmd("EHLO app.local");
    c.cmd(&format!("AUTH PLAIN {}", plain("", KEY)));
    c.cmd("MAIL FROM:<a@acme.com>");
    c.cmd("RCPT TO:<delivered@resend.dev>");
    c.cmd("DATA");
    let r = c.cmd(&format!("Subject: b64\r\n\r\n{}\r\n.", b64(KEY)));
    assert!(r.starts_with("250 OK "), "{r}");
    c.cmd("QUIT");
    m.until(|l| l.contains("\"type\":\"end\""));
    let (_, _, _) = m.term();
    assert_no_leak("tape", &[("tapes", all_bytes(&tapes))]);
    assert_no_leak("mailbox", &[("mailbox", all_bytes(&mailbox))]);
}

#[tokio::test]

async fn a_message_is_on_disk_once_its_session_counts_as_finished() {
    let dir = tempfile::tempdir().unwrap();
    let s = MockServer::builder()
        .scenario("unlimited")
        .mailbox(dir.path())
        .start()
        .await
        .unwrap();
    for n in 1..=20 {
        let mut c = common::authed(&s).await;
        c.cmd("MAIL FROM:<a@acme.com>").await;
        c.cmd("RCPT TO:<delivered@resend.dev>").await;
        c.cmd("DATA").await;
        c.write(format!("Subject: {n}\r\n\r\n{}\r\n.\r\n", "x".repeat(20_000)).as_bytes())
            .await;
        c.reply().await;
        assert_eq!(c.cmd("QUIT").await, "221 Bye");
        common::wait(&s, n).await;
        let m = s.messages().pop().unwrap();
        let p = m.path.expect("a path");
        assert!(p.exists(), "session {n} finished, {} missing", p.display());
    }
}

#[test]
fn sigterm_with_a_client_that_reads_nothing_still_writes_its_tape() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = dir.path().join("tapes");
    let mut args = ephemeral("mock", dir.path());
    // unlimited: the library's cap on commands before AUTH would end the
    // stuck session itself, and this test needs it still open at SIGTERM.
    arg(
        &mut args,
        &[
            "--json",
            "--tapes",
            &path(&tapes),
            "--scenario",
            "unlimited",
        ],
    );
    let (mut m, addr) = start(args);
    let mut stuck = TcpStream::connect(&addr).unwrap();
    stuck
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let chunk = "HELP\r\n".repeat(10_000);
    while stuck.write_all(chunk.as_bytes()).is_ok() {}
    one_message(&addr);
    m.until(|l| l.contains("\"type\":\"end\""));
    let started = Instant::now();
    let (code, _, stderr) = m.term();
    assert_eq!(code, 0, "{stderr}");
    let took = started.elapsed();
    let files = tapes_in(&tapes);
    assert_eq!(
        files.len(),
        2,
        "tapes after SIGTERM (exit after {took:?}): {:?}",
        files.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    // the stuck session ended on the signal, not at the end of the grace period
    assert!(took < Duration::from_secs(4), "exit {took:?} after SIGTERM");
    let stuck_tape = files
        .iter()
        .flat_map(|(_, t)| &t.sessions)
        .find(|t| t.client_lines().first() == Some(&"HELP"))
        .expect("the stuck session's tape");
    assert!(
        notes(stuck_tape).contains(&"server shutting down"),
        "{}",
        stuck_tape
            .to_tape()
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(stuck);
}

// ───────────────────────── what a reply promises (issue 16) ─────────────────────────

/// What clients were told: the ids answered `250`, and of those the ids
/// whose session then got `221` to QUIT.
#[derive(Default)]
struct Told {
    accepted: Vec<String>,
    quit: Vec<String>,
}

/// Sessions of three messages each on `addr`, until the server goes away;
/// never panics. Returns what the server promised.
fn send_until_gone(addr: &str) -> Told {
    let mut told = Told::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Ok(s) = TcpStream::connect(addr) else {
            break;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let Ok(r) = s.try_clone() else { break };
        let mut c = Client {
            r: BufReader::new(r),
            w: s,
        };
        let ok = |c: &mut Client, line: &str, want: &str| -> Option<String> {
            c.w.write_all(line.as_bytes()).ok()?;
            let r = c.reply();
            r.starts_with(want).then_some(r)
        };
        let mut ids = Vec::new();
        let session = (|| -> Option<()> {
            c.reply().starts_with("220").then_some(())?;
            ok(&mut c, "EHLO app.local\r\n", "250")?;
            ok(&mut c, &format!("AUTH PLAIN {}\r\n", plain("", KEY)), "235")?;
            for n in 0..3 {
                ok(&mut c, "MAIL FROM:<a@acme.com>\r\n", "250")?;
                ok(&mut c, "RCPT TO:<delivered@resend.dev>\r\n", "250")?;
                ok(&mut c, "DATA\r\n", "354")?;
                let body = format!("Subject: {n}\r\n\r\n{}\r\n.\r\n", "x".repeat(300 * n));
                let r = ok(&mut c, &body, "250 OK ")?;
                let id = r.trim_start_matches("250 OK ").to_string();
                told.accepted.push(id.clone());
                ids.push(id);
            }
            ok(&mut c, "QUIT\r\n", "221")?;
            told.quit.append(&mut ids);
            Some(())
        })();
        if session.is_none() {
            break;
        }
    }
    told
}

/// The visible files of `dir` (not the hidden temporary ones), concatenated.
fn visible_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if !e.file_name().to_string_lossy().starts_with('.') {
            out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    out
}

/// Issue 16 (8): with a mailbox, `250` means the message is on disk; with
/// tapes, `221` means the session's tape is. Counted as the clients saw it:
/// every id a client was told `250` for has its `.eml` after kill -9, and
/// every session a client saw `221` for has its tape.
#[test]
fn kill_9_loses_nothing_a_client_was_told_is_written() {
    let mut rng = Lcg::new();
    let mut accepted = 0;
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let (args, tapes, mailbox) = mock_with_files(dir.path());
        let (m, addr) = start(args);
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let a = addr.clone();
                std::thread::spawn(move || send_until_gone(&a))
            })
            .collect();
        let wait = Duration::from_millis(700 + rng.below(1000));
        std::thread::sleep(wait);
        let _ = m.kill9();
        let told: Vec<Told> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        let tape_text = visible_text(&tapes);
        let mut missing_eml = Vec::new();
        let mut missing_tape = Vec::new();
        for t in &told {
            accepted += t.accepted.len();
            for id in &t.accepted {
                let eml = std::fs::read_to_string(mailbox.join(format!("{id}.eml")));
                if !eml.is_ok_and(|e| e.ends_with("\r\n")) {
                    missing_eml.push(id.clone());
                }
            }
            for id in &t.quit {
                if !tape_text.contains(&format!("S: 250 OK {id}\n")) {
                    missing_tape.push(id.clone());
                }
            }
        }
        let total: usize = told.iter().map(|t| t.accepted.len()).sum();
        assert!(
            missing_eml.is_empty() && missing_tape.is_empty(),
            "round {round}, kill -9 after {wait:?}: {total} accepted; {} accepted but not in the mailbox, {} sessions closed with 221 but without a tape",
            missing_eml.len(),
            missing_tape.len()
        );
    }
    assert!(accepted > 0, "no message was accepted in 3 rounds");
}

/// Runs the binary with `args` under a 2 GiB address-space limit; it must
/// exit within `within`. Returns the exit code, stderr and how long it took.
fn run_bounded(args: &[&str], within: Duration) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2097152; exec \"$@\"")
        .arg("sh")
        .arg(BIN)
        .args(args)
        .env("MAILTAPE_UI", "off")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mailtape");
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mailtape {args:?} still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), stderr.join().unwrap(), started.elapsed())
}

/// Issue 16 (14): tape input is read with a bounded line length: an endless
/// line (`/dev/zero`) is a one-line error at once, not 2 GB of memory.
#[test]
fn a_tape_of_dev_zero_is_a_one_line_error_at_once() {
    let off = [
        "--ui",
        "off",
        "--smtps",
        "off",
        "--starttls",
        "off",
        "--plain",
        "127.0.0.1:0",
    ];
    let cases: Vec<Vec<&str>> = vec![
        vec!["show", "/dev/zero"],
        [&["replay", "/dev/zero"][..], &off].concat(),
        [
            &["record", "--tape", "/dev/zero", "--upstream", "127.0.0.1:9"][..],
            &off,
        ]
        .concat(),
    ];
    for args in cases {
        let (code, stderr, took) = run_bounded(&args, Duration::from_secs(10));
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("mailtape: ")
                && stderr.contains("/dev/zero")
                && stderr.contains("longer than"),
            "{args:?}: {stderr}"
        );
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
    }
}

/// Issue 16 (10): a mailbox or tapes folder nothing can be created in is
/// refused at start with one line that says what to do. `/proc` is such a
/// folder even for root (tests run as root, so permissions would not do).
#[test]
fn a_folder_that_cannot_be_written_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("mock", "--mailbox", "/proc"),
        ("mock", "--tapes", "/proc"),
        ("replay", "--tapes", "/proc"),
    ];
    for (mode, flag, folder) in cases {
        let mut args = ephemeral(mode, dir.path());
        if mode == "replay" {
            args.push("builtin:success-plain".into());
        }
        arg(&mut args, &[flag, folder]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr, _) = run_bounded(&args, Duration::from_secs(10));
        assert_eq!(code, Some(1), "{mode} {flag}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{mode} {flag}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "mailtape: cannot write to the {} folder {folder}",
                &flag[2..]
            )) && stderr.contains(&format!("choose another {flag}")),
            "{mode} {flag}: {stderr}"
        );
    }
}

/// A tmpfs mounted for a test, unmounted when dropped; `None` where mounting
/// is not permitted (the test is then skipped).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs", &path(at)])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root and mount permission)");
        }
        ok.then(|| Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Issue 16 (10): a read-only mounted folder is refused at start too.
#[test]
fn a_read_only_mount_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    let Some(_mount) = Mount::tmpfs(&ro, "ro,size=64k") else {
        return;
    };
    let mut args = ephemeral("mock", dir.path());
    arg(&mut args, &["--mailbox", &path(&ro)]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stderr, _) = run_bounded(&args, Duration::from_secs(10));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("Read-only file system") && stderr.contains("choose another --mailbox"),
        "{stderr}"
    );
}

/// One message through `addr`; returns the reply to the final dot.
fn send_one(addr: &str) -> String {
    let mut c = Client::connect(addr);
    c.reply();
    c.cmd("EHLO app.local");
    c.cmd(&format!("AUTH PLAIN {}", plain("", KEY)));
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>"), "250 Accepted");
    assert_eq!(c.cmd("RCPT TO:<delivered@resend.dev>"), "250 Accepted");
    assert!(c.cmd("DATA").starts_with("354"));
    let r = c.cmd(&format!("Subject: hi\r\n\r\n{}\r\n.", "x".repeat(2000)));
    assert_eq!(c.cmd("QUIT"), "221 Bye");
    r
}

/// The `write_error` events on stdout, once there is one.
fn write_errors(m: &mut Proc) -> Vec<serde_json::Value> {
    m.until(|l| l.contains("\"type\":\"write_error\""));
    m.stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "write_error")
        .collect()
}

/// Starts a mock (`unlimited`, `--json`) with `--mailbox mailbox`.
fn start_with_mailbox(dir: &Path, mailbox: &Path) -> (Proc, String) {
    let mut args = ephemeral("mock", dir);
    arg(&mut args, &["--json", "--scenario", "unlimited"]);
    arg(&mut args, &["--mailbox", &path(mailbox)]);
    start(args)
}

/// Issue 16 (10): a full disk gets `452` instead of `250`, said live (JSON
/// and stderr); once there is room again, messages are accepted again.
#[test]
fn a_full_mailbox_gets_452_and_says_so_live() {
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mailbox");
    let Some(_mount) = Mount::tmpfs(&mailbox, "size=256k") else {
        return;
    };
    let (mut m, addr) = start_with_mailbox(dir.path(), &mailbox);
    assert!(send_one(&addr).starts_with("250 OK "));
    // fill the disk
    let filler = mailbox.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    while f.write_all(&[0u8; 4096]).is_ok() {}
    drop(f);
    assert_eq!(
        send_one(&addr),
        "452 Error: insufficient storage: the message could not be saved; try again later"
    );
    let errors = write_errors(&mut m);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("No space left on device")),
        "{errors:?}"
    );
    std::fs::remove_file(&filler).unwrap();
    let r = send_one(&addr);
    assert!(r.starts_with("250 OK "), "{r}");
    let (code, _, stderr) = m.term();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let emls = std::fs::read_dir(&mailbox).unwrap().count();
    assert_eq!(emls, 2, "two messages accepted, two on disk");
}

/// Issue 16 (10): a mailbox that stops being writable while mailtape runs
/// (here: replaced by a file) gets `451` instead of `250`, said live.
#[test]
fn a_mailbox_that_becomes_unwritable_gets_451_and_says_so_live() {
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mailbox");
    let (mut m, addr) = start_with_mailbox(dir.path(), &mailbox);
    std::fs::remove_dir_all(&mailbox).unwrap();
    std::fs::write(&mailbox, "not a folder").unwrap();
    assert_eq!(
        send_one(&addr),
        "451 Error: local error: the message could not be saved; try again later"
    );
    let errors = write_errors(&mut m);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (code, _, stderr) = m.term();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("cannot write message"), "{stderr}");
}

/// Issue 16 (11): two processes writing into one tapes folder keep every
/// session: 300 sessions, 300 tapes.
#[test]
fn two_processes_sharing_a_tapes_folder_keep_every_tape() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = dir.path().join("tapes");
    let procs: Vec<(Proc, String)> = (0..2)
        .map(|i| {
            let mut args = ephemeral("mock", &dir.path().join(format!("p{i}")));
            arg(&mut args, &["--json", "--tapes", &path(&tapes)]);
            start(args)
        })
        .collect();
    let clients: Vec<_> = procs
        .iter()
        .flat_map(|(_, addr)| (0..3).map(move |_| addr.clone()))
        .map(|addr| {
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let mut c = Client::connect(&addr);
                    assert!(c.reply().starts_with("220"));
                    assert_eq!(c.cmd("QUIT"), "221 Bye");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    for (m, _) in procs {
        let (code, _, stderr) = m.term();
        assert_eq!(code, 0, "{stderr}");
    }
    assert_eq!(tapes_in(&tapes).len(), 300);
}
