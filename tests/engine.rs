//! The engine in memory: a session driven over `tokio::io::duplex`, no
//! sockets — greeting, EHLO, STARTTLS refused on a plain leg, AUTH, DATA
//! with dot-stuffing, pipelining, a line too long, and the idle timeout.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use mailtape::{Addrs, MockServer, Service};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::task::JoinHandle;

/// A mock with no listener at all: sessions only come through `serve_io`.
async fn mock(idle: Duration) -> std::sync::Arc<MockServer> {
    let none = Addrs {
        smtps: None,
        starttls: None,
        plain: None,
    };
    let server = MockServer::builder()
        .addrs(none)
        .idle_timeout(idle)
        .start()
        .await
        .expect("a mock with no listeners");
    std::sync::Arc::new(server)
}

struct Client {
    r: BufReader<tokio::io::ReadHalf<DuplexStream>>,
    w: tokio::io::WriteHalf<DuplexStream>,
    session: JoinHandle<()>,
}

impl Client {
    fn open(server: &std::sync::Arc<MockServer>) -> Client {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let s = server.clone();
        let peer: SocketAddr = "192.0.2.7:40000".parse().expect("an address");
        let session = tokio::spawn(async move { Service::serve_io(&s, theirs, peer).await });
        let (r, w) = tokio::io::split(ours);
        Client {
            r: BufReader::new(r),
            w,
            session,
        }
    }

    async fn write(&mut self, bytes: &str) {
        self.w.write_all(bytes.as_bytes()).await.expect("write");
    }

    /// The next line with its CR LF; `None` once the session closed the pipe.
    async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(5), self.r.read_line(&mut line))
            .await
            .expect("a line, or the end, within 5 s")
            .expect("read");
        (n > 0).then_some(line)
    }

    /// One whole reply, its lines joined by `\n`.
    async fn reply(&mut self) -> String {
        let mut all = Vec::new();
        loop {
            let Some(line) = self.line().await else {
                panic!("the session closed; got so far {all:?}");
            };
            let line = line.trim_end_matches("\r\n").to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            all.push(line);
            if last {
                return all.join("\n");
            }
        }
    }

    async fn cmd(&mut self, line: &str) -> String {
        self.write(&format!("{line}\r\n")).await;
        self.reply().await
    }

    /// Reads until the session closes the pipe; returns what came before.
    async fn rest(&mut self) -> String {
        let mut all = String::new();
        while let Some(line) = self.line().await {
            all.push_str(&line);
        }
        all
    }
}

fn plain(user: &str, key: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{key}"))
}

#[tokio::test]
async fn greeting_ehlo_starttls_refused_auth_and_a_dot_stuffed_message() {
    let server = mock(Duration::from_secs(30)).await;
    let mut c = Client::open(&server);
    assert_eq!(c.reply().await, "220 Resend SMTP Relay ESMTP");
    assert_eq!(
        c.cmd("EHLO app.example").await,
        "250-Resend SMTP Relay Nice to meet you, [192.0.2.7]\n250-PIPELINING\n250-8BITMIME\n250-SMTPUTF8\n250 AUTH PLAIN LOGIN"
    );
    assert_eq!(
        c.cmd("STARTTLS").await,
        "502 STARTTLS not available on this port"
    );
    assert_eq!(
        c.cmd(&format!(
            "AUTH PLAIN {}",
            plain("resend", "re_engine_0123456789")
        ))
        .await,
        "235 Authentication successful"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<onboarding@resend.dev>").await,
        "250 Accepted"
    );
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    // A body line that starts with a dot is sent doubled (RFC 5321 4.5.2).
    c.write("From: onboarding@resend.dev\r\nTo: delivered@resend.dev\r\nSubject: dots\r\n\r\n..leading dot\r\n...\r\n.\r\n")
        .await;
    let done = c.reply().await;
    assert!(done.starts_with("250 OK "), "{done}");
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
    c.session.await.expect("the session task");

    assert!(server.wait_for_sessions(1, Duration::from_secs(5)).await);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let body = String::from_utf8_lossy(&messages[0].data).to_string();
    assert!(body.ends_with("\r\n\r\n.leading dot\r\n..\r\n"), "{body:?}");
    let t = &server.transcripts()[0];
    assert_eq!(t.meta.client, "192.0.2.7:40000");
    assert!(t.snapshot().contains("D: .leading dot"), "{}", t.snapshot());
    assert!(!t.snapshot().contains("re_engine_0123456789"));
    assert_eq!(
        t.reply_codes(),
        vec![220, 250, 502, 235, 250, 250, 354, 250, 221]
    );
}

#[tokio::test]
async fn pipelined_commands_get_their_replies_in_order() {
    let server = mock(Duration::from_secs(30)).await;
    let mut c = Client::open(&server);
    c.reply().await;
    c.cmd("EHLO app.example").await;
    c.cmd(&format!(
        "AUTH PLAIN {}",
        plain("resend", "re_engine_0123456789")
    ))
    .await;
    // MAIL, RCPT and DATA in one write (RFC 2920).
    c.write("MAIL FROM:<onboarding@resend.dev>\r\nRCPT TO:<delivered@resend.dev>\r\nDATA\r\n")
        .await;
    assert_eq!(c.reply().await, "250 Accepted");
    assert_eq!(c.reply().await, "250 Accepted");
    assert_eq!(c.reply().await, "354 End data with <CR><LF>.<CR><LF>");
    c.write("Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        .await;
    assert!(c.reply().await.starts_with("250 OK "));
    assert_eq!(c.reply().await, "221 Bye");
    c.session.await.expect("the session task");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn a_line_too_long_gets_500_and_the_session_goes_on() {
    let server = mock(Duration::from_secs(30)).await;
    let mut c = Client::open(&server);
    c.reply().await;
    let long = format!("EHLO {}", "a".repeat(5000));
    assert_eq!(c.cmd(&long).await, "500 Error: line too long");
    assert_eq!(c.cmd("NOOP").await, "250 OK");
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
    c.session.await.expect("the session task");
    assert!(server.wait_for_sessions(1, Duration::from_secs(5)).await);
    let t = &server.transcripts()[0];
    assert!(
        t.snapshot().contains("*: line too long"),
        "{}",
        t.snapshot()
    );
}

#[tokio::test]
async fn silence_past_the_idle_timeout_gets_421_and_the_pipe_closed() {
    let server = mock(Duration::from_millis(300)).await;
    let mut c = Client::open(&server);
    c.reply().await;
    c.cmd("EHLO app.example").await;
    let started = std::time::Instant::now();
    assert_eq!(c.rest().await, "421 Timeout - closing connection\r\n");
    assert!(started.elapsed() >= Duration::from_millis(300));
    c.session.await.expect("the session task");
    assert!(server.wait_for_sessions(1, Duration::from_secs(5)).await);
    let t = &server.transcripts()[0];
    assert_eq!(t.closed_by, Some(mailtape::tape::Closer::Server));
    assert!(t.snapshot().contains("*: idle timeout"), "{}", t.snapshot());
}
