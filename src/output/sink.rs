//! Where sessions report to: the live view (human or JSON), tape files, the
//! mailbox, and the in-memory record the test API reads.
//!
//! Everything that reaches the hub is already redacted.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use crate::fsutil::unused_path;
use crate::output::files::{Job, Writer};
use crate::tape::redact::scrub_message;
use crate::tape::transcript::{body_lines, into_printable};
use crate::tape::{Closer, Event, EventKind, Meta, Transcript};
use crate::tools::explain::{Explainer, Said};

/// Body lines shown in the live view before the rest is summarised.
const LIVE_BODY_LINES: usize = 20;

/// How sessions are shown as they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveView {
    /// Nothing on stdout, and no lines for people on stderr.
    Quiet,
    /// `C:`/`S:` lines for people; `color` adds ANSI colours.
    Human {
        /// Whether to colour the output.
        color: bool,
    },
    /// One JSON object per line.
    Json,
}

/// A message accepted by the mock.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// The id given in the 250 reply.
    pub id: String,
    /// The session it came in.
    pub session: u64,
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as received (headers and body), any API key scrubbed.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Where it was written, with `--mailbox`.
    pub path: Option<PathBuf>,
}

/// Settings of the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The live view.
    pub view: LiveView,
    /// Write each finished session as a tape file here.
    pub tapes: Option<PathBuf>,
    /// Append each finished session to this tape file, atomically.
    pub tape_file: Option<PathBuf>,
    /// Comment lines for a new tape file (how it was made).
    pub tape_comments: Vec<String>,
    /// Write each accepted message as an `.eml` file here.
    pub mailbox: Option<PathBuf>,
    /// Keep transcripts and messages in memory (the test API).
    pub keep: bool,
}

impl Default for HubConfig {
    fn default() -> HubConfig {
        HubConfig {
            view: LiveView::Quiet,
            tapes: None,
            tape_file: None,
            tape_comments: Vec::new(),
            mailbox: None,
            keep: false,
        }
    }
}

#[derive(Default)]
struct Kept {
    transcripts: Vec<Transcript>,
    messages: Vec<Message>,
    write_errors: Vec<String>,
}

/// The shared sink of one server.
pub struct Hub {
    config: HubConfig,
    kept: Arc<Mutex<Kept>>,
    /// Writes tapes and the mailbox off the sessions' threads.
    writer: Option<Writer>,
    done: Arc<watch::Sender<usize>>,
}

