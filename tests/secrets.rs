//! Secrets never leak (issue 16, findings 1–7 and 17–19): every output of
//! every subcommand is searched for the key in every form `leaks` knows —
//! in the clear or cut, base64 at any alignment (wrapped or split by a
//! space), quoted-printable, RFC 2047 — after the binary was fed the key
//! in the places a careless or hostile client puts it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine;
use common::cli::{BIN, Running, Smtp, all_bytes, leaks};

const K: &str = "re_Rt3amK3y_ZZ9yy8xx7ww6";

fn b64(s: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Panics with where `K` leaked, for each named output.
fn assert_clean(outputs: &[(String, Vec<u8>)]) {
    let mut bad = Vec::new();
    for (name, bytes) in outputs {
        let found = leaks(bytes, K);
        if !found.is_empty() {
            // the lines that leak on their own, else all of it
            let text = String::from_utf8_lossy(bytes);
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| !leaks(l.as_bytes(), K).is_empty())
                .collect();
            let shown = if lines.is_empty() {
                text.to_string()
            } else {
                lines.join("\n")
            };
            bad.push(format!("{name} leaks {found:?}:\n{shown}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}

/// Only a plain listener, on any free port (and no inbox).
const PLAIN_ONLY: [&str; 8] = [
    "--plain",
    "127.0.0.1:0",
    "--smtps",
    "off",
    "--starttls",
    "off",
    "--ui",
    "off",
];

/// `mailtape mock` on [`PLAIN_ONLY`] with `extra` arguments.
fn mock(extra: &[&str]) -> Vec<String> {
    ["mock"]
        .iter()
        .chain(&PLAIN_ONLY)
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

/// `mailtape mock` on a plain listener with `--json`, tapes and a mailbox.
struct Mock {
    run: Running,
    addr: String,
    tapes: PathBuf,
    mailbox: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mock {
    fn start(extra: &[&str]) -> Mock {
        let dir = tempfile::tempdir().unwrap();
        let tapes = dir.path().join("tapes");
        let mailbox = dir.path().join("mailbox");
        let (t, m) = (tapes.display().to_string(), mailbox.display().to_string());
        let mut args = vec!["--json", "--scenario", "unlimited"];
        args.extend(["--tapes", &t, "--mailbox", &m]);
        args.extend(extra);
        let args = mock(&args);
        let mut run = Running::start_with(&args, Command::new(BIN));
        let ready: serde_json::Value = serde_json::from_str(&run.line()).unwrap();
        let addr = ready["plain"].as_str().unwrap().to_string();
        Mock {
            run,
            addr,
            tapes,
            mailbox,
            _dir: dir,
        }
    }

    fn client(&self) -> Smtp {
        let mut c = Smtp::connect(&self.addr);
        assert!(c.reply().starts_with("220 "));
        assert!(c.cmd("EHLO app.local").starts_with("250-"));
        c
    }

    /// Stops the mock; every output it made, and `show` of every tape in
    /// each of its forms.
    fn finish(self, sessions: usize) -> Vec<(String, Vec<u8>)> {
        let mut run = self.run;
        let mut ended = 0;
        while ended < sessions {
            if run.line().contains("\"type\":\"end\"") {
                ended += 1;
            }
        }
        let (code, stdout, stderr) = run.term();
        assert_eq!(code, 0, "{stderr}");
        let mut out = vec![
            (
                "live view (--json)".to_string(),
                stdout.join("\n").into_bytes(),
            ),
            ("stderr".to_string(), stderr.into_bytes()),
            ("tapes".to_string(), all_bytes(&self.tapes)),
        ];
        if self.mailbox.exists() {
            out.push(("mailbox".to_string(), all_bytes(&self.mailbox)));
        }
        for e in std::fs::read_dir(&self.tapes).unwrap() {
            out.extend(shows(&e.unwrap().path()));
        }
        out
    }
}

/// `show`, `show --json` and `show -` of a tape: each output, and the
/// status (a dirty tape is still a tape).
fn shows(tape: &Path) -> Vec<(String, Vec<u8>)> {
    let name = tape.display();
    let mut out = Vec::new();
    for args in [vec!["show"], vec!["show", "--json"]] {
        let o = Command::new(BIN)
            .args(&args)
            .arg(tape)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?} {name}: {o:?}");
        out.push((format!("{} {name}", args.join(" ")), o.stdout));
        out.push((format!("{} {name} (stderr)", args.join(" ")), o.stderr));
    }
    let o = run_with_stdin(&["show", "-"], &std::fs::read(tape).unwrap());
    assert!(o.status.success(), "show - {name}: {o:?}");
    out.push((format!("show - < {name}"), o.stdout));
    out.push((format!("show - < {name} (stderr)"), o.stderr));
    out
}

fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// Finding 1: any AUTH PLAIN field that looks like a key is a key. Twelve
/// layouts: authzid empty, `resend` or the key; user `resend` or the key;
/// the password the key or another word.
#[test]
fn auth_plain_with_the_key_in_any_field_shows_only_fingerprints() {
    let m = Mock::start(&[]);
    let mut n = 0;
    for authz in ["", "resend", K] {
        for user in ["resend", K] {
            for pass in [K, "hunter2-not-a-key"] {
                let mut c = m.client();
                let payload = b64(format!("{authz}\0{user}\0{pass}"));
                let reply = c.cmd(&format!("AUTH PLAIN {payload}"));
                assert!(
                    reply.starts_with("235 ") || reply.starts_with("535 "),
                    "{reply}"
                );
                // the same payload after a 334
                let mut c2 = m.client();
                assert_eq!(c2.cmd("AUTH PLAIN"), "334");
                c2.cmd(&payload);
                assert_eq!(c.cmd("QUIT"), "221 Bye");
                assert_eq!(c2.cmd("QUIT"), "221 Bye");
                n += 2;
            }
        }
    }
    let outputs = m.finish(n);
    assert_clean(&outputs);
    // the user field's key is named by its fingerprint, not dropped
    let tapes = String::from_utf8_lossy(&outputs[2].1).into_owned();
    assert!(
        tapes.contains("C: AUTH PLAIN <redacted user=re_…") && tapes.contains("authzid=re_…"),
        "{tapes}"
    );
}

/// Finding 4: a space inside the AUTH PLAIN base64 gets 501, and the
/// line is not kept as sent: the two halves would join into the key. The
/// payload is split at every position.
#[test]
fn auth_plain_base64_split_by_a_space_is_never_shown() {
    let m = Mock::start(&[]);
    let payload = b64(format!("\0resend\0{K}"));
    let mut n = 0;
    let mut c = m.client();
    for at in 1..payload.len() {
        let line = format!("AUTH PLAIN {} {}", &payload[..at], &payload[at..]);
        let reply = c.cmd(&line);
        assert!(reply.starts_with("501 "), "{line}: {reply}");
        if at % 15 == 0 {
            assert_eq!(c.cmd("QUIT"), "221 Bye");
            n += 1;
            c = m.client();
        }
    }
    assert_eq!(c.cmd("QUIT"), "221 Bye");
    let outputs = m.finish(n + 1);
    assert_clean(&outputs);
}

/// Finding 3: the key as an envelope local part. The tape redacted it; the
/// mailbox's X-Mailtape-Envelope-From/-To headers and the JSON message
/// event must too.
#[test]
fn a_key_as_the_envelope_local_part_is_redacted_in_the_mailbox_and_the_message_event() {
    let m = Mock::start(&[]);
    let mut c = m.client();
    assert!(
        c.cmd(&format!("AUTH PLAIN {}", b64(format!("\0resend\0{K}"))))
            .starts_with("235")
    );
    assert_eq!(c.cmd(&format!("MAIL FROM:<{K}@acme.com>")), "250 Accepted");
    assert_eq!(c.cmd("RCPT TO:<delivered@resend.dev>"), "250 Accepted");
    assert_eq!(c.cmd(&format!("RCPT TO:<{K}@resend.dev>")), "250 Accepted");
    assert!(c.cmd("DATA").starts_with("354"));
    assert!(c.cmd("Subject: hi\r\n\r\nhello\r\n.").starts_with("250 OK"));
    assert_eq!(c.cmd("QUIT"), "221 Bye");
    let outputs = m.finish(1);
    let eml = String::from_utf8_lossy(&outputs[3].1).into_owned();
    assert!(
        eml.starts_with("X-Mailtape-Envelope-From: <re_…")
            && eml.contains("@acme.com>\r\nX-Mailtape-Envelope-To: <delivered@resend.dev>, <re_…"),
        "{eml}"
    );
    assert_clean(&outputs);
}

/// Finding 7: the encoded and split forms real mail carries the key in,
/// in one message: an attachment whose base64 has the key at 31 offsets
/// (so it crosses the 76-column wrap at every alignment), RFC 2047 B and
/// Q encoded words, one folded across two words, quoted-printable with
/// `re=5F` and with a soft line break inside the key, and the key glued to
/// a word (`_re_`, `1re_`, `xre_`).
#[test]
fn encoded_and_split_keys_in_a_message_are_redacted() {
    let m = Mock::start(&[]);
    let mut c = m.client();
    assert!(
        c.cmd(&format!("AUTH PLAIN {}", b64(format!("\0resend\0{K}"))))
            .starts_with("235")
    );
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>"), "250 Accepted");
    assert_eq!(c.cmd("RCPT TO:<delivered@resend.dev>"), "250 Accepted");
    assert!(c.cmd("DATA").starts_with("354"));
    let message = encoded_message();
    let reply = c.cmd(&format!("{message}."));
    assert!(reply.starts_with("250 OK"), "{reply}");
    assert_eq!(c.cmd("QUIT"), "221 Bye");
    let outputs = m.finish(1);
    assert_clean(&outputs);
    // what is redacted is still mail: the attachment is base64 of the
    // redacted text, the encoded words decode to it
    let eml = String::from_utf8_lossy(&outputs[3].1).into_owned();
    let first = eml
        .split("--b1\r\n")
        .find(|p| p.contains("name=\"k40.txt\""))
        .expect("attachment k40.txt");
    let encoded: String = first
        .split("\r\n\r\n")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let text = String::from_utf8(decoded).unwrap();
    assert!(
        text.starts_with(&"y".repeat(30)) && text.contains("re_…"),
        "{text}"
    );
}

/// Issue 25, items 12 and 13: a quoted-printable line with the key then a
/// line of base64 of it (each was redacted alone, not together: the second
/// detector missed what the first changed), and the key cut by a header
/// fold. Every output — live view, tape, mailbox, `show` — is clean.
#[test]
fn quoted_printable_then_base64_and_a_folded_header_are_redacted_everywhere() {
    let m = Mock::start(&[]);
    let mut c = m.client();
    assert!(
        c.cmd(&format!("AUTH PLAIN {}", b64(format!("\0resend\0{K}"))))
            .starts_with("235")
    );
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>"), "250 Accepted");
    assert_eq!(c.cmd("RCPT TO:<delivered@resend.dev>"), "250 Accepted");
    assert!(c.cmd("DATA").starts_with("354"));
    let q = K.replace('_', "=5F");
    let message = format!(
        "From: a@acme.com\r\n\
         To: delivered@resend.dev\r\n\
         Subject: folded\r\n\
         X-Key: {}\r\n {}\r\n\
         X-Other: {}\r\n\t{}\r\n\
         Content-Type: text/plain\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         k={q}\r\n\
         {}\r\n\
         k=3D{q}\r\n\
         {}\r\n",
        &K[..11],
        &K[11..],
        &K[..1],
        &K[1..],
        b64(K),
        b64(format!("{K}!")),
    );
    let reply = c.cmd(&format!("{message}."));
    assert!(reply.starts_with("250 OK"), "{reply}");
    assert_eq!(c.cmd("QUIT"), "221 Bye");
    let outputs = m.finish(1);
    assert_clean(&outputs);
    let eml = String::from_utf8_lossy(&outputs[3].1).into_owned();
    assert!(eml.contains("<redacted base64 key=re_…"), "{eml}");
    assert!(eml.contains("X-Key: re_…"), "{eml}");
}

/// Issue 25, item 14: a key that can never authenticate (a space, junk
/// before `re_`, a trailing `!`) is refused when the mock starts, from
/// `--key` or an account file, in one line that never quotes the key.
#[test]
fn a_key_that_can_never_authenticate_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            format!("{}{}", &K[..12], &K[12..]).replacen("3y_", "3y _", 1),
            "(a space)",
        ),
        (format!("xx{K}"), "does not start with re_"),
        (format!("{K}!"), "`!`"),
    ];
    for (key, why) in &cases {
        let mut cmd = Command::new(BIN);
        cmd.args(mock(&["--key", "re_fine_key_123", "--key", key]));
        let o = refused(cmd);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{key:?} accepted: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.starts_with("mailtape: --key: the 2nd key can never authenticate: ")
                && err.contains(why),
            "{err}"
        );
        assert_clean(&[("stderr".into(), o.stderr), ("stdout".into(), o.stdout)]);
    }
    // an account file
    let account = dir.path().join("account.toml");
    std::fs::write(
        &account,
        format!("[[keys]]\nkey = \"{}\"\n", K.replacen("3y_", "3y _", 1)),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(mock(&["--account"])).arg(&account);
    let o = refused(cmd);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "accepted: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("account.toml: the 1st key can never authenticate: it holds ` ` (a space)"),
        "{err}"
    );
    assert_clean(&[("stderr".into(), o.stderr)]);
}

/// The message `encoded_and_split_keys_in_a_message_are_redacted` sends.
fn encoded_message() -> String {
    let q = K.replace('_', "=5F");
    let (half1, half2) = K.split_at(12);
    let mut m = format!(
        "From: a@acme.com\r\n\
         To: delivered@resend.dev\r\n\
         Subject: =?utf-8?B?{}?=\r\n\
         X-Folded: =?utf-8?B?{}?=\r\n =?utf-8?B?{}?=\r\n\
         X-Q: =?utf-8?Q?the_key_{q}?=\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b1\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         the key is {q} today\r\n\
         and again {}=\r\n{} split by a soft break\r\n\
         glued: _{K} 1{K} x{K}\r\n",
        b64(format!("the key {K}")),
        b64(format!("key: {half1}")),
        b64(half2),
        &K[..15],
        &K[15..],
    );
    for n in 30..61 {
        let text = format!("{}{K}\n", "y".repeat(n));
        let enc = b64(text);
        m.push_str(&format!(
            "--b1\r\nContent-Type: text/plain; name=\"k{n}.txt\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        for chunk in enc.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap());
            m.push_str("\r\n");
        }
    }
    m.push_str("--b1--\r\n");
    m
}

/// Finding 2: `show` redacts a tape it reads, not only what mailtape
/// captured: a hand-written or edited tape with the key in a header, a
/// comment, client and server lines, a raw AUTH PLAIN payload (whole and
/// split by a space), a base64 body wrapped across `D:` lines, and a note.
#[test]
fn show_redacts_a_hand_written_tape_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("dirty.tape");
    let payload = b64(format!("\0resend\0{K}"));
    let attachment = b64(format!("{}{K}\n", "y".repeat(40)));
    let (a1, a2) = attachment.split_at(56);
    let text = format!(
        "# mailtape tape v1\n\
         # made with key {K}\n\
         \n\
         ## session 1 · mode replay · source {K}\n\
         # the key {K} again\n\
         S: 220 smtp.resend.com ESMTP\n\
         C: EHLO app.local\n\
         S: 250 AUTH PLAIN LOGIN\n\
         C: AUTH PLAIN {payload}\n\
         S: 535 not {K}\n\
         C: AUTH PLAIN {} {}\n\
         C: AUTH LOGIN\n\
         S: 334 VXNlcm5hbWU6\n\
         C: {}\n\
         S: 334 UGFzc3dvcmQ6\n\
         C: {}\n\
         S: 235 ok\n\
         C: MAIL FROM:<{K}@acme.com>\n\
         S: 250 Accepted\n\
         C: DATA\n\
         S: 354 go\n\
         D: X-Key: {K}\n\
         D:\n\
         D: {a1}\n\
         D: {a2}\n\
         C: .\n\
         S: 250 OK\n\
         *: upstream said {K}\n\
         *: closed by client\n",
        &payload[..10],
        &payload[10..],
        b64(K),
        b64(K),
    );
    std::fs::write(&tape, &text).unwrap();
    assert!(!leaks(text.as_bytes(), K).is_empty());
    // redaction on read is stable: what is read, written back and read
    // again is the same tape (the fuzz target tape_parse checks this too)
    let read = mailtape::tape::Tape::parse(&text, "dirty.tape").unwrap();
    let written = read.to_text();
    assert!(leaks(written.as_bytes(), K).is_empty(), "{written}");
    assert_eq!(
        mailtape::tape::Tape::parse(&written, "again").unwrap(),
        read
    );
    assert_eq!(
        mailtape::tape::Tape::parse(&written, "again")
            .unwrap()
            .to_text(),
        written
    );
    let outputs = shows(&tape);
    assert_clean(&outputs);
    // still shown, by its fingerprint
    let shown = String::from_utf8_lossy(&outputs[0].1).into_owned();
    assert!(
        shown.contains("S: 535 not re_…")
            && shown.contains("C: AUTH PLAIN <redacted user=resend key=re_…"),
        "{shown}"
    );
}

/// Finding 5: errors never echo a key — a TOML error on an account file's
/// key line, a profile error, a malformed tape line, `--owner` with a key.
/// Finding 18: each is one line, `file:line:col: what`.
#[test]
fn errors_never_echo_a_key_and_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("account.toml");
    std::fs::write(
        &account,
        format!("owner = \"me@acme.com\"\nkeys = [{{ key = \"{K}\", domain = 5 }}]\n"),
    )
    .unwrap();
    let syntax = dir.path().join("syntax.toml");
    std::fs::write(&syntax, format!("keys = [{{ key = \"{K}\" \n")).unwrap();
    let profile = dir.path().join("profile.toml");
    std::fs::write(&profile, format!("hostname = {K}\n")).unwrap();
    let tape = dir.path().join("bad.tape");
    std::fs::write(
        &tape,
        format!("# mailtape tape v1\n## session 1\nX: the key is {K} here\n"),
    )
    .unwrap();
    let path = |p: &Path| p.display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (mock(&["--account", &path(&account)]), "account.toml:2:"),
        (mock(&["--account", &path(&syntax)]), "syntax.toml:"),
        (mock(&["--profile", &path(&profile)]), "profile.toml:1:12: "),
        (mock(&["--owner", K]), "--owner"),
        (vec!["show".into(), path(&tape)], "bad.tape:3: "),
        (
            ["replay", &path(&tape)]
                .iter()
                .chain(&PLAIN_ONLY)
                .map(|s| s.to_string())
                .collect(),
            "bad.tape:3: ",
        ),
    ];
    let mut outputs = Vec::new();
    for (args, want) in &cases {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        let o = refused(cmd);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line, got {err}"
        );
        outputs.push((format!("{args:?} stderr"), o.stderr));
        outputs.push((format!("{args:?} stdout"), o.stdout));
    }
    assert_clean(&outputs);
}

