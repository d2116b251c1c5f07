//! The engine's limits and bad input, byte for byte over real sockets
//! (issue 2: every limit has a value, a reply code and a test).

mod common;

use common::still_serves;

use std::time::Duration;

use common::{KEY, Raw, at_data, authed, plain_payload, wait};
use mailtape::MockServer;

async fn server() -> MockServer {
    MockServer::builder()
        .scenario("unlimited")
        .start()
        .await
        .expect("mock starts")
}

#[tokio::test]
async fn line_over_1000_octets_is_500_and_the_session_continues() {
    let s = server().await;
    let mut c = authed(&s).await;
    // 998 octets + CRLF = 1000: accepted as a line (an unknown command here)
    c.send(&format!("X{}", "a".repeat(997))).await;
    assert_eq!(c.reply().await.code, 500);
    let long = format!("NOOP {}", "a".repeat(996));
    c.send(&long).await; // 1001 + CRLF
    assert_eq!(c.reply().await.to_string(), "500 Error: line too long");
    // a much longer line, sent in pieces, gets one 500 only
    c.write("MAIL FROM:<".repeat(500).as_bytes()).await;
    c.write("x".repeat(5000).as_bytes()).await;
    c.write(b"\r\n").await;
    assert_eq!(c.reply().await.to_string(), "500 Error: line too long");
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    still_serves(&s).await;
}

#[tokio::test]
async fn unknown_and_malformed_commands() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    assert_eq!(
        c.cmd("XCLIENT ADDR=1.2.3.4").await,
        "500 Error: command not recognized"
    );
    assert_eq!(
        c.cmd("BDAT 10 LAST").await,
        "500 Error: command not recognized"
    );
    assert_eq!(c.cmd("").await, "500 Error: command not recognized");
    c.write(b"NO\x00OP\r\n").await;
    assert_eq!(
        c.reply().await.to_string(),
        "500 Error: command not recognized"
    );
    c.write(b"\xff\xfe\r\n").await;
    assert_eq!(
        c.reply().await.to_string(),
        "500 Error: command not recognized"
    );
    assert_eq!(c.cmd("EHLO").await, "501 Syntax error in arguments to EHLO");
    assert_eq!(
        c.cmd("HELO app.local").await,
        "250 Resend SMTP Relay Nice to meet you, [127.0.0.1]"
    );
    assert_eq!(
        c.cmd("DATA now").await,
        "501 Syntax error in arguments to DATA"
    );
    assert_eq!(c.cmd("VRFY").await, "501 Syntax error in arguments to VRFY");
    assert_eq!(
        c.cmd("VRFY bob").await,
        "252 Try to send something. No promises though"
    );
    assert_eq!(
        c.cmd("HELP").await,
        "214 See https://tools.ietf.org/html/rfc5321 for details"
    );
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    assert_eq!(c.cmd("RSET").await, "250 Flushed");
    // bare LF line endings are accepted for commands
    c.write(b"NOOP\n").await;
    assert_eq!(c.reply().await.to_string(), "250 OK");
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
    assert!(c.closed().await);
}

#[tokio::test]
async fn wrong_order_is_503() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "503 Error: send HELO/EHLO first"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        "503 Error: send HELO/EHLO first"
    );
    c.send("EHLO app.local").await;
    c.reply().await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "530 Error: authentication Required"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        "235 Authentication successful"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        "503 Error: No identity changes permitted"
    );
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "503 Error: need MAIL command"
    );
    assert_eq!(c.cmd("DATA").await, "503 Error: need RCPT command");
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "503 Error: nested MAIL command"
    );
    assert_eq!(c.cmd("DATA").await, "503 Error: need RCPT command");
    assert_eq!(c.cmd("RSET").await, "250 Flushed");
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "503 Error: need MAIL command"
    );
}

