//! Everything that builds a redacted transcript as a session happens: the
//! text of a client line (AUTH payloads, keys, stray base64), what the next
//! line of a SASL exchange is, the hash that names a large body, and the
//! [`Capture`] that holds the transcript, hands each step to whoever
//! watches (a [`Watch`]: the server's sink) and gives the finished
//! transcript back to whoever drives it (the engine, the REST exchange).
//! Capture knows nothing of the outputs: it is handed a watcher and
//! returns its work.
//!
//! Redaction happens here, at capture, once: nothing after this point (the
//! live view, tape files, the test API, subscribers) ever sees a secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;

use super::printable::{into_printable, printable};
use super::redact::{
    AuthPart, body_lines, redact_auth, redact_auth_command, redacted_lines, scrub,
};
use super::transcript::MAX_KEPT_BODY;
use super::{Closer, Event, EventKind, Meta, Tape, Transcript};
use crate::engine::budget::{BodyBudget, HeldBody};
use crate::resend::ReplyName;
use crate::resend::explain::{Explainer, Said};
use crate::smtp::{self, Command, Reply, codes};

/// Body lines shown in the live view before the rest is summarised.
const LIVE_BODY_LINES: usize = 20;

/// Who watches a session as it is captured (the server's sink): it is
/// handed each step — a command, a whole reply, a body's first lines — and
/// what a reply means, as they happen.
pub trait Watch: Send + Sync {
    /// Whether anyone wants lines now: with nobody, none are handed over
    /// (nor built).
    fn watches_lines(&self) -> bool;
    /// The lines of one step of `session`, redacted.
    fn lines(&self, session: u64, events: Vec<Event>);
    /// What the reply just captured in `session` means.
    fn explained(&self, session: u64, said: Said);
}

/// The transcript of one session as it is being captured. Every line is
/// redacted before it is stored or shown.
pub struct Capture {
    watch: Arc<dyn Watch>,
    transcript: Transcript,
    /// Lines for subscribers not handed over yet.
    live: Vec<Event>,
    start: Instant,
    explainer: Explainer,
}

impl Capture {
    /// Starts capturing a session that began at `start`; `watch` is handed
    /// its steps as they happen (telling anyone that it began is the
    /// caller's business: see `Sink::capture`).
    pub fn new(watch: Arc<dyn Watch>, meta: Meta, start: Instant) -> Capture {
        Capture {
            watch,
            transcript: Transcript {
                meta,
                events: Vec::new(),
                closed_by: None,
            },
            live: Vec::new(),
            start,
            explainer: Explainer::new(),
        }
    }

    fn push(&mut self, kind: EventKind, live: bool, name: Option<ReplyName>) {
        // A tape line is one line of text whatever an upstream or a client sent.
        let kind = match kind {
            EventKind::Server(t) => EventKind::Server(into_printable(t)),
            EventKind::Note(t) => EventKind::Note(into_printable(t)),
            other => other,
        };
        let e = Event {
            at: Some(self.start.elapsed()),
            kind,
        };
        let watched = self.watch.watches_lines();
        let said = self.explainer.observe_named(&e.kind, name);
        if watched {
            // A step is handed over whole: a command, a reply once its last
            // line is in, a note; body lines wait for the body's end.
            let step_ends = match &e.kind {
                EventKind::Server(t) => t.as_bytes().get(3) != Some(&b'-'),
                EventKind::Data(_) => false,
                _ => true,
            };
            if live {
                self.live.push(e.clone());
            }
            if step_ends {
                self.hand_over();
            }
            if let Some(said) = said {
                self.watch.explained(self.transcript.meta.id, said);
            }
        }
        self.transcript.events.push(e);
    }

    /// Publishes the lines not handed over yet, in one event.
    fn hand_over(&mut self) {
        if !self.live.is_empty() {
            self.watch
                .lines(self.transcript.meta.id, std::mem::take(&mut self.live));
        }
    }

