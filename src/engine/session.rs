//! The engine that drives one connection through a [`Responder`]: framing,
//! DATA, the STARTTLS upgrade, timeouts, error limits and capture. The only
//! code that touches the client's socket.

use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::engine::budget::BodyBudget;
use crate::engine::responder::{DataOutcome, LocalEvent, Responder, Response, SessionState};
use crate::net::Conn;
use crate::net::tls::AcceptError;
use crate::output::sink::Sink;
use crate::smtp::{self, Command, DataReader, Line, codes};
use crate::tape::Closer;
use crate::tape::capture::{BodyCapture, Capture, PendingAuth, next_auth};

/// Limits every session runs under.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest command line, CR LF included.
    pub max_line: usize,
    /// Failed commands (5xx replies) before the session is closed with 421.
    pub max_errors: usize,
    /// Silence from the client before the session is closed with 421; also
    /// the longest a command line may take to arrive once the server waits
    /// for it (a client that sends one octet a second is not silent, and
    /// must not hold a session for ever).
    pub idle_timeout: Duration,
    /// Longest a TLS handshake may take.
    pub tls_timeout: Duration,
    /// The slowest a message body may arrive, in octets a second on average,
    /// after a first idle timeout of grace; slower is closed with 421.
    pub min_data_rate: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line: smtp::MAX_LINE,
            max_errors: 20,
            idle_timeout: Duration::from_secs(300),
            tls_timeout: Duration::from_secs(10),
            min_data_rate: 1024,
        }
    }
}

/// Why the engine stopped waiting for input.
enum Wait {
    Line(Vec<u8>),
    TooLong,
    Eof,
    /// The deadline passed: silence, a line too slow to complete, or a body
    /// below the minimum rate (the caller knows which it set).
    Timeout,
    Shutdown,
    Broken,
    /// The client stopped reading: replies could not be sent for the idle timeout.
    Stalled,
}

/// What a server gives each of its sessions.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The limits.
    pub limits: &'a Limits,
    /// The memory all sessions' bodies share.
    pub bodies: &'a BodyBudget,
    /// TLS for STARTTLS, where the listener offers it.
    pub tls: Option<&'a TlsAcceptor>,
    /// Where the finished transcript goes.
    pub sink: &'a Sink,
}

/// Drives one session to its end.
pub struct Session<'a, R: Responder> {
    conn: Conn,
    responder: R,
    state: SessionState,
    limits: &'a Limits,
    bodies: &'a BodyBudget,
    tls: Option<&'a TlsAcceptor>,
    sink: &'a Sink,
    capture: Capture,
    shutdown: watch::Receiver<bool>,
    errors: usize,
    /// The rest of an overlong line still has to be skipped.
    skipping: bool,
}

enum Next {
    Continue,
    Close(Closer),
}

impl<'a, R: Responder> Session<'a, R> {
    /// A session over `conn` (already TLS on an implicit-TLS listener).
    pub fn new(
        conn: Conn,
        responder: R,
        state: SessionState,
        context: Context<'a>,
        capture: Capture,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Session {
            conn,
            responder,
            state,
            limits: context.limits,
            bodies: context.bodies,
            tls: context.tls,
            sink: context.sink,
            capture,
            shutdown,
            errors: 0,
            skipping: false,
        }
    }