#[tokio::test]
async fn auth_plain_and_login_forms() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let s = server().await;
    let mut c = common::ehloed(&s).await;
    assert_eq!(
        c.cmd("AUTH CRAM-MD5").await,
        "504 Error: Unrecognized authentication type"
    );
    assert_eq!(
        c.cmd("AUTH PLAIN not*base64").await,
        "500 Error: invalid userdata"
    );
    // PLAIN without initial response, then cancelled
    assert_eq!(c.cmd("AUTH PLAIN").await, "334 ");
    assert_eq!(c.cmd("*").await, "501 Authentication aborted");
    // LOGIN step by step, bad base64 in the password
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64("resend")).await, "334 UGFzc3dvcmQ6");
    assert_eq!(c.cmd("%%%").await, "500 Error: invalid userdata");
    // LOGIN with the user name as initial response, wrong key
    assert_eq!(
        c.cmd(&format!("AUTH LOGIN {}", b64("resend"))).await,
        "334 UGFzc3dvcmQ6"
    );
    assert_eq!(
        c.cmd(&b64("re_wrongwrongwrong_but_fine")).await,
        "235 Authentication successful"
    );
    drop(c);
    let mut c = common::ehloed(&s).await;
    assert_eq!(
        c.cmd(&format!("AUTH LOGIN {}", b64("resend"))).await,
        "334 UGFzc3dvcmQ6"
    );
    assert_eq!(
        c.cmd(&b64("not-a-key")).await,
        "535 Authentication credentials invalid"
    );
    // PLAIN with an authorisation identity, then a good key
    assert_eq!(c.cmd("AUTH PLAIN").await, "334 ");
    assert_eq!(
        c.cmd(&b64(&format!("resend\0resend\0{KEY}"))).await,
        "235 Authentication successful"
    );
    drop(c);
    wait(&s, 2).await;
    // the transcripts hold no key and no base64 of one
    for t in s.transcripts() {
        let tape = t.to_tape();
        assert!(!tape.contains(KEY) && !tape.contains(&b64(KEY)), "{tape}");
        assert!(!tape.contains(&plain_payload("resend", KEY)), "{tape}");
    }
}

#[tokio::test]
async fn mail_parameters() {
    let s = server().await;
    let mut c = authed(&s).await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com> SIZE=41943041").await,
        "552 Error: message exceeds fixed maximum message size 41943040"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com> SIZE=big").await,
        "501 Syntax error in arguments to MAIL"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com> BODY=BINARYMIME").await,
        "555 Unsupported parameter BODY"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com> FOO=1").await,
        "555 Unsupported parameter FOO"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<>").await.split_once(' ').unwrap().0,
        "550"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<not an address>").await,
        "550 Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com> SIZE=1000 BODY=8BITMIME SMTPUTF8")
            .await,
        "250 Accepted"
    );
    assert_eq!(
        c.cmd("RCPT TO:<nobody>").await,
        "501 Error: Bad recipient address syntax"
    );
    assert_eq!(
        c.cmd("RCPT TO:<x@resend.dev> NOTIFY=NEVER").await,
        "555 Unsupported parameter NOTIFY"
    );
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
}

#[tokio::test]
async fn invalid_from_is_550_at_mail_and_after_data() {
    let s = server().await;
    let mut c = authed(&s).await;
    let invalid = "550 Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.";
    assert_eq!(c.cmd("MAIL FROM:<>").await, invalid);
    assert_eq!(c.cmd("MAIL FROM:<billing>").await, invalid);
    assert_eq!(c.cmd("MAIL FROM:<billing@acme.com>").await, "250 Accepted");
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    c.send("DATA").await;
    c.reply().await;
    c.write(b"From: Billing department\r\nSubject: x\r\n\r\nhi\r\n.\r\n")
        .await;
    assert_eq!(c.reply().await.to_string(), invalid);
}

#[tokio::test]
async fn message_over_the_size_limit_is_552() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("small.toml");
    std::fs::write(&profile, "[limits]\nmessage_size = 2000\nper_second = 0\n").unwrap();
    let s = MockServer::builder()
        .profile_file(&profile)
        .start()
        .await
        .unwrap();
    let mut c = authed(&s).await;
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    let line = format!("{}\r\n", "x".repeat(78));
    for _ in 0..100 {
        c.write(line.as_bytes()).await;
    }
    c.write(b".\r\n").await;
    assert_eq!(
        c.reply().await.to_string(),
        "552 Error: message exceeds fixed maximum message size 2000"
    );
    // the transaction is over; the session is not
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "503 Error: need MAIL command"
    );
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    assert!(s.messages().is_empty());
}