impl Hub {
    /// A hub with these settings. An existing `tape_file` must be a tape:
    /// sessions are appended to it, never written over something else (a
    /// last session torn by a crash is cut back first).
    pub fn new(config: HubConfig) -> Result<Hub, crate::Error> {
        if let Some(path) = &config.tape_file {
            match crate::output::files::repair(path) {
                Ok(true) => tracing::warn!(
                    "{}: cut back a last session torn by a crash",
                    path.display()
                ),
                Ok(false) => {}
                Err(e) => {
                    return Err(crate::Error::Config {
                        origin: path.display().to_string(),
                        reason: format!(
                            "sessions would be appended to it, but it is not a readable tape ({e}); choose another --tape"
                        ),
                    });
                }
            }
        }
        for dir in [&config.tapes, &config.mailbox].into_iter().flatten() {
            crate::fsutil::remove_stale_temps(dir);
        }
        if let Some(dir) = config.tape_file.as_ref().and_then(|p| p.parent()) {
            crate::fsutil::remove_stale_temps(if dir.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                dir
            });
        }
        let kept = Arc::new(Mutex::new(Kept::default()));
        let done = Arc::new(watch::channel(0).0);
        let files =
            config.tapes.is_some() || config.tape_file.is_some() || config.mailbox.is_some();
        let writer = if files {
            let errors = kept.clone();
            let on_error: crate::output::files::OnError = Arc::new(move |what: String| {
                tracing::error!("{what}");
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .write_errors
                    .push(what);
            });
            let counter = done.clone();
            let on_written: crate::output::files::OnWritten =
                Arc::new(move |n| counter.send_modify(|d| *d += n));
            Some(
                Writer::start(config.tape_comments.clone(), on_error, on_written).map_err(|e| {
                    crate::Error::Io {
                        action: "start the file writer".into(),
                        source: e,
                    }
                })?,
            )
        } else {
            None
        };
        Ok(Hub {
            config,
            kept,
            writer,
            done,
        })
    }

    /// Blocks until every finished session and message is on disk.
    pub fn flush(&self) {
        if let Some(w) = &self.writer {
            w.flush();
        }
    }

    /// The live view in use.
    pub fn view(&self) -> LiveView {
        self.config.view
    }

    fn print(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`mailtape mock | head`) is not an error worth a panic.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Prints a line of the server's own for people (the banner, the
    /// stopping line) on stderr: stdout is the live view, and with `--json`
    /// it carries JSON only. Nothing with `--quiet`.
    pub fn say(&self, line: &str) {
        if self.config.view != LiveView::Quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        }
    }

    fn session_started(&self, meta: &Meta) {
        match self.config.view {
            LiveView::Quiet => {}
            LiveView::Human { color } => self.print(&paint(
                color,
                DIM,
                &format!(
                    "#{} ── {} connected to {} {} · {} {}",
                    meta.id, meta.client, meta.listener, meta.local, meta.mode, meta.source
                ),
            )),
            LiveView::Json => self
                .print(&json!({"type": "session", "session": meta.id, "meta": meta}).to_string()),
        }
    }

    fn event(&self, session: u64, e: &Event) {
        match self.config.view {
            LiveView::Quiet => {}
            LiveView::Human { color } => {
                let style = style_of(&e.kind);
                let line = format!("{}: {}", e.kind.tag(), e.kind.text());
                self.print(&format!("#{session} {}", paint(color, style, &line)));
            }
            LiveView::Json => {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["type"] = "line".into();
                v["session"] = session.into();
                self.print(&v.to_string());
            }
        }
    }

    /// Prints an explanation under a reply (not part of the transcript).
    fn explain(&self, session: u64, said: Said) {
        match self.config.view {
            LiveView::Quiet => {}
            LiveView::Human { color } => {
                let (mark, style) = if said.ok {
                    ("✓", GREEN)
                } else {
                    ("↳", YELLOW)
                };
                self.print(&format!(
                    "#{session}    {}",
                    paint(color, style, &format!("{mark} {}", said.text))
                ));
            }
            LiveView::Json => self.print(
                &json!({"type": "explain", "session": session, "ok": said.ok, "text": said.text})
                    .to_string(),
            ),
        }
    }

    fn session_ended(&self, t: Transcript, lasted: Duration) {
        let closed = t
            .closed_by
            .map(|c| format!("{c:?}").to_lowercase())
            .unwrap_or_default();
        let elapsed = lasted;
        match self.config.view {
            LiveView::Quiet => {}
            LiveView::Human { color } => self.print(&paint(
                color,
                DIM,
                &format!("#{} ── closed by {closed} after {:.3}s", t.meta.id, elapsed.as_secs_f64()),
            )),
            LiveView::Json => self.print(
                &json!({"type": "end", "session": t.meta.id, "closed_by": closed, "codes": t.reply_codes()})
                    .to_string(),
            ),
        }
        let mut kept = self.kept();
        if self.config.keep {
            kept.transcripts.push(t.clone());
        }
        drop(kept);
        // With files to write, the session counts as finished once it (and
        // any message it sent, queued before it) is on disk, so a test that
        // waited for it can read the tape and the mailbox.
        let queued = self.writer.as_ref().is_some_and(|w| {
            w.send(Job::Session {
                dir: self.config.tapes.clone(),
                file: self.config.tape_file.clone(),
                transcript: Box::new(t),
            })
        });
        if !queued {
            self.done.send_modify(|n| *n += 1);
        }
    }

    /// Records an accepted message: the mailbox file, the live view, the test API.
    pub fn deliver(&self, mut msg: Message) {
        msg.data = scrub_message(&msg.data);
        if let Some(dir) = &self.config.mailbox {
            let path = unused_path(dir, &msg.id, "eml");
            let mut file = format!(
                "X-Mailtape-Envelope-From: <{}>\r\nX-Mailtape-Envelope-To: {}\r\n",
                msg.from,
                msg.to
                    .iter()
                    .map(|t| format!("<{t}>"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into_bytes();
            file.extend_from_slice(&msg.data);
            if self.writer.as_ref().is_some_and(|w| {
                w.send(Job::Eml {
                    path: path.clone(),
                    bytes: file,
                })
            }) {
                msg.path = Some(path);
            }
        }
        if self.config.view == LiveView::Json {
            let mut v = serde_json::to_value(&msg).unwrap_or_default();
            v["type"] = "message".into();
            v["size"] = msg.data.len().into();
            self.print(&v.to_string());
        }
        if self.config.keep {
            self.kept().messages.push(msg);
        }
    }

    /// Sessions finished so far.
    pub fn finished(&self) -> usize {
        *self.done.borrow()
    }

    /// Waits until at least `n` sessions have finished, or the timeout passes.
    /// Returns whether they did.
    pub async fn wait_for_sessions(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.done.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|done| *done >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The transcripts of finished sessions (with `keep`).
    pub fn transcripts(&self) -> Vec<Transcript> {
        self.kept().transcripts.clone()
    }

    /// The accepted messages (with `keep`).
    pub fn messages(&self) -> Vec<Message> {
        self.kept().messages.clone()
    }

    /// Files that could not be written.
    pub fn write_errors(&self) -> Vec<String> {
        self.kept().write_errors.clone()
    }
}

pub(crate) const DIM: &str = "2";
pub(crate) const CYAN: &str = "36";
pub(crate) const GREEN: &str = "32";
pub(crate) const YELLOW: &str = "33";
pub(crate) const RED: &str = "31";
pub(crate) const MAGENTA: &str = "35";

/// The colour of a transcript line: client cyan, replies by class, body dim.
pub(crate) fn style_of(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Client(_) => CYAN,
        EventKind::Server(t) => match t.as_bytes().first() {
            Some(b'4') => YELLOW,
            Some(b'5') => RED,
            _ => GREEN,
        },
        EventKind::Data(_) => DIM,
        EventKind::Note(_) | EventKind::Comment(_) => MAGENTA,
    }
}

pub(crate) fn paint(color: bool, style: &str, text: &str) -> String {
    if color {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The transcript of one session as it is being captured. Every line is
/// redacted by the caller or here before it is stored or shown.
pub struct Capture {
    hub: std::sync::Arc<Hub>,
    transcript: Transcript,
    start: Instant,
    explainer: Explainer,
}

impl Capture {
    /// Starts capturing a session.
    pub fn new(hub: std::sync::Arc<Hub>, meta: Meta, start: Instant) -> Capture {
        hub.session_started(&meta);
        Capture {
            hub,
            transcript: Transcript {
                meta,
                events: Vec::new(),
                closed_by: None,
            },
            start,
            explainer: Explainer::new(),
        }
    }

    fn push(&mut self, kind: EventKind, live: bool) {
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
        if live {
            self.hub.event(self.transcript.meta.id, &e);
        }
        if let Some(said) = self.explainer.observe(&e.kind) {
            self.hub.explain(self.transcript.meta.id, said);
        }
        self.transcript.events.push(e);
    }

    /// A client line, already redacted.
    pub fn client(&mut self, text: String) {
        self.push(EventKind::Client(text), true);
    }

    /// A reply, one event per wire line.
    pub fn reply(&mut self, reply: &crate::smtp::Reply) {
        for line in reply.wire_lines() {
            let line = crate::tape::redact::scrub(&line).into_owned();
            self.push(EventKind::Server(line), true);
        }
    }

    /// A message body (`body` is empty when `overflowed`); the live view
    /// shows its first lines. `sha256` is the hash of the whole body.
    pub fn body(&mut self, body: &[u8], size: usize, overflowed: bool, sha256: &[u8]) {
        let lines = body_lines(body, size, overflowed, sha256);
        let total = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            self.push(EventKind::Data(line), i < LIVE_BODY_LINES);
        }
        if total > LIVE_BODY_LINES && self.hub.view() != LiveView::Quiet {
            let e = Event {
                at: Some(self.start.elapsed()),
                kind: EventKind::Note(format!("… {} more body lines", total - LIVE_BODY_LINES)),
            };
            self.hub.event(self.transcript.meta.id, &e);
        }
    }

    /// Something that is not a line (TLS started, a timeout).
    pub fn note(&mut self, text: String) {
        self.push(EventKind::Note(text), true);
    }

    /// Ends the session and hands the transcript to the hub.
    pub fn finish(mut self, closer: Closer) {
        self.transcript.closed_by = Some(closer);
        self.hub
            .session_ended(self.transcript, self.start.elapsed());
    }
}
