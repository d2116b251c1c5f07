//! The client side of SMTP: a connection to a server (the upstream relay in
//! record mode, any server in `check`), with timeouts on every step.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::stream::{Io, Stream};

use crate::smtp::{Reply, parse_reply};

/// What went wrong, phrased to follow the server's name: "cannot be
/// reached: …", "did not reply within 5s", "sent a malformed reply: …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault(pub String);

/// How a connection to a server (the upstream relay, or the server
/// `check` and `bench` talk to) is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamTls {
    /// TLS from the first byte (465, 2465).
    Implicit,
    /// Plain, then STARTTLS before anything else is sent (587, 2587, 25).
    Starttls,
    /// No TLS (a local test server).
    None,
}

impl UpstreamTls {
    /// The mode a port implies: implicit TLS for 465 and 2465, else STARTTLS.
    pub fn for_port(port: u16) -> UpstreamTls {
        match port {
            465 | 2465 => UpstreamTls::Implicit,
            _ => UpstreamTls::Starttls,
        }
    }

    /// For transcripts: `implicit TLS`, `STARTTLS`, `no TLS`.
    pub fn describe(self) -> &'static str {
        match self {
            UpstreamTls::Implicit => "implicit TLS",
            UpstreamTls::Starttls => "STARTTLS",
            UpstreamTls::None => "no TLS",
        }
    }
}

/// What the TLS handshake settled, and the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsDetails {
    /// `TLSv1.3` and such.
    pub version: String,
    /// The cipher suite.
    pub cipher: String,
    /// The leaf certificate's subject, e.g. `CN=smtp.resend.com`.
    pub subject: Option<String>,
    /// When the leaf certificate expires (RFC 3339).
    pub not_after: Option<String>,
}

impl TlsDetails {
    /// `TLSv1.3 TLS13_AES_256_GCM_SHA384`.
    pub fn summary(&self) -> String {
        format!("{} {}", self.version, self.cipher)
    }
}

/// What a failed TLS handshake says about the server, for a hint that
/// names the real fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server speaks TLS, but its certificate is signed by a CA not trusted here.
    UnknownIssuer,
    /// The server speaks TLS, but its certificate is not for the name connected to.
    WrongName,
    /// The server speaks TLS, but its certificate has expired (or is not valid yet).
    Expired,
    /// The server speaks TLS; the handshake failed for another reason.
    Other,
    /// What came back was not TLS (an SMTP greeting, most likely), or the
    /// server closed the connection instead of answering.
    NotTls,
    /// Nothing came back in time.
    Silent,
}

impl TlsFailure {
    /// Reads a handshake error.
    fn of(e: &std::io::Error) -> TlsFailure {
        use rustls::CertificateError as C;
        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(c)) => match c {
                C::UnknownIssuer => TlsFailure::UnknownIssuer,
                C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::WrongName,
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => TlsFailure::Expired,
                _ => TlsFailure::Other,
            },
            Some(
                rustls::Error::InvalidMessage(_)
                | rustls::Error::InappropriateMessage { .. }
                | rustls::Error::InappropriateHandshakeMessage { .. },
            ) => TlsFailure::NotTls,
            Some(_) => TlsFailure::Other,
            None if e.kind() == std::io::ErrorKind::UnexpectedEof => TlsFailure::NotTls,
            None => TlsFailure::Other,
        }
    }

    /// Whether the server answered in TLS (so implicit TLS is its mode).
    pub fn speaks_tls(self) -> bool {
        !matches!(self, TlsFailure::NotTls | TlsFailure::Silent)
    }
}

/// A connection to an SMTP server with a read buffer.
pub struct ClientConn {
    stream: Stream,
    buf: Vec<u8>,
    /// A command line with its CR LF, kept to be reused.
    out: Vec<u8>,
}

