//! Replay (issue 4): every shipped tape replayed by a real client gives the
//! recorded codes, in every TLS mode, with AUTH PLAIN and LOGIN; departures
//! get a 451 and fail the run; --loop, --strict, --realtime, wildcards.

mod common;

use std::time::{Duration, Instant};

use common::{KEY, MODES, Mode, Raw};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Mechanism;
use lettre::{AsyncTransport, Message};
use mailtape::ReplayServer;
use mailtape::tape::{EventKind, Transcript};
use mailtape::{BUILTIN_TAPES, load_tape};

/// What a client must send to follow a tape's first session, and what it should get.
struct Follow {
    user: String,
    from: Option<String>,
    to: Option<String>,
    expected: Result<(), String>,
}

fn follow(t: &Transcript) -> Follow {
    let mut f = Follow {
        user: "resend".into(),
        from: None,
        to: None,
        expected: Ok(()),
    };
    let mut seen_error = false;
    for e in &t.events {
        match &e.kind {
            EventKind::Client(l) if l.starts_with("AUTH ") => {
                if let Some(u) = l.split("user=").nth(1) {
                    f.user = u.split([' ', '>']).next().unwrap_or("").to_string();
                }
            }
            EventKind::Client(l) if l.starts_with("MAIL FROM:<") => {
                let a = l["MAIL FROM:<".len()..].split('>').next().unwrap_or("");
                f.from = Some(a.to_string()).filter(|a| !a.is_empty());
            }
            EventKind::Client(l) if l.starts_with("RCPT TO:<") => {
                f.to = Some(
                    l["RCPT TO:<".len()..]
                        .split('>')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                );
            }
            EventKind::Server(l)
                if !seen_error && l.as_bytes()[0] >= b'4' && l.as_bytes().get(3) == Some(&b' ') =>
            {
                seen_error = true;
                let kind = if l.starts_with('4') {
                    "transient"
                } else {
                    "permanent"
                };
                f.expected = Err(format!("{kind} error ({}): {}", &l[..3], &l[4..]));
            }
            _ => {}
        }
    }
    f
}

async fn drive(
    server: &mailtape::Service,
    mode: Mode,
    mech: Mechanism,
    f: &Follow,
) -> Result<(), String> {
    let t = common::transport(server, mode, &f.user, KEY, mech);
    let to =
        f.to.clone()
            .unwrap_or_else(|| "delivered@resend.dev".into());
    let r = match &f.from {
        Some(from) => {
            let m = Message::builder()
                .from(from.parse().unwrap())
                .to(to.parse().unwrap())
                .subject("replayed")
                .body(String::from("Hi\n"))
                .unwrap();
            t.send(m).await
        }
        None => {
            let env = Envelope::new(None, vec![to.parse().unwrap()]).unwrap();
            t.send_raw(&env, b"Subject: x\r\n\r\nHi\r\n").await
        }
    };
    r.map(|_| ()).map_err(|e| e.to_string())
}

#[tokio::test]
async fn every_shipped_tape_gives_the_recorded_codes_in_every_mode() {
    // The REST tapes (`rest-*`) are played in tests/rest_record.rs.
    for (name, _) in BUILTIN_TAPES
        .iter()
        .filter(|(n, _)| *n != "silent" && !n.starts_with("rest-"))
    {
        let (_, tape) = load_tape(&format!("builtin:{name}")).unwrap();
        let f = follow(&tape.sessions[0]);
        let s = ReplayServer::builder(format!("builtin:{name}"))
            .looped(true)
            .start()
            .await
            .unwrap();
        let mut n = 0;
        for mode in MODES {
            for mech in [Mechanism::Plain, Mechanism::Login] {
                let got = drive(&s, mode, mech, &f).await;
                assert_eq!(got, f.expected.clone(), "{name} {mode:?} {mech:?}");
                n += 1;
            }
        }
        assert!(s.wait_for_sessions(n, Duration::from_secs(10)).await);
        let outcome = s.outcome();
        assert!(outcome.ok(), "{name}: {outcome}");
        // the replayed transcripts carry the tape's replies (TLS aside)
        // (the client's mechanism decides the 334 prompts; TLS the 220s)
        let codes = |t: &Transcript| -> Vec<u16> {
            t.reply_codes()
                .into_iter()
                .filter(|c| ![220, 221, 334].contains(c))
                .collect()
        };
        let want = codes(&tape.sessions[0]);
        for t in s.transcripts() {
            let got = codes(&t);
            assert!(
                want.iter().all(|c| got.contains(c)),
                "{name}: {want:?} vs {got:?}\n{}",
                t.to_tape()
            );
        }
    }
}

#[tokio::test]
async fn silent_tape_never_greets() {
    let s = ReplayServer::builder("builtin:silent")
        .idle_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    assert!(c.try_reply(Duration::from_millis(600)).await.is_none());
    c.send("EHLO app.local").await;
    assert!(c.try_reply(Duration::from_millis(300)).await.is_none());
    assert!(
        c.closed().await,
        "closed, still without a word, at the idle timeout"
    );
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    assert!(s.transcripts()[0].reply_codes().is_empty());
}