    /// Runs the session until either side closes it.
    pub async fn run(mut self) {
        if let Some(tls) = self.conn.stream.tls_summary() {
            self.capture.note(format!("TLS {tls}"));
        }
        let closer = self.drive().await;
        // The last reply (221 to QUIT, a 421) is still unsent: with tape
        // files, it goes once the session's tape is on disk, so that a 221
        // means the session is written.
        self.sink.finish_written(self.capture, closer).await;
        // Best effort: the peer may be gone already, or not reading.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.conn.flush()).await;
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            tokio::io::AsyncWriteExt::shutdown(&mut self.conn.stream),
        )
        .await;
    }

    async fn drive(&mut self) -> Closer {
        let greeting = self.responder.greeting(&self.state).await;
        if let Next::Close(c) = self.respond(greeting, None).await {
            return c;
        }
        let mut auth: Option<PendingAuth> = None;
        loop {
            let line = match self.next_line().await {
                Wait::Line(l) => l,
                Wait::TooLong => {
                    self.capture.note("line too long".into());
                    // A 500 ends a SASL exchange (RFC 4954 4): the next line is a command.
                    auth = None;
                    let r = self.responder.local(LocalEvent::LineTooLong);
                    match self
                        .respond(r.map(Response::from).unwrap_or_default(), None)
                        .await
                    {
                        Next::Continue => continue,
                        Next::Close(c) => return c,
                    }
                }
                Wait::Eof | Wait::Broken => {
                    if let Some(p) = &auth {
                        self.capture
                            .note(format!("connection closed during AUTH {}", p.mechanism));
                    }
                    return Closer::Client;
                }
                Wait::Stalled => {
                    self.capture.note(
                        "the client stopped reading replies; closed at the idle timeout".into(),
                    );
                    return Closer::Server;
                }
                Wait::Timeout if self.skipping || !self.conn.input.is_empty() => {
                    let why = format!(
                        "command line not complete within the idle timeout ({})",
                        secs(self.limits.idle_timeout)
                    );
                    return self.local_close(LocalEvent::LineTimeout, &why).await;
                }
                Wait::Timeout => {
                    return self
                        .local_close(LocalEvent::IdleTimeout, "idle timeout")
                        .await;
                }
                Wait::Shutdown => {
                    return self
                        .local_close(LocalEvent::ShuttingDown, "server shutting down")
                        .await;
                }
            };

            if let Some(pending) = auth.take() {
                self.capture.auth_line(pending.part, &line);
                let r = self.responder.auth_response(&self.state, &line).await;
                auth = next_auth(r.reply.as_ref(), pending.mechanism);
                match self.respond(r, None).await {
                    Next::Continue => continue,
                    Next::Close(c) => return c,
                }
            }

            let parsed = smtp::parse_command(&line);
            self.capture.command(&line, &parsed);
            let verb = parsed.as_ref().ok().map(Command::verb);
            let mechanism = match &parsed {
                Ok(Command::Auth { mechanism, .. }) => Some(mechanism.to_ascii_uppercase()),
                _ => None,
            };
            if !self.skipping
                && let Ok(cmd) = &parsed
                && self.responder.wants_ahead(cmd)
            {
                let lines = buffered_lines(&self.conn.input, self.limits.max_line);
                self.responder.ahead(&lines);
            }
            let r = self
                .responder
                .command(&self.state, &line, parsed.clone())
                .await;
            let code = r.reply.as_ref().map(|r| r.code);
            if let Some(m) = mechanism {
                auth = next_auth(r.reply.as_ref(), m);
            }
            if let Next::Close(c) = self.respond(r, verb).await {
                return c;
            }
            match (verb, code) {
                (Some("DATA"), Some(codes::START_DATA)) => {
                    if let Next::Close(c) = self.data().await {
                        return c;
                    }
                }
                (Some("STARTTLS"), Some(codes::SERVICE_READY)) => {
                    if let Next::Close(c) = self.start_tls().await {
                        return c;
                    }
                }
                _ => {}
            }
        }
    }

    /// Sends a response; counts errors; says whether the session goes on.
    async fn respond(&mut self, r: Response, verb: Option<&str>) -> Next {
        for note in &r.notes {
            self.capture.note(note.clone());
        }
        if !r.delay.is_zero() {
            if self.flush().await.is_err() {
                return Next::Close(Closer::Client);
            }
            tokio::time::sleep(r.delay).await;
        }
        let Some(reply) = r.reply else {
            return if r.close {
                self.capture.note("connection dropped by the server".into());
                Next::Close(Closer::Server)
            } else {
                Next::Continue
            };
        };
        self.capture.reply(&reply, r.name);
        reply.write_to(&mut self.conn.output);
        if r.close || reply.code == codes::SERVICE_UNAVAILABLE {
            return Next::Close(Closer::Server);
        }
        if verb == Some("QUIT") && reply.code == codes::CLOSING {
            return Next::Close(Closer::Client);
        }
        if reply.code >= 500 {
            self.errors += 1;
            if self.errors >= self.limits.max_errors {
                return Next::Close(
                    self.local_close(LocalEvent::TooManyErrors, "too many errors")
                        .await,
                );
            }
        }
        Next::Continue
    }

    /// Ends the session with the engine's own reply (421 mostly).
    async fn local_close(&mut self, event: LocalEvent, why: &str) -> Closer {
        self.capture.note(why.to_string());
        if let Some(reply) = self.responder.local(event) {
            self.capture.reply(&reply, Some(event.reply_name()));
            reply.write_to(&mut self.conn.output);
        }
        Closer::Server
    }

    /// Waits for the next complete command line, no longer than the idle
    /// timeout from when the server starts waiting for it.
    async fn next_line(&mut self) -> Wait {
        let mut deadline = None;
        loop {
            match smtp::split_line(&self.conn.input, self.limits.max_line) {
                Line::Complete { len, consumed } => {
                    let line = self.conn.input.split_to(consumed);
                    if std::mem::take(&mut self.skipping) {
                        continue; // the tail of an overlong line, already answered
                    }
                    return Wait::Line(line[..len].to_vec());
                }
                Line::TooLong { consumed, complete } => {
                    let _ = self.conn.input.split_to(consumed);
                    let first = !self.skipping;
                    self.skipping = !complete;
                    if first {
                        return Wait::TooLong;
                    }
                    continue;
                }
                Line::Partial => {}
            }
            match self.read(&mut deadline).await {
                Wait::Line(_) => {}
                other => return other,
            }
        }
    }

    /// Flushes pending replies, then reads more input until `deadline`
    /// (set to the idle timeout from now when it is `None`). `Wait::Line`
    /// here only means "got bytes".
    async fn read(&mut self, deadline: &mut Option<Instant>) -> Wait {
        if let Err(w) = self.flush().await {
            return w;
        }
        let at = *deadline.get_or_insert_with(|| Instant::now() + self.limits.idle_timeout);
        tokio::select! {
            r = tokio::time::timeout_at(at, self.conn.read_more()) => match r {
                Ok(Ok(0)) => Wait::Eof,
                Ok(Ok(_)) => Wait::Line(Vec::new()),
                Ok(Err(_)) => Wait::Broken,
                Err(_) => Wait::Timeout,
            },
            () = super::shutdown::stopped(&mut self.shutdown) => Wait::Shutdown,
        }
    }

    /// Sends pending replies, but waits no longer than the idle timeout for
    /// a client that does not read them (nor past a shutdown).
    async fn flush(&mut self) -> Result<(), Wait> {
        let idle = self.limits.idle_timeout;
        tokio::select! {
            r = tokio::time::timeout(idle, self.conn.flush()) => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(Wait::Broken),
                Err(_) => Err(Wait::Stalled),
            },
            () = super::shutdown::stopped(&mut self.shutdown) => Err(Wait::Shutdown),
        }
    }

    /// Reads a message body after `354`, streaming it to the responder,
    /// then asks the responder for the reply.
    async fn data(&mut self) -> Next {
        let mut reader = DataReader::new();
        let mut body = BodyCapture::new(self.responder.body_limit(), self.bodies);
        let mut chunk = Vec::new();
        let started = Instant::now();
        loop {
            chunk.clear();
            let before = reader.size();
            let fed = reader.feed(&self.conn.input, &mut chunk);
            let _ = self.conn.input.split_to(fed.consumed);
            if !chunk.is_empty() {
                if body.push(before, &chunk) {
                    self.capture.note(format!(
                        "body memory budget spent ({} octets for all sessions): not kept",
                        self.bodies.limit()
                    ));
                }
                self.responder.data_chunk(&chunk, fed.done).await;
            }
            if fed.done {
                break;
            }
            // Silence may last the idle timeout; the body as a whole must
            // keep up the minimum rate after a first idle timeout of grace.
            let idle = self.limits.idle_timeout;
            let silent_at = Instant::now() + idle;
            let slow_at = match self.limits.min_data_rate {
                0 => silent_at,
                rate => {
                    started + idle + Duration::from_secs_f64(reader.size() as f64 / rate as f64)
                }
            };
            let mut deadline = Some(silent_at.min(slow_at));
            match self.read(&mut deadline).await {
                Wait::Line(_) => {}
                Wait::Stalled => {
                    self.capture.note(
                        "the client stopped reading replies; closed at the idle timeout".into(),
                    );
                    return Next::Close(Closer::Server);
                }
                Wait::Eof | Wait::Broken | Wait::TooLong => {
                    self.capture.note(format!(
                        "connection closed during DATA after {} bytes",
                        reader.size()
                    ));
                    return Next::Close(Closer::Client);
                }
                Wait::Timeout if slow_at < silent_at => {
                    let why = format!(
                        "DATA too slow: {} octets in {:.1}s (at least {} octets a second after the first {})",
                        reader.size(),
                        started.elapsed().as_secs_f64(),
                        self.limits.min_data_rate,
                        secs(idle)
                    );
                    return Next::Close(self.local_close(LocalEvent::DataTooSlow, &why).await);
                }
                Wait::Timeout => {
                    return Next::Close(
                        self.local_close(LocalEvent::IdleTimeout, "idle timeout during DATA")
                            .await,
                    );
                }
                Wait::Shutdown => {
                    return Next::Close(
                        self.local_close(
                            LocalEvent::ShuttingDown,
                            "server shutting down during DATA",
                        )
                        .await,
                    );
                }
            }
        }
        let size = reader.size();
        let mut body = body.finish(&mut self.capture, size);
        self.capture.client(".".into());
        // The body's memory stays counted until the responder is done with
        // it (the mock holds it until it is on disk), when `body` drops.
        let r = self
            .responder
            .data_end(
                &self.state,
                DataOutcome {
                    body: body.held.take(),
                    overflowed: body.overflowed,
                    memory_spent: body.memory_spent,
                },
            )
            .await;
        drop(body);
        self.respond(r, None).await
    }

    async fn start_tls(&mut self) -> Next {
        let Some(acceptor) = self.tls else {
            self.capture
                .note("STARTTLS accepted but no TLS configured".into());
            return Next::Close(Closer::Server);
        };
        if self.flush().await.is_err() {
            return Next::Close(Closer::Client);
        }
        let dropped = self.conn.input.len();
        if dropped > 0 {
            self.capture.note(format!(
                "{dropped} bytes sent before the TLS handshake were discarded"
            ));
        }
        match self.conn.start_tls(acceptor, self.limits.tls_timeout).await {
            Ok(()) => {
                self.state.tls = true;
                self.state.starttls_available = false;
                let summary = self.conn.stream.tls_summary().unwrap_or_default();
                self.capture.note(format!("TLS {summary}"));
                self.responder.tls_started(&self.state);
                Next::Continue
            }
            Err(AcceptError::Failed(e)) => {
                self.capture.note(format!("TLS handshake failed: {e}"));
                Next::Close(Closer::Client)
            }
            Err(AcceptError::TimedOut) => {
                self.capture.note("TLS handshake timed out".into());
                Next::Close(Closer::Server)
            }
        }
    }
}

/// A duration for a note: `2s`, `1.5s`.
fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The complete lines waiting in `input` (without their CR LF), up to a
/// line too long or an incomplete one; at most [`MAX_AHEAD`].
fn buffered_lines(input: &[u8], max_line: usize) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut rest = input;
    while lines.len() < MAX_AHEAD {
        match smtp::split_line(rest, max_line) {
            Line::Complete { len, consumed } => {
                lines.push(&rest[..len]);
                rest = &rest[consumed..];
            }
            Line::TooLong { .. } | Line::Partial => break,
        }
    }
    lines
}

/// How many pipelined lines a responder is shown at once.
const MAX_AHEAD: usize = 100;
