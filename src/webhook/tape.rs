//! A webhook attempt as a transcript, for `--tapes`: an HTTP exchange in
//! which mailtape is the client (`listener webhook`), in the lines a REST
//! exchange already has (`src/tape/http.rs`), so `mailtape show` and the
//! tape reader know it. No I/O: the sink's side writer makes the file.
//!
//! ```text
//! # mailtape tape v1
//! # webhook email.delivered msg_2Yx… for email 4ef9…: attempt 1 of 8 to http://127.0.0.1:4000/hooks, 200 in 3 ms
//!
//! ## session 3 · mode webhook · source email.delivered msg_2Yx… for email 4ef9…, attempt 1 of 8 · listener webhook · local http://127.0.0.1:4000/hooks · client mailtape · started 2026-12-07T10:39:12Z
//! +0.000 C: POST /hooks
//! +0.000 C: content-type: application/json
//! +0.000 C: user-agent: Svix-Webhooks/1.0 (mailtape)
//! +0.000 C: svix-id: msg_2Yx…
//! +0.000 C: svix-timestamp: 1765103952
//! +0.000 C: svix-signature: v1,K5o…=
//! +0.000 C: {"type":"email.delivered","created_at":"…","data":{…}}
//! +0.003 S: 200 OK
//! +0.003 S: content-type: text/plain; charset=utf-8
//! +0.003 S: "ok"
//! +0.003 *: delivered
//! *: closed by client
//! ```
//!
//! Redacted as every tape is: keys (`re_…`) scrubbed from every line, a
//! `whsec_` secret cut to `whsec_…` wherever it would appear (an endpoint
//! echoing it back, say). The signature is no secret: it is kept, so a
//! reader can check a delivery by hand.

use std::time::Duration;

use time::OffsetDateTime;

use crate::tape::http::{WEBHOOK_LISTENER, body_line, request_line, status_line};
use crate::tape::redact::{redact_webhook_secrets, scrub};
use crate::tape::{Closer, Event, EventKind, Meta, Tape, Transcript};

/// What one attempt was, as the tape tells it.
#[derive(Debug, Clone)]
pub struct AttemptFacts<'a> {
    /// The session (or REST exchange) the email came in.
    pub session: u64,
    /// The `svix-id`.
    pub event_id: &'a str,
    /// `email.delivered`, …
    pub kind: &'a str,
    /// What the event is about (an email id, a domain id).
    pub subject_id: &'a str,
    /// The endpoint's URL.
    pub url: &'a str,
    /// The path and query POSTed to.
    pub path: &'a str,
    /// 1 to 8.
    pub attempt: usize,
    /// Attempts at most.
    pub of: usize,
    /// When it started.
    pub at: OffsetDateTime,
    /// The signed headers sent (besides content type and user agent).
    pub request_headers: &'a [(String, String)],
    /// The body sent.
    pub body: &'a [u8],
    /// The answer's status, if one came.
    pub status: Option<u16>,
    /// Why there was no answer, or why it did not count.
    pub error: Option<&'a str>,
    /// How long it took.
    pub latency: Duration,
    /// The answer's headers (the first bytes).
    pub response_headers: &'a [(String, String)],
    /// The first bytes of the answer's body.
    pub response_body: &'a str,
    /// What came of it: `delivered`, `retry 2 of 8 at …`, …
    pub outcome: &'a str,
}

/// The User-Agent every attempt sends (`deliver.rs` sets it on the wire).
pub const USER_AGENT: &str = "Svix-Webhooks/1.0 (mailtape)";

/// The file name (without `.tape`) of an attempt's transcript: sortable by
/// time, then the session, the event and the attempt.
pub fn stem(f: &AttemptFacts<'_>) -> String {
    format!(
        "{}-s{}-webhook-{}-{}",
        compact_time(f.at),
        f.session,
        f.event_id,
        f.attempt
    )
}

fn compact_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A header line, scrubbed of keys and secrets.
fn header_line(name: &str, value: &str) -> String {
    let line = format!("{}: {value}", name.to_ascii_lowercase());
    clean(&line)
}

fn clean(text: &str) -> String {
    let keyless = scrub(text);
    let line = redact_webhook_secrets(&keyless).into_owned();
    crate::tape::printable::printable(&line)
}