    /// A command line as received, redacted here: AUTH payloads, keys, a
    /// stray base64 word.
    pub fn command(&mut self, line: &[u8], parsed: &Result<Command<'_>, smtp::ParseError>) {
        self.client(client_text(line, parsed));
    }

    /// A line sent in answer to a `334` challenge, redacted as the
    /// challenge's `part` says.
    pub fn auth_line(&mut self, part: AuthPart, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        self.client(redact_auth(part, text.trim()));
    }

    /// A client line already redacted (or with nothing to redact, like `.`).
    pub fn client(&mut self, text: String) {
        self.push(EventKind::Client(text), true, None);
    }

    /// A reply, one event per wire line; `name` is the profile reply it is,
    /// when the responder knows (explanations key off it).
    pub fn reply(&mut self, reply: &Reply, name: Option<ReplyName>) {
        for line in reply.wire_lines() {
            let line = scrub(&line).into_owned();
            self.push(EventKind::Server(line), true, name);
        }
    }

    /// A line the server sent that is not an SMTP reply (a REST exchange's
    /// status line, headers and JSON), already redacted.
    pub fn server(&mut self, text: String) {
        self.push(EventKind::Server(text), true, None);
    }

    /// A message body (`body` is empty when `overflowed`); the live view
    /// shows its first lines. `sha256` is the hash of the whole body.
    pub fn body(&mut self, body: &[u8], size: usize, overflowed: bool, sha256: &[u8]) {
        let lines = body_lines(body, size, overflowed, sha256);
        let total = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            self.push(EventKind::Data(line), i < LIVE_BODY_LINES, None);
        }
        if self.watch.watches_lines() {
            if total > LIVE_BODY_LINES {
                self.live.push(Event {
                    at: Some(self.start.elapsed()),
                    kind: EventKind::Note(format!("… {} more body lines", total - LIVE_BODY_LINES)),
                });
            }
            self.hand_over();
        }
    }

    /// Something that is not a line (TLS started, a timeout). A note can
    /// quote a relay (an upstream fault), so it is scrubbed like a reply.
    pub fn note(&mut self, text: String) {
        let text = match scrub(&text) {
            std::borrow::Cow::Owned(clean) => clean,
            std::borrow::Cow::Borrowed(_) => text,
        };
        self.push(EventKind::Note(text), true, None);
    }

    /// Ends the session: the lines not handed over yet go to the watcher,
    /// and the transcript, closed by `closer`, goes back to the caller with
    /// how long the session lasted (for it to keep, write or publish).
    pub fn finish(mut self, closer: Closer) -> (Transcript, Duration) {
        self.hand_over();
        self.transcript.closed_by = Some(closer);
        (self.transcript, self.start.elapsed())
    }
}

/// The transcript text of a command line: AUTH payloads redacted, any key
/// scrubbed, invalid bytes shown lossily.
pub(crate) fn client_text(line: &[u8], parsed: &Result<Command<'_>, smtp::ParseError>) -> String {
    // Any AUTH line, well-formed or not (a payload split by a space gets a
    // 501 but is still the payload).
    if line.len() >= 4
        && line[..4].eq_ignore_ascii_case(b"AUTH")
        && let Some(text) = redact_auth_command(&String::from_utf8_lossy(line))
    {
        return text;
    }
    // A lone base64 word where a command belongs is most likely credentials
    // sent out of turn (after a refused AUTH): never show it.
    if let Ok(Command::Unknown(verb)) = parsed
        && verb.len() == line.len()
        && verb.len() >= 8
        && base64::engine::general_purpose::STANDARD
            .decode(verb)
            .is_ok()
    {
        return "<redacted: base64 outside an AUTH exchange>".into();
    }
    printable(&scrub(&String::from_utf8_lossy(line)))
}