/// A server that repeats what it was sent: every reply carries the line it
/// answers, and an AUTH reply also its decoded payload and the payload in
/// quotes. Serves `connections` sessions.
fn echo_server(connections: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming().take(connections) {
            let Ok(s) = s else { return };
            std::thread::spawn(move || echo(s));
        }
    });
    addr
}

fn echo(s: std::net::TcpStream) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut say = |t: &str| w.write_all(format!("{t}\r\n").as_bytes()).is_ok();
    say("220 echo.test ESMTP");
    let mut line = String::new();
    let mut in_data = false;
    while r.read_line(&mut line).unwrap_or(0) > 0 {
        let l = line.trim_end().to_string();
        line.clear();
        let decoded = |p: &str| {
            String::from_utf8_lossy(
                &base64::engine::general_purpose::STANDARD
                    .decode(p)
                    .unwrap_or_default(),
            )
            .replace('\0', " ")
        };
        let ok = if in_data {
            if l == "." {
                in_data = false;
                say("554 refused your message")
            } else {
                true
            }
        } else if l.starts_with("EHLO") {
            say(&format!("250-echo.test hello {l}"))
                && say("250-AUTH PLAIN LOGIN")
                && say("250 8BITMIME")
        } else if let Some(p) = l.strip_prefix("AUTH PLAIN ") {
            say(&format!(
                "535-5.7.8 you sent {l}\r\n535-\"{p}\"\r\n535 that is {}",
                decoded(p)
            ))
        } else if l == "AUTH LOGIN" {
            say("334 VXNlcm5hbWU6")
        } else if l == "DATA" {
            in_data = true;
            say("354 go ahead")
        } else if l.starts_with("MAIL") || l.starts_with("RCPT") {
            say(&format!("250 ok {l}"))
        } else if l == "QUIT" {
            say("221 bye");
            return;
        } else {
            // an AUTH LOGIN line, or anything else
            say(&format!("535 5.7.8 you sent \"{l}\" ({})", decoded(&l)))
        };
        if !ok {
            return;
        }
    }
}

