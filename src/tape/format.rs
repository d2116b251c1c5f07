//! The tape file: the writer and the reader, kept together so they cannot
//! drift apart.
//!
//! ```text
//! # mailtape tape v1
//! # any comment lines about the tape (how it was made)
//!
//! ## session 1 · mode record · source smtp.resend.com:465 (implicit TLS) · listener smtps 127.0.0.1:2465 · client 127.0.0.1:50000 · started 2026-11-27T13:00:00Z
//! +0.000 S: 220 smtp.resend.com ESMTP
//! +0.004 C: EHLO app.local
//! D: a body line (offsets are optional)
//! # a comment inside a session
//! *: closed by client
//! ```
//!
//! Each line of a session is `[+SECONDS ]TAG: text` with TAG `C` (client),
//! `S` (server), `D` (body line) or `*` (a note: TLS, a timeout, a close).
//! Text never holds control characters (see [`super::printable::printable`]).

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use super::{Closer, Event, EventKind, Meta, Transcript};

/// The first line of every tape.
pub const VERSION_LINE: &str = "# mailtape tape v1";
const SESSION_PREFIX: &str = "## session ";
const SEP: &str = " · ";
const CLOSED_BY: &str = "closed by ";

/// A tape: comments about it, then sessions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tape {
    /// Comment lines after the version line, without their `#`.
    pub comments: Vec<String>,
    /// The sessions in order.
    pub sessions: Vec<Transcript>,
}

/// Why a tape could not be read: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeError {
    /// The file (or `builtin:NAME`, or `-`).
    pub origin: String,
    /// The 1-based line number.
    pub line: usize,
    /// What the reader expected there.
    pub expected: String,
    /// What it found (shortened).
    pub found: String,
}

impl fmt::Display for TapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: expected {}, found {:?}",
            self.origin, self.line, self.expected, self.found
        )
    }
}

impl std::error::Error for TapeError {}

/// A header value as written: one line, and no `·`, which separates fields.
fn clean(field: &str) -> String {
    field.replace('·', "-").replace(['\n', '\r'], " ")
}

impl Transcript {
    /// This session's lines in a tape: the header, every event, and the close.
    pub fn to_tape(&self) -> String {
        let m = &self.meta;
        let mut out = format!("{SESSION_PREFIX}{}", m.id);
        for (key, value) in [
            ("mode", &m.mode),
            ("source", &m.source),
            ("listener", &m.listener),
            ("local", &m.local),
            ("client", &m.client),
            ("started", &m.started),
        ] {
            if !value.is_empty() {
                let _ = write!(out, "{SEP}{key} {}", clean(value));
            }
        }
        out.push('\n');
        // Written for every session a server sees: one allocation, and no
        // formatting machinery per line.
        out.reserve(
            self.events
                .iter()
                .map(|e| e.kind.text().len() + 16)
                .sum::<usize>()
                + 32,
        );
        for e in &self.events {
            if let Some(at) = e.at {
                push_offset(&mut out, at);
            }
            match &e.kind {
                EventKind::Comment(t) => out.push_str(&comment_line(t)),
                kind => {
                    out.push_str(kind.tag());
                    out.push(':');
                    if !kind.text().is_empty() {
                        out.push(' ');
                        out.push_str(kind.text());
                    }
                }
            }
            out.push('\n');
        }
        if let Some(c) = self.closed_by {
            let who = match c {
                Closer::Client => "client",
                Closer::Server => "server",
            };
            let _ = writeln!(out, "*: {CLOSED_BY}{who}");
        }
        out
    }
}

/// `+S.mmm ` (seconds, then milliseconds in three digits).
fn push_offset(out: &mut String, at: std::time::Duration) {
    let ms = at.subsec_millis();
    out.push('+');
    out.push_str(&at.as_secs().to_string());
    out.push('.');
    for d in [ms / 100, ms / 10 % 10, ms % 10] {
        out.push(char::from(b'0' + d as u8));
    }
    out.push(' ');
}

