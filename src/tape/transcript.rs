//! The transcript of one session: redacted lines in order, with time offsets,
//! and its text forms (tape lines, live view, snapshot).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

// Kept at its old path too: code written before it moved still builds.
pub use super::printable::{into_printable, printable};

/// Bodies larger than this are kept as a size and a hash, not line by line.
pub const MAX_KEPT_BODY: usize = 64 * 1024;

/// Who ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Closer {
    /// The client closed the connection (after QUIT or not).
    Client,
    /// The server closed it (after 221, 421, or a scenario's drop).
    Server,
}

/// One thing that happened in a session. All text is already redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "lowercase")]
pub enum EventKind {
    /// A line the client sent (`C:`).
    Client(String),
    /// One line of a reply (`S:`).
    Server(String),
    /// One line of a message body (`D:`), unstuffed.
    Data(String),
    /// Something that is not a line: TLS started, a timeout, a close (`*:`).
    Note(String),
    /// A comment in a hand-written tape (`#`); never sent or matched.
    Comment(String),
}

impl EventKind {
    /// The tag of the line in a tape: `C`, `S`, `D` or `*`.
    pub fn tag(&self) -> &'static str {
        match self {
            EventKind::Client(_) => "C",
            EventKind::Server(_) => "S",
            EventKind::Data(_) => "D",
            EventKind::Note(_) => "*",
            EventKind::Comment(_) => "#",
        }
    }

    /// The text after the tag.
    pub fn text(&self) -> &str {
        match self {
            EventKind::Client(t)
            | EventKind::Server(t)
            | EventKind::Data(t)
            | EventKind::Note(t)
            | EventKind::Comment(t) => t,
        }
    }
}

/// One event with its time offset from the start of the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Time since the connection was accepted (absent in hand-written tapes).
    #[serde(serialize_with = "secs")]
    pub at: Option<Duration>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0),
        None => s.serialize_none(),
    }
}

/// What is known of a session before its first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meta {
    /// Session number within this server run, from 1.
    pub id: u64,
    /// `mock`, `record` or `replay`.
    pub mode: String,
    /// What the responder played: a scenario name, a tape, an upstream.
    pub source: String,
    /// Which listener took the connection: `smtps`, `starttls` or `plain`.
    pub listener: String,
    /// The client's address.
    pub client: String,
    /// The listener's address.
    pub local: String,
    /// When the connection was accepted, RFC 3339 UTC.
    pub started: String,
}

/// A whole session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transcript {
    /// Who, where, when.
    pub meta: Meta,
    /// The exchange in order.
    pub events: Vec<Event>,
    /// Who closed the connection, once it is closed.
    pub closed_by: Option<Closer>,
}

impl Transcript {
    /// The exchange without times or addresses, with volatile values
    /// (message ids, Date and Message-ID headers, ports) replaced by
    /// placeholders: stable text for snapshot tests.
    pub fn snapshot(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            let text = normalise(&e.kind);
            let _ = writeln!(out, "{}: {}", e.kind.tag(), text);
        }
        out
    }

    /// The client lines only, in order.
    pub fn client_lines(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Client(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The reply codes the server sent, one per reply (multi-line replies once).
    pub fn reply_codes(&self) -> Vec<u16> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Server(t) if t.as_bytes().get(3) != Some(&b'-') => {
                    t.get(..3)?.parse().ok()
                }
                _ => None,
            })
            .collect()
    }
}

/// Replaces volatile parts of one line for snapshots.
fn normalise(kind: &EventKind) -> String {
    let text = kind.text();
    match kind {
        EventKind::Data(t) => {
            let lower = t.to_ascii_lowercase();
            for header in ["date:", "message-id:"] {
                if lower.starts_with(header) {
                    return format!(
                        "{}: [{}]",
                        &t[..header.len() - 1],
                        header.trim_end_matches(':')
                    );
                }
            }
            if lower.starts_with("--") && t.len() > 10 {
                return "--[boundary]".into();
            }
            if lower.contains("boundary=") {
                return replace_after(t, "boundary=", "\"[boundary]\"");
            }
            t.clone()
        }
        EventKind::Server(t) | EventKind::Note(t) => mask_volatile(t),
        EventKind::Client(_) | EventKind::Comment(_) => text.to_string(),
    }
}

fn replace_after(t: &str, marker: &str, with: &str) -> String {
    match t.to_ascii_lowercase().find(marker) {
        Some(i) => format!("{}{}", &t[..i + marker.len()], with),
        None => t.to_string(),
    }
}

