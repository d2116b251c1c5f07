//! Record mode (issue 3): through the proxy to a local upstream — mailtape's
//! own mock over implicit TLS and STARTTLS, and a third-party server — the
//! client sees exactly the upstream's replies and the tape keeps them.

mod common;

use std::time::Duration;

use common::{KEY, MODES, Mode, send};
use lettre::transport::smtp::authentication::Mechanism;
use mailtape::UpstreamTls;
use mailtape::tape::{EventKind, Tape, Transcript};
use mailtape::{MockServer, RecordServer};

/// A proxy in front of `upstream`, trusting its CA, writing `tape`.
async fn proxy(upstream: &MockServer, tls: UpstreamTls, tape: &std::path::Path) -> RecordServer {
    let addr = match tls {
        UpstreamTls::Implicit => upstream.smtps_addr(),
        UpstreamTls::Starttls => upstream.starttls_addr(),
        UpstreamTls::None => upstream.plain_addr(),
    }
    .unwrap();
    RecordServer::builder()
        .upstream(addr.to_string())
        .upstream_tls(tls)
        .upstream_ca(upstream.ca_path().unwrap())
        .tape_file(tape)
        .reply_timeout(Duration::from_secs(5))
        .start()
        .await
        .expect("proxy starts")
}

/// The replies of a transcript, without the EHLO keywords (the proxy adds
/// or removes STARTTLS for the client's leg) and without greeting lines.
fn replies(t: &Transcript) -> Vec<String> {
    t.events
        .iter()
        .filter_map(|e| match &e.kind {
            // EHLO replies differ by leg (STARTTLS is offered upstream only).
            EventKind::Server(s)
                if !s.starts_with("250-") && s != "250 AUTH PLAIN LOGIN" && s != "250 STARTTLS" =>
            {
                Some(s.clone())
            }
            _ => None,
        })
        .filter(|s| !s.starts_with("220 Ready to start TLS"))
        .map(|s| {
            if s.starts_with("250 OK ") {
                "250 OK <id>".into()
            } else {
                s
            }
        })
        .collect()
}

/// A mock without rate limits or quotas, as the upstream.
async fn unlimited() -> MockServer {
    MockServer::builder()
        .scenario("unlimited")
        .start()
        .await
        .expect("the mock starts")
}

/// A client on the proxy's plain port, greeted, that has sent EHLO, AUTH,
/// MAIL, a RCPT for each of `rcpts` and DATA in one write; the replies to
/// those are still to be read.
async fn up_to_data(p: &RecordServer, rcpts: &[&str]) -> common::Raw {
    let mut c = common::Raw::connect(p.plain_addr().unwrap()).await;
    c.reply().await;
    let mut batch = format!(
        "EHLO app.local\r\nAUTH PLAIN {}\r\nMAIL FROM:<a@acme.com>\r\n",
        common::plain_payload("resend", KEY)
    );
    for r in rcpts {
        batch.push_str(&format!("RCPT TO:<{r}>\r\n"));
    }
    batch.push_str("DATA\r\n");
    c.write(batch.as_bytes()).await;
    c
}

fn read_tape(path: &std::path::Path) -> Tape {
    let text = std::fs::read_to_string(path).expect("tape written");
    let tape = Tape::parse(&text, &path.display().to_string()).expect("tape parses");
    assert_eq!(tape.to_text(), text, "the tape round-trips");
    tape
}

fn snapshot(tape: &Tape) -> String {
    tape.snapshot()
}