fn comment_line(text: &str) -> String {
    if text.is_empty() {
        "#".into()
    } else {
        format!("# {text}")
    }
}

impl Tape {
    /// The tape's text: the version line, the comments, then each session
    /// after a blank line.
    pub fn to_text(&self) -> String {
        let mut out = String::from(VERSION_LINE);
        out.push('\n');
        for c in &self.comments {
            out.push_str(&comment_line(c));
            out.push('\n');
        }
        for s in &self.sessions {
            out.push('\n');
            out.push_str(&s.to_tape());
        }
        out
    }

    /// The tape without times, addresses or other volatile values (see
    /// [`Transcript::snapshot`]): stable text for snapshot tests.
    pub fn snapshot(&self) -> String {
        let mut out = String::new();
        for c in &self.comments {
            let _ = writeln!(out, "# {}", super::transcript::mask_volatile(c));
        }
        for s in &self.sessions {
            let _ = write!(
                out,
                "\n── session {} ({})\n{}",
                s.meta.id,
                s.meta.listener,
                s.snapshot()
            );
        }
        out
    }

    /// Reads a tape, redacting it as capture would (a tape may have been
    /// written or edited by hand). `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Tape, TapeError> {
        let err = |line: usize, expected: &str, found: &str| TapeError {
            origin: origin.to_string(),
            line,
            expected: expected.to_string(),
            // Scrubbed before it is cut: a cut key is no longer found.
            found: super::redact::scrub(found).chars().take(60).collect(),
        };
        // Every CR before the LF belongs to the line ending: the writer never
        // ends a text with one, so read and write agree.
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        match lines.next() {
            Some((_, VERSION_LINE)) => {}
            Some((n, other)) if other.starts_with("# mailtape tape v") => {
                return Err(err(
                    n,
                    "a tape of version 1 (`# mailtape tape v1`); this mailtape is too old for it",
                    other,
                ));
            }
            Some((n, other)) => {
                return Err(err(
                    n,
                    &format!("`{VERSION_LINE}` as the first line"),
                    other,
                ));
            }
            None => return Err(err(1, &format!("`{VERSION_LINE}`"), "")),
        }
        let mut tape = Tape::default();
        // The line of each event of the last session, and the line after
        // it: an HTTP exchange is checked whole, then named by line.
        let mut event_lines: Vec<usize> = Vec::new();
        let mut last_line = 1;
        let check_http = |tape: &Tape, event_lines: &[usize], end: usize| {
            let Some(t) = tape.sessions.last() else {
                return Ok(());
            };
            if !super::http::is_exchange(&t.meta) {
                return Ok(());
            }
            super::http::Exchange::from_transcript(t)
                .map(|_| ())
                .map_err(|(i, expected)| {
                    let n = event_lines.get(i).copied().unwrap_or(end);
                    let found = text
                        .split('\n')
                        .nth(n - 1)
                        .unwrap_or("")
                        .trim_end_matches('\r');
                    err(n, &format!("{expected} (a REST exchange)"), found)
                })
        };
        for (n, line) in lines {
            last_line = n;
            if line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix(SESSION_PREFIX) {
                check_http(&tape, &event_lines, n)?;
                event_lines.clear();
                tape.sessions.push(Transcript {
                    // A header is one line of text: a CR reads as the space the writer makes of it.
                    meta: parse_meta(&rest.replace('\r', " ")).map_err(|e| err(n, &e, line))?,
                    events: Vec::new(),
                    closed_by: None,
                });
                continue;
            }
            let Some(session) = tape.sessions.last_mut() else {
                if let Some(c) = parse_comment(line) {
                    tape.comments.push(c);
                    continue;
                }
                return Err(err(
                    n,
                    "a comment (`# …`) or a session header (`## session N …`)",
                    line,
                ));
            };
            if session.closed_by.is_some() {
                return Err(err(
                    n,
                    "a new session (`## session N …`) after `*: closed by …`",
                    line,
                ));
            }
            let (at, rest) = parse_offset(line).map_err(|e| err(n, &e, line))?;
            if let Some(c) = parse_comment(rest) {
                session.events.push(Event {
                    at,
                    kind: EventKind::Comment(c),
                });
                event_lines.push(n);
                continue;
            }
            let (tag, text) = rest
                .split_once(':')
                .filter(|(t, _)| matches!(*t, "C" | "S" | "D" | "*"))
                .ok_or_else(|| {
                    err(
                        n,
                        "`C: `, `S: `, `D: `, `*: ` or `# ` after the optional +SECONDS",
                        rest,
                    )
                })?;
            let text = text.strip_prefix(' ').unwrap_or(text).to_string();
            if tag == "*"
                && let Some(who) = text.strip_prefix(CLOSED_BY)
            {
                session.closed_by = Some(match who {
                    "client" => Closer::Client,
                    "server" => Closer::Server,
                    _ => return Err(err(n, "`closed by client` or `closed by server`", rest)),
                });
                continue;
            }
            if tag == "S" && !super::http::is_exchange(&session.meta) && !valid_reply_line(&text) {
                return Err(err(
                    n,
                    "a reply line: three digits from 200 to 599, then a space or `-`",
                    rest,
                ));
            }
            let kind = match tag {
                "C" => EventKind::Client(text),
                "S" => EventKind::Server(text),
                "D" => EventKind::Data(text),
                _ => EventKind::Note(text),
            };
            session.events.push(Event { at, kind });
            event_lines.push(n);
        }
        check_http(&tape, &event_lines, last_line)?;
        super::capture::redact_read(&mut tape);
        Ok(tape)
    }
}

