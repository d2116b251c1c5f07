//! `mailtape show`: transcripts people can read, each failure explained.

use std::fmt::Write as _;

use serde_json::json;

use crate::output::live::{DIM, GREEN, YELLOW, paint, style_of};
use crate::resend::explain::Explainer;
use crate::tape::{Closer, Tape, Transcript};

/// How to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShowOptions {
    /// Only this session (its number in the tape header).
    pub session: Option<u64>,
    /// Leave the explanations out.
    pub no_explain: bool,
    /// ANSI colours.
    pub color: bool,
}

fn picked<'a>(tape: &'a Tape, o: &ShowOptions) -> impl Iterator<Item = &'a Transcript> {
    let only = o.session;
    tape.sessions
        .iter()
        .filter(move |t| only.is_none_or(|n| t.meta.id == n))
}

/// The tape as text: a header per session, the lines with their offsets,
/// explanations under the replies that need one, and who closed.
pub fn render(name: &str, tape: &Tape, o: &ShowOptions) -> String {
    let mut out = String::new();
    for t in picked(tape, o) {
        let m = &t.meta;
        let mut head = format!("── {name} · session {}", m.id);
        for v in [&m.mode, &m.source, &m.started] {
            if !v.is_empty() {
                let _ = write!(head, " · {v}");
            }
        }
        if !m.listener.is_empty() || !m.client.is_empty() {
            let _ = write!(head, " · {} {} ← {}", m.listener, m.local, m.client);
        }
        let _ = writeln!(out, "{}", paint(o.color, DIM, head.trim_end()));
        // A webhook attempt's answer is the app's, not Resend's: nothing to explain.
        let explain = !o.no_explain && !crate::tape::http::is_webhook(&t.meta);
        let mut explainer = Explainer::new();
        for e in &t.events {
            let at =
                e.at.map(|a| format!("{:>8.3} ", a.as_secs_f64()))
                    .unwrap_or_else(|| " ".repeat(9));
            let line = format!("{}: {}", e.kind.tag(), e.kind.text());
            let _ = writeln!(
                out,
                "{at}{}",
                paint(o.color, style_of(&e.kind), line.trim_end())
            );
            if let Some(said) = explainer.observe(&e.kind)
                && explain
            {
                let (mark, style) = if said.ok {
                    ("✓", GREEN)
                } else {
                    ("↳", YELLOW)
                };
                let _ = writeln!(
                    out,
                    "{}{}",
                    " ".repeat(12),
                    paint(o.color, style, &format!("{mark} {}", said.text))
                );
            }
        }
        let closed = match t.closed_by {
            Some(Closer::Client) => "closed by the client",
            Some(Closer::Server) => "closed by the server",
            None => "still open when the tape was written",
        };
        let _ = writeln!(
            out,
            "{}\n",
            paint(o.color, DIM, &format!("{}{closed}", " ".repeat(9)))
        );
    }
    out
}

/// One transcript line as `show` prints it, without the offset.
pub fn line(kind: &crate::tape::EventKind, color: bool) -> String {
    let text = format!("{}: {}", kind.tag(), kind.text());
    paint(color, style_of(kind), text.trim_end())
}

/// An explanation line, indented under its reply.
pub fn explanation(said: crate::resend::explain::Said, color: bool) -> String {
    let (mark, style) = if said.ok {
        ("✓", GREEN)
    } else {
        ("↳", YELLOW)
    };
    format!(
        "   {}",
        paint(color, style, &format!("{mark} {}", said.text))
    )
}

/// The tape as JSON: one object per session with its events and explanations.
pub fn render_json(name: &str, tape: &Tape, o: &ShowOptions) -> serde_json::Value {
    let sessions: Vec<serde_json::Value> = picked(tape, o)
        .map(|t| {
            let explain = !o.no_explain && !crate::tape::http::is_webhook(&t.meta);
            let mut explainer = Explainer::new();
            let events: Vec<serde_json::Value> = t
                .events
                .iter()
                .map(|e| {
                    let mut v = serde_json::to_value(e).unwrap_or_default();
                    if let Some(said) = explainer.observe(&e.kind)
                        && explain
                    {
                        v["explain"] = json!({"ok": said.ok, "text": said.text});
                    }
                    v
                })
                .collect();
            json!({"meta": t.meta, "events": events, "closed_by": t.closed_by})
        })
        .collect();
    json!({"tape": name, "comments": tape.comments, "sessions": sessions})
}