/// Sends the same message straight to the mock and through the proxy, in
/// each client mode, and checks that the client sees the same outcome.
async fn same_through_proxy(
    scenario: &str,
    upstream_tls: UpstreamTls,
    user: &str,
    from: &str,
    to: &str,
) -> Tape {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("session.tape");
    let direct = MockServer::builder()
        .scenario(scenario)
        .start()
        .await
        .unwrap();
    let upstream = MockServer::builder()
        .scenario(scenario)
        .start()
        .await
        .unwrap();
    let p = proxy(&upstream, upstream_tls, &tape).await;
    for (i, mode) in MODES.into_iter().enumerate() {
        let mech = if mode == Mode::Starttls {
            Mechanism::Login
        } else {
            Mechanism::Plain
        };
        let want = send(&direct, mode, mech, user, from, &[to]).await;
        let got = send(&p, mode, mech, user, from, &[to]).await;
        let norm = |r: Result<String, String>| {
            r.map(|t| {
                if t.starts_with("250 OK ") {
                    "250 OK <id>".into()
                } else {
                    t
                }
            })
        };
        assert_eq!(
            norm(got),
            norm(want),
            "{scenario} {upstream_tls:?} {mode:?}"
        );
        assert!(p.wait_for_sessions(i + 1, Duration::from_secs(10)).await);
    }
    upstream.wait_for_sessions(3, Duration::from_secs(10)).await;
    // the proxy's transcripts show the upstream's replies, line for line
    let mut mine = p.transcripts();
    let mut theirs = upstream.transcripts();
    mine.sort_by_key(|t| t.meta.id);
    theirs.sort_by_key(|t| t.meta.id);
    for (m, t) in mine.iter().zip(&theirs) {
        assert_eq!(
            replies(m),
            replies(t),
            "proxy:\n{}\nupstream:\n{}",
            m.to_tape(),
            t.to_tape()
        );
    }
    p.shutdown().await;
    read_tape(&tape)
}

#[tokio::test]
async fn success_over_implicit_tls_and_starttls_upstream() {
    let tape = same_through_proxy(
        "unlimited",
        UpstreamTls::Implicit,
        "resend",
        "a@acme.com",
        "delivered@resend.dev",
    )
    .await;
    assert_eq!(tape.sessions.len(), 3);
    assert!(
        tape.comments[0].starts_with("recorded by mailtape record from 127.0.0.1:"),
        "{:?}",
        tape.comments
    );
    insta::assert_snapshot!("record_success_implicit", snapshot(&tape));
    let tape = same_through_proxy(
        "unlimited",
        UpstreamTls::Starttls,
        "resend",
        "a@acme.com",
        "delivered@resend.dev",
    )
    .await;
    insta::assert_snapshot!("record_success_starttls", snapshot(&tape));
}

#[tokio::test]
async fn failures_pass_through_unchanged() {
    let cases = [
        (
            "default",
            "someone@acme.com",
            "a@acme.com",
            "delivered@resend.dev",
        ),
        (
            "invalid-key",
            "resend",
            "a@acme.com",
            "delivered@resend.dev",
        ),
        (
            "sandbox",
            "resend",
            "onboarding@resend.dev",
            "someone@gmail.com",
        ),
        (
            "unverified-domain",
            "resend",
            "a@acme.com",
            "delivered@resend.dev",
        ),
        (
            "rate-limited",
            "resend",
            "a@acme.com",
            "delivered@resend.dev",
        ),
        ("default", "resend", "a@acme.com", "user@example.com"),
    ];
    for (i, (scenario, user, from, to)) in cases.into_iter().enumerate() {
        let tls = if i % 2 == 0 {
            UpstreamTls::Implicit
        } else {
            UpstreamTls::Starttls
        };
        let tape = same_through_proxy(scenario, tls, user, from, to).await;
        assert_eq!(tape.sessions.len(), 3, "{scenario}");
        if scenario == "sandbox" {
            insta::assert_snapshot!("record_sandbox", snapshot(&tape));
        }
    }
}

/// A third-party SMTP server (mailin-embedded) on loopback, plain.
#[derive(Clone)]
struct Mailin;

impl mailin_embedded::Handler for Mailin {
    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        if to.starts_with("nobody@") {
            mailin_embedded::response::NO_MAILBOX
        } else {
            mailin_embedded::response::OK
        }
    }
}

fn start_mailin() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server = mailin_embedded::Server::new(Mailin);
    server.with_name("mailin.test").with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    addr
}