/// Masks what changes from run to run in reply and note text: generated
/// message ids (UUIDs), loopback ports, and TLS cipher suites (they depend
/// on the client's preferences and the CPU; the version is what matters).
pub(crate) fn mask_volatile(t: &str) -> String {
    let bytes = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        let rest = &t[i..];
        if i + 36 <= t.len() && is_uuid(&bytes[i..i + 36]) {
            out.push_str("[id]");
            i += 36;
        } else if let Some(n) = date_len(&bytes[i..]) {
            out.push_str("[date]");
            i += n;
        } else if let Some(host) = ["127.0.0.1:", "[::1]:"]
            .iter()
            .find(|h| rest.starts_with(**h))
            && rest[host.len()..].starts_with(|c: char| c.is_ascii_digit())
        {
            out.push_str(host);
            out.push_str("[port]");
            i += host.len()
                + rest[host.len()..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count();
        } else if rest.starts_with(" TLS13_") || rest.starts_with(" TLS_ECDHE_") {
            out.push_str(" [cipher]");
            i += 1 + rest[1..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
        } else {
            let c = t[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a date and time at the start of `b` (`2026-12-07
/// 08:22:38.240001+00`, `2026-12-07T08:22:38Z`), as REST answers hold
/// them (`created_at`).
fn date_len(b: &[u8]) -> Option<usize> {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    let shape = (0..4).all(digit)
        && at(4, b"-")
        && digit(5)
        && digit(6)
        && at(7, b"-")
        && digit(8)
        && digit(9)
        && at(10, b"T ")
        && digit(11)
        && digit(12)
        && at(13, b":")
        && digit(14)
        && digit(15)
        && at(16, b":")
        && digit(17)
        && digit(18);
    if !shape {
        return None;
    }
    let mut n = 19;
    while b
        .get(n)
        .is_some_and(|c| c.is_ascii_digit() || b".+-:Z".contains(c))
    {
        n += 1;
    }
    Some(n)
}

fn is_uuid(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => *c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(events: Vec<EventKind>) -> Transcript {
        Transcript {
            meta: Meta {
                id: 1,
                mode: "mock".into(),
                source: "default".into(),
                listener: "plain".into(),
                client: "127.0.0.1:5000".into(),
                local: "127.0.0.1:2525".into(),
                started: "2026-11-27T13:00:00Z".into(),
            },
            events: events
                .into_iter()
                .enumerate()
                .map(|(i, kind)| Event {
                    at: Some(Duration::from_millis(i as u64 * 5)),
                    kind,
                })
                .collect(),
            closed_by: Some(Closer::Client),
        }
    }

    #[test]
    fn tape_and_snapshot_forms() {
        let tr = t(vec![
            EventKind::Server("220 smtp.resend.com ESMTP".into()),
            EventKind::Client("EHLO x".into()),
            EventKind::Server("250-smtp.resend.com".into()),
            EventKind::Server("250 AUTH PLAIN LOGIN".into()),
            EventKind::Data("Date: Fri, 27 Nov 2026 13:00:00 +0000".into()),
            EventKind::Server("250 Queued as 0b8e1c1e-8f0a-4b8e-9c1e-8f0a4b8e9c1e".into()),
        ]);
        assert_eq!(
            tr.to_tape(),
            "## session 1 · mode mock · source default · listener plain · local 127.0.0.1:2525 · \
             client 127.0.0.1:5000 · started 2026-11-27T13:00:00Z\n\
             +0.000 S: 220 smtp.resend.com ESMTP\n+0.005 C: EHLO x\n+0.010 S: 250-smtp.resend.com\n\
             +0.015 S: 250 AUTH PLAIN LOGIN\n+0.020 D: Date: Fri, 27 Nov 2026 13:00:00 +0000\n\
             +0.025 S: 250 Queued as 0b8e1c1e-8f0a-4b8e-9c1e-8f0a4b8e9c1e\n*: closed by client\n"
        );
        let snap = tr.snapshot();
        assert!(snap.contains("D: Date: [date]\n"), "{snap}");
        assert!(snap.contains("S: 250 Queued as [id]\n"), "{snap}");
        assert_eq!(
            mask_volatile(
                "upstream 127.0.0.1:40211 implicit TLS TLSv1.3 TLS13_AES_256_GCM_SHA384, SNI x"
            ),
            "upstream 127.0.0.1:[port] implicit TLS TLSv1.3 [cipher], SNI x"
        );
        assert_eq!(tr.reply_codes(), vec![220, 250, 250]);
        assert_eq!(
            mask_volatile(
                r#"{"created_at":"2026-12-07 08:22:38.240001+00","x":"2026-12-07T08:22:38Z"}"#
            ),
            r#"{"created_at":"[date]","x":"[date]"}"#
        );
    }
}