impl ClientConn {
    /// Opens a TCP connection.
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<ClientConn, Fault> {
        let tcp = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Fault(format!("cannot be reached: {e}"))),
            Err(_) => {
                return Err(Fault(format!(
                    "cannot be reached: no connection within {}s",
                    timeout.as_secs()
                )));
            }
        };
        let _ = tcp.set_nodelay(true);
        Ok(ClientConn {
            stream: Stream::Plain(Box::new(tcp)),
            buf: Vec::new(),
            out: Vec::new(),
        })
    }

    /// Runs the TLS handshake (right away for implicit TLS, after `220` to
    /// STARTTLS), verifying the certificate for `host`.
    pub async fn start_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
        timeout: Duration,
    ) -> Result<(ClientConn, TlsDetails), Fault> {
        self.handshake(config, host, timeout)
            .await
            .map_err(|(fault, _)| fault)
    }

    /// [`start_tls`](Self::start_tls), saying also what the failure tells
    /// about the server (`check` picks its hint, and its TLS mode, by it).
    pub async fn handshake(
        self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
        timeout: Duration,
    ) -> Result<(ClientConn, TlsDetails), (Fault, TlsFailure)> {
        let Stream::Plain(tcp) = self.stream else {
            return Err((Fault("is already encrypted".into()), TlsFailure::Other));
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
            (
                Fault(format!("has no valid TLS name: {e}")),
                TlsFailure::Other,
            )
        })?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err((
                    Fault(format!("failed the TLS handshake: {e}")),
                    TlsFailure::of(&e),
                ));
            }
            Err(_) => {
                return Err((
                    Fault(format!(
                        "did not finish the TLS handshake within {}s",
                        timeout.as_secs()
                    )),
                    TlsFailure::Silent,
                ));
            }
        };
        let details = details(&tls);
        Ok((
            ClientConn {
                stream: Stream::TlsClient(Box::new(tls)),
                buf: Vec::new(),
                out: Vec::new(),
            },
            details,
        ))
    }

    /// Sends bytes as they are.
    pub async fn send(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), Fault> {
        let io = &mut self.stream;
        match tokio::time::timeout(timeout, async {
            io.write_all(bytes).await?;
            io.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Fault(format!("connection lost while sending: {e}"))),
            Err(_) => Err(Fault(format!(
                "stalled: sending took over {}s",
                timeout.as_secs()
            ))),
        }
    }

    /// Reads one reply (capped: 512 octets a line, 100 lines).
    pub async fn reply(&mut self, timeout: Duration) -> Result<Reply, Fault> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match parse_reply(&self.buf) {
                Ok(Some((reply, n))) => {
                    self.buf.drain(..n);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => return Err(Fault(format!("sent a malformed reply: {e}"))),
            }
            // Straight into the buffer's spare room: no zeroed scratch array
            // and no copy, on every reply of a proxied session.
            self.buf.reserve(4096);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) => return Err(Fault("closed the connection".into())),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(Fault(format!("connection lost: {e}"))),
                Err(_) => {
                    return Err(Fault(format!(
                        "did not reply within {}s",
                        timeout.as_secs()
                    )));
                }
            }
        }
    }

    /// Sends one line (CR LF added) and reads the reply.
    pub async fn command(&mut self, line: &[u8], timeout: Duration) -> Result<Reply, Fault> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        let sent = self.send(&out, timeout).await;
        self.out = out;
        sent?;
        self.reply(timeout).await
    }
}

fn details(s: &TlsStream<Box<dyn Io>>) -> TlsDetails {
    let conn = s.get_ref().1;
    let (version, cipher) = super::tls::version_and_suite(conn);
    let leaf = conn.peer_certificates().and_then(|c| c.first());
    let parsed = leaf.and_then(|der| x509_parser::parse_x509_certificate(der.as_ref()).ok());
    let (subject, not_after) = match parsed {
        Some((_, cert)) => {
            let not_after = cert
                .validity()
                .not_after
                .to_datetime()
                .format(&time::format_description::well_known::Rfc3339)
                .ok();
            (Some(cert.subject().to_string()), not_after)
        }
        None => (None, None),
    };
    TlsDetails {
        version,
        cipher,
        subject,
        not_after,
    }
}
