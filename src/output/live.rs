//! The live view: a thread of its own that takes events from its bounded
//! queue and writes them to stdout in batches — as many lines per `write` as
//! have arrived, flushed when the queue runs dry — so sessions never wait on
//! stdout, and a reader that stops reading only costs the lines it missed
//! (said once it reads again).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::event::{Event, LiveView, Subscription};
use crate::resend::explain::Said;
use crate::tape::EventKind;

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

/// Writes `text` painted into `out`, without a String of its own.
fn paint_into(out: &mut Vec<u8>, color: bool, style: &str, text: std::fmt::Arguments<'_>) {
    if color {
        let _ = write!(out, "\x1b[{style}m{text}\x1b[0m");
    } else {
        let _ = out.write_fmt(text);
    }
}

/// A batch is written once it holds this much, even if more is waiting.
const BATCH_BYTES: usize = 64 * 1024;
/// After a first event, how long a small batch may wait for more.
const BATCH_WAIT: Duration = Duration::from_millis(2);

/// The running live view.
pub(crate) struct LiveThread {
    done: std::sync::mpsc::Receiver<()>,
    thread: std::thread::JoinHandle<()>,
}

impl LiveThread {
    /// Starts writing `sub`'s events to stdout.
    pub(crate) fn start(
        sub: Subscription,
        view: LiveView,
        inbox: Option<String>,
    ) -> std::io::Result<LiveThread> {
        let (tx, done) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("mailtape-live".into())
            .spawn(move || {
                run(sub, Formatter::new(view, inbox), &mut std::io::stdout());
                let _ = tx.send(());
            })?;
        Ok(LiveThread { done, thread })
    }

    /// Waits for the queue to be written out (the sink closed it), at most
    /// `timeout`: a stdout nobody reads leaves the thread blocked in `write`,
    /// and then it is left behind.
    pub(crate) fn join(self, timeout: Duration) {
        if self.done.recv_timeout(timeout).is_ok() {
            let _ = self.thread.join();
        }
    }
}

/// Takes events until the sink closes the queue, writing them in batches.
pub(crate) fn run(mut sub: Subscription, mut f: Formatter, out: &mut dyn Write) {
    let mut buf = Vec::with_capacity(BATCH_BYTES);
    while let Some(first) = sub.blocking_recv() {
        buf.clear();
        f.write(&first, &mut buf);
        let started = Instant::now();
        // Gather what else has arrived; wait a moment for more only while
        // the batch is small, so a person still sees each line at once.
        while buf.len() < BATCH_BYTES {
            match sub.try_recv() {
                Some(e) => f.write(&e, &mut buf),
                None if started.elapsed() < BATCH_WAIT => {
                    std::thread::sleep(Duration::from_micros(250));
                }
                None => break,
            }
        }
        let dropped = sub.take_dropped();
        if dropped > 0 {
            f.dropped(dropped, &mut buf);
        }
        // A closed pipe (`mailtape mock | head`) is not an error worth a panic.
        if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
            // Keep draining, so the queue never holds memory for nobody.
            continue;
        }
    }
    let dropped = sub.take_dropped();
    if dropped > 0 {
        buf.clear();
        f.dropped(dropped, &mut buf);
        let _ = out.write_all(&buf).and_then(|()| out.flush());
    }
}

/// Turns events into the lines of one view, into a reused buffer.
pub(crate) struct Formatter {
    view: LiveView,
    /// The inbox page's base URL, when it is on: lines and events then
    /// carry deep links (`…/#/message/ID`, `…/#/session/N`).
    inbox: Option<String>,
}

impl Formatter {
    pub(crate) fn new(view: LiveView, inbox: Option<String>) -> Formatter {
        Formatter { view, inbox }
    }

    /// Appends the line(s) for one event.
    pub(crate) fn write(&mut self, e: &Arc<Event>, out: &mut Vec<u8>) {
        match self.view {
            LiveView::Quiet => {}
            LiveView::Human { color } => human(e, color, self.inbox.as_deref(), out),
            LiveView::Json => json_line(e, self.inbox.as_deref(), out),
        }
    }