/// Finding 6: `check` shows the server's replies redacted, in its
/// transcript and in the `--json` detail, whatever the server echoes.
#[test]
fn check_redacts_what_a_server_echoes() {
    let mut outputs = Vec::new();
    for auth in ["plain", "login"] {
        for json in [false, true] {
            let addr = echo_server(1);
            let (host, port) = addr.split_once(':').unwrap();
            let mut cmd = Command::new(BIN);
            cmd.args([
                "check", "--host", host, "--port", port, "--tls", "none", "--auth", auth,
            ])
            .args([
                "--timeout",
                "5",
                "--from",
                "a@acme.com",
                "--to",
                "delivered@resend.dev",
            ])
            .env("RESEND_API_KEY", K)
            .env("NO_COLOR", "1");
            if json {
                cmd.arg("--json");
            }
            let o = cmd.output().unwrap();
            assert_eq!(o.status.code(), Some(12), "{o:?}");
            let out = String::from_utf8_lossy(&o.stdout).into_owned();
            assert!(out.contains("535"), "{out}");
            outputs.push((format!("check --auth {auth} json={json} stdout"), o.stdout));
            outputs.push((format!("check --auth {auth} json={json} stderr"), o.stderr));
        }
    }
    assert_clean(&outputs);
}

/// Finding 6: `bench` reports the server's refusals redacted.
#[test]
fn bench_errors_are_redacted() {
    let mut outputs = Vec::new();
    for auth in ["plain", "login"] {
        for json in [false, true] {
            let addr = echo_server(2);
            let (host, port) = addr.split_once(':').unwrap();
            let mut cmd = Command::new(BIN);
            cmd.args([
                "bench", "--host", host, "--port", port, "--tls", "none", "--auth", auth,
            ])
            .args(["--connections", "1", "--messages", "2", "--key", K])
            .env("NO_COLOR", "1");
            if json {
                cmd.arg("--json");
            }
            let o = cmd.output().unwrap();
            let out = String::from_utf8_lossy(&o.stdout).into_owned();
            assert!(out.contains("you sent"), "{o:?}");
            outputs.push((format!("bench --auth {auth} json={json} stdout"), o.stdout));
            outputs.push((format!("bench --auth {auth} json={json} stderr"), o.stderr));
        }
    }
    assert_clean(&outputs);
}