#[tokio::test]
async fn a_departure_gets_451_and_fails_the_run() {
    let s = ReplayServer::builder("builtin:sandbox")
        .start()
        .await
        .unwrap();
    let mut c = common::authed(&s).await;
    assert_eq!(
        c.cmd("MAIL FROM:<ceo@yourcompany.com>").await,
        "451 mailtape replay: the tape expected `MAIL FROM:<onboarding@resend.dev>` here"
    );
    // the client may correct itself and go on
    assert_eq!(
        c.cmd("MAIL FROM:<Onboarding@Resend.dev>").await,
        "250 Accepted"
    );
    assert_eq!(c.cmd("QUIT").await.split(' ').next(), Some("221"));
    drop(c);
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    let tape = s.transcripts()[0].to_tape();
    assert!(
        tape.contains("*: diverged from the tape: expected `MAIL FROM:<onboarding@resend.dev>`, received `MAIL FROM:<ceo@yourcompany.com>`"),
        "{tape}"
    );
    let outcome = s.shutdown().await;
    assert!(!outcome.ok());
    assert_eq!(outcome.divergences.len(), 2, "{outcome}");
    assert!(
        outcome
            .to_string()
            .contains("expected `RCPT TO:<someone@gmail.com>`, received `QUIT`"),
        "{outcome}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_in_order_then_421_unless_looped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.tape");
    std::fs::write(
        &path,
        "# mailtape tape v1\n\n## session 1\nS: 220 first\nC: QUIT\nS: 221 one\n\n## session 2\nS: 220 second\nC: QUIT\nS: 221 two\n",
    )
    .unwrap();
    let tape = path.display().to_string();
    let s = ReplayServer::builder(&tape)
        .strict(true)
        .start()
        .await
        .unwrap();
    let mut a = Raw::connect(s.plain_addr().unwrap()).await;
    assert_eq!(a.reply().await.to_string(), "220 first");
    assert_eq!(a.cmd("QUIT").await, "221 one");
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    let o = s.outcome();
    assert!(
        !o.ok() && o.to_string().contains("--strict: 1 session never played"),
        "{o}"
    );
    let mut b = Raw::connect(s.plain_addr().unwrap()).await;
    assert_eq!(b.reply().await.to_string(), "220 second");
    // every session played: --strict is satisfied
    assert!(s.outcome().ok(), "{}", s.outcome());
    let mut c = Raw::connect(s.plain_addr().unwrap()).await;
    assert_eq!(
        c.reply().await.to_string(),
        "421 mailtape replay: the tape's 2 sessions were already played (use --loop to start over)"
    );
    // issue 21: a client beyond the tape is a departure; the run fails
    let o = s.outcome();
    assert!(!o.ok(), "{o}");
    assert_eq!(
        o.to_string(),
        "2 of 2 sessions played, 1 divergence:\n  session 3 (beyond the tape): expected `no more clients: the tape has 2 sessions, all played`, received `a connection`"
    );
    let s = ReplayServer::builder(&tape)
        .looped(true)
        .start()
        .await
        .unwrap();
    for want in ["220 first", "220 second", "220 first"] {
        let mut c = Raw::connect(s.plain_addr().unwrap()).await;
        assert_eq!(c.reply().await.to_string(), want);
    }
}

#[tokio::test]
async fn realtime_reproduces_recorded_delays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.tape");
    std::fs::write(
        &path,
        "# mailtape tape v1\n\n## session 1\n+0.800 S: 220 slow greeting\n+1.000 C: NOOP\n+1.700 S: 250 slow ok\n",
    )
    .unwrap();
    for (realtime, at_least, at_most) in [(true, 1400, 5000), (false, 0, 400)] {
        let s = ReplayServer::builder(path.display().to_string())
            .realtime(realtime)
            .start()
            .await
            .unwrap();
        let start = Instant::now();
        let mut c = Raw::connect(s.plain_addr().unwrap()).await;
        assert_eq!(c.reply().await.to_string(), "220 slow greeting");
        assert_eq!(c.cmd("NOOP").await, "250 slow ok");
        let ms = start.elapsed().as_millis();
        assert!(
            ms >= at_least && ms < at_most,
            "realtime {realtime}: {ms} ms"
        );
    }
}

