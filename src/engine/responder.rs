//! Responders turn "the client said X" into "the server replies Y". The
//! session engine drives any of them the same way, so every mode gets TLS,
//! limits, redaction and transcripts alike.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::resend::ReplyName;
use crate::smtp::{Command, ParseError, Reply};

/// Which listener accepted a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// Implicit TLS: the handshake comes before the greeting (Resend's 465/2465).
    Smtps,
    /// Plain at first, STARTTLS offered (Resend's 587/2587).
    Starttls,
    /// Plain only, for clients that cannot do TLS.
    Plain,
}

impl ListenerKind {
    /// The name used in flags, transcripts and the ready line.
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Smtps => "smtps",
            ListenerKind::Starttls => "starttls",
            ListenerKind::Plain => "plain",
        }
    }
}

/// What a responder may know of the session it answers.
#[derive(Debug, Clone)]
pub struct SessionState {
    /// Session number within this server run, from 1.
    pub id: u64,
    /// The listener that accepted the connection.
    pub listener: ListenerKind,
    /// The client's address (the mock names it in its EHLO line, as Resend's
    /// SMTP library does).
    pub peer: SocketAddr,
    /// Whether the connection is encrypted now.
    pub tls: bool,
    /// Whether STARTTLS can be offered (a STARTTLS listener, not yet upgraded).
    pub starttls_available: bool,
}

/// A reply (or silence), when to send it, and whether to hang up after it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// What to send; `None` sends nothing (a silent or dropping server).
    pub reply: Option<Reply>,
    /// Which profile reply it is, when the responder knows: explanations
    /// key off the name, never the text.
    pub name: Option<ReplyName>,
    /// How long to wait before sending it.
    pub delay: Duration,
    /// Whether to close the connection after it.
    pub close: bool,
    /// Notes for the transcript, recorded before the reply (an upstream's
    /// TLS state, what went wrong upstream).
    pub notes: Vec<String>,
}

impl Response {
    /// A reply of the profile, with its name.
    pub fn named(reply: Reply, name: ReplyName) -> Response {
        Response {
            reply: Some(reply),
            name: Some(name),
            ..Response::default()
        }
    }
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Response {
        Response {
            reply: Some(reply),
            ..Response::default()
        }
    }
}

/// Replies the engine itself needs, for events that are not commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalEvent {
    /// A command line over the cap (500, the session goes on).
    LineTooLong,
    /// Too many failed commands in one session (421, then close).
    TooManyErrors,
    /// The client said nothing for the idle timeout (421, then close).
    IdleTimeout,
    /// A command line was begun but not complete within the idle timeout of
    /// the server waiting for it (slowloris; 421, then close).
    LineTimeout,
    /// A message body arrived slower than the minimum rate (421, then close).
    DataTooSlow,
    /// The server is shutting down (421, then close).
    ShuttingDown,
}

impl LocalEvent {
    /// The name of the profile reply for this event.
    pub fn reply_name(self) -> ReplyName {
        match self {
            LocalEvent::LineTooLong => ReplyName::LineTooLong,
            LocalEvent::TooManyErrors => ReplyName::TooManyErrors,
            LocalEvent::IdleTimeout => ReplyName::IdleTimeout,
            LocalEvent::LineTimeout => ReplyName::LineTimeout,
            LocalEvent::DataTooSlow => ReplyName::DataTooSlow,
            LocalEvent::ShuttingDown => ReplyName::ShuttingDown,
        }
    }
}

/// The profile reply to STARTTLS on this leg: ready, already active, or not
/// offered here. TLS is the listener's business in every mode.
pub(crate) fn starttls_reply_name(s: &SessionState) -> ReplyName {
    if s.tls {
        ReplyName::StarttlsActive
    } else if s.starttls_available {
        ReplyName::Starttls
    } else {
        ReplyName::StarttlsUnavailable
    }
}