/// Finding 17: a profile is checked when it is loaded: reply codes from
/// 200 to 599, no control characters (CR, LF, NUL, ESC) in the host name,
/// a reply text or an EHLO keyword. One line names the file, the line and
/// the column, and what is wrong.
#[test]
fn a_profile_that_would_break_the_protocol_is_refused_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("hostname = \"evil\\r\\n250 x\"\n", "p.toml:1:12: "),
        ("ehlo = [\"PIPELINING\", \"SIZE\\n250 x\"]\n", "p.toml:1:"),
        (
            "[replies]\nquit = { code = 999, text = \"Bye\", source = \"guess\" }\n",
            "p.toml:2:",
        ),
        (
            "[replies]\nquit = { code = 100, text = \"Bye\", source = \"guess\" }\n",
            "p.toml:2:",
        ),
        (
            "[replies]\nquit = { code = 0, text = \"Bye\", source = \"guess\" }\n",
            "p.toml:2:",
        ),
        (
            "[replies]\nquit = { code = 221, text = \"Bye\\r\\n250 x\", source = \"guess\" }\n",
            "p.toml:2:",
        ),
        (
            "[replies]\nquit = { code = 221, text = \"Bye\\u001b[2J\", source = \"guess\" }\n",
            "p.toml:2:",
        ),
        (
            "[variants.mine.replies]\nquit = { code = 1000, text = \"Bye\", source = \"guess\" }\n",
            "p.toml:2:",
        ),
        ("hostname = \"\"\n", "p.toml:1:12: "),
        // issue 25, item 15: a reply line is at most 512 octets
        (
            &*Box::leak(
                format!(
                    "[replies]\nquit = {{ code = 221, text = \"{}\", source = \"guess\" }}\n",
                    "x".repeat(10_000)
                )
                .into_boxed_str(),
            ),
            "p.toml:2:",
        ),
        (
            &*Box::leak(format!("hostname = \"{}\"\n", "h".repeat(600)).into_boxed_str()),
            "p.toml:1:12: hostname of 600 octets",
        ),
    ];
    for (text, want) in cases {
        let p = dir.path().join("p.toml");
        std::fs::write(&p, text).unwrap();
        for args in [
            mock(&["--profile"]),
            vec!["profile".into(), "--profile".into()],
        ] {
            let mut cmd = Command::new(BIN);
            cmd.args(&args).arg(&p);
            let o = refused(cmd);
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(!o.status.success(), "{text:?} accepted by {args:?}: {err}");
            let first = err.lines().next().unwrap_or("");
            assert!(
                first.starts_with("mailtape: ") && first.contains(want),
                "{text:?}: {err}"
            );
            assert_eq!(err.trim_end().lines().count(), 1, "{text:?}: {err}");
        }
    }
}

