//! The one byte stream both legs use — the client's connection to mailtape
//! and mailtape's connection to a relay — plain, or upgraded to TLS in place;
//! and the client's connection with its read and write buffers.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Anything a session can run over: a TCP stream, or an in-memory pipe in tests.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

/// A plain or TLS stream.
pub enum Stream {
    /// Not encrypted (yet).
    Plain(Box<dyn Io>),
    /// After a TLS handshake as the server (a client's connection).
    Tls(Box<tokio_rustls::server::TlsStream<Box<dyn Io>>>),
    /// After a TLS handshake as the client (the connection to a relay).
    TlsClient(Box<tokio_rustls::client::TlsStream<Box<dyn Io>>>),
    /// Only while an upgrade is under way; never read or written.
    Upgrading,
}

impl Stream {
    /// TLS version and cipher suite, if the stream is encrypted.
    pub fn tls_summary(&self) -> Option<String> {
        match self {
            Stream::Tls(s) => {
                let conn = s.get_ref().1;
                let (version, suite) = super::tls::version_and_suite(conn);
                let sni = conn
                    .server_name()
                    .map(|n| format!(", SNI {n}"))
                    .unwrap_or_default();
                Some(format!("{version} {suite}{sni}"))
            }
            _ => None,
        }
    }
}

fn upgrading() -> io::Error {
    io::Error::other("stream used during a TLS upgrade")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Stream::TlsClient(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Stream::TlsClient(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
            Stream::TlsClient(s) => Pin::new(s).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Stream::TlsClient(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

/// A stream with its buffers. Replies are collected in `out` and flushed once
/// per batch, so pipelined commands get their replies in one write.
pub struct Conn {
    /// The stream.
    pub stream: Stream,
    /// Bytes read but not yet used.
    pub input: BytesMut,
    /// Bytes to send at the next flush.
    pub output: Vec<u8>,
}

impl Conn {
    /// Wraps a stream.
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            // Small to start: most connections are idle most of the time
            // (10,000 of them fit in well under 100 MB); reads grow it.
            input: BytesMut::with_capacity(512),
            output: Vec::new(),
        }
    }

    /// Reads more bytes into `input`; `Ok(0)` is a clean end of stream.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        if self.input.capacity() - self.input.len() < 256 {
            self.input.reserve(self.input.len().clamp(4096, 64 * 1024));
        }
        self.stream.read_buf(&mut self.input).await
    }

    /// Sends whatever is in `output`.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.output.is_empty() {
            self.stream.write_all(&self.output).await?;
            self.output.clear();
        }
        self.stream.flush().await
    }

    /// Upgrades to TLS as a server, within `timeout`. Bytes the client sent
    /// before the handshake are dropped, never read as commands afterwards
    /// (the STARTTLS command-injection class of bug, CVE-2011-0411).
    pub async fn start_tls(
        &mut self,
        acceptor: &tokio_rustls::TlsAcceptor,
        timeout: std::time::Duration,
    ) -> Result<(), super::tls::AcceptError> {
        self.input.clear();
        let Stream::Plain(plain) = std::mem::replace(&mut self.stream, Stream::Upgrading) else {
            return Err(super::tls::AcceptError::Failed(io::Error::other(
                "TLS is already active",
            )));
        };
        self.stream = super::tls::accept(acceptor, plain, timeout).await?;
        Ok(())
    }
}
