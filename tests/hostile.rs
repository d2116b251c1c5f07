//! Hostile clients (issue 7): every case asserts the exact reply, then that
//! the same server still serves a normal session. Plus regression tests for
//! what the fuzz targets under `fuzz/` found.

mod common;

use common::still_serves;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{KEY, Raw, authed, in_transaction, plain_payload, wait};
use mailtape::smtp::parse_reply;
use mailtape::tape::{EventKind, Tape, Transcript};
use mailtape::{MockBuilder, MockServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const EHLO_PLAIN: &str = "250-Resend SMTP Relay Nice to meet you, [127.0.0.1]\n250-PIPELINING\n250-8BITMIME\n250-SMTPUTF8\n250 AUTH PLAIN LOGIN";
const BAD_SYNTAX: &str = "500 Error: command not recognized";
const TOO_LONG: &str = "500 Error: line too long";
const UNKNOWN: &str = "500 Error: command not recognized";
const BAD_BASE64: &str = "500 Error: invalid userdata";
const CANCELLED: &str = "501 Authentication aborted";
const AUTH_OK: &str = "235 Authentication successful";
const TIMEOUT: &str = "421 Timeout - closing connection";
const LINE_TIMEOUT: &str = "421 Error: timeout exceeded before the end of the command line";
const DATA_TOO_SLOW: &str = "421 Error: message data too slow";
const DISCARDED: &str = "bytes sent before the TLS handshake were discarded";

fn b64(s: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn server() -> MockServer {
    with(|b| b).await
}

async fn with(f: impl FnOnce(MockBuilder) -> MockBuilder) -> MockServer {
    f(MockServer::builder().scenario("unlimited"))
        .start()
        .await
        .expect("mock starts")
}

/// A mock whose messages may be at most `limit` octets.
async fn small(limit: u64) -> (MockServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("small.toml");
    std::fs::write(
        &profile,
        format!("[limits]\nmessage_size = {limit}\nper_second = 0\n"),
    )
    .unwrap();
    let s = MockServer::builder()
        .profile_file(&profile)
        .start()
        .await
        .unwrap();
    (s, dir)
}

/// A plain session, greeted and EHLO'd.
async fn greeted(s: &MockServer) -> Raw {
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    assert_eq!(c.reply().await.to_string(), "220 Resend SMTP Relay ESMTP");
    c.send("EHLO app.local").await;
    assert_eq!(c.reply().await.to_string(), EHLO_PLAIN);
    c
}

async fn reply(c: &mut Raw) -> String {
    c.reply().await.to_string()
}

/// The transcript of the first finished session, as a tape, after `n` sessions finished.
async fn first_tape(s: &MockServer, n: usize) -> String {
    wait(s, n).await;
    let t = &s.transcripts()[0];
    let tape = t.to_tape();
    assert_printable(&tape);
    tape
}

/// Tape text is one line per event: no control character but LF (and tab).
fn assert_printable(tape: &str) {
    assert!(
        tape.chars()
            .all(|c| !c.is_control() || c == '\n' || c == '\t'),
        "control characters in the tape: {tape:?}"
    );
}

fn notes(t: &Transcript) -> Vec<String> {
    t.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

// ───────────────────────── overlong lines ─────────────────────────

#[tokio::test]
async fn a_1000_octet_line_is_accepted_and_a_1001_octet_line_is_500() {
    let s = server().await;
    let mut c = greeted(&s).await;
    // 998 + CRLF = 1000 octets: the limit, accepted
    c.send(&format!("NOOP {}", "a".repeat(993))).await;
    assert_eq!(reply(&mut c).await, "250 OK");
    // 999 + CRLF = 1001 octets
    c.send(&format!("NOOP {}", "a".repeat(994))).await;
    assert_eq!(reply(&mut c).await, TOO_LONG);
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_64k_line_in_one_write_gets_a_single_500() {
    let s = server().await;
    let mut c = greeted(&s).await;
    c.write(format!("NOOP {}\r\nNOOP\r\n", "x".repeat(65_536)).as_bytes())
        .await;
    assert_eq!(reply(&mut c).await, TOO_LONG);
    assert_eq!(reply(&mut c).await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn an_overlong_line_dribbled_over_200_writes_gets_a_single_500() {
    let s = server().await;
    let mut c = greeted(&s).await;
    for _ in 0..200 {
        c.write(&[b'M'; 100]).await;
    }
    c.write(b"\r\n").await;
    assert_eq!(reply(&mut c).await, TOO_LONG);
    // the tail of the long line was not read as a command of its own
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert_eq!(tape.matches("S: 500").count(), 1, "{tape}");
    assert!(tape.contains("*: line too long"), "{tape}");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_command_pipelined_after_an_overlong_line_is_answered() {
    let s = server().await;
    let mut c = greeted(&s).await;
    let mut batch = format!("RSET {}\r\n", "r".repeat(1500)).into_bytes();
    batch.extend_from_slice(b"HELP\r\n");
    c.write(&batch).await;
    assert_eq!(reply(&mut c).await, TOO_LONG);
    assert_eq!(
        reply(&mut c).await,
        "214 See https://tools.ietf.org/html/rfc5321 for details"
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn an_overlong_line_ended_by_a_bare_lf_is_one_500() {
    let s = server().await;
    let mut c = greeted(&s).await;
    c.write(format!("{}\n", "y".repeat(2000)).as_bytes()).await;
    assert_eq!(reply(&mut c).await, TOO_LONG);
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn four_megabytes_without_a_newline_are_one_500() {
    let s = server().await;
    let mut c = greeted(&s).await;
    let mb = vec![b'z'; 1 << 20];
    for _ in 0..4 {
        c.write(&mb).await;
    }
    c.write(b"\r\nNOOP\r\n").await;
    assert_eq!(reply(&mut c).await, TOO_LONG);
    assert_eq!(reply(&mut c).await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn overlong_lines_count_towards_the_error_limit() {
    let s = with(|b| b.max_errors(3)).await;
    let mut c = greeted(&s).await;
    let long = format!("{}\r\n", "L".repeat(1200));
    c.write(long.repeat(3).as_bytes()).await;
    assert_eq!(reply(&mut c).await, TOO_LONG);
    assert_eq!(reply(&mut c).await, TOO_LONG);
    assert_eq!(reply(&mut c).await, TOO_LONG);
    assert_eq!(
        reply(&mut c).await,
        "421 Resend SMTP Relay Error: too many errors"
    );
    assert!(c.closed().await);
    still_serves(&s).await;
}

// ───────────────────────── no line end ─────────────────────────

#[tokio::test]
async fn a_command_without_a_line_end_then_close_is_never_executed() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    assert_eq!(reply(&mut c).await, "220 Resend SMTP Relay ESMTP");
    c.write(b"EHLO app.local\r\nQUIT").await;
    c.shutdown_write().await;
    // EHLO is answered; the unterminated QUIT is not
    let rest = c.rest().await;
    assert_eq!(
        String::from_utf8_lossy(&rest),
        format!("{}\r\n", EHLO_PLAIN.replace('\n', "\r\n"))
    );
    let tape = first_tape(&s, 1).await;
    assert!(!tape.contains("C: QUIT"), "{tape}");
    assert!(tape.ends_with("*: closed by client\n"), "{tape}");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_command_without_a_line_end_is_cut_at_the_idle_timeout() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(2))).await;
    let mut c = greeted(&s).await;
    c.write(b"NOOP").await;
    let started = Instant::now();
    let r = c.try_reply(Duration::from_secs(6)).await.expect("421");
    assert_eq!(r.to_string(), LINE_TIMEOUT);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(c.closed().await);
    still_serves(&s).await;
}

// ───────────────────────── bare CR, bare LF ─────────────────────────

#[tokio::test]
async fn a_bare_cr_inside_a_command_makes_one_bad_line_not_two_commands() {
    let s = server().await;
    let mut c = greeted(&s).await;
    c.write(b"NOOP\rRSET\r\n").await;
    assert_eq!(reply(&mut c).await, BAD_SYNTAX);
    c.write(b"MAIL FROM:<a@acme.com>\rRCPT TO:<b@resend.dev>\r\n")
        .await;
    assert_eq!(reply(&mut c).await, BAD_SYNTAX);
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(tape.contains("C: NOOP\u{fffd}RSET"), "{tape}");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_bare_cr_never_ends_a_command_line() {
    let s = server().await;
    let mut c = greeted(&s).await;
    c.write(b"NOOP\r").await;
    assert!(c.try_reply(Duration::from_millis(700)).await.is_none());
    c.write(b"\n").await;
    assert_eq!(reply(&mut c).await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_whole_session_with_bare_lf_command_endings_works() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    c.write(
        format!(
            "EHLO app.local\nAUTH PLAIN {}\nMAIL FROM:<a@acme.com>\nRCPT TO:<delivered@resend.dev>\nDATA\n",
            plain_payload("resend", KEY)
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(reply(&mut c).await, EHLO_PLAIN);
    assert_eq!(reply(&mut c).await, AUTH_OK);
    assert_eq!(reply(&mut c).await, "250 Accepted");
    assert_eq!(reply(&mut c).await, "250 Accepted");
    assert_eq!(reply(&mut c).await, "354 End data with <CR><LF>.<CR><LF>");
    // in DATA only CR LF . CR LF ends the message
    c.write(b"Subject: lf\n\nbody\n.\nstill body\r\n.\r\nQUIT\n")
        .await;
    assert!(c.reply().await.lines[0].starts_with("OK "));
    assert_eq!(reply(&mut c).await, "221 Bye");
    wait(&s, 1).await;
    assert_eq!(
        s.messages()[0].data,
        b"Subject: lf\n\nbody\n.\nstill body\r\n".to_vec()
    );
    still_serves(&s).await;
}

// ───────────────────────── SMTP smuggling ─────────────────────────

/// Sends a body holding `end` (a would-be end of data) and a smuggled
/// transaction, then the real end: one message, nothing smuggled.
async fn smuggle(end: &[u8]) {
    let s = server().await;
    let mut c = in_transaction(&s).await;
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    let mut body = b"Subject: hello\r\n\r\nfirst part".to_vec();
    body.extend_from_slice(end);
    body.extend_from_slice(
        b"MAIL FROM:<smuggled@evil.test>\r\nRCPT TO:<victim@resend.dev>\r\nDATA\r\nSubject: forged\r\n\r\nforged\r\n",
    );
    body.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
    c.write(&body).await;
    let accepted = reply(&mut c).await;
    assert!(accepted.starts_with("250 OK "), "{accepted}");
    // the next reply is our NOOP's: the smuggled commands were never run
    assert_eq!(reply(&mut c).await, "250 OK");
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
    wait(&s, 1).await;
    let msgs = s.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].from, "a@acme.com");
    assert_eq!(msgs[0].to, vec!["delivered@resend.dev"]);
    let data = String::from_utf8_lossy(&msgs[0].data).into_owned();
    assert!(data.contains("MAIL FROM:<smuggled@evil.test>"), "{data}");
    let t = &s.transcripts()[0];
    assert!(
        !t.client_lines()
            .iter()
            .any(|l| l.contains("smuggled") || l.starts_with("RCPT TO:<victim")),
        "{}",
        t.to_tape()
    );
    assert_printable(&t.to_tape());
    still_serves(&s).await;
}

#[tokio::test]
async fn smuggling_with_lf_dot_lf_does_not_end_the_data() {
    smuggle(b"\n.\n").await;
}

#[tokio::test]
async fn smuggling_with_cr_dot_cr_does_not_end_the_data() {
    smuggle(b"\r.\r").await;
}

#[tokio::test]
async fn smuggling_with_crlf_dot_lf_does_not_end_the_data() {
    smuggle(b"\r\n.\n").await;
}

#[tokio::test]
async fn smuggling_with_lf_dot_crlf_does_not_end_the_data() {
    smuggle(b"\n.\r\n").await;
}

// ───────────────────────── NUL, invalid UTF-8 ─────────────────────────

#[tokio::test]
async fn nul_bytes_in_commands_are_500() {
    let s = server().await;
    let mut c = greeted(&s).await;
    for line in [
        &b"NOOP\0\r\n"[..],
        b"\0\r\n",
        b"\0\0\0\0\0\0\0\0\r\n",
        b"EHLO app\0.local\r\n",
        b"MAIL FROM:<a\0@acme.com>\r\n",
    ] {
        c.write(line).await;
        assert_eq!(reply(&mut c).await, BAD_SYNTAX, "{line:?}");
    }
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(!tape.contains('\0'));
    still_serves(&s).await;
}

#[tokio::test]
async fn a_nul_line_during_auth_is_501() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    c.write(b"\0\r\n").await;
    assert_eq!(reply(&mut c).await, BAD_BASE64);
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn nul_bytes_in_a_body_are_kept_and_the_tape_stays_printable() {
    let s = server().await;
    let mut c = in_transaction(&s).await;
    c.cmd("DATA").await;
    c.write(b"Subject: n\0l\r\n\r\na\0b\x1b[31m\r\n.\r\n").await;
    assert!(reply(&mut c).await.starts_with("250 OK "));
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(tape.contains("D: a\u{fffd}b\u{fffd}[31m"), "{tape}");
    assert_eq!(
        s.messages()[0].data,
        b"Subject: n\0l\r\n\r\na\0b\x1b[31m\r\n".to_vec()
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn invalid_utf8_commands_are_500() {
    let s = server().await;
    let mut c = greeted(&s).await;
    for line in [
        &b"\xff\xfe\r\n"[..],
        b"NOOP \xc3\r\n",                        // truncated sequence
        b"NO\xc0\xafOP\r\n",                     // overlong encoding of '/'
        b"EHLO \xed\xa0\x80.test\r\n",           // a UTF-16 surrogate
        b"MAIL FROM:<\xe9t\xe9@acme.com>\r\n",   // Latin-1
        b"RCPT TO:<x@\xf8\x88\x80\x80\x80>\r\n", // 5-byte form
    ] {
        c.write(line).await;
        assert_eq!(reply(&mut c).await, BAD_SYNTAX, "{line:?}");
    }
    // valid UTF-8 is fine
    assert_eq!(c.cmd("EHLO bücher.de").await, "250 AUTH PLAIN LOGIN");
    drop(c);
    first_tape(&s, 1).await;
    still_serves(&s).await;
}

#[tokio::test]
async fn invalid_utf8_in_an_auth_user_name_is_refused_and_shown_safely() {
    let s = server().await;
    let mut c = greeted(&s).await;
    let payload = b64([&b"\0\xff\xfe\x1b[2J"[..], b"\0", KEY.as_bytes()].concat());
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {payload}")).await,
        "535 Invalid username"
    );
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(
        tape.contains("C: AUTH PLAIN <redacted user=\u{fffd}\u{fffd}?[2J key=re_…"),
        "{tape}"
    );
    assert!(!tape.contains(KEY) && !tape.contains(&payload), "{tape}");
    still_serves(&s).await;
}

// ───────────────────────── order ─────────────────────────

#[tokio::test]
async fn commands_before_ehlo_are_503() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "503 Error: send HELO/EHLO first"
    );
    // The library's guard: MAIL, RCPT, DATA and AUTH all want HELO/EHLO first (#13).
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "503 Error: send HELO/EHLO first"
    );
    assert_eq!(c.cmd("DATA").await, "503 Error: send HELO/EHLO first");
    assert_eq!(c.cmd("AUTH LOGIN").await, "503 Error: send HELO/EHLO first");
    still_serves(&s).await;
}

#[tokio::test]
async fn mail_before_auth_is_530() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "530 Error: authentication Required"
    );
    // RCPT is guarded by AUTH as well, before any question of MAIL (#13).
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "530 Error: authentication Required"
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn auth_on_the_starttls_port_before_tls_is_538() {
    let s = server().await;
    let mut c = Raw::connect(s.starttls_addr().unwrap()).await;
    c.reply().await;
    c.send("EHLO app.local").await;
    c.reply().await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        "538 Error: Must issue a STARTTLS command first"
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn data_before_rcpt_is_503_and_the_pipelined_body_runs_nothing() {
    let s = server().await;
    let mut c = authed(&s).await;
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    // a client that pipelines its body after DATA without waiting for 354
    c.write(b"DATA\r\nSubject: x\r\n\r\nMAIL FROM:<evil@x.test>\r\n.\r\n")
        .await;
    assert_eq!(reply(&mut c).await, "503 Error: need RCPT command");
    assert_eq!(reply(&mut c).await, UNKNOWN); // Subject: x
    assert_eq!(reply(&mut c).await, BAD_SYNTAX); // the empty line
    assert_eq!(reply(&mut c).await, "503 Error: nested MAIL command");
    assert_eq!(reply(&mut c).await, UNKNOWN); // .
    assert!(s.messages().is_empty());
    still_serves(&s).await;
}

#[tokio::test]
async fn rcpt_before_mail_nested_mail_and_data_after_rset_are_503() {
    let s = server().await;
    let mut c = authed(&s).await;
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "503 Error: need MAIL command"
    );
    // The library asks DATA only for recipients (#13).
    assert_eq!(c.cmd("DATA").await, "503 Error: need RCPT command");
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    assert_eq!(
        c.cmd("MAIL FROM:<b@acme.com>").await,
        "503 Error: nested MAIL command"
    );
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    assert_eq!(c.cmd("RSET").await, "250 Flushed");
    assert_eq!(c.cmd("DATA").await, "503 Error: need RCPT command");
    // EHLO ends the transaction too
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    c.send("EHLO again.local").await;
    c.reply().await;
    assert_eq!(
        c.cmd("RCPT TO:<b@acme.com>").await,
        "503 Error: need MAIL command"
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn quit_pipelined_with_more_commands_closes_after_221() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    c.write(b"NOOP\r\nQUIT\r\nNOOP\r\nHELP\r\n").await;
    let rest = c.rest().await;
    assert_eq!(String::from_utf8_lossy(&rest), "250 OK\r\n221 Bye\r\n");
    still_serves(&s).await;
}

#[tokio::test]
async fn replies_to_pipelined_commands_are_sent_before_a_half_close_ends_the_session() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    c.write(b"NOOP\r\nHELP\r\nRSET\r\n").await;
    c.shutdown_write().await;
    let rest = c.rest().await;
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "250 OK\r\n214 See https://tools.ietf.org/html/rfc5321 for details\r\n250 Flushed\r\n"
    );
    still_serves(&s).await;
}

// ───────────────────────── AUTH ─────────────────────────

#[tokio::test]
async fn auth_plain_with_invalid_base64_is_501() {
    let s = server().await;
    let mut c = greeted(&s).await;
    for bad in ["!!!", "AB=C", "AHJlc2VuZAByZV9", "é", "AHJl c2Vu"] {
        assert_eq!(
            c.cmd(&format!("AUTH PLAIN {bad}")).await,
            if bad.contains(' ') {
                "501 Syntax error in arguments to AUTH"
            } else {
                BAD_BASE64
            },
            "{bad}"
        );
    }
    assert_eq!(c.cmd("AUTH PLAIN").await, "334 ");
    assert_eq!(c.cmd("%%%%").await, BAD_BASE64);
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        AUTH_OK
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn auth_login_with_invalid_base64_at_each_step_is_501() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(c.cmd("AUTH LOGIN ***").await, BAD_BASE64);
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd("not base64!").await, BAD_BASE64);
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64("resend")).await, "334 UGFzc3dvcmQ6");
    assert_eq!(c.cmd("re_notbase64_at_all!").await, BAD_BASE64);
    drop(c);
    let tape = first_tape(&s, 1).await;
    // even a key sent raw where base64 was due is not written
    assert!(!tape.contains("re_notbase64_at_all"), "{tape}");
    still_serves(&s).await;
}

#[tokio::test]
async fn auth_plain_cancelled_with_a_star() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(c.cmd("AUTH PLAIN").await, "334 ");
    assert_eq!(c.cmd("*").await, CANCELLED);
    assert_eq!(c.cmd("AUTH PLAIN *").await, CANCELLED);
    // not authenticated after a cancel
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "530 Error: authentication Required"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        AUTH_OK
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn auth_login_cancelled_with_a_star_at_each_step() {
    let s = server().await;
    let mut c = greeted(&s).await;
    // at the user name
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd("*").await, CANCELLED);
    // at the password
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64("resend")).await, "334 UGFzc3dvcmQ6");
    assert_eq!(c.cmd("*").await, CANCELLED);
    // at the password after an initial response
    assert_eq!(
        c.cmd(&format!("AUTH LOGIN {}", b64("resend"))).await,
        "334 UGFzc3dvcmQ6"
    );
    assert_eq!(c.cmd("*").await, CANCELLED);
    // `*` as the initial response is not base64
    assert_eq!(c.cmd("AUTH LOGIN *").await, BAD_BASE64);
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "530 Error: authentication Required"
    );
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64("resend")).await, "334 UGFzc3dvcmQ6");
    assert_eq!(c.cmd(&b64(KEY)).await, AUTH_OK);
    still_serves(&s).await;
}