/// Runs `cmd`, which should fail at once; a server that started instead
/// is stopped after two seconds (its status then is not a success).
fn refused(mut cmd: Command) -> Output {
    let mut child = cmd
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..40 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

/// Finding 18: a TOML syntax error is one line, `file:line:col: what`.
#[test]
fn toml_syntax_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(&p, "hostname = \"x\"\n[replies\n").unwrap();
    let o = Command::new(BIN)
        .args(["profile", "--profile"])
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("mailtape: {}:2:", p.display())),
        "{err}"
    );
}

/// Finding 19: no ANSI colours on a stderr that is not a terminal, even
/// without NO_COLOR.
#[test]
fn no_colours_in_redirected_stderr() {
    let dir = tempfile::tempdir().unwrap();
    // and a warning from the server itself: a torn record tape repaired
    let tape = dir.path().join("torn.tape");
    std::fs::write(&tape, "# mailtape tape v1\n\n## session 1\nS: 220 x").unwrap();
    let mut child = Command::new(BIN)
        .arg("record")
        .args(PLAIN_ONLY)
        .args(["--quiet", "--upstream", "127.0.0.1:9", "--tape"])
        .arg(&tape)
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    common::cli::wait_exit(&mut child);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("cut back a last session torn by a crash"),
        "{err:?}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// The session of the record and replay test: AUTH PLAIN with a payload
/// split by a space and with the key as the user and the authzid (both
/// refused), then accepted; the key as an envelope local part; and the
/// message with every encoded form.
fn hostile_sessions(addr: &str) {
    // A replay that diverges closes the connection: what is left is not sent.
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut reply = || {
        let mut l = String::new();
        while r.read_line(&mut l).unwrap_or(0) > 0 && l.as_bytes().get(3) == Some(&b'-') {
            l.clear();
        }
        l
    };
    reply();
    let payload = b64(format!("\0resend\0{K}"));
    for line in [
        "EHLO app.local".to_string(),
        format!("AUTH PLAIN {} {}", &payload[..10], &payload[10..]),
        format!("AUTH PLAIN {}", b64(format!("{K}\0{K}\0{K}"))),
        format!("AUTH PLAIN {payload}"),
        format!("MAIL FROM:<{K}@acme.com>"),
        "RCPT TO:<delivered@resend.dev>".to_string(),
        "DATA".to_string(),
        format!("{}.", encoded_message()),
        "QUIT".to_string(),
    ] {
        if w.write_all(format!("{line}\r\n").as_bytes()).is_err() {
            return;
        }
        // a replay that diverged refuses DATA: the body is not sent as commands
        if !reply().starts_with("354") && line == "DATA" {
            return;
        }
    }
}

/// Record and replay (findings 1–4, 7): the same hostile sessions through
/// `record` (to a mock) and then `replay` of what was recorded; nothing
/// either writes holds the key — live views, stderr with trace logs, the
/// tape and `show` of it.
#[test]
fn record_and_replay_of_hostile_sessions_write_no_key() {
    let upstream = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("recorded.tape");
    let tape_arg = tape.display().to_string();
    let mut args = vec!["record", "--json", "--upstream", &upstream.addr];
    args.extend(["--upstream-tls", "none", "--tape", &tape_arg]);
    args.extend(PLAIN_ONLY);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut cmd = Command::new(BIN);
    cmd.env("MAILTAPE_LOG", "trace");
    let mut rec = Running::start_with(&args, cmd);
    let ready: serde_json::Value = serde_json::from_str(&rec.line()).unwrap();
    hostile_sessions(ready["plain"].as_str().unwrap());
    rec.until(|l| l.contains("\"type\":\"end\""));
    let (code, stdout, stderr) = rec.term();
    assert_eq!(code, 0, "{stderr}");
    let mut outputs = vec![
        ("record --json".to_string(), stdout.join("\n").into_bytes()),
        ("record stderr (trace)".to_string(), stderr.into_bytes()),
        ("recorded tape".to_string(), std::fs::read(&tape).unwrap()),
    ];
    outputs.extend(shows(&tape));

    let mut args = vec!["replay", "--json", &tape_arg];
    args.extend(PLAIN_ONLY);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut cmd = Command::new(BIN);
    cmd.env("MAILTAPE_LOG", "trace");
    let mut rep = Running::start_with(&args, cmd);
    let ready: serde_json::Value = serde_json::from_str(&rep.line()).unwrap();
    hostile_sessions(ready["plain"].as_str().unwrap());
    rep.until(|l| l.contains("\"type\":\"end\""));
    let (_, stdout, stderr) = rep.term();
    // a malformed AUTH line is matched by its redacted form: no divergence
    assert!(!stdout.join("\n").contains("diverged"), "{stdout:?}");
    outputs.push(("replay --json".to_string(), stdout.join("\n").into_bytes()));
    outputs.push(("replay stderr (trace)".to_string(), stderr.into_bytes()));
    outputs.extend(upstream.finish(1));
    assert_clean(&outputs);
}

/// `mailtape profile` prints the profile in force: a key pasted into a
/// profile file (a reply text, the host name, an EHLO keyword) is not
/// printed, in either form.
#[test]
fn profile_output_never_shows_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "hostname = \"{K}\"\nehlo = [\"X-{K}\"]\n[replies]\nquit = {{ code = 221, text = \"Bye {K}\", source = \"guess\" }}\n"
        ),
    )
    .unwrap();
    let mut outputs = Vec::new();
    for json in [false, true] {
        let mut cmd = Command::new(BIN);
        cmd.args(["profile", "--profile"]).arg(&p);
        if json {
            cmd.arg("--json");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{o:?}");
        outputs.push((format!("profile json={json}"), o.stdout));
        outputs.push((format!("profile json={json} (stderr)"), o.stderr));
    }
    assert_clean(&outputs);
}