#[tokio::test]
async fn through_a_third_party_server() {
    let upstream = start_mailin();
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("mailin.tape");
    let p = RecordServer::builder()
        .upstream(upstream.to_string())
        .upstream_tls(UpstreamTls::None)
        .tape_file(&tape)
        .start()
        .await
        .unwrap();
    let mut c = common::Raw::connect(p.plain_addr().unwrap()).await;
    assert_eq!(c.reply().await.to_string(), "220 mailin.test ESMTP");
    c.send("EHLO app.local").await;
    let ehlo = c.reply().await;
    assert_eq!(ehlo.code, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 OK");
    assert_eq!(
        c.cmd("RCPT TO:<nobody@acme.com>").await,
        "550 Mailbox unavailable"
    );
    assert_eq!(c.cmd("RCPT TO:<somebody@acme.com>").await, "250 OK");
    assert_eq!(
        c.cmd("DATA").await,
        "354 Start mail input; end with <CRLF>.<CRLF>"
    );
    // a line starting with a dot and a bare LF reach the upstream stuffed and canonical
    c.write(b"Subject: third party\r\n\r\n.leading dot\r\nbare\nlf\r\n.\r\n")
        .await;
    assert_eq!(c.reply().await.to_string(), "250 OK");
    assert_eq!(c.cmd("QUIT").await, "221 Goodbye");
    drop(c);
    assert!(p.wait_for_sessions(1, Duration::from_secs(5)).await);
    p.shutdown().await;
    let tape = read_tape(&tape);
    insta::assert_snapshot!("record_mailin", snapshot(&tape));
}

#[tokio::test]
async fn pipelined_commands_keep_their_order() {
    let upstream = unlimited().await;
    let dir = tempfile::tempdir().unwrap();
    let p = proxy(&upstream, UpstreamTls::Implicit, &dir.path().join("t.tape")).await;
    let mut c = up_to_data(&p, &["delivered@resend.dev", "bad"]).await;
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(c.reply().await.code);
    }
    assert_eq!(got, vec![250, 235, 250, 250, 501, 354]);
    c.write(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n").await;
    assert!(c.reply().await.lines[0].starts_with("OK "));
    assert_eq!(c.reply().await.to_string(), "221 Bye");
}

#[tokio::test]
async fn ehlo_offers_starttls_only_where_the_client_can_use_it() {
    let upstream = MockServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // the upstream's STARTTLS listener offers STARTTLS; after the proxy's own
    // upgrade it is gone upstream, and the client's leg decides
    let p = proxy(&upstream, UpstreamTls::Starttls, &dir.path().join("t.tape")).await;
    for (addr, offered) in [(p.plain_addr(), false), (p.starttls_addr(), true)] {
        let mut c = common::Raw::connect(addr.unwrap()).await;
        c.reply().await;
        c.send("EHLO app.local").await;
        let ehlo = c.reply().await;
        assert_eq!(
            ehlo.lines.contains(&"STARTTLS".to_string()),
            offered,
            "{ehlo}"
        );
        assert!(
            ehlo.lines.contains(&"AUTH PLAIN LOGIN".to_string()),
            "{ehlo}"
        );
    }
}

#[tokio::test]
async fn a_large_message_arrives_whole_and_the_tape_names_it_by_hash() {
    // 300 KiB: more than the proxy holds back before sending on (64 KiB), and
    // more than a transcript shows, with dot-led lines that need stuffing.
    let upstream = unlimited().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tape");
    let p = proxy(&upstream, UpstreamTls::Implicit, &path).await;
    let mut content =
        b"From: a@acme.com\r\nTo: delivered@resend.dev\r\nSubject: big\r\n\r\n".to_vec();
    let mut n = 0;
    while content.len() < 300 * 1024 {
        content.extend_from_slice(
            format!(".line {n} of a long message, with a leading dot\r\n").as_bytes(),
        );
        n += 1;
    }
    let mut wire = Vec::new();
    let mut w = mailtape::smtp::DataWriter::new();
    w.encode(&content, &mut wire);
    w.finish(&mut wire);

    let mut c = up_to_data(&p, &["delivered@resend.dev"]).await;
    for _ in 0..5 {
        c.reply().await;
    }
    // in pieces of odd sizes, as a client's writes arrive
    for piece in wire.chunks(7001) {
        c.write(piece).await;
    }
    let done = c.reply().await;
    assert_eq!(done.code, 250, "{done}");
    c.send("QUIT").await;
    assert_eq!(c.reply().await.to_string(), "221 Bye");

    common::wait(&upstream, 1).await;
    let got = upstream.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].data, content,
        "the upstream got the message byte for byte"
    );

    common::wait(&p, 1).await;
    let tape = read_tape(&path);
    let digest = ring::digest::digest(&ring::digest::SHA256, &content);
    let hex: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let body: Vec<&str> = tape.sessions[0]
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Data(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        body,
        vec![format!("<body of {} bytes, sha256 {hex}…>", content.len())]
    );
}