#[tokio::test]
async fn auth_repeated_after_success_is_503() {
    let s = server().await;
    let mut c = authed(&s).await;
    for line in [
        format!("AUTH PLAIN {}", plain_payload("resend", KEY)),
        "AUTH PLAIN".into(),
        "AUTH LOGIN".into(),
        format!("AUTH LOGIN {}", b64("resend")),
        "AUTH CRAM-MD5".into(),
    ] {
        assert_eq!(
            c.cmd(&line).await,
            "503 Error: No identity changes permitted",
            "{line}"
        );
    }
    // still authenticated
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    still_serves(&s).await;
}

#[tokio::test]
async fn auth_retried_after_failures_succeeds() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", "nokey")))
            .await,
        "535 Authentication credentials invalid"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("admin", KEY)))
            .await,
        "535 Invalid username"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", b64("no nul at all"))).await,
        "535 Invalid username"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        AUTH_OK
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn a_command_sent_during_an_auth_exchange_is_read_as_the_response() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(c.cmd("AUTH PLAIN").await, "334 ");
    // "QUIT" is valid base64: it is the SASL response, not a command
    assert_eq!(c.cmd("QUIT").await, "535 Invalid username");
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd("RSET").await, "334 UGFzc3dvcmQ6");
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        BAD_BASE64,
        "a command during AUTH"
    );
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn unknown_mechanisms_and_bad_auth_arguments() {
    let s = server().await;
    let mut c = greeted(&s).await;
    for (line, want) in [
        (
            "AUTH CRAM-MD5",
            "504 Error: Unrecognized authentication type",
        ),
        (
            "AUTH XOAUTH2 dG9rZW4=",
            "504 Error: Unrecognized authentication type",
        ),
        ("AUTH plain", "334 "),
        ("*", CANCELLED),
        ("AUTH", "501 Syntax error in arguments to AUTH"),
        ("AUTH PLAIN a b", "501 Syntax error in arguments to AUTH"),
    ] {
        assert_eq!(c.cmd(line).await, want, "{line}");
    }
    still_serves(&s).await;
}