/// The inbox (HTTP) reads the tapes and `.eml` files already on disk when
/// it starts: a hand-written or edited one is redacted on read, so no
/// response — lists, a session, its tape, a message raw, parsed or viewed —
/// holds the key.
#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_redacts_files_it_reads_from_disk() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (tapes, mailbox) = (dir.path().join("tapes"), dir.path().join("mailbox"));
    std::fs::create_dir_all(&tapes).unwrap();
    std::fs::create_dir_all(&mailbox).unwrap();
    let payload = b64(format!("\0resend\0{K}"));
    std::fs::write(
        tapes.join("dirty.tape"),
        format!(
            "# mailtape tape v1\n\n## session 1 · mode mock · source {K}\n\
             S: 220 smtp.resend.com ESMTP\nC: AUTH PLAIN {payload}\nS: 235 ok {K}\n\
             C: MAIL FROM:<{K}@acme.com>\nS: 250 Accepted\nC: RCPT TO:<delivered@resend.dev>\n\
             S: 250 Accepted\nC: DATA\nS: 354 go\nD: Subject: {K}\nD:\nD: {K}\nC: .\n\
             S: 250 OK\n*: closed by client\n"
        ),
    )
    .unwrap();
    std::fs::write(
        mailbox.join("dirty.eml"),
        format!(
            "X-Mailtape-Envelope-From: <{K}@acme.com>\r\nX-Mailtape-Envelope-To: <delivered@resend.dev>\r\n{}",
            encoded_message()
        ),
    )
    .unwrap();
    let server = mailtape::MockServer::builder()
        .tapes(&tapes)
        .mailbox(&mailbox)
        .ui("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let url = server.ui_url().unwrap();
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let get = |path: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
        (path, out)
    };
    // the disk is read at start, off the async threads: wait for both
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let lists = loop {
        let (_, s) = get("/api/sessions".into()).await;
        let (_, m) = get("/api/messages".into()).await;
        let text = String::from_utf8_lossy(&s).to_string() + &String::from_utf8_lossy(&m);
        if text.contains("dirty.tape") && text.contains("\"dirty\"")
            || std::time::Instant::now() > until
        {
            break (s, m);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut outputs = vec![
        ("/api/sessions".to_string(), lists.0),
        ("/api/messages".to_string(), lists.1),
    ];
    let body = |b: &[u8]| {
        let text = String::from_utf8_lossy(b).into_owned();
        let json = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        serde_json::from_str::<serde_json::Value>(&json).unwrap_or_default()
    };
    let sessions = body(&outputs[0].1);
    let messages = body(&outputs[1].1);
    let mut paths = Vec::new();
    for s in sessions["sessions"].as_array().expect("sessions listed") {
        let k = &s["key"];
        paths.push(format!("/api/sessions/{k}"));
        paths.push(format!("/api/sessions/{k}/tape"));
    }
    let ids: Vec<String> = messages["messages"]
        .as_array()
        .expect("messages listed")
        .iter()
        .filter_map(|m| m["id"].as_str().map(String::from))
        .collect();
    assert!(ids.iter().any(|i| i == "dirty"), "{messages}");
    for id in &ids {
        for p in ["", "/raw", "/html", "/parts/1", "/parts/2"] {
            paths.push(format!("/api/messages/{id}{p}"));
        }
        for p in ["", "/headers", "/raw", "/part/1"] {
            paths.push(format!("/api/v1/message/{id}{p}"));
        }
        paths.push(format!("/view/{id}.html"));
        paths.push(format!("/view/{id}.txt"));
    }
    for p in paths {
        outputs.push(get(p).await);
    }
    server.shutdown().await;
    assert_clean(&outputs);
}

/// One request over a fresh connection, as raw bytes; the answer, raw.
async fn http_bytes(addr: &str, request: String) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    out
}