/// A scripted upstream on a thread: greets, answers EHLO (offering
/// PIPELINING or not), then reads commands and answers the way `script`
/// says. Returns its address and what it saw, line by line with a mark
/// where it had to wait for more input.
fn scripted_upstream(
    pipelining: bool,
    body_seen: Option<(&'static [u8], std::sync::mpsc::Sender<()>)>,
) -> (std::net::SocketAddr, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut out = stream.try_clone().unwrap();
        let mut input = BufReader::new(stream);
        let mut seen = Vec::new();
        let mut line = String::new();
        let mut next = |input: &mut BufReader<std::net::TcpStream>, seen: &mut Vec<String>| {
            // Whether this line was already here when the last reply went
            // out: a line sent ahead of its turn.
            let waiting = input.buffer().is_empty();
            line.clear();
            input.read_line(&mut line).unwrap();
            let l = line.trim_end().to_string();
            seen.push(if waiting {
                l.clone()
            } else {
                format!("(ahead) {l}")
            });
            l
        };
        out.write_all(b"220 upstream ESMTP\r\n").unwrap();
        next(&mut input, &mut seen); // EHLO
        let keywords = if pipelining { "250-PIPELINING\r\n" } else { "" };
        out.write_all(format!("250-upstream\r\n{keywords}250 AUTH PLAIN\r\n").as_bytes())
            .unwrap();
        next(&mut input, &mut seen); // AUTH
        out.write_all(b"235 ok\r\n").unwrap();
        // MAIL, RCPT, RCPT, DATA: answered one at a time, after a pause in
        // which a client that does not pipeline would have sent nothing more
        for reply in [
            "250 mail ok",
            "250 rcpt ok",
            "550 no such user",
            "354 go on",
        ] {
            next(&mut input, &mut seen);
            std::thread::sleep(Duration::from_millis(100));
            out.write_all(format!("{reply}\r\n").as_bytes()).unwrap();
        }
        let mut body = Vec::new();
        while !body.ends_with(b"\r\n.\r\n") {
            let mut b = [0u8; 1];
            input.read_exact(&mut b).unwrap();
            body.push(b[0]);
            if let Some((mark, tx)) = &body_seen
                && body.ends_with(mark)
            {
                let _ = tx.send(());
            }
        }
        out.write_all(b"250 queued\r\n").unwrap();
        next(&mut input, &mut seen); // QUIT
        out.write_all(b"221 bye\r\n").unwrap();
        seen
    });
    (addr, handle)
}

/// A proxy in front of a plain-text upstream at `addr`, writing `tape`.
async fn plain_proxy(addr: std::net::SocketAddr, tape: &std::path::Path) -> RecordServer {
    RecordServer::builder()
        .upstream(addr.to_string())
        .upstream_tls(UpstreamTls::None)
        .tape_file(tape)
        .reply_timeout(Duration::from_secs(5))
        .start()
        .await
        .expect("proxy starts")
}