#[tokio::test]
async fn a_very_long_auth_line_is_500_and_leaves_no_secret() {
    let s = server().await;
    let mut c = greeted(&s).await;
    let payload = b64(format!("\0resend\0{KEY}{}", "k".repeat(1200)));
    assert_eq!(c.cmd(&format!("AUTH PLAIN {payload}")).await, TOO_LONG);
    // a long but acceptable one: a 600-octet user name
    let long_user = "u".repeat(600);
    let payload2 = b64(format!("\0{long_user}\0{KEY}"));
    assert!(payload2.len() < 980);
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {payload2}")).await,
        "535 Invalid username"
    );
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(
        tape.contains(&format!(
            "C: AUTH PLAIN <redacted user={}… key=re_…",
            "u".repeat(64)
        )),
        "{tape}"
    );
    assert!(
        common::cli::leaks(tape.as_bytes(), KEY).is_empty(),
        "{tape}"
    );
    assert!(!tape.contains(&payload[..40]) && !tape.contains(&payload2[..40]));
    still_serves(&s).await;
}

#[tokio::test]

async fn an_overlong_response_during_auth_ends_the_exchange() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(c.cmd("AUTH PLAIN").await, "334 ");
    c.send(&b64(format!("\0resend\0{KEY}{}", "k".repeat(1200))))
        .await;
    assert_eq!(reply(&mut c).await, TOO_LONG);
    // the 500 ended the exchange (RFC 4954 4): a command is a command again
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    still_serves(&s).await;
}