/// A SASL exchange in progress: which mechanism, and what the last
/// challenge asked for (so the next line is redacted the right way).
#[derive(Debug, Clone)]
pub(crate) struct PendingAuth {
    /// The mechanism, upper case.
    pub(crate) mechanism: String,
    /// What the next line holds.
    pub(crate) part: AuthPart,
}

/// After a reply to AUTH or to an AUTH line: a `334` means another line is
/// due, redacted according to what the challenge asks for.
pub(crate) fn next_auth(reply: Option<&Reply>, mechanism: String) -> Option<PendingAuth> {
    let reply = reply?;
    if reply.code != codes::AUTH_CONTINUE {
        return None;
    }
    let part = if mechanism == "PLAIN" {
        AuthPart::Plain
    } else {
        let challenge = reply.lines.first().map(String::as_str).unwrap_or("");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(challenge.trim())
            .unwrap_or_default();
        if String::from_utf8_lossy(&decoded)
            .to_ascii_lowercase()
            .contains("username")
        {
            AuthPart::LoginUser
        } else {
            AuthPart::Secret
        }
    };
    Some(PendingAuth { mechanism, part })
}

/// A message body as it arrives: kept up to a limit while the memory budget
/// all sessions share has room, and hashed once it outgrows what a
/// transcript shows (a message of ordinary size is never hashed: the hash
/// only names a body too large to show).
pub(crate) struct BodyCapture<'a> {
    limit: usize,
    hash_from: usize,
    body: HeldBody<'a>,
    overflowed: bool,
    memory_spent: bool,
    digest: Option<ring::digest::Context>,
}

/// A body received in full: the memory it holds stays counted in the
/// budget until this is dropped (after the responder is done with it).
pub(crate) struct ReceivedBody<'a> {
    /// The body, counted in the budget.
    pub(crate) held: HeldBody<'a>,
    /// Larger than the limit: not kept.
    pub(crate) overflowed: bool,
    /// The memory budget was spent: not kept.
    pub(crate) memory_spent: bool,
}

impl<'a> BodyCapture<'a> {
    /// Keeps at most `limit` bytes, memory permitting.
    pub(crate) fn new(limit: usize, budget: &'a BodyBudget) -> BodyCapture<'a> {
        BodyCapture {
            limit,
            hash_from: limit.min(MAX_KEPT_BODY),
            body: HeldBody::new(budget),
            overflowed: false,
            memory_spent: false,
            digest: None,
        }
    }

    /// Takes the next piece; `before` is the size received before it.
    /// True when the memory budget ran out with this piece.
    pub(crate) fn push(&mut self, before: usize, chunk: &[u8]) -> bool {
        let size = before + chunk.len();
        if self.digest.is_none() && size > self.hash_from {
            self.digest = Some(self.digest_so_far());
        }
        if let Some(d) = self.digest.as_mut() {
            d.update(chunk);
        }
        if self.overflowed {
            return false;
        }
        if size > self.limit {
            self.overflowed = true;
            self.body.clear();
        } else if !self.memory_spent && !self.body.extend(chunk, self.limit) {
            self.memory_spent = true;
            // The hash must still name the whole body.
            if self.digest.is_none() {
                let mut d = self.digest_so_far();
                d.update(chunk);
                self.digest = Some(d);
            }
            self.body.clear();
            return true;
        }
        false
    }

    /// A hash started over what `body` holds (all that came before, until
    /// the body is dropped).
    fn digest_so_far(&self) -> ring::digest::Context {
        let mut d = ring::digest::Context::new(&ring::digest::SHA256);
        d.update(self.body.as_slice());
        d
    }

    /// Records the body in the transcript, and gives it back.
    pub(crate) fn finish(self, capture: &mut Capture, size: usize) -> ReceivedBody<'a> {
        let sha256 = self.digest.map(ring::digest::Context::finish);
        let sha256 = sha256.as_ref().map_or(&[][..], |d| d.as_ref());
        let unkept = self.overflowed || self.memory_spent;
        capture.body(self.body.as_slice(), size, unkept, sha256);
        ReceivedBody {
            held: self.body,
            overflowed: self.overflowed,
            memory_spent: self.memory_spent,
        }
    }
}