fn parse_comment(line: &str) -> Option<String> {
    if line == "#" {
        return Some(String::new());
    }
    let c = line.strip_prefix("# ")?;
    // `## session` is a header, not a comment
    (!line.starts_with("##")).then(|| c.to_string())
}

fn valid_reply_line(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 3
        && b[..3].iter().all(u8::is_ascii_digit)
        && (b'2'..=b'5').contains(&b[0])
        && matches!(b.get(3), None | Some(b' ') | Some(b'-'))
}

/// Splits `+1.234 ` off a line; `None` when there is no offset.
fn parse_offset(line: &str) -> Result<(Option<Duration>, &str), String> {
    let Some(rest) = line.strip_prefix('+') else {
        return Ok((None, line));
    };
    let (num, rest) = rest
        .split_once(' ')
        .ok_or("`+SECONDS ` followed by a space and the line")?;
    let (secs, millis) = match num.split_once('.') {
        Some((s, m)) => (s, m),
        None => (num, ""),
    };
    let bad = || "a time offset like +1.250".to_string();
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || !millis.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    // Tapes keep milliseconds: finer digits are dropped, so what is read
    // is what would be written.
    let frac = format!("{millis:0<3}");
    let ms: u32 = frac[..3].parse().map_err(|_| bad())?;
    Ok((Some(Duration::new(secs, ms * 1_000_000)), rest))
}