/// The attempt as a tape of one session, with a comment saying what it was.
pub fn attempt_tape(f: &AttemptFacts<'_>) -> Tape {
    let start = Some(Duration::ZERO);
    let answered = Some(f.latency);
    let mut events = Vec::with_capacity(12 + f.response_headers.len());
    let mut client = |text: String| {
        events.push(Event {
            at: start,
            kind: EventKind::Client(text),
        })
    };
    client(request_line("POST", f.path));
    client(header_line("content-type", "application/json"));
    client(header_line("user-agent", USER_AGENT));
    for (k, v) in f.request_headers {
        client(header_line(k, v));
    }
    client(body_line(f.body));
    if let Some(status) = f.status {
        let reason = axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut server = |text: String| {
            events.push(Event {
                at: answered,
                kind: EventKind::Server(text),
            })
        };
        server(status_line(status, reason));
        // `date` changes every time and says nothing the offsets do not.
        for (k, v) in f
            .response_headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
        {
            server(header_line(k, v));
        }
        if !f.response_body.is_empty() {
            server(body_line(f.response_body.as_bytes()));
        }
    }
    if let Some(e) = f.error {
        events.push(Event {
            at: answered,
            kind: EventKind::Note(clean(e)),
        });
    }
    events.push(Event {
        at: answered,
        kind: EventKind::Note(clean(f.outcome)),
    });
    let answer = match (f.status, f.error) {
        (Some(s), _) => s.to_string(),
        (None, Some(e)) => e.to_string(),
        (None, None) => "no answer".into(),
    };
    let what = format!(
        "{} {} for {}",
        f.kind,
        f.event_id,
        if f.subject_id.is_empty() {
            "the account".to_string()
        } else {
            f.subject_id.to_string()
        }
    );
    Tape {
        comments: vec![clean(&format!(
            "webhook {what}: attempt {} of {} to {}, {answer} in {} ms; {}",
            f.attempt,
            f.of,
            f.url,
            f.latency.as_millis(),
            f.outcome
        ))],
        sessions: vec![Transcript {
            meta: Meta {
                id: f.session,
                mode: "webhook".into(),
                source: clean(&format!("{what}, attempt {} of {}", f.attempt, f.of)),
                listener: WEBHOOK_LISTENER.into(),
                client: "mailtape".into(),
                local: clean(f.url),
                started: rfc3339(f.at),
            },
            events,
            closed_by: Some(Closer::Client),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_reads_back_as_the_same_exchange_and_keeps_no_secret() {
        let headers = vec![
            ("svix-id".to_string(), "msg_1".to_string()),
            ("svix-timestamp".to_string(), "1765103952".to_string()),
            ("svix-signature".to_string(), "v1,abc=".to_string()),
        ];
        let resp = vec![(
            "x-echo".to_string(),
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_string(),
        )];
        let f = AttemptFacts {
            session: 3,
            event_id: "msg_1",
            kind: "email.sent",
            subject_id: "e-1",
            url: "http://127.0.0.1:9/hooks",
            path: "/hooks",
            attempt: 2,
            of: 8,
            at: OffsetDateTime::from_unix_timestamp(1_765_103_952).unwrap(),
            request_headers: &headers,
            body: br#"{"type":"email.sent","data":{"subject":"key re_abcdefgh_12345678901234567890"}}"#,
            status: Some(500),
            error: None,
            latency: Duration::from_millis(4),
            response_headers: &resp,
            response_body: "boom",
            outcome: "retry 3 of 8 at 2025-12-07T10:39:17.000Z",
        };
        let text = attempt_tape(&f).to_text();
        assert!(!text.contains("whsec_C2F"), "{text}");
        assert!(!text.contains("re_abcdefgh_1234"), "{text}");
        let tape = Tape::parse(&text, "t").expect("reads back");
        let t = &tape.sessions[0];
        assert!(crate::tape::http::is_webhook(&t.meta));
        let ex = crate::tape::http::Exchange::from_transcript(t).expect("an exchange");
        assert_eq!(ex.method, "POST");
        assert_eq!(ex.request_header("svix-signature"), Some("v1,abc="));
        let answer = ex.response.expect("answered");
        assert_eq!(
            (answer.status, answer.reason.as_str()),
            (500, "Internal Server Error")
        );
        assert_eq!(answer.body.as_deref(), Some("\"boom\""));
        assert_eq!(stem(&f), "20251207T103912Z-s3-webhook-msg_1-2");
    }
}