// ───────────────────────── STARTTLS ─────────────────────────

async fn starttls_client(s: &MockServer) -> Raw {
    let mut c = Raw::connect(s.starttls_addr().unwrap()).await;
    c.reply().await;
    c.send("EHLO app.local").await;
    assert!(c.reply().await.lines.contains(&"STARTTLS".to_string()));
    c
}

#[tokio::test]
async fn starttls_twice_is_503_after_the_upgrade() {
    let s = server().await;
    let mut c = starttls_client(&s).await;
    assert_eq!(c.cmd("STARTTLS").await, "220 Ready to start TLS");
    let mut c = c.upgrade(s.ca_pem().unwrap()).await;
    assert_eq!(c.cmd("STARTTLS").await, "503 Error: TLS already active");
    c.send("EHLO app.local").await;
    c.reply().await;
    assert_eq!(c.cmd("STARTTLS").await, "503 Error: TLS already active");
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        AUTH_OK
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn starttls_twice_in_one_packet_discards_the_second() {
    let s = server().await;
    let mut c = starttls_client(&s).await;
    c.write(b"STARTTLS\r\nSTARTTLS\r\n").await;
    assert_eq!(reply(&mut c).await, "220 Ready to start TLS");
    let mut c = c.upgrade(s.ca_pem().unwrap()).await;
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(tape.contains(&format!("10 {DISCARDED}")), "{tape}");
    assert_eq!(tape.matches("C: STARTTLS").count(), 1, "{tape}");
    still_serves(&s).await;
}

#[tokio::test]
async fn bytes_pipelined_after_starttls_are_discarded_never_executed() {
    let s = server().await;
    let mut c = starttls_client(&s).await;
    let injected = format!(
        "EHLO evil.test\r\nAUTH PLAIN {}\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<victim@resend.dev>\r\n",
        plain_payload("resend", KEY)
    );
    c.write(format!("STARTTLS\r\n{injected}").as_bytes()).await;
    assert_eq!(reply(&mut c).await, "220 Ready to start TLS");
    let mut c = c.upgrade(s.ca_pem().unwrap()).await;
    // nothing ran: no EHLO, no AUTH, no transaction
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "503 Error: send HELO/EHLO first"
    );
    c.send("EHLO app.local").await;
    c.reply().await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "530 Error: authentication Required"
    );
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(
        tape.contains(&format!("*: {} {DISCARDED}", injected.len())),
        "{tape}"
    );
    for never in ["evil.test", "injected", "victim"] {
        assert!(!tape.contains(never), "{never} in {tape}");
    }
    assert!(
        common::cli::leaks(tape.as_bytes(), KEY).is_empty(),
        "{tape}"
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn starttls_with_an_argument_is_501_and_on_the_plain_port_502() {
    let s = server().await;
    let mut c = starttls_client(&s).await;
    assert_eq!(
        c.cmd("STARTTLS now").await,
        "501 Syntax error in arguments to STARTTLS"
    );
    let mut p = greeted(&s).await;
    assert_eq!(
        p.cmd("STARTTLS").await,
        "502 STARTTLS not available on this port"
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn plaintext_instead_of_a_handshake_after_starttls_ends_the_session() {
    let s = server().await;
    let mut c = Raw::connect(s.starttls_addr().unwrap()).await;
    c.reply().await;
    c.write(b"STARTTLS\r\n").await;
    assert_eq!(reply(&mut c).await, "220 Ready to start TLS");
    c.write(b"EHLO app.local\r\nMAIL FROM:<a@acme.com>\r\n")
        .await;
    let rest = c.rest().await;
    assert!(
        !rest.windows(3).any(|w| w == b"250" || w == b"503"),
        "{rest:?}"
    );
    wait(&s, 1).await;
    let t = &s.transcripts()[0];
    assert!(
        notes(t)
            .iter()
            .any(|n| n.starts_with("TLS handshake failed")),
        "{}",
        t.to_tape()
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn silence_after_starttls_is_cut_at_the_tls_timeout() {
    let s =
        with(|b| b.config(|c| c.service.server.limits.tls_timeout = Duration::from_secs(1))).await;
    let mut c = Raw::connect(s.starttls_addr().unwrap()).await;
    c.reply().await;
    c.write(b"STARTTLS\r\n").await;
    assert_eq!(reply(&mut c).await, "220 Ready to start TLS");
    let started = Instant::now();
    assert!(c.rest().await.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    wait(&s, 1).await;
    let t = &s.transcripts()[0];
    assert!(
        notes(t).contains(&"TLS handshake timed out".to_string()),
        "{}",
        t.to_tape()
    );
    still_serves(&s).await;
}

// ───────────────────────── the wrong protocol ─────────────────────────

#[tokio::test]
async fn plaintext_on_the_implicit_tls_port_gets_no_smtp_reply() {
    let s = server().await;
    let mut c = Raw::connect(s.smtps_addr().unwrap()).await;
    c.write(b"EHLO app.local\r\n").await;
    let rest = c.rest().await;
    assert!(
        !rest.windows(3).any(|w| w == b"220" || w == b"250"),
        "{rest:?}"
    );
    wait(&s, 1).await;
    let t = &s.transcripts()[0];
    assert_eq!(t.meta.listener, "smtps");
    assert!(
        notes(t)
            .iter()
            .any(|n| n.starts_with("TLS handshake failed")),
        "{}",
        t.to_tape()
    );
    assert!(t.client_lines().is_empty());
    still_serves(&s).await;
}

#[tokio::test]
async fn a_silent_client_on_the_implicit_tls_port_is_cut_at_the_tls_timeout() {
    let s =
        with(|b| b.config(|c| c.service.server.limits.tls_timeout = Duration::from_secs(1))).await;
    let mut c = Raw::connect(s.smtps_addr().unwrap()).await;
    let started = Instant::now();
    assert!(c.rest().await.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    wait(&s, 1).await;
    assert!(notes(&s.transcripts()[0]).contains(&"TLS handshake timed out".to_string()));
    still_serves(&s).await;
}

/// The first flight of a real TLS client.
fn client_hello() -> Vec<u8> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(common::ring_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

#[tokio::test]
async fn a_tls_client_hello_on_the_plain_port_is_refused_line_by_line_then_timed_out() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(2))).await;
    let hello = client_hello();
    assert!(hello.len() < 1000 && hello[0] == 0x16);
    // Every ClientHello holds LF octets (supported_groups is extension 0x000a),
    // each ending a line of binary: the exact reply to each follows from the parser.
    let mut lines: Vec<&[u8]> = hello.split(|&b| b == b'\n').collect();
    let tail = lines.pop().unwrap();
    assert!(!lines.is_empty());
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    assert_eq!(reply(&mut c).await, "220 Resend SMTP Relay ESMTP");
    c.write(&hello).await;
    for line in &lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let want = match mailtape::smtp::parse_command(line) {
            Err(_) => BAD_SYNTAX,
            Ok(mailtape::smtp::Command::Unknown(_)) => UNKNOWN,
            Ok(other) => panic!("a line of a ClientHello read as {other:?}"),
        };
        assert_eq!(reply(&mut c).await, want, "{line:?}");
    }
    // then the client waits for a ServerHello that never comes, the server
    // for the end of the last line, until the idle timeout
    let r = c.try_reply(Duration::from_secs(6)).await.expect("421");
    assert_eq!(r.to_string(), LINE_TIMEOUT, "tail {tail:?}");
    assert!(c.closed().await);
    let tape = first_tape(&s, 1).await;
    assert_eq!(tape.matches(" S: 50").count(), lines.len(), "{tape}");
    assert_eq!(tape.matches(" C: ").count(), lines.len(), "{tape}");
    still_serves(&s).await;
}

// ───────────────────────── volume ─────────────────────────

#[tokio::test]
async fn the_1001st_recipient_is_452_and_the_message_is_refused_by_the_api_limit() {
    let s = server().await;
    let mut c = authed(&s).await;
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    let batch: String = (0..1000)
        .map(|i| format!("RCPT TO:<r{i}@resend.dev>\r\n"))
        .collect();
    c.write(batch.as_bytes()).await;
    for i in 0..1000 {
        assert_eq!(reply(&mut c).await, "250 Accepted", "recipient {i}");
    }
    assert_eq!(
        c.cmd("RCPT TO:<r1000@resend.dev>").await,
        "452 Too many recipients"
    );
    assert_eq!(
        c.cmd("RCPT TO:<r1001@resend.dev>").await,
        "452 Too many recipients"
    );
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    c.write(b"Subject: many\r\n\r\nhi\r\n.\r\n").await;
    assert_eq!(
        reply(&mut c).await,
        "550 Too many recipients. You can only send to 50 recipients per email."
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn a_message_at_the_size_limit_is_accepted_and_one_octet_more_is_552() {
    let (s, _dir) = small(2000).await;
    let body = |n: usize| {
        let mut b = b"Subject: s\r\n\r\n".to_vec();
        b.resize(n - 2, b'x');
        b.extend_from_slice(b"\r\n");
        assert_eq!(b.len(), n);
        b.extend_from_slice(b".\r\n");
        b
    };
    let mut c = in_transaction(&s).await;
    c.cmd("DATA").await;
    c.write(&body(2000)).await;
    assert!(reply(&mut c).await.starts_with("250 OK "));
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    c.cmd("RCPT TO:<delivered@resend.dev>").await;
    c.cmd("DATA").await;
    c.write(&body(2001)).await;
    assert_eq!(
        reply(&mut c).await,
        "552 Error: message exceeds fixed maximum message size 2000"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com> SIZE=2001").await,
        "552 Error: message exceeds fixed maximum message size 2000"
    );
    drop(c);
    wait(&s, 1).await;
    assert_eq!(s.messages().len(), 1);
    let tape = s.transcripts()[0].to_tape();
    assert!(tape.contains("D: <body of 2001 bytes, sha256 "), "{tape}");
    still_serves(&s).await;
}

#[tokio::test]
async fn eight_megabytes_of_body_without_a_line_end_are_552() {
    let (s, _dir) = small(4096).await;
    let mut c = in_transaction(&s).await;
    c.cmd("DATA").await;
    let mb = vec![b'b'; 1 << 20];
    for _ in 0..8 {
        c.write(&mb).await;
    }
    c.write(b"\r\n.\r\n").await;
    assert_eq!(
        reply(&mut c).await,
        "552 Error: message exceeds fixed maximum message size 4096"
    );
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_flood_of_10000_pipelined_commands_is_answered_in_order() {
    let s = server().await;
    let n = 10_000;
    let mut batch = String::new();
    for i in 0..n {
        batch.push_str(if i % 1000 == 999 {
            "HELP\r\n"
        } else {
            "NOOP\r\n"
        });
    }
    // written in one go while the replies are read, as a pipelining client does
    let s2 = TcpStream::connect(s.plain_addr().unwrap()).await.unwrap();
    let (mut r, mut w) = s2.into_split();
    let writer = tokio::spawn(async move {
        w.write_all(b"EHLO app.local\r\n").await.unwrap();
        w.write_all(batch.as_bytes()).await.unwrap();
        w.write_all(b"QUIT\r\n").await.unwrap();
        w
    });
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), r.read_to_end(&mut all))
        .await
        .expect("all replies within 60 s")
        .unwrap();
    drop(writer.await.unwrap());
    let text = String::from_utf8(all).unwrap();
    let replies: Vec<&str> = text
        .split("\r\n")
        .filter(|l| !l.is_empty() && l.as_bytes()[3] == b' ')
        .collect();
    assert_eq!(replies.len(), n + 3, "greeting, EHLO, {n} replies, QUIT");
    assert_eq!(replies[0], "220 Resend SMTP Relay ESMTP");
    assert_eq!(replies[1], "250 AUTH PLAIN LOGIN");
    for (i, r) in replies[2..n + 2].iter().enumerate() {
        let want = if i % 1000 == 999 {
            "214 See https://tools.ietf.org/html/rfc5321 for details"
        } else {
            "250 OK"
        };
        assert_eq!(*r, want, "reply {i}");
    }
    assert_eq!(replies[n + 2], "221 Bye");
    still_serves(&s).await;
}

/// Writes commands without reading a reply until the socket stops taking
/// them; returns how many octets went in.
async fn write_until_blocked(sock: &mut TcpStream) -> usize {
    let chunk = "HELP\r\n".repeat(10_000);
    let mut written = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(1), sock.write_all(chunk.as_bytes())).await {
            Ok(Ok(())) => written += chunk.len(),
            Ok(Err(e)) => panic!("write failed after {written} octets: {e}"),
            Err(_) => return written,
        }
        assert!(
            written < 256 << 20,
            "the server keeps reading while its replies pile up"
        );
    }
}

#[tokio::test]
async fn a_client_reading_no_replies_blocks_only_itself() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(2))).await;
    let mut stuck = TcpStream::connect(s.plain_addr().unwrap()).await.unwrap();
    let written = write_until_blocked(&mut stuck).await;
    // the server stopped reading once its replies could not go out: what it
    // holds is bounded by the socket buffers, not by what the client sends
    assert!(written < 64 << 20, "{written} octets taken");
    still_serves(&s).await;
    still_serves(&s).await;
    // the client goes away: its session ends
    drop(stuck);
    assert!(
        s.wait_for_sessions(3, Duration::from_secs(10)).await,
        "the stuck session did not end after its client left"
    );
    still_serves(&s).await;
}