#[tokio::test]
async fn recipients_capped_per_session() {
    let s = server().await;
    let mut c = authed(&s).await;
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    let mut batch = String::new();
    for i in 0..1000 {
        batch.push_str(&format!("RCPT TO:<r{i}@resend.dev>\r\n"));
    }
    c.write(batch.as_bytes()).await;
    for _ in 0..1000 {
        assert_eq!(c.reply().await.code, 250);
    }
    assert_eq!(
        c.cmd("RCPT TO:<one-more@resend.dev>").await,
        "452 Too many recipients"
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn pipelined_commands_get_replies_in_order() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    let batch = format!(
        "EHLO app.local\r\nAUTH PLAIN {}\r\nMAIL FROM:<a@acme.com>\r\nRCPT TO:<delivered@resend.dev>\r\nRCPT TO:<bad>\r\nRCPT TO:<delivered+2@resend.dev>\r\nDATA\r\n",
        plain_payload("resend", KEY)
    );
    c.write(batch.as_bytes()).await;
    let codes: Vec<u16> = [(); 7].iter().map(|_| 0).collect();
    let mut got = Vec::new();
    for _ in codes {
        got.push(c.reply().await.code);
    }
    assert_eq!(got, vec![250, 235, 250, 250, 501, 250, 354]);
    // body and QUIT in the same write as the final dot
    c.write(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n").await;
    assert!(c.reply().await.lines[0].starts_with("OK "));
    assert_eq!(c.reply().await.to_string(), "221 Bye");
    wait(&s, 1).await;
    assert_eq!(
        s.messages()[0].to,
        vec!["delivered@resend.dev", "delivered+2@resend.dev"]
    );
}

#[tokio::test]
async fn too_many_errors_is_421_and_close() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .max_errors(5)
        .start()
        .await
        .unwrap();
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    for _ in 0..4 {
        assert_eq!(c.cmd("BOGUS").await, "500 Error: command not recognized");
    }
    c.send("BOGUS").await;
    assert_eq!(c.reply().await.code, 500);
    assert_eq!(
        c.reply().await.to_string(),
        "421 Resend SMTP Relay Error: too many errors"
    );
    assert!(c.closed().await);
    still_serves(&s).await;
}

#[tokio::test]
async fn idle_timeout_is_421_and_close() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .idle_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    let r = c
        .try_reply(Duration::from_secs(5))
        .await
        .expect("421 before close");
    assert_eq!(r.to_string(), "421 Timeout - closing connection");
    assert!(c.closed().await);
    // mid-DATA too
    let mut c = authed(&s).await;
    c.cmd("MAIL FROM:<a@acme.com>").await;
    c.cmd("RCPT TO:<delivered@resend.dev>").await;
    c.cmd("DATA").await;
    c.write(b"Subject: half a message\r\n").await;
    let r = c
        .try_reply(Duration::from_secs(5))
        .await
        .expect("421 before close");
    assert_eq!(r.code, 421);
    assert!(c.closed().await);
}

#[tokio::test]
async fn connection_cap_is_421_at_connect() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .max_connections(2)
        .start()
        .await
        .unwrap();
    let mut a = Raw::connect(s.plain_addr().unwrap()).await;
    let mut b = Raw::connect(s.starttls_addr().unwrap()).await;
    assert_eq!(a.reply().await.code, 220);
    assert_eq!(b.reply().await.code, 220);
    let mut third = Raw::connect(s.plain_addr().unwrap()).await;
    assert_eq!(
        third.reply().await.to_string(),
        "421 Resend SMTP Relay Too many connected clients, try again in a moment"
    );
    assert!(third.closed().await);
    // a slot frees up when a session ends
    assert_eq!(a.cmd("QUIT").await, "221 Bye");
    wait(&s, 1).await;
    still_serves(&s).await;
    drop(b);
}