#[tokio::test]
async fn wildcards_and_hand_written_tapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.tape");
    std::fs::write(
        &path,
        "# mailtape tape v1
# any sender, any resend.dev recipient, then a 550 written by hand

## session 1
S: 220 Resend SMTP Relay ESMTP
C: EHLO x
S: 250-smtp.resend.com
S: 250 AUTH PLAIN LOGIN
C: AUTH PLAIN <redacted>
S: 235 Authentication successful
C: MAIL FROM:<*>
S: 250 Accepted
C: RCPT TO:<*@resend.dev>
S: 250 Accepted
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: .
S: 550 hand-written refusal
C: QUIT
S: 221 Bye
",
    )
    .unwrap();
    let s = ReplayServer::builder(path.display().to_string())
        .looped(true)
        .start()
        .await
        .unwrap();
    for (mode, mech) in [
        (Mode::Starttls, Mechanism::Login),
        (Mode::Smtps, Mechanism::Plain),
    ] {
        let f = Follow {
            user: "anyone".into(),
            from: Some("x@anything.io".into()),
            to: Some("delivered+label@resend.dev".into()),
            expected: Err("permanent error (550): hand-written refusal".into()),
        };
        assert_eq!(drive(&s, mode, mech, &f).await, f.expected);
    }
    let f = Follow {
        user: "resend".into(),
        from: Some("x@anything.io".into()),
        to: Some("someone@gmail.com".into()),
        expected: Ok(()),
    };
    let got = drive(&s, Mode::Plain, Mechanism::Plain, &f).await;
    assert_eq!(
        got.unwrap_err(),
        "transient error (451): mailtape replay: the tape expected `RCPT TO:<*@resend.dev>` here"
    );
}

#[test]
fn blocking_api_for_plain_tests() {
    let s = ReplayServer::builder("builtin:wrong-key")
        .start_blocking()
        .unwrap();
    let addr = s.plain_addr().unwrap();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{BufRead, BufReader, Write};
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "220 Resend SMTP Relay ESMTP\r\n");
    c.write_all(
        format!(
            "EHLO x\r\nAUTH PLAIN {}\r\n",
            common::plain_payload("resend", KEY)
        )
        .as_bytes(),
    )
    .unwrap();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.starts_with("535") {
            break;
        }
    }
    assert_eq!(line, "535 Authentication credentials invalid\r\n");
    drop((c, r));
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)));
}

#[tokio::test]
async fn what_real_clients_do_after_a_refusal_is_not_a_departure() {
    // Python's smtplib retries a refused AUTH PLAIN with AUTH LOGIN, and
    // sends RSET after a refused DATA; neither is on the tape.
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let s = ReplayServer::builder("builtin:wrong-key")
        .start()
        .await
        .unwrap();
    let mut c = common::ehloed(&s).await;
    let payload = common::plain_payload("resend", KEY);
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {payload}")).await,
        "535 Authentication credentials invalid"
    );
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64("resend")).await, "334 UGFzc3dvcmQ6");
    assert_eq!(
        c.cmd(&b64(KEY)).await,
        "535 Authentication credentials invalid"
    );
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
    drop(c);
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    assert!(s.outcome().ok(), "{}", s.outcome());

    let s = ReplayServer::builder("builtin:sandbox")
        .start()
        .await
        .unwrap();
    let mut c = common::authed(&s).await;
    assert_eq!(
        c.cmd("MAIL FROM:<onboarding@resend.dev>").await,
        "250 Accepted"
    );
    assert_eq!(c.cmd("RCPT TO:<someone@gmail.com>").await, "250 Accepted");
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    c.write(b"Subject: x\r\n\r\nhi\r\n.\r\n").await;
    assert_eq!(c.reply().await.code, 550);
    assert_eq!(c.cmd("RSET").await, "250 Flushed");
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
    drop(c);
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    assert!(s.outcome().ok(), "{}", s.outcome());
}

#[tokio::test]
async fn an_unknown_mechanism_does_not_use_up_the_tapes_auth() {
    // regression: AUTH CRAM-MD5 (504) consumed the recorded AUTH, so the
    // client's fallback to LOGIN was taken as a departure
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let s = ReplayServer::builder("builtin:wrong-key")
        .start()
        .await
        .unwrap();
    let mut c = common::ehloed(&s).await;
    assert_eq!(
        c.cmd("AUTH CRAM-MD5").await,
        "504 Error: Unrecognized authentication type"
    );
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64("resend")).await, "334 UGFzc3dvcmQ6");
    assert_eq!(
        c.cmd(&b64("not-a-key")).await,
        "535 Authentication credentials invalid"
    );
    drop(c);
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    assert!(s.outcome().ok(), "{}", s.outcome());
}

#[tokio::test]
async fn rcpt_and_data_pipelined_after_a_refused_mail_get_503() {
    // msmtp and nodemailer pipeline RCPT and DATA with MAIL FROM:<>; the
    // tape (recorded with lettre, which does not) ends after the 550
    let s = ReplayServer::builder("builtin:invalid-from")
        .start()
        .await
        .unwrap();
    let mut c = common::authed(&s).await;
    c.write(b"MAIL FROM:<>\r\nRCPT TO:<delivered@resend.dev>\r\nDATA\r\n")
        .await;
    assert!(
        c.reply()
            .await
            .to_string()
            .starts_with("550 Invalid `from` field.")
    );
    assert_eq!(c.reply().await.to_string(), "503 Error: need MAIL command");
    assert_eq!(c.reply().await.to_string(), "503 Error: need MAIL command");
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
    drop(c);
    assert!(s.wait_for_sessions(1, Duration::from_secs(5)).await);
    assert!(s.outcome().ok(), "{}", s.outcome());
}