async fn through_scripted(pipelining: bool) -> (Vec<u16>, Vec<String>) {
    let (addr, upstream) = scripted_upstream(pipelining, None);
    let dir = tempfile::tempdir().unwrap();
    let p = plain_proxy(addr, &dir.path().join("t.tape")).await;
    let mut c = up_to_data(&p, &["a@resend.dev", "nobody@resend.dev"]).await;
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(c.reply().await.code);
    }
    c.write(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n").await;
    got.push(c.reply().await.code);
    got.push(c.reply().await.code);
    let seen = tokio::task::spawn_blocking(move || upstream.join().unwrap())
        .await
        .unwrap();
    (got, seen)
}

#[tokio::test]
async fn a_pipelined_group_goes_upstream_pipelined_where_the_upstream_offers_it() {
    // The client sends MAIL, RCPT, RCPT and DATA in one write: the upstream
    // gets them the same way (RFC 2920), and the replies come back in order.
    let (got, seen) = through_scripted(true).await;
    assert_eq!(got, vec![250, 235, 250, 250, 550, 354, 250, 221]);
    assert_eq!(
        seen,
        vec![
            "EHLO app.local",
            &format!("AUTH PLAIN {}", common::plain_payload("resend", KEY)),
            "MAIL FROM:<a@acme.com>",
            "(ahead) RCPT TO:<a@resend.dev>",
            "(ahead) RCPT TO:<nobody@resend.dev>",
            "(ahead) DATA",
            "QUIT",
        ]
    );
}

#[tokio::test]
async fn without_pipelining_upstream_each_command_waits_for_its_reply() {
    let (got, seen) = through_scripted(false).await;
    assert_eq!(got, vec![250, 235, 250, 250, 550, 354, 250, 221]);
    assert!(seen.iter().all(|l| !l.starts_with("(ahead)")), "{seen:?}");
}

#[tokio::test]
async fn a_long_pipelined_group_keeps_every_reply_in_its_place() {
    // 250 recipients in one write: sent upstream in groups, replies in order
    let upstream = unlimited().await;
    let dir = tempfile::tempdir().unwrap();
    let p = proxy(&upstream, UpstreamTls::Implicit, &dir.path().join("t.tape")).await;
    let rcpts: Vec<String> = (0..250).map(|i| format!("r{i}@resend.dev")).collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    let mut c = up_to_data(&p, &rcpts).await;
    let mut got = Vec::new();
    for _ in 0..(3 + rcpts.len() + 1) {
        got.push(c.reply().await.code);
    }
    let mut want = vec![250, 235, 250];
    want.extend(std::iter::repeat_n(250, rcpts.len()));
    want.push(354);
    assert_eq!(got, want);
    c.write(b"Subject: p\r\n\r\nbody\r\n.\r\n").await;
    let r = c.reply().await;
    assert_eq!(r.code, 550, "{r}"); // the API's 50-recipient cap, after DATA
}

#[tokio::test]
async fn a_body_still_arriving_keeps_flowing_upstream() {
    // A slow client: the first part of the body must reach the relay while
    // the client is still sending, or a relay's own timeout would cut it.
    let (tx, rx) = std::sync::mpsc::channel();
    let (addr, upstream) = scripted_upstream(false, Some((b"first part\r\n", tx)));
    let dir = tempfile::tempdir().unwrap();
    let p = plain_proxy(addr, &dir.path().join("t.tape")).await;
    let mut c = up_to_data(&p, &["a@resend.dev", "nobody@resend.dev"]).await;
    for _ in 0..6 {
        c.reply().await;
    }
    c.write(b"Subject: slow\r\n\r\nfirst part\r\n").await;
    let got = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(3)))
        .await
        .unwrap();
    assert!(
        got.is_ok(),
        "the relay did not get the first part of a body still arriving"
    );
    c.write(b"second part\r\n.\r\nQUIT\r\n").await;
    assert_eq!(c.reply().await.to_string(), "250 queued");
    assert_eq!(c.reply().await.to_string(), "221 bye");
    tokio::task::spawn_blocking(move || upstream.join().unwrap())
        .await
        .unwrap();
}