#[tokio::test]

async fn a_client_reading_no_replies_is_cut_at_the_idle_timeout() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(2))).await;
    let mut stuck = TcpStream::connect(s.plain_addr().unwrap()).await.unwrap();
    write_until_blocked(&mut stuck).await;
    // still connected, still not reading
    assert!(
        s.wait_for_sessions(1, Duration::from_secs(8)).await,
        "the stuck session is still open 8 s after it stopped reading (idle timeout 2 s)"
    );
    still_serves(&s).await;
    drop(stuck);
}

#[tokio::test]
async fn a_command_line_dribbled_within_the_idle_timeout_completes() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(4))).await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    for b in b"EHLO app.local\r\n" {
        c.write(&[*b]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reply(&mut c).await, EHLO_PLAIN);
    for b in b"NOOP\r\n" {
        c.write(&[*b]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reply(&mut c).await, "250 OK");
    still_serves(&s).await;
}

/// Writes `bytes` one octet every `every`, until a reply comes; returns it
/// and how long it took. Panics if all are sent without a reply.
async fn dribble(c: &mut Raw, bytes: &[u8], every: Duration) -> (String, Duration) {
    let started = Instant::now();
    for b in bytes {
        c.write(&[*b]).await;
        if let Some(r) = c.try_reply(every).await {
            return (r.to_string(), started.elapsed());
        }
    }
    panic!(
        "{} octets sent over {:?}, no reply",
        bytes.len(),
        started.elapsed()
    );
}

/// Sends `bytes` one octet every 300 ms to a mock with an idle timeout of
/// 2 s: `want` must come about 2 s in, then the close. Returns the tape.
async fn cut_while_dribbling(s: &MockServer, c: &mut Raw, bytes: &[u8], want: &str) -> String {
    let (r, took) = dribble(c, bytes, Duration::from_millis(300)).await;
    assert_eq!(r, want);
    assert!(
        took >= Duration::from_millis(1700) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(c.closed().await);
    first_tape(s, 1).await
}

/// Issue 16 (16): one octet every 300 ms is never silence, but a command
/// line must be complete within the idle timeout of the server waiting for
/// it: slowloris is cut at the idle timeout, not kept for ever.
#[tokio::test]
async fn slowloris_a_command_line_not_complete_within_the_idle_timeout_is_421() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(2))).await;
    let mut c = greeted(&s).await;
    let line = format!("NOOP {}\r\n", "x".repeat(60));
    let tape = cut_while_dribbling(&s, &mut c, line.as_bytes(), LINE_TIMEOUT).await;
    assert!(
        tape.contains("*: command line not complete within the idle timeout (2s)"),
        "{tape}"
    );
    still_serves(&s).await;
}