/// Issue 25, items 6 and 7: no error answer of either HTTP listener quotes
/// a key — not-found paths (clear and percent-encoded), `?outcome=`, the
/// scenario name, JSON-body errors of mailtape's and Mailpit's API, the
/// Host and Origin refusals, the REST API's 404 and 405 — and a Host of
/// `re_….localhost` (which passes the rebinding guard) is not kept in the
/// REST session's metadata: tapes, the session API, transcripts.
#[tokio::test(flavor = "multi_thread")]
async fn no_http_error_answer_or_rest_session_metadata_holds_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = dir.path().join("tapes");
    std::fs::create_dir_all(&tapes).unwrap();
    let server = mailtape::MockServer::builder()
        .scenario("unlimited")
        .tapes(&tapes)
        .ui("127.0.0.1:0".parse().unwrap())
        .rest()
        .start()
        .await
        .unwrap();
    let ui = server
        .ui_url()
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let rest = server
        .rest_url()
        .unwrap()
        .trim_start_matches("http://")
        .to_string();
    let pct = K.replace('_', "%5F");
    let get = |path: &str, host: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {K}\r\nConnection: close\r\n\r\n"
        )
    };
    let with_body = |method: &str, path: &str, host: &str, extra: &str, body: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Authorization: Bearer {K}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let mut requests = Vec::new();
    for key in [K, pct.as_str()] {
        for path in [
            format!("/api/sessions/{key}"),
            format!("/api/sessions/{key}/tape"),
            format!("/api/messages/{key}"),
            format!("/api/messages/{key}/raw"),
            format!("/api/messages/{key}/html"),
            format!("/api/messages/1/parts/{key}"),
            format!("/api/v1/message/{key}"),
            format!("/api/v1/message/{key}/headers"),
            format!("/api/v1/message/{key}/part/{key}"),
            format!("/view/{key}.html"),
            format!("/api/sessions?outcome={key}"),
            format!("/api/messages?start={key}"),
            format!("/api/v1/messages?limit={key}"),
            format!("/{key}"),
        ] {
            requests.push((ui.clone(), get(&path, &ui)));
        }
        for path in [format!("/emails/{key}"), format!("/domains/{key}")] {
            requests.push((ui.clone(), get(&path, &ui)));
            requests.push((rest.clone(), get(&path, &rest)));
        }
        requests.push((
            rest.clone(),
            with_body("DELETE", &format!("/emails/{key}"), &rest, "", ""),
        ));
    }
    for body in [
        format!(r#"{{"scenario":"{K}"}}"#),
        format!(r#"{{"scenario":1,"{K}":2}}"#),
        format!(r#"{{"{K}""#),
    ] {
        requests.push((
            ui.clone(),
            with_body("PUT", "/api/scenario", &ui, "", &body),
        ));
    }
    for body in [
        format!(r#"{{"IDs":["{K}"],"Read":"{K}"}}"#),
        format!(r#"{{"IDs":"{K}"}}"#),
        K.to_string(),
    ] {
        requests.push((
            ui.clone(),
            with_body("PUT", "/api/v1/messages", &ui, "", &body),
        ));
        requests.push((
            ui.clone(),
            with_body("DELETE", "/api/v1/messages", &ui, "", &body),
        ));
    }
    for (addr, host) in [
        (&ui, format!("{K}.evil.example")),
        (&rest, format!("{K}.evil.example:1")),
    ] {
        requests.push((addr.clone(), get("/api/sessions", &host)));
        requests.push((addr.clone(), get("/emails", &host)));
    }
    for addr in [&ui, &rest] {
        let origin = format!("Origin: http://{K}.evil.example\r\n");
        requests.push((
            addr.clone(),
            with_body("POST", "/emails", addr, &origin, "{}"),
        ));
        let site = format!("Sec-Fetch-Site: {K}\r\n");
        requests.push((
            addr.clone(),
            with_body("POST", "/api/clear", addr, &site, "{}"),
        ));
    }
    // A Host of `re_….localhost` passes the guard: REST sessions must not
    // keep it.
    let email =
        r#"{"from":"billing@acme.com","to":["delivered@resend.dev"],"subject":"Hi","text":"Hi"}"#;
    for addr in [&ui, &rest] {
        let host = format!("{K}.localhost:{}", addr.rsplit(':').next().unwrap());
        requests.push((addr.clone(), with_body("POST", "/emails", &host, "", email)));
        requests.push((addr.clone(), get("/emails", &host)));
    }
    let mut outputs = Vec::new();
    let mut statuses = Vec::new();
    for (addr, req) in &requests {
        let answer = http_bytes(addr, req.clone()).await;
        let line = String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        statuses.push(line.clone());
        outputs.push((format!("{} → {line}", req.lines().next().unwrap()), answer));
    }
    // Most are refusals (4xx): the point is that they quote the request.
    let refused = statuses.iter().filter(|l| l.contains(" 4")).count();
    assert!(refused >= requests.len() - 8, "{statuses:#?}");
    assert_eq!(
        server.messages().len(),
        2,
        "the two emails sent with that Host"
    );
    // What the REST sessions kept: transcripts, the session API, tapes.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.transcripts().len() < 10 && std::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for t in server.transcripts() {
        outputs.push((
            format!("transcript {}", t.meta.id),
            t.to_tape().into_bytes(),
        ));
        outputs.push((
            format!("transcript {} meta", t.meta.id),
            format!("{:?}", t.meta).into_bytes(),
        ));
    }
    let list = http_bytes(&ui, get("/api/sessions?protocol=http&limit=1000", &ui)).await;
    let text = String::from_utf8_lossy(&list).into_owned();
    let json: serde_json::Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
    let keys: Vec<u64> = json["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["key"].as_u64())
        .collect();
    assert!(
        keys.len() > 4,
        "the session API shows the REST sessions: {json}"
    );
    outputs.push(("/api/sessions".into(), list));
    for k in keys {
        for p in [
            format!("/api/sessions/{k}"),
            format!("/api/sessions/{k}/tape"),
        ] {
            let answer = http_bytes(&ui, get(&p, &ui)).await;
            outputs.push((p, answer));
        }
    }
    server.shutdown().await;
    outputs.push(("tapes".into(), all_bytes(&tapes)));
    assert_clean(&outputs);
}

/// One HTTP/1.1 request over a fresh connection; the whole answer.
fn http_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The REST requests a careless or hostile app makes with the key in them:
/// the bearer header, another header, the JSON (a string, an object key,
/// base64 of it, after an escape), the query (clear and percent-encoded),
/// the path (base64). Returns how many were sent.
fn hostile_rest(addr: &str) -> usize {
    let bearer = format!("Bearer {K}");
    let auth = [("Authorization", bearer.as_str()), ("Idempotency-Key", K)];
    let body = serde_json::json!({
        "from": "Acme <billing@acme.com>",
        "to": ["delivered@resend.dev"],
        "subject": format!("key {K}"),
        "text": format!("line\n{K}"),
        "headers": {"X-Key": b64(K), K: "as a name"},
        "attachments": [{"filename": "k.txt", "content": b64(format!("the key is {K}"))}],
    })
    .to_string();
    let encoded = K.replace('_', "%5F");
    let path = format!("/emails/{}", b64(K));
    let requests: Vec<(&str, String, String)> = vec![
        ("POST", "/emails".into(), body),
        ("GET", format!("/emails?after={K}"), String::new()),
        ("GET", format!("/emails?after={encoded}"), String::new()),
        ("GET", path, String::new()),
    ];
    for (method, target, body) in &requests {
        let answer = http_request(addr, method, target, &auth, body);
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    }
    requests.len()
}

/// The REST door recorded (in front of a mock over HTTPS) and replayed:
/// the tape, `show` of it in every form, the live views and stderr hold no
/// key, whatever the app put where.
#[test]
fn rest_record_and_replay_write_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let certs_arg = certs.display().to_string();
    let mut args = mock(&["--json", "--scenario", "unlimited", "--certs", &certs_arg]);
    args.extend(["--rest", "127.0.0.1:0", "--rest-tls"].map(String::from));
    let mut upstream = Running::start_with(&args, Command::new(BIN));
    let ready: serde_json::Value = serde_json::from_str(&upstream.line()).unwrap();
    let rest_upstream = ready["rest"].as_str().unwrap().to_string();
    assert!(rest_upstream.starts_with("https://"), "{ready}");

    let tape = dir.path().join("rest.tape");
    let tape_arg = tape.display().to_string();
    let ca = certs.join("ca.pem").display().to_string();
    let mut args = vec![
        "record",
        "--json",
        "--upstream",
        "127.0.0.1:9",
        "--tape",
        &tape_arg,
    ];
    args.extend(["--certs", &certs_arg, "--rest", "127.0.0.1:0"]);
    args.extend(["--rest-upstream", &rest_upstream, "--rest-upstream-ca", &ca]);
    args.extend(PLAIN_ONLY);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut cmd = Command::new(BIN);
    cmd.env("MAILTAPE_LOG", "trace");
    let mut rec = Running::start_with(&args, cmd);
    let ready: serde_json::Value = serde_json::from_str(&rec.line()).unwrap();
    let base = ready["rest"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_string();
    let n = hostile_rest(&base);
    for _ in 0..n {
        rec.until(|l| l.contains("\"type\":\"end\""));
    }
    let (code, stdout, stderr) = rec.term();
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&tape).unwrap();
    assert_eq!(text.matches("listener http").count(), n, "{text}");
    let mut outputs = vec![
        ("record --json".to_string(), stdout.join("\n").into_bytes()),
        ("record stderr (trace)".to_string(), stderr.into_bytes()),
        ("recorded REST tape".to_string(), text.into_bytes()),
    ];
    outputs.extend(shows(&tape));
    let (_, up_out, up_err) = upstream.term();
    drop(up_out);
    drop(up_err);

    // Replayed with the same requests: matched, and still nothing leaks.
    let mut args = vec!["replay", "--json", &tape_arg, "--rest", "127.0.0.1:0"];
    args.extend(PLAIN_ONLY);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut cmd = Command::new(BIN);
    cmd.env("MAILTAPE_LOG", "trace");
    let mut rep = Running::start_with(&args, cmd);
    let ready: serde_json::Value = serde_json::from_str(&rep.line()).unwrap();
    let base = ready["rest"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_string();
    hostile_rest(&base);
    for _ in 0..n {
        rep.until(|l| l.contains("\"type\":\"end\""));
    }
    let (code, stdout, stderr) = rep.term();
    let live = stdout.join("\n");
    assert!(!live.contains("diverged"), "{live}");
    assert_eq!(code, 0, "{stderr}");
    outputs.push(("replay --json".to_string(), live.into_bytes()));
    outputs.push(("replay stderr (trace)".to_string(), stderr.into_bytes()));
    assert_clean(&outputs);
}

/// Issue 25, items 2 and 11: what the inbox decodes is scrubbed after it is
/// decoded — a file name in RFC 2231 continuations cut 7 characters after
/// `re_` (REST, whose MIME builder cuts long names, and SMTP), one
/// percent-encoded (`filename*=utf-8''re%5F…`), a key written with HTML
/// character references (`re&#95;…`) — in every view, in both downloads'
/// `Content-Disposition`, in the raw message and the `.eml` files, and
/// again after a restart reads the mailbox.
#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_scrubs_what_it_decodes_and_after_a_restart() {
    use lettre::AsyncTransport;
    use lettre::transport::smtp::authentication::Mechanism;
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mailbox");
    std::fs::create_dir_all(&mailbox).unwrap();
    let start = || async {
        mailtape::MockServer::builder()
            .scenario("unlimited")
            .mailbox(&mailbox)
            .ui("127.0.0.1:0".parse().unwrap())
            .start()
            .await
            .unwrap()
    };
    let server = start().await;
    let ui = |s: &mailtape::MockServer| {
        s.ui_url()
            .unwrap()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    };
    let addr = ui(&server);
    let long_name = format!("{}-{K}-statement.pdf", "quarterly-invoice".repeat(4));
    let email = serde_json::json!({
        "from": "billing@acme.com",
        "to": ["delivered@resend.dev"],
        "subject": "Invoice",
        "html": format!("<p>Your key: re&#95;{}</p>", &K[3..]),
        "attachments": [{"filename": long_name, "content": b64("hello")}],
    })
    .to_string();
    let answer = http_bytes(
        &addr,
        format!(
            "POST /emails HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {K}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{email}",
            email.len()
        ),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let rest_id = answer
        .split("\"id\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let t = common::transport(&server, common::Mode::Plain, "resend", K, Mechanism::Plain);
    let envelope = lettre::address::Envelope::new(
        Some("billing@acme.com".parse().unwrap()),
        vec!["delivered@resend.dev".parse().unwrap()],
    )
    .unwrap();
    let (head, tail) = K.split_at(10); // "re_" and 7 more
    let pct = format!("re%5F{}", &K[3..].replace('_', "%5F"));
    let entity = format!("re&#x5F;{}", &K[3..].replace('_', "&lowbar;"));
    let mut smtp_ids = Vec::new();
    for (disposition, html) in [
        (
            format!("attachment; filename*0=\"{head}\"; filename*1=\"{tail}.pdf\""),
            "<p>Hi</p>".to_string(),
        ),
        (
            format!("attachment; filename*=utf-8''{pct}.pdf"),
            format!("<p>Key: {entity}</p>"),
        ),
    ] {
        let raw = format!(
            "From: billing@acme.com\r\nTo: delivered@resend.dev\r\nSubject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n{html}\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: {disposition}\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n"
        );
        let reply = t.send_raw(&envelope, raw.as_bytes()).await.expect("250");
        let text: String = reply.message().collect::<Vec<_>>().join(" ");
        smtp_ids.push(text.trim_start_matches("OK ").trim().to_string());
    }
    let views = |id: &str| {
        vec![
            format!("/api/v1/message/{id}"),
            format!("/api/v1/message/{id}/part/1"),
            format!("/api/v1/message/{id}/part/2"),
            format!("/api/messages/{id}"),
            format!("/api/messages/{id}/parts/1"),
            format!("/api/messages/{id}/parts/2"),
            format!("/api/messages/{id}/html"),
            format!("/view/{id}.html"),
            // The raw message too: the key cut into continuations (or
            // percent-encoded) is redacted in the parameter itself.
            format!("/api/v1/message/{id}/raw"),
            format!("/api/messages/{id}/raw"),
            format!("/api/v1/messages"),
            format!("/api/messages"),
        ]
    };
    let fetch = |addr: String, ids: Vec<String>| async move {
        let mut outputs = Vec::new();
        for id in &ids {
            for path in views(id) {
                let req =
                    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                let answer = http_bytes(&addr, req).await;
                outputs.push((path, answer));
            }
        }
        outputs
    };
    let mut ids = vec![rest_id.clone()];
    ids.extend(smtp_ids);
    let mut outputs = fetch(addr.clone(), ids.clone()).await;
    // The names are there, redacted, not dropped.
    let shown = String::from_utf8_lossy(&outputs[0].1).into_owned();
    assert!(
        shown.contains("\"FileName\":\"quarterly-invoice"),
        "{shown}"
    );
    assert!(shown.contains("re_…"), "{shown}");
    let names: usize = outputs
        .iter()
        .filter(|(p, a)| {
            p.contains("/part")
                && String::from_utf8_lossy(a)
                    .to_ascii_lowercase()
                    .contains("content-disposition: attachment; filename=")
        })
        .count();
    assert!(names >= 3, "downloads name their files");
    server.shutdown().await;
    // After a restart the inbox reads the mailbox: the same views.
    let again = start().await;
    let addr = ui(&again);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list = http_bytes(
            &addr,
            format!("GET /api/messages HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        if String::from_utf8_lossy(&list).contains(&rest_id) || std::time::Instant::now() > until {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for (p, a) in fetch(addr, ids).await {
        outputs.push((format!("after restart {p}"), a));
    }
    again.shutdown().await;
    outputs.push(("mailbox (.eml files)".to_string(), all_bytes(&mailbox)));
    assert_clean(&outputs);
}
