//! Helpers shared by the integration tests: a lettre client set up the way
//! an app would be, and a raw SMTP client for exact-byte tests.
#![allow(dead_code)]

pub mod cli;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mailtape::smtp::{Reply, parse_reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A key that looks like a real one; tests search every output for it.
pub const KEY: &str = "re_Test1234_abcdEFGH5678";

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Implicit TLS (465-style).
    Smtps,
    /// STARTTLS required (587-style).
    Starttls,
    /// No TLS at all.
    Plain,
}

pub const MODES: [Mode; 3] = [Mode::Smtps, Mode::Starttls, Mode::Plain];

/// A lettre transport to the mock, verifying its certificate against the CA.
pub fn transport(
    server: &mailtape::Service,
    mode: Mode,
    user: &str,
    key: &str,
    mechanism: Mechanism,
) -> AsyncSmtpTransport<Tokio1Executor> {
    let addr = match mode {
        Mode::Smtps => server.smtps_addr(),
        Mode::Starttls => server.starttls_addr(),
        Mode::Plain => server.plain_addr(),
    }
    .expect("listener");
    let tls_params = || {
        let ca = Certificate::from_pem(server.ca_pem().expect("ca").as_bytes()).expect("ca pem");
        TlsParameters::builder("localhost".into())
            .add_root_certificate(ca)
            .build_rustls()
            .expect("tls params")
    };
    let tls = match mode {
        Mode::Smtps => Tls::Wrapper(tls_params()),
        Mode::Starttls => Tls::Required(tls_params()),
        Mode::Plain => Tls::None,
    };
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(tls)
        .hello_name(ClientId::Domain("app.local".into()))
        .credentials(Credentials::new(user.into(), key.into()))
        .authentication(vec![mechanism])
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

/// A simple text message.
pub fn message(from: &str, to: &[&str]) -> lettre::Message {
    let mut b = lettre::Message::builder()
        .from(from.parse::<Mailbox>().expect("from"))
        .subject("Hello from mailtape tests");
    for t in to {
        b = b.to(t.parse::<Mailbox>().expect("to"));
    }
    b.header(ContentType::TEXT_PLAIN)
        .body(String::from("Hi,\nthis is a test.\n"))
        .expect("message")
}

/// Sends one message and returns the reply text, or the error text.
pub async fn send(
    server: &mailtape::Service,
    mode: Mode,
    mechanism: Mechanism,
    user: &str,
    from: &str,
    to: &[&str],
) -> Result<String, String> {
    let t = transport(server, mode, user, KEY, mechanism);
    match t.send(message(from, to)).await {
        Ok(r) => Ok(format!(
            "{} {}",
            r.code(),
            r.message().collect::<Vec<_>>().join(" ")
        )),
        Err(e) => Err(e.to_string()),
    }
}

pub async fn wait(server: &mailtape::Service, n: usize) {
    assert!(
        server.wait_for_sessions(n, Duration::from_secs(10)).await,
        "only {} of {n} sessions finished",
        server.sink().finished()
    );
}

/// A raw SMTP client: write exact bytes, read replies.
pub struct Raw {
    stream: Conn,
    buf: Vec<u8>,
}

enum Conn {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Conn {
    async fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(b).await,
            Conn::Tls(s) => s.write_all(b).await,
        }
    }
    async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush().await,
            Conn::Tls(s) => s.flush().await,
        }
    }
    async fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(b).await,
            Conn::Tls(s) => s.read(b).await,
        }
    }
    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.shutdown().await,
            Conn::Tls(s) => s.shutdown().await,
        }
    }
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).await.expect("connect");
        Raw {
            stream: Conn::Tcp(s),
            buf: Vec::new(),
        }
    }

    /// Connects with implicit TLS, trusting `ca_pem`.
    pub async fn connect_tls(addr: SocketAddr, ca_pem: &str) -> Raw {
        let s = TcpStream::connect(addr).await.expect("connect");
        Raw {
            stream: Conn::Tls(Box::new(tls_client(s, ca_pem).await)),
            buf: Vec::new(),
        }
    }

    /// Upgrades an open plain connection (after `220` to STARTTLS).
    pub async fn upgrade(self, ca_pem: &str) -> Raw {
        let Conn::Tcp(tcp) = self.stream else {
            panic!("already TLS");
        };
        Raw {
            stream: Conn::Tls(Box::new(tls_client(tcp, ca_pem).await)),
            buf: Vec::new(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    pub async fn send(&mut self, line: &str) {
        self.write(format!("{line}\r\n").as_bytes()).await;
    }

    /// Reads one reply; panics after 10 s or on EOF.
    pub async fn reply(&mut self) -> Reply {
        self.try_reply(Duration::from_secs(10))
            .await
            .expect("a reply")
    }

    /// Reads one reply, or `None` on EOF or timeout.
    pub async fn try_reply(&mut self, timeout: Duration) -> Option<Reply> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((r, n)) = parse_reply(&self.buf).expect("well-formed reply") {
                self.buf.drain(..n);
                return Some(r);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a line and returns the reply exactly as it came on the wire,
    /// every line with its CRLF.
    pub async fn wire(&mut self, line: &str) -> String {
        self.send(line).await;
        self.wire_reply().await
    }

    /// Reads one reply exactly as it came on the wire; panics after 10 s.
    pub async fn wire_reply(&mut self) -> String {
        let before = self.buf.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some((_, n)) = parse_reply(&self.buf).expect("well-formed reply") {
                let bytes: Vec<u8> = self.buf.drain(..n).collect();
                return String::from_utf8(bytes).expect("UTF-8 reply");
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .expect("a reply within 10 s")
                .expect("read");
            assert!(n > 0, "EOF before a reply; had {before:?}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a line and returns the reply as `code text` (last line's text).
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(line).await;
        let r = self.reply().await;
        format!("{} {}", r.code, r.lines.last().cloned().unwrap_or_default())
    }

    /// Half-closes: the server reads EOF after what was written.
    pub async fn shutdown_write(&mut self) {
        self.stream.shutdown().await.expect("shutdown");
    }

    /// Everything up to EOF (what was buffered included); panics after 10 s.
    pub async fn rest(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut chunk = [0u8; 4096];
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .expect("EOF within 10 s");
        out
    }

    /// True once the server has closed the connection (EOF within 5 s).
    pub async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// rustls's *ring* provider, deprecated in rustls 0.23.48 for lacking
/// post-quantum key exchange (which tests on loopback do not need), as
/// `src/net/tls.rs` allows it too.
#[allow(deprecated)]
pub fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

async fn tls_client(tcp: TcpStream, ca_pem: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("pem")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(ring_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("tls handshake")
}

/// AUTH PLAIN payload for `resend` and the test key.
pub fn plain_payload(user: &str, key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{key}"))
}

/// A raw session on the plain listener, greeted and EHLO'd.
pub async fn ehloed(server: &mailtape::Service) -> Raw {
    let mut c = Raw::connect(server.plain_addr().expect("plain")).await;
    assert_eq!(c.reply().await.code, 220);
    c.send("EHLO app.local").await;
    assert_eq!(c.reply().await.code, 250);
    c
}

/// A raw session on the plain listener, greeted, EHLO'd and authenticated.
pub async fn authed(server: &mailtape::Service) -> Raw {
    let mut c = ehloed(server).await;
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain_payload("resend", KEY)))
            .await,
        "235 Authentication successful"
    );
    c
}

/// An authenticated session with a transaction open for one recipient.
pub async fn in_transaction(server: &mailtape::Service) -> Raw {
    let mut c = authed(server).await;
    assert_eq!(c.cmd("MAIL FROM:<a@acme.com>").await, "250 Accepted");
    assert_eq!(
        c.cmd("RCPT TO:<delivered@resend.dev>").await,
        "250 Accepted"
    );
    c
}

/// A session at `354`, ready for a body, with one recipient.
pub async fn at_data(server: &mailtape::Service) -> Raw {
    let mut c = in_transaction(server).await;
    assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
    c
}

/// After whatever a test did, a fresh session on the same mock still works.
pub async fn still_serves(s: &mailtape::Service) {
    let mut c = at_data(s).await;
    c.write(b"Subject: x\r\n\r\nhi\r\n.\r\n").await;
    assert!(c.reply().await.lines[0].starts_with("OK "));
    assert_eq!(c.cmd("QUIT").await, "221 Bye");
}

/// A response from [`http`].
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection (`base` is `http://host:port`),
/// the response read to the end: a client with nothing in between.
pub async fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpResponse {
    let host = base.strip_prefix("http://").expect("http:// base");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    http_raw(base, req.as_bytes()).await
}

/// Sends `request` as it is (any Host, any header) over a fresh
/// connection and reads the response to the end.
pub async fn http_raw(base: &str, request: &[u8]) -> HttpResponse {
    let host = base.strip_prefix("http://").expect("http:// base");
    let mut s = TcpStream::connect(host).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("a response within 10 s")
        .expect("read");
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header section");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_string(),
    }
}