/// Issue 16 (16): a body must keep up a minimum rate (1,024 octets a second
/// after a first idle timeout's grace): one octet every 300 ms is cut.
#[tokio::test]
async fn slowloris_a_body_below_the_minimum_rate_is_421() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(2))).await;
    let mut c = in_transaction(&s).await;
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    let body = "Subject: slow\r\n\r\n".repeat(10);
    let tape = cut_while_dribbling(&s, &mut c, body.as_bytes(), DATA_TOO_SLOW).await;
    assert!(
        tape.lines().any(|l| l.contains(" *: DATA too slow: ")
            && l.ends_with("(at least 1024 octets a second after the first 2s)")),
        "{tape}"
    );
    assert!(s.messages().is_empty());
    still_serves(&s).await;
}

/// Issue 16 (16): a large body sent at a steady, ordinary pace takes longer
/// than the idle timeout in all, and is accepted.
#[tokio::test]
async fn a_body_longer_than_the_idle_timeout_at_a_fair_rate_is_accepted() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(1))).await;
    let mut c = in_transaction(&s).await;
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    let started = Instant::now();
    let line = format!("{}\r\n", "y".repeat(500));
    // 4 KiB every 250 ms: 16 KiB/s, for 2.5 s
    for _ in 0..10 {
        c.write(line.repeat(8).as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    c.write(b".\r\n").await;
    assert!(reply(&mut c).await.starts_with("250 OK "));
    assert!(started.elapsed() > Duration::from_secs(2));
    still_serves(&s).await;
}

#[tokio::test]
async fn a_silent_client_is_cut_at_the_idle_timeout() {
    let s = with(|b| b.idle_timeout(Duration::from_secs(2))).await;
    let mut c = greeted(&s).await;
    let started = Instant::now();
    let r = c.try_reply(Duration::from_secs(6)).await.expect("421");
    assert_eq!(r.to_string(), TIMEOUT);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(c.closed().await);
    let tape = first_tape(&s, 1).await;
    assert!(tape.contains("*: idle timeout"), "{tape}");
    still_serves(&s).await;
}

// ───────────────────────── abrupt ends ─────────────────────────

#[tokio::test]
async fn abrupt_close_mid_data_is_recorded_with_a_note() {
    let s = server().await;
    let mut c = in_transaction(&s).await;
    c.cmd("DATA").await;
    c.write(b"Subject: half\r\n").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(c);
    // and right after 354
    let mut c = in_transaction(&s).await;
    c.cmd("DATA").await;
    drop(c);
    wait(&s, 2).await;
    let all: Vec<Vec<String>> = s.transcripts().iter().map(notes).collect();
    assert!(
        all.iter()
            .any(|n| n.contains(&"connection closed during DATA after 15 bytes".to_string())),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|n| n.contains(&"connection closed during DATA after 0 bytes".to_string())),
        "{all:?}"
    );
    assert!(s.messages().is_empty());
    still_serves(&s).await;
}

#[tokio::test]