#[tokio::test]
async fn starttls_discards_pipelined_plaintext() {
    let s = server().await;
    let ca = s.ca_pem().unwrap().to_string();
    let mut c = Raw::connect(s.starttls_addr().unwrap()).await;
    c.reply().await;
    c.send("EHLO app.local").await;
    assert!(c.reply().await.lines.contains(&"STARTTLS".to_string()));
    // the command-injection case: bytes after STARTTLS in the same packet
    c.write(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@evil.test>\r\n")
        .await;
    assert_eq!(c.reply().await.to_string(), "220 Ready to start TLS");
    let mut c = c.upgrade(&ca).await;
    // nothing was executed: the first reply after the handshake answers our NOOP
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    // the session started over: EHLO is needed again, and STARTTLS is gone from it
    assert_eq!(
        c.cmd("MAIL FROM:<a@acme.com>").await,
        "503 Error: send HELO/EHLO first"
    );
    c.send("EHLO app.local").await;
    let ehlo = c.reply().await;
    assert!(!ehlo.lines.contains(&"STARTTLS".to_string()), "{ehlo}");
    assert_eq!(c.cmd("STARTTLS").await, "503 Error: TLS already active");
    drop(c);
    wait(&s, 1).await;
    let tape = s.transcripts()[0].to_tape();
    assert!(
        tape.contains("bytes sent before the TLS handshake were discarded"),
        "{tape}"
    );
    assert!(!tape.contains("injected@evil.test"), "{tape}");
}

#[tokio::test]
async fn starttls_not_offered_on_plain_and_smtps() {
    let s = server().await;
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    c.reply().await;
    c.send("EHLO app.local").await;
    assert!(!c.reply().await.lines.contains(&"STARTTLS".to_string()));
    assert_eq!(
        c.cmd("STARTTLS").await,
        "502 STARTTLS not available on this port"
    );
    let mut t = Raw::connect_tls(s.smtps_addr().unwrap(), s.ca_pem().unwrap()).await;
    t.reply().await;
    assert_eq!(t.cmd("STARTTLS").await, "503 Error: TLS already active");
}

#[tokio::test]
async fn plaintext_on_the_tls_port_and_tls_on_the_plain_port() {
    let s = server().await;
    let mut c = Raw::connect(s.smtps_addr().unwrap()).await;
    c.send("EHLO app.local").await;
    assert!(c.try_reply(Duration::from_secs(3)).await.is_none());
    // a TLS ClientHello on the plain port is a bad command line, not a crash
    let mut p = Raw::connect(s.plain_addr().unwrap()).await;
    p.reply().await;
    p.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n")
        .await;
    assert_eq!(p.reply().await.code, 500);
    wait(&s, 1).await;
    let failed = s
        .transcripts()
        .into_iter()
        .find(|t| t.meta.listener == "smtps")
        .unwrap();
    assert!(
        failed.to_tape().contains("TLS handshake failed"),
        "{}",
        failed.to_tape()
    );
    still_serves(&s).await;
}

#[tokio::test]
async fn shutdown_tells_open_sessions_421() {
    let s = server().await;
    let mut c = authed(&s).await;
    let hub = s.sink().clone();
    let stop = tokio::spawn(s.shutdown());
    let r = c
        .try_reply(Duration::from_secs(5))
        .await
        .expect("421 on shutdown");
    assert_eq!(r.to_string(), "421 Server shutting down");
    assert!(c.closed().await);
    stop.await.unwrap();
    assert_eq!(hub.finished(), 1);
}

#[tokio::test]
async fn credentials_sent_outside_an_auth_exchange_are_not_shown() {
    // regression: after a refused AUTH, a client that sends its base64
    // password as the next line had it shown in the transcript
    use base64::Engine;
    let s = server().await;
    let mut c = common::ehloed(&s).await;
    assert_eq!(
        c.cmd("AUTH CRAM-MD5").await,
        "504 Error: Unrecognized authentication type"
    );
    let secret = base64::engine::general_purpose::STANDARD.encode("my-dashboard-password");
    assert_eq!(c.cmd(&secret).await, "500 Error: command not recognized");
    drop(c);
    wait(&s, 1).await;
    let tape = s.transcripts()[0].to_tape();
    assert!(!tape.contains(&secret), "{tape}");
    assert!(
        tape.contains("C: <redacted: base64 outside an AUTH exchange>"),
        "{tape}"
    );
}

// ───────────────────────── memory for bodies (issue 16, 13) ─────────────────────────

const BODY_BUDGET_SPENT: &str =
    "452 Error: insufficient system storage: too much mail in flight; try again later";

/// Waits until the bodies held in memory come to `at_least` octets.
async fn wait_for_held(s: &MockServer, at_least: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.body_memory_in_use() < at_least {
        assert!(
            std::time::Instant::now() < deadline,
            "bodies held: {} octets, waited for {at_least}",
            s.body_memory_in_use()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Issue 16 (13): the bodies of all sessions share one memory budget; the
/// message that would take it over gets 452 (the client tries again later)
/// and the session goes on; once memory is given back, messages fit again.
#[tokio::test]
async fn bodies_in_flight_share_one_memory_budget_and_the_message_over_it_is_452() {
    let s = MockServer::builder()
        .scenario("unlimited")
        .max_body_memory(1 << 20)
        .start()
        .await
        .expect("mock starts");
    assert_eq!(s.body_memory_in_use(), 0);
    let body = format!(
        "Subject: big\r\n\r\n{}",
        format!("{}\r\n", "z".repeat(998)).repeat(600)
    );
    assert!(body.len() > 600_000);
    // A holds 600 KB, not yet ended
    let mut a = at_data(&s).await;
    a.write(body.as_bytes()).await;
    wait_for_held(&s, 600_000).await;
    // B's 600 KB do not fit beside them
    let mut b = at_data(&s).await;
    b.write(body.as_bytes()).await;
    b.write(b".\r\n").await;
    assert_eq!(b.reply().await.to_string(), BODY_BUDGET_SPENT);
    assert_eq!(b.cmd("NOOP").await, "250 OK", "the session goes on");
    // A ends and gives its memory back
    a.write(b".\r\n").await;
    assert!(a.reply().await.lines[0].starts_with("OK "));
    assert_eq!(s.body_memory_in_use(), 0);
    // B tries again, and fits
    assert_eq!(b.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    assert_eq!(
        b.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    assert_eq!(b.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    b.write(body.as_bytes()).await;
    b.write(b".\r\n").await;
    assert!(b.reply().await.lines[0].starts_with("OK "));
    assert_eq!(b.cmd("QUIT").await, "221 Bye");
    assert_eq!(a.cmd("QUIT").await, "221 Bye");
    wait(&s, 2).await;
    assert_eq!(s.messages().len(), 2);
    let notes: Vec<String> = s
        .transcripts()
        .iter()
        .flat_map(|t| t.events.iter())
        .filter_map(|e| match &e.kind {
            mailtape::tape::EventKind::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n == "body memory budget spent (1048576 octets for all sessions): not kept"),
        "{notes:?}"
    );
    assert_eq!(s.body_memory_in_use(), 0);
    still_serves(&s).await;
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Issue 16 (13), through the binary: eight stalled 12 MB bodies (96 MB in
/// all) under `--max-body-memory 16` keep mailtape's memory near 16 MiB.
#[test]
fn stalled_large_bodies_do_not_grow_memory_past_the_budget() {
    use common::cli::{Running, Smtp, plain};
    let dir = tempfile::tempdir().unwrap();
    let args = common::cli::plain_only(
        dir.path(),
        &[
            "--json",
            "--scenario",
            "unlimited",
            "--max-body-memory",
            "16",
        ],
    );
    let mut m = Running::start_with(&args, common::cli::bin());
    let ready: serde_json::Value = serde_json::from_str(&m.line()).unwrap();
    let addr = ready["plain"].as_str().unwrap().to_string();
    let line = format!("{}\r\n", "q".repeat(998));
    let chunk = line.repeat(1000); // 1 MB
    let clients: Vec<Smtp> = (0..8)
        .map(|_| {
            let mut c = Smtp::connect(&addr);
            c.reply();
            c.cmd("EHLO app.local");
            assert!(
                c.cmd(&format!("AUTH PLAIN {}", plain("resend", KEY)))
                    .starts_with("235")
            );
            c.cmd("MAIL FROM:<a@acme.com>");
            c.cmd("RCPT TO:<delivered@resend.dev>");
            assert!(c.cmd("DATA").starts_with("354"));
            for _ in 0..12 {
                c.write_raw(chunk.as_bytes());
            }
            c
        })
        .collect();
    // the last client's writes returned: its body is (nearly) all read
    std::thread::sleep(Duration::from_millis(300));
    let rss = rss_kib(m.child.id());
    drop(clients);
    let (code, _, err) = m.term();
    assert_eq!(code, 0, "{err}");
    assert!(
        rss < 64 * 1024,
        "RSS {rss} KiB with 96 MB of bodies stalled under a 16 MiB budget"
    );
}