/// The message the client sent after DATA.
#[derive(Debug, Clone)]
pub struct DataOutcome {
    /// The body as received, unstuffed, without the end marker; empty when it
    /// overflowed.
    pub body: Vec<u8>,
    /// Whether the body was larger than [`Responder::body_limit`].
    pub overflowed: bool,
    /// Whether the memory budget all sessions share for bodies was spent
    /// (the body is empty then): a responder that needs the body answers
    /// `452`, try again later; one that passed it on as it came (a relay)
    /// answers as usual.
    pub memory_spent: bool,
}

/// The decision logic of one session. Methods are async so that a responder
/// may ask an upstream server before it answers.
pub trait Responder: Send {
    /// What to say when the connection opens (after the TLS handshake on an
    /// implicit-TLS listener).
    fn greeting(&mut self, s: &SessionState) -> impl Future<Output = Response> + Send;

    /// Answers one command line. `raw` is the line as sent (without CR LF),
    /// `cmd` its parse.
    fn command(
        &mut self,
        s: &SessionState,
        raw: &[u8],
        cmd: Result<Command<'_>, ParseError>,
    ) -> impl Future<Output = Response> + Send;

    /// Whether [`Responder::ahead`] is wanted before `cmd` is answered: a
    /// relaying responder that could send a pipelined group led by `cmd` on
    /// in one write.
    fn wants_ahead(&self, _cmd: &Command<'_>) -> bool {
        false
    }

    /// The complete lines the client sent after the command about to be
    /// answered (pipelining, RFC 2920). Each still comes to
    /// [`Responder::command`] in its turn; a relay may send some on ahead.
    fn ahead(&mut self, _lines: &[&[u8]]) {}

    /// Answers a line sent in reply to a `334` challenge.
    fn auth_response(
        &mut self,
        s: &SessionState,
        line: &[u8],
    ) -> impl Future<Output = Response> + Send;

    /// Takes the next piece of message content (unstuffed), as it arrives.
    /// A relaying responder streams it on; the default ignores it, since
    /// [`Responder::data_end`] gets the body anyway.
    ///
    /// `end_follows`: the end marker came in the same read, right after this
    /// piece; otherwise the engine now waits for the client, and a relay
    /// should pass on what it has (a slow client's body must keep flowing).
    fn data_chunk(
        &mut self,
        _content: &[u8],
        _end_follows: bool,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Answers the end of DATA.
    fn data_end(
        &mut self,
        s: &SessionState,
        data: DataOutcome,
    ) -> impl Future<Output = Response> + Send;

    /// The connection is now encrypted after STARTTLS; the session state
    /// (greeting, authentication, transaction) starts over (RFC 3207 4.2).
    fn tls_started(&mut self, s: &SessionState);

    /// The reply for an event of the engine's own.
    fn local(&mut self, event: LocalEvent) -> Option<Reply>;

    /// The most body octets to keep for [`Responder::data_end`]; a longer
    /// body arrives with `overflowed` set and no content.
    fn body_limit(&self) -> usize;
}

/// An EHLO reply from a tape or an upstream as the client should see it:
/// STARTTLS only where the client's listener offers it, and nothing the
/// engine cannot carry (CHUNKING: BDAT would carry raw message bytes).
pub(crate) fn adjust_ehlo(reply: Reply, s: &SessionState) -> Reply {
    if reply.code != crate::smtp::codes::OK {
        return reply;
    }
    let mut lines: Vec<String> = Vec::with_capacity(reply.lines.len() + 1);
    for (i, line) in reply.lines.into_iter().enumerate() {
        let keyword = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        if i > 0 && matches!(keyword.as_str(), "STARTTLS" | "CHUNKING" | "BINARYMIME") {
            continue;
        }
        lines.push(line);
    }
    if s.starttls_available {
        let at = lines
            .iter()
            .position(|l| l.to_ascii_uppercase().starts_with("AUTH"))
            .unwrap_or(lines.len());
        lines.insert(at.max(1), "STARTTLS".into());
    }
    Reply::multi(reply.code, lines)
}