async fn abrupt_close_mid_auth_is_recorded_with_a_note() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64("resend")).await, "334 UGFzc3dvcmQ6");
    drop(c);
    wait(&s, 1).await;
    let t = &s.transcripts()[0];
    assert!(
        notes(t).iter().any(|n| n.contains("AUTH")),
        "no note about the AUTH exchange cut short:\n{}",
        t.to_tape()
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn abrupt_close_mid_auth_leaves_a_complete_transcript() {
    let s = server().await;
    let mut c = greeted(&s).await;
    assert_eq!(c.cmd("AUTH PLAIN").await, "334 ");
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(tape.contains("C: AUTH PLAIN\n"), "{tape}");
    assert!(tape.ends_with("*: closed by client\n"), "{tape}");
    Tape::parse(&format!("# mailtape tape v1\n\n{tape}"), "mid-auth").unwrap();
    still_serves(&s).await;
}

#[tokio::test]
async fn zero_byte_connections_on_every_listener_are_harmless() {
    let s = server().await;
    for addr in [
        s.plain_addr().unwrap(),
        s.starttls_addr().unwrap(),
        s.smtps_addr().unwrap(),
    ] {
        for _ in 0..10 {
            drop(TcpStream::connect(addr).await.unwrap());
        }
    }
    wait(&s, 30).await;
    for t in s.transcripts() {
        assert!(t.client_lines().is_empty(), "{}", t.to_tape());
        assert!(t.closed_by.is_some());
        if t.meta.listener != "smtps" {
            // greeted, or gone before the greeting could be written
            assert!(t.reply_codes().iter().all(|c| *c == 220), "{}", t.to_tape());
        }
    }
    still_serves(&s).await;
}

// ───────────────────────── limits ─────────────────────────

#[tokio::test]
async fn the_error_limit_closes_with_421_and_the_rest_of_the_pipeline_is_not_run() {
    let s = with(|b| b.max_errors(3)).await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    c.write(b"BOGUS\r\nDATA now\r\n\r\nNOOP\r\nHELP\r\n").await;
    let rest = c.rest().await;
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "500 Error: command not recognized\r\n501 Syntax error in arguments to DATA\r\n500 Error: command not recognized\r\n421 Resend SMTP Relay Error: too many errors\r\n"
    );
    let tape = first_tape(&s, 1).await;
    assert!(
        !tape.contains("C: NOOP") && !tape.contains("C: HELP"),
        "{tape}"
    );
    assert!(tape.contains("*: too many errors"), "{tape}");
    still_serves(&s).await;
}

#[tokio::test]
async fn failed_logins_count_towards_the_error_limit_and_4xx_do_not() {
    let s = with(|b| b.max_errors(2)).await;
    let mut c = authed(&s).await;
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    let batch: String = (0..1000)
        .map(|i| format!("RCPT TO:<r{i}@resend.dev>\r\n"))
        .collect();
    c.write(batch.as_bytes()).await;
    for _ in 0..1000 {
        assert_eq!(c.reply().await.code, 250);
    }
    // 4xx replies are not failures of the client's
    for _ in 0..5 {
        assert_eq!(
            c.cmd("RCPT TO:<x@resend.dev>").await,
            "452 Too many recipients"
        );
    }
    drop(c);
    let mut c = greeted(&s).await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", "bad")))
            .await,
        "535 Authentication credentials invalid"
    );
    c.send(&format!("AUTH PLAIN {}", plain_payload("resend", "bad")))
        .await;
    assert_eq!(
        reply(&mut c).await,
        "535 Authentication credentials invalid"
    );
    assert_eq!(
        reply(&mut c).await,
        "421 Resend SMTP Relay Error: too many errors"
    );
    assert!(c.closed().await);
    still_serves(&s).await;
}

#[tokio::test]
async fn the_connection_cap_refuses_with_421_and_frees_slots() {
    let s = with(|b| b.max_connections(2)).await;
    let mut a = Raw::connect(s.plain_addr().unwrap()).await;
    let mut b = Raw::connect(s.smtps_addr().unwrap()).await;
    assert_eq!(reply(&mut a).await, "220 Resend SMTP Relay ESMTP");
    // (give the smtps listener time to accept b)
    tokio::time::sleep(Duration::from_millis(300)).await;
    // the TLS client has not handshaken: it holds a slot all the same
    for _ in 0..3 {
        let mut over = Raw::connect(s.plain_addr().unwrap()).await;
        assert_eq!(
            reply(&mut over).await,
            "421 Resend SMTP Relay Too many connected clients, try again in a moment"
        );
        assert!(over.rest().await.is_empty());
    }
    drop(a);
    b.write(b"x").await;
    drop(b);
    wait(&s, 2).await;
    still_serves(&s).await;
    still_serves(&s).await;
}

// ───────────────────────── injection through EHLO ─────────────────────────

#[tokio::test]
async fn a_header_smuggled_after_ehlo_is_a_command_of_its_own_and_never_a_header() {
    let (dir, s) = {
        let dir = tempfile::tempdir().unwrap();
        let s = with(|b| b.mailbox(dir.path())).await;
        (dir, s)
    };
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    c.write(b"EHLO app.local\nX-Injected: yes\r\n").await;
    assert_eq!(reply(&mut c).await, EHLO_PLAIN);
    assert_eq!(reply(&mut c).await, UNKNOWN);
    for (line, want) in [
        (&b"EHLO app.local\rX-Injected: yes\r\n"[..], BAD_SYNTAX),
        (
            b"EHLO a.b X-Injected:yes\r\n",
            "501 Syntax error in arguments to EHLO",
        ),
        (
            b"EHLO a.b\tX-Injected:yes\r\n",
            "501 Syntax error in arguments to EHLO",
        ),
        (b"EHLO \x1b[2J\x1b[31mred\r\n", BAD_SYNTAX),
        (b"HELO a\x00b\r\n", BAD_SYNTAX),
    ] {
        c.write(line).await;
        assert_eq!(reply(&mut c).await, want, "{line:?}");
    }
    // the first EHLO stands; a message goes through
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        AUTH_OK
    );
    c.cmd("MAIL FROM:<a@acme.com>").await;
    c.cmd("RCPT TO:<delivered@resend.dev>").await;
    c.cmd("DATA").await;
    c.write(b"Subject: s\r\n\r\nhi\r\n.\r\n").await;
    assert!(reply(&mut c).await.starts_with("250 OK "));
    drop(c);
    let tape = first_tape(&s, 1).await;
    assert!(!tape.contains('\x1b'), "{tape}");
    // the mailbox is written by a thread of its own: wait for it
    s.sink().flush();
    let emls: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(emls.len(), 1);
    for e in emls {
        let eml = std::fs::read_to_string(e.unwrap().path()).unwrap();
        assert!(
            !eml.contains("X-Injected") && !eml.contains("app.local"),
            "{eml}"
        );
    }
    still_serves(&s).await;
}

// ───────────────── regressions from the fuzz targets (fuzz/) ─────────────────

#[test]
fn tape_offsets_finer_than_a_millisecond_round_trip() {
    let text = "# mailtape tape v1\n\n## session 1\n+0.00006 S: 250 OK\n";
    let tape = Tape::parse(text, "t").unwrap();
    let again = Tape::parse(&tape.to_text(), "t").unwrap();
    assert_eq!(again, tape, "written back:\n{}", tape.to_text());
}