/// Redaction on read (issue 16, finding 2): a tape written by hand or
/// edited may hold what capture would never have kept, so everything read
/// goes through the same redaction as at capture before anyone shows or
/// replays it — comments, header fields, client lines (an AUTH payload, a
/// line answering a `334`, stray base64), replies, notes, and the body
/// lines of a message taken together (base64 wrapped across `D:` lines).
/// Text capture wrote comes out unchanged.
pub(crate) fn redact_read(tape: &mut Tape) {
    let scrub_in_place = |t: &mut String| {
        if let std::borrow::Cow::Owned(s) = scrub(t) {
            *t = printable(&s);
        }
    };
    tape.comments.iter_mut().for_each(scrub_in_place);
    for s in &mut tape.sessions {
        let m = &mut s.meta;
        for field in [
            &mut m.mode,
            &mut m.source,
            &mut m.listener,
            &mut m.client,
            &mut m.local,
            &mut m.started,
        ] {
            scrub_in_place(field);
        }
        if super::http::is_exchange(&s.meta) {
            super::http::redact_read(&mut s.events);
            continue;
        }
        let mut mechanism = String::new();
        let mut pending: Option<PendingAuth> = None;
        for e in &mut s.events {
            match &mut e.kind {
                EventKind::Client(t) => {
                    let auth = pending.take();
                    if t.contains("<redacted") || t == "*" {
                        scrub_in_place(t);
                    } else if let Some(p) = auth {
                        *t = redact_auth(p.part, t.trim());
                    } else {
                        let parsed = smtp::parse_command(t.as_bytes());
                        if let Ok(Command::Auth { mechanism: m, .. }) = &parsed {
                            mechanism = m.to_ascii_uppercase();
                        }
                        *t = client_text(t.as_bytes(), &parsed);
                    }
                }
                EventKind::Server(t) => {
                    scrub_in_place(t);
                    let code = t.get(..3).and_then(|c| c.parse().ok());
                    let last = t.as_bytes().get(3) != Some(&b'-');
                    if last && let Some(code) = code {
                        let reply = Reply::new(code, t.get(4..).unwrap_or(""));
                        pending = next_auth(Some(&reply), mechanism.clone());
                    }
                }
                EventKind::Data(t) | EventKind::Note(t) | EventKind::Comment(t) => {
                    scrub_in_place(t)
                }
            }
        }
        redact_bodies(&mut s.events);
    }
}

/// Scrubs each run of `D:` lines as one message, so that what spans lines
/// (a wrapped base64 attachment, a soft line break) is seen whole.
fn redact_bodies(events: &mut Vec<Event>) {
    let mut i = 0;
    while i < events.len() {
        if !matches!(events[i].kind, EventKind::Data(_)) {
            i += 1;
            continue;
        }
        let end = events[i..]
            .iter()
            .position(|e| !matches!(e.kind, EventKind::Data(_)))
            .map_or(events.len(), |n| i + n);
        let mut body = String::new();
        for e in &events[i..end] {
            body.push_str(e.kind.text());
            body.push_str("\r\n");
        }
        let lines = redacted_lines(body.as_bytes());
        let changed = lines.len() != end - i
            || lines
                .iter()
                .zip(&events[i..end])
                .any(|(l, e)| l != e.kind.text());
        if changed {
            let at = events[i].at;
            let new: Vec<Event> = lines
                .into_iter()
                .map(|l| Event {
                    at,
                    kind: EventKind::Data(l),
                })
                .collect();
            let n = new.len();
            events.splice(i..end, new);
            i += n.max(1);
        } else {
            i = end;
        }
    }
}