    /// Says how many lines the view lost while nobody read stdout.
    pub(crate) fn dropped(&mut self, n: u64, out: &mut Vec<u8>) {
        match self.view {
            LiveView::Quiet => {}
            LiveView::Human { color } => {
                paint_into(
                    out,
                    color,
                    YELLOW,
                    format_args!(
                        "mailtape: {n} live-view {} dropped: stdout was not being read (sessions were not slowed; tapes and the mailbox are complete)",
                        if n == 1 { "line" } else { "lines" }
                    ),
                );
                out.push(b'\n');
            }
            LiveView::Json => {
                let _ = writeln!(out, r#"{{"dropped":{n},"type":"dropped"}}"#);
            }
        }
    }
}

/// The page's link to a message or a live session.
fn link(inbox: &str, what: &str, id: impl std::fmt::Display) -> String {
    format!("{}/#/{what}/{id}", inbox.trim_end_matches('/'))
}

fn human(e: &Event, color: bool, inbox: Option<&str>, out: &mut Vec<u8>) {
    match e {
        Event::SessionStarted(meta) => paint_into(
            out,
            color,
            DIM,
            format_args!(
                "#{} ── {} connected to {} {} · {} {}",
                meta.id, meta.client, meta.listener, meta.local, meta.mode, meta.source
            ),
        ),
        Event::Lines { session, events } => {
            for event in events {
                let _ = write!(out, "#{session} ");
                paint_into(
                    out,
                    color,
                    style_of(&event.kind),
                    format_args!("{}: {}", event.kind.tag(), event.kind.text()),
                );
                out.push(b'\n');
            }
            return;
        }
        Event::Explained { session, said } => {
            let (mark, style) = mark(said);
            let _ = write!(out, "#{session}    ");
            paint_into(out, color, style, format_args!("{mark} {}", said.text));
        }
        Event::SessionFinished { transcript, lasted } => paint_into(
            out,
            color,
            DIM,
            format_args!(
                "#{} ── closed by {} after {:.3}s{}",
                transcript.meta.id,
                closer(transcript),
                lasted.as_secs_f64(),
                inbox
                    .map(|i| format!(" · {}", link(i, "session", transcript.meta.id)))
                    .unwrap_or_default()
            ),
        ),
        // A message's deep link, for a person to click; without an inbox
        // the 250 line says all there is.
        Event::MessageAccepted(msg) => match inbox {
            Some(i) => {
                let _ = write!(out, "#{}    ", msg.session);
                paint_into(
                    out,
                    color,
                    DIM,
                    format_args!("✉ {}", link(i, "message", &msg.id)),
                );
            }
            None => return,
        },
        // Said on stderr by the sink: stdout is for sessions.
        Event::Said(_) | Event::MessageScheduled(_) | Event::MessageFailed { .. } => return,
        Event::Webhook { session, text, .. } => {
            let _ = write!(out, "#{session}    ");
            paint_into(out, color, DIM, format_args!("⇢ {text}"));
        }
        Event::WriteFailed { session, error } => {
            let _ = write!(out, "#{session}    ");
            paint_into(out, color, RED, format_args!("✗ {error}"));
        }
    }
    out.push(b'\n');
}

fn mark(said: &Said) -> (&'static str, &'static str) {
    if said.ok {
        ("✓", GREEN)
    } else {
        ("↳", YELLOW)
    }
}

fn closer(t: &crate::tape::Transcript) -> String {
    t.closed_by
        .map(|c| format!("{c:?}").to_lowercase())
        .unwrap_or_default()
}

/// One JSON object per event. The keys are in the order serde_json's maps
/// keep them (sorted), as before the view had a thread of its own.
fn json_line(e: &Event, inbox: Option<&str>, out: &mut Vec<u8>) {
    let v = match e {
        Event::Lines { session, events } => {
            for event in events {
                json_line_event(*session, event, out);
            }
            return;
        }
        Event::SessionStarted(meta) => {
            json!({"type": "session", "session": meta.id, "meta": meta})
        }
        Event::Explained { session, said } => {
            json!({"type": "explain", "session": session, "ok": said.ok, "text": said.text})
        }
        Event::SessionFinished { transcript, .. } => {
            let mut v = json!({
                "type": "end",
                "session": transcript.meta.id,
                "closed_by": closer(transcript),
                "codes": transcript.reply_codes(),
            });
            if let Some(i) = inbox {
                v["url"] = link(i, "session", transcript.meta.id).into();
            }
            v
        }
        Event::MessageAccepted(msg) => {
            let mut v = serde_json::to_value(&**msg).unwrap_or_default();
            v["type"] = "message".into();
            v["size"] = msg.data.len().into();
            if let Some(i) = inbox {
                v["url"] = link(i, "message", &msg.id).into();
            }
            v
        }
        Event::Said(_) | Event::MessageScheduled(_) | Event::MessageFailed { .. } => return,
        Event::Webhook { json, .. } => json.clone(),
        Event::WriteFailed { session, error } => json!({
            "type": "write_error",
            "session": session,
            "what": error.what,
            "error": error.error,
            "full": error.is_full(),
        }),
    };
    let _ = serde_json::to_writer(&mut *out, &v);
    out.push(b'\n');
}

/// One line event in JSON: the hot path (every line of every session),
/// written field by field, with serde_json only for the number and the string.
fn json_line_event(session: u64, event: &crate::tape::Event, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"at":"#);
    match event.at {
        Some(d) => {
            let _ =
                serde_json::to_writer(&mut *out, &((d.as_secs_f64() * 1000.0).round() / 1000.0));
        }
        None => out.extend_from_slice(b"null"),
    }
    let kind = match event.kind {
        EventKind::Client(_) => "client",
        EventKind::Server(_) => "server",
        EventKind::Data(_) => "data",
        EventKind::Note(_) => "note",
        EventKind::Comment(_) => "comment",
    };
    let _ = write!(out, r#","kind":"{kind}","session":{session},"text":"#);
    let _ = serde_json::to_writer(&mut *out, event.kind.text());
    out.extend_from_slice(b",\"type\":\"line\"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::Event as Line;

    /// The line as the view wrote it before it had a thread of its own.
    fn old_json(session: u64, e: &Line) -> String {
        let mut v = serde_json::to_value(e).unwrap_or_default();
        v["type"] = "line".into();
        v["session"] = session.into();
        format!("{v}\n")
    }

    #[test]
    fn json_lines_are_byte_for_byte_as_before() {
        let cases = [
            (
                Some(Duration::from_micros(1234)),
                EventKind::Client("EHLO x".into()),
            ),
            (
                Some(Duration::ZERO),
                EventKind::Server("250 \"ok\" \\ é \u{1}".into()),
            ),
            (
                Some(Duration::from_secs(61)),
                EventKind::Data("<tab>\there".into()),
            ),
            (None, EventKind::Note("TLS 1.3".into())),
            (
                Some(Duration::from_nanos(999_600)),
                EventKind::Comment("x".into()),
            ),
        ];
        for (at, kind) in cases {
            let line = Line { at, kind };
            let mut out = Vec::new();
            json_line(
                &Event::Lines {
                    session: 7,
                    events: vec![line.clone()],
                },
                None,
                &mut out,
            );
            assert_eq!(String::from_utf8(out).unwrap(), old_json(7, &line));
        }
    }

    #[test]
    fn with_an_inbox_messages_and_sessions_carry_deep_links() {
        let msg = crate::output::sink::Message {
            id: "abc".into(),
            session: 3,
            ..Default::default()
        };
        let e = Event::MessageAccepted(Arc::new(msg));
        let mut out = Vec::new();
        json_line(&e, Some("http://127.0.0.1:8025/"), &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["url"], "http://127.0.0.1:8025/#/message/abc");
        let mut out = Vec::new();
        human(&e, false, Some("http://127.0.0.1:8025/"), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "#3    ✉ http://127.0.0.1:8025/#/message/abc\n"
        );
        let mut out = Vec::new();
        human(&e, false, None, &mut out);
        assert!(out.is_empty(), "no inbox, no line");
    }
}