#[test]
fn a_tape_with_a_stray_cr_round_trips() {
    for text in [
        "# mailtape tape v1\n\n## session 1 · mode re\rcord\nS: 250 OK\n",
        "# mailtape tape v1\n\n## session 1 · mode record\r\r\nS: 250 OK\n",
    ] {
        // either refused with a line number, or read back equal
        if let Ok(tape) = Tape::parse(text, "t") {
            let again = Tape::parse(&tape.to_text(), "t").unwrap();
            assert_eq!(again, tape, "{text:?} written back:\n{}", tape.to_text());
        }
    }
}

#[test]

fn a_tape_line_ending_in_stray_crs_round_trips() {
    for text in [
        "# mailtape tape v1\n# atal\r\r\r\n",
        "# mailtape tape v1\n\n## session 1\nC: NOOP\r\r\n# note\r\r\n",
    ] {
        if let Ok(tape) = Tape::parse(text, "t") {
            let again = Tape::parse(&tape.to_text(), "t").unwrap();
            assert_eq!(again, tape, "{text:?} written back:\n{}", tape.to_text());
        }
    }
}

#[test]

fn a_cr_in_a_tape_header_never_makes_a_field_separator() {
    let text = "# mailtape tape v1\n\n## session 1 · mode a ·\rb\nS: 250 OK\n";
    if let Ok(tape) = Tape::parse(text, "t") {
        let again = Tape::parse(&tape.to_text(), "t").unwrap();
        assert_eq!(again, tape, "written back:\n{}", tape.to_text());
    }
}

#[test]
fn tape_event_text_with_a_stray_cr_round_trips() {
    // the writer never produces it, but the reader must be stable on it
    let text = "# mailtape tape v1\n\n## session 1\nC: NO\rOP\n*: closed by client\n";
    let tape = Tape::parse(text, "t").unwrap();
    assert_eq!(Tape::parse(&tape.to_text(), "t").unwrap(), tape);
}

#[test]
fn a_relayed_reply_line_never_exceeds_512_octets() {
    let mut wire = b"250 ".to_vec();
    wire.extend(std::iter::repeat_n(0xffu8, 500));
    wire.extend_from_slice(b"\r\n");
    let (reply, _) = parse_reply(&wire).unwrap().unwrap();
    let mut out = Vec::new();
    reply.write_to(&mut out);
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.len() < 512, "a line of {} octets", line.len() + 1);
    }
}

#[test]
fn fuzz_seed_corpus_inputs_do_not_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for target in ["parse_command", "parse_reply", "data_reader", "tape_parse"] {
        let dir = root.join(target);
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if !p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
            {
                continue;
            }
            let data = std::fs::read(&p).unwrap();
            n += 1;
            match target {
                "parse_command" => {
                    for line in data.split(|&b| b == b'\n') {
                        let _ = mailtape::smtp::parse_command(line);
                        let _ = mailtape::smtp::split_line(line, 1000);
                    }
                }
                "parse_reply" => {
                    let _ = parse_reply(&data);
                }
                "data_reader" => {
                    let mut out = Vec::new();
                    let _ = mailtape::smtp::DataReader::new().feed(&data, &mut out);
                }
                _ => {
                    if let Ok(text) = std::str::from_utf8(&data) {
                        let _ = Tape::parse(text, &p.display().to_string());
                    }
                }
            }
        }
        assert!(n >= 3, "{}: only {n} seeds", dir.display());
    }
}

#[tokio::test]

async fn the_connection_cap_on_the_implicit_tls_port_refuses_in_tls_or_closes_cleanly() {
    let s = with(|b| b.max_connections(1)).await;
    let mut a = Raw::connect(s.plain_addr().unwrap()).await;
    assert_eq!(reply(&mut a).await, "220 Resend SMTP Relay ESMTP");
    let mut over = Raw::connect(s.smtps_addr().unwrap()).await;
    over.write(&client_hello()).await;
    let rest = over.rest().await;
    // either a TLS record (a handshake, an alert) or nothing: never SMTP in clear
    assert!(
        rest.is_empty() || matches!(rest[0], 0x15 | 0x16),
        "plain text on the TLS port: {:?}",
        String::from_utf8_lossy(&rest)
    );
    drop(a);
    wait(&s, 1).await;
    still_serves(&s).await;
}

#[test]

fn a_reply_line_at_the_cap_with_a_bare_lf_is_relayed_within_512_octets() {
    let mut wire = b"250 ".to_vec();
    wire.extend(std::iter::repeat_n(b'x', 507));
    wire.push(b'\n');
    assert_eq!(wire.len(), 512);
    if let Ok(Some((reply, _))) = parse_reply(&wire) {
        let mut out = Vec::new();
        reply.write_to(&mut out);
        assert!(out.len() <= 512, "relayed as {} octets", out.len());
    }
}

#[test]
fn a_tape_header_value_with_a_middot_at_its_edge_reads_back() {
    for text in [
        "# mailtape tape v1\n\n## session 1 · listener smtps · source ·\nS: 250 OK\n",
        "# mailtape tape v1\n\n## session 1 · listener smtps · source ·x\nS: 250 OK\n",
    ] {
        if let Ok(tape) = Tape::parse(text, "t") {
            let written = tape.to_text();
            let again = Tape::parse(&written, "written")
                .unwrap_or_else(|e| panic!("{text:?} written as {written:?}: {e}"));
            assert_eq!(again, tape, "{written}");
        }
    }
}

// ───────────────────────── connection bursts ─────────────────────────

/// Issue 16 (15): 2,000 connections at once against the binary (cap 1,024):
/// every one is answered, a greeting or the cap's 421, within 15 s; none is
/// left hanging in a full listen backlog.
#[test]
fn a_burst_of_2000_connections_is_answered_in_full() {
    use common::cli::{Running, plain_only};
    let dir = tempfile::tempdir().unwrap();
    let args = plain_only(dir.path(), &["--json"]);
    let mut m = Running::start_with(&args, common::cli::bin());
    let ready: serde_json::Value = serde_json::from_str(&m.line()).unwrap();
    let addr: std::net::SocketAddr = ready["plain"].as_str().unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (greeted, refused, silent, took) = rt.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> = (0..2000)
            .map(|_| {
                tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
                    let mut sock = tokio::time::timeout_at(deadline, TcpStream::connect(addr))
                        .await
                        .ok()?
                        .ok()?;
                    let mut got = Vec::new();
                    let mut chunk = [0u8; 256];
                    while !got.ends_with(b"\r\n") {
                        let n = tokio::time::timeout_at(deadline, sock.read(&mut chunk))
                            .await
                            .ok()?
                            .ok()?;
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&chunk[..n]);
                    }
                    // held open until every connection has its answer
                    Some((String::from_utf8_lossy(&got).into_owned(), sock))
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        let took = started.elapsed();
        let count = |p: &str| {
            answers
                .iter()
                .filter(|a| a.as_ref().is_some_and(|(l, _)| l.starts_with(p)))
                .count()
        };
        let silent = answers
            .iter()
            .filter(|a| a.as_ref().is_none_or(|(l, _)| l.is_empty()))
            .count();
        (count("220 "), count("421 "), silent, took)
    });
    assert_eq!(
        (greeted + refused, silent),
        (2000, 0),
        "{greeted} greeted, {refused} refused, {silent} without an answer after {took:?}"
    );
    assert!(greeted <= 1024, "{greeted} greeted over a cap of 1,024");
    let (code, _, err) = m.term();
    assert_eq!(code, 0, "{err}");
}