fn parse_meta(rest: &str) -> Result<Meta, String> {
    let mut fields = rest.split(SEP);
    let id = fields
        .next()
        .and_then(|f| f.trim().parse().ok())
        .ok_or("`## session N` with N a number")?;
    let mut meta = Meta {
        id,
        mode: String::new(),
        source: String::new(),
        listener: String::new(),
        client: String::new(),
        local: String::new(),
        started: String::new(),
    };
    for f in fields {
        let (key, value) = f.split_once(' ').unwrap_or((f, ""));
        let slot = match key {
            "mode" => &mut meta.mode,
            "source" => &mut meta.source,
            "listener" => &mut meta.listener,
            "local" => &mut meta.local,
            "client" => &mut meta.client,
            "started" => &mut meta.started,
            _ => {
                return Err(format!(
                    "a field among mode, source, listener, local, client, started (not {key:?})"
                ));
            }
        };
        // As the writer does: a `·` left at a value's edge reads as `-`.
        *slot = clean(value);
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HAND_WRITTEN: &str = "# mailtape tape v1
# a 535 written by hand

## session 1 · mode replay
S: 220 smtp.resend.com ESMTP
C: EHLO app.local
S: 250-smtp.resend.com
S: 250 AUTH PLAIN LOGIN
# the key does not matter: replay accepts any
C: AUTH PLAIN <redacted user=resend key=re_…a1f3>
S: 535 Authentication credentials invalid
C: QUIT
S: 221 Bye
*: closed by client
";

    #[test]
    fn hand_written_tape_round_trips_byte_for_byte() {
        let tape = Tape::parse(HAND_WRITTEN, "t.tape").unwrap();
        assert_eq!(tape.comments, vec!["a 535 written by hand"]);
        assert_eq!(tape.sessions.len(), 1);
        let s = &tape.sessions[0];
        assert_eq!(s.meta.mode, "replay");
        assert_eq!(s.closed_by, Some(Closer::Client));
        assert_eq!(s.reply_codes(), vec![220, 250, 535, 221]);
        assert_eq!(tape.to_text(), HAND_WRITTEN);
    }

    #[test]
    fn recorded_form_round_trips() {
        let text = "# mailtape tape v1

## session 3 · mode record · source smtp.resend.com:465 (implicit TLS) · listener plain · local 127.0.0.1:2525 · client 127.0.0.1:5000 · started 2026-11-27T13:00:00Z
+0.000 *: upstream smtp.resend.com:465 TLS TLSv1.3
+0.012 S: 220 smtp.resend.com ESMTP
+0.013 C: DATA
+1.500 D:
+1.500 D:   indented
+61.020 S: 250 OK
*: closed by server

## session 4
+0.000 S: 421 busy
";
        let tape = Tape::parse(text, "r.tape").unwrap();
        assert_eq!(
            tape.sessions[0].events[3].kind,
            EventKind::Data(String::new())
        );
        assert_eq!(
            tape.sessions[0].events[4].kind,
            EventKind::Data("  indented".into())
        );
        assert_eq!(
            tape.sessions[0].events[5].at,
            Some(Duration::from_millis(61_020))
        );
        assert_eq!(tape.sessions[1].closed_by, None);
        assert_eq!(tape.to_text(), text);
    }

    #[test]
    fn malformed_tapes_say_file_line_and_what_was_expected() {
        let cases: &[(&str, usize, &str)] = &[
            ("hello\n", 1, "`# mailtape tape v1` as the first line"),
            ("# mailtape tape v2\n", 1, "too old"),
            (
                "# mailtape tape v1\nS: 220 x\n",
                2,
                "a comment (`# …`) or a session header",
            ),
            ("# mailtape tape v1\n## session x\n", 2, "with N a number"),
            (
                "# mailtape tape v1\n## session 1 · colour red\n",
                2,
                "a field among",
            ),
            (
                "# mailtape tape v1\n## session 1\nX: what\n",
                3,
                "`C: `, `S: `",
            ),
            (
                "# mailtape tape v1\n## session 1\n+1,5 S: 220 x\n",
                3,
                "a time offset",
            ),
            (
                "# mailtape tape v1\n## session 1\nS: 2200 x\n",
                3,
                "a reply line",
            ),
            (
                "# mailtape tape v1\n## session 1\n*: closed by nobody\n",
                3,
                "`closed by client`",
            ),
            (
                "# mailtape tape v1\n## session 1\n*: closed by client\nC: QUIT\n",
                4,
                "a new session",
            ),
        ];
        for (text, line, expected) in cases {
            let e = Tape::parse(text, "bad.tape").unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("bad.tape:{line}: expected ")),
                "{e}"
            );
            assert!(e.expected.contains(expected), "{text:?}: {e}");
        }
    }
}
