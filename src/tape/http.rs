//! An HTTP exchange as a transcript: the REST door's kind of session, next
//! to SMTP's. One request and its answer, in the lines every tape, live view
//! and inbox already knows:
//!
//! ```text
//! ## session 1000001 · mode record · source https://api.resend.com (REST API) · listener http · …
//! +0.000 C: POST /emails
//! +0.000 C: authorization: Bearer <redacted key=re_…8ed6>
//! +0.000 C: content-type: application/json
//! +0.000 C: {"from":"billing@acme.com","to":["a@b.co"],"subject":"Hi","html":"<p>Hi</p>"}
//! +0.183 S: 422 Unprocessable Entity
//! +0.183 S: content-type: application/json
//! +0.183 S: {"statusCode":422,"name":"validation_error","message":"…"}
//! *: closed by server
//! ```
//!
//! The client's lines are the request line, the headers worth keeping
//! ([`REQUEST_HEADERS`]) and the body; the server's the status line, the
//! headers worth keeping ([`is_kept_response_header`]) and the body. A body
//! is one line of JSON: the body itself when it is JSON (kept as sent, its
//! whitespace outside strings removed), else a JSON string holding its text.
//! So a header (`name: value`) and a body can never be confused: a line that
//! reads as JSON is the body.
//!
//! Redaction happens here, at capture, as for SMTP: the bearer key becomes
//! its fingerprint, a key anywhere (a header, the query, percent-encoded, a
//! JSON string or object key, base64) is scrubbed, and attachment contents
//! are elided with their size and hash.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value;

use super::redact::{redact_secret, scrub};
use super::{EventKind, Meta, Transcript};

/// Request headers a tape keeps (the rest is transport noise). The key in
/// `authorization` is kept as its fingerprint only.
pub const REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "idempotency-key",
    "x-batch-validation",
    "user-agent",
];

/// Whether a response header is kept on tape (and so replayed): what an
/// app or SDK reads of Resend's answers.
pub fn is_kept_response_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "content-type" | "retry-after" | "location")
        || n.starts_with("ratelimit-")
        || n.starts_with("x-ratelimit-")
        || n.starts_with("x-resend-")
}

/// A body larger than this is kept as its size and hash (a tape line is at
/// most 1 MiB; Resend's answers are far smaller).
pub const MAX_KEPT_HTTP_BODY: usize = 512 * 1024;

/// Whether a transcript is an HTTP exchange (captured on the REST door)
/// rather than an SMTP session: its listener is `http` or `https`.
pub fn is_http(meta: &Meta) -> bool {
    let l = meta.listener.to_ascii_lowercase();
    l == "http" || l == "https"
}

/// Whether a transcript is a webhook delivery attempt: an HTTP exchange
/// mailtape made as the client (`listener webhook`), written to `--tapes`
/// for the reader. Nothing replays it: the REST door answers only
/// [`is_http`] exchanges, and SMTP replay plays only SMTP sessions.
pub fn is_webhook(meta: &Meta) -> bool {
    meta.listener.eq_ignore_ascii_case(WEBHOOK_LISTENER)
}

/// The `listener` of a webhook attempt's transcript.
pub const WEBHOOK_LISTENER: &str = "webhook";

/// Whether a transcript has an HTTP exchange's shape (one request, its
/// answer): a REST exchange or a webhook attempt.
pub fn is_exchange(meta: &Meta) -> bool {
    is_http(meta) || is_webhook(meta)
}

/// The request line as a tape holds it: the method and the target with any
/// key scrubbed, in the clear or percent-encoded (`re%5F…`).
pub fn request_line(method: &str, target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    // Each segment on its own: a path is letters and slashes, which base64
    // is made of too, and a key found in it must not swallow the path.
    let mut out: Vec<String> = path.split('/').map(scrub_part).collect();
    let mut line = format!("{method} {}", out.join("/"));
    if let Some(q) = query {
        out = q.split('&').map(scrub_part).collect();
        line.push('?');
        line.push_str(&out.join("&"));
    }
    super::printable::printable(&line)
}

/// A part of a target, scrubbed: when a key is there (in the clear or
/// percent-encoded, `re%5F…`), the decoded form, scrubbed, is what is kept.
fn scrub_part(part: &str) -> String {
    let decoded = percent_decode(part);
    match scrub(&decoded) {
        Cow::Owned(clean) => clean,
        Cow::Borrowed(_) => scrub(part).into_owned(),
    }
}

/// A kept request header as a tape line, redacted; `None` for a header not
/// kept.
pub fn request_header(name: &str, value: &[u8]) -> Option<String> {
    let name = name.to_ascii_lowercase();
    if !REQUEST_HEADERS.contains(&name.as_str()) {
        return None;
    }
    let value = if name == "authorization" {
        redact_authorization(value)
    } else {
        scrub(&String::from_utf8_lossy(value)).into_owned()
    };
    Some(super::printable::printable(&format!("{name}: {value}")))
}

/// A kept response header as a tape line, scrubbed; `None` for one not kept.
pub fn response_header(name: &str, value: &[u8]) -> Option<String> {
    if !is_kept_response_header(name) {
        return None;
    }
    let value = String::from_utf8_lossy(value);
    Some(super::printable::printable(&format!(
        "{}: {}",
        name.to_ascii_lowercase(),
        scrub(&value)
    )))
}

/// The status line: `422 Unprocessable Entity`.
pub fn status_line(status: u16, reason: &str) -> String {
    if reason.is_empty() {
        status.to_string()
    } else {
        format!("{status} {reason}")
    }
}

/// `Bearer <redacted key=re_…8ed6>`: the scheme and a fingerprint only.
pub fn redact_authorization(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    match text.trim().split_once(' ') {
        Some((scheme, key)) => format!(
            "{scheme} <redacted key={}>",
            redact_secret(key.trim().as_bytes())
        ),
        None => format!("<redacted {}>", redact_secret(text.trim().as_bytes())),
    }
}

/// A body as its tape line (see the module doc): JSON as sent, compacted,
/// unless redaction changed it; any other text as a JSON string. A webhook
/// signing secret (`POST /webhooks` answers one) is kept as `whsec_…`.
pub fn body_line(bytes: &[u8]) -> String {
    let line = key_scrubbed_body_line(bytes);
    match super::redact::redact_webhook_secrets(&line) {
        Cow::Borrowed(_) => line,
        Cow::Owned(clean) => clean,
    }
}

fn key_scrubbed_body_line(bytes: &[u8]) -> String {
    if bytes.len() > MAX_KEPT_HTTP_BODY {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        let hex: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        return Value::String(format!("<body of {} bytes, sha256 {hex}…>", bytes.len()))
            .to_string();
    }
    if let Ok(mut v) = serde_json::from_slice::<Value>(bytes) {
        let elided = elide_attachments(&mut v);
        let scrubbed = scrub_json(&mut v);
        if !elided
            && !scrubbed
            && let Ok(text) = std::str::from_utf8(bytes)
        {
            let compact = compact_json(text);
            // A key the string-by-string pass could not see (split by an
            // escape) is still caught on the whole text.
            if let Cow::Borrowed(_) = scrub(&compact) {
                return compact;
            }
        }
        return scrub(&v.to_string()).into_owned();
    }
    let text = String::from_utf8_lossy(bytes);
    Value::String(scrub(&text).into_owned()).to_string()
}

/// The bytes a body line stands for: the JSON itself, or the text of a JSON
/// string when the exchange's content type is not JSON.
pub fn body_bytes(line: &str, content_type: Option<&str>) -> Vec<u8> {
    let json = content_type.is_none_or(|c| c.to_ascii_lowercase().contains("json"));
    if !json && let Ok(Value::String(text)) = serde_json::from_str::<Value>(line) {
        return text.into_bytes();
    }
    line.as_bytes().to_vec()
}

/// JSON text without the whitespace outside strings: key order, numbers
/// and escapes exactly as sent.
pub fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// Scrubs every string and object key of `v` on its own: in the JSON text a
/// key after an escape (`"line\nre_…"`) is not at a word boundary and would
/// be missed. Whether anything changed.
pub fn scrub_json(v: &mut Value) -> bool {
    match v {
        Value::String(s) => match scrub(s) {
            Cow::Owned(clean) => {
                *s = clean;
                true
            }
            Cow::Borrowed(_) => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |c, i| scrub_json(i) | c),
        Value::Object(map) => {
            let dirty: Vec<String> = map
                .keys()
                .filter(|k| matches!(scrub(k), Cow::Owned(_)))
                .cloned()
                .collect();
            for k in &dirty {
                if let Some(val) = map.remove(k) {
                    map.insert(scrub(k).into_owned(), val);
                }
            }
            map.values_mut()
                .fold(!dirty.is_empty(), |c, i| scrub_json(i) | c)
        }
        _ => false,
    }
}

/// Replaces each attachment's `content` with its size and hash
/// (`<2048 bytes elided, sha256 3f0a…>`), in one email or a batch. Whether
/// anything changed.
pub fn elide_attachments(v: &mut Value) -> bool {
    match v {
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |c, i| elide_attachments(i) | c),
        Value::Object(map) => {
            let mut changed = false;
            if let Some(Value::Array(atts)) = map.get_mut("attachments") {
                for a in atts {
                    if let Some(c) = a.get_mut("content")
                        && !is_elided(c)
                    {
                        let text = match &*c {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
                        let hex: String = digest.as_ref()[..8]
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                        *c = Value::String(format!("<{} bytes elided, sha256 {hex}…>", text.len()));
                        changed = true;
                    }
                }
            }
            changed
        }
        _ => false,
    }
}

fn is_elided(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with('<') && s.contains(" bytes elided"))
}

/// `%XX` decoded (invalid escapes kept as they are), lossily as UTF-8.
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    String::from_utf8_lossy(&super::params::percent_decode(s.as_bytes())).into_owned()
}

/// Redaction on read, for an exchange written or edited by hand: every
/// line scrubbed, JSON bodies string by string, an `authorization` header
/// down to its fingerprint. What capture wrote comes out unchanged.
pub(crate) fn redact_read(events: &mut [super::Event]) {
    for e in events {
        match &mut e.kind {
            EventKind::Client(t) | EventKind::Server(t) => {
                if let Some(v) = t.strip_prefix("authorization: ")
                    && !v.contains("<redacted")
                {
                    *t = format!("authorization: {}", redact_authorization(v.as_bytes()));
                } else if is_json(t) {
                    let mut v: Value = match serde_json::from_str(t) {
                        Ok(v) => v,
                        Err(_) => continue,
                    };
                    if scrub_json(&mut v) {
                        *t = v.to_string();
                    }
                }
                if let Cow::Owned(clean) = scrub(t) {
                    *t = super::printable::printable(&clean);
                }
                if let Cow::Owned(clean) = super::redact::redact_webhook_secrets(t) {
                    *t = clean;
                }
            }
            EventKind::Data(t) | EventKind::Note(t) | EventKind::Comment(t) => {
                if let Cow::Owned(clean) = scrub(t) {
                    *t = super::printable::printable(&clean);
                }
                if let Cow::Owned(clean) = super::redact::redact_webhook_secrets(t) {
                    *t = clean;
                }
            }
        }
    }
}

/// One HTTP exchange read from a transcript: what replay answers from, and
/// what `show` and the inbox describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path and query, as on the tape.
    pub target: String,
    /// Request headers kept on tape, names in lower case.
    pub request_headers: Vec<(String, String)>,
    /// The request body line (JSON text), if any.
    pub request_body: Option<String>,
    /// When the request came (its first line's offset).
    pub requested_at: Option<Duration>,
    /// The answer, if the tape has one.
    pub response: Option<Answer>,
}

/// The server's side of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The reason phrase as recorded.
    pub reason: String,
    /// Response headers kept on tape, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body line (JSON text), if any.
    pub body: Option<String>,
    /// When the answer came (its status line's offset).
    pub at: Option<Duration>,
}

impl Answer {
    /// The header `name` (lower case), if the answer has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body as bytes to send (see [`body_bytes`]).
    pub fn body_bytes(&self) -> Vec<u8> {
        self.body
            .as_deref()
            .map(|b| body_bytes(b, self.header("content-type")))
            .unwrap_or_default()
    }

    /// Resend's error `name`, `message` and `statusCode`, when the body is
    /// one of its errors.
    pub fn resend_error(&self) -> Option<(String, String)> {
        resend_error(self.body.as_deref()?)
    }
}

/// `name` and `message` of a body shaped as Resend's errors
/// (`{"statusCode","name","message"}`).
pub fn resend_error(body: &str) -> Option<(String, String)> {
    if !body.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(body).ok()?;
    let name = v.get("name")?.as_str()?;
    let message = v.get("message")?.as_str()?;
    v.get("statusCode")?;
    Some((name.to_string(), message.to_string()))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Exchange {
    /// The request header `name`, if kept.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        header(&self.request_headers, name)
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }

    /// Reads an exchange from a transcript's events. On error: the index of
    /// the event at fault (or the number of events, for a missing line) and
    /// what was expected there.
    pub fn from_transcript(t: &Transcript) -> Result<Exchange, (usize, String)> {
        #[derive(PartialEq)]
        enum At {
            Start,
            RequestHeaders,
            RequestBody,
            ResponseHeaders,
            ResponseBody,
        }
        let mut at = At::Start;
        let mut ex = Exchange {
            method: String::new(),
            target: String::new(),
            request_headers: Vec::new(),
            request_body: None,
            requested_at: None,
            response: None,
        };
        for (i, e) in t.events.iter().enumerate() {
            match &e.kind {
                EventKind::Comment(_) | EventKind::Note(_) => {}
                EventKind::Data(_) => {
                    return Err((
                        i,
                        "`C:`, `S:`, `*:` or `#` lines in a REST exchange (no `D:`)".into(),
                    ));
                }
                EventKind::Client(line) => match at {
                    At::Start => {
                        let (method, target) = parse_request_line(line).ok_or((
                            i,
                            "an HTTP request line such as `POST /emails` (a method in capitals, a space, a path from `/`)".to_string(),
                        ))?;
                        ex.method = method;
                        ex.target = target;
                        ex.requested_at = e.at;
                        at = At::RequestHeaders;
                    }
                    At::RequestHeaders if is_json(line) => {
                        ex.request_body = Some(line.clone());
                        at = At::RequestBody;
                    }
                    At::RequestHeaders => {
                        let h = parse_header(line).ok_or((
                            i,
                            "a request header `name: value` or the body as one line of JSON"
                                .to_string(),
                        ))?;
                        ex.request_headers.push(h);
                    }
                    At::RequestBody => {
                        return Err((
                            i,
                            "the answer's status line (`S: 200 OK`) after the request body: a body is one line of JSON".into(),
                        ));
                    }
                    _ => {
                        return Err((
                            i,
                            "no client line after the answer: one request per exchange (start a new `## session`)".into(),
                        ));
                    }
                },
                EventKind::Server(line) => match at {
                    At::Start => {
                        return Err((i, "the request line (`C: POST /emails`) first".into()));
                    }
                    At::RequestHeaders | At::RequestBody => {
                        let (status, reason) = parse_status_line(line).ok_or((
                            i,
                            "an HTTP status line: three digits from 100 to 599, then the reason"
                                .to_string(),
                        ))?;
                        ex.response = Some(Answer {
                            status,
                            reason,
                            headers: Vec::new(),
                            body: None,
                            at: e.at,
                        });
                        at = At::ResponseHeaders;
                    }
                    At::ResponseHeaders => {
                        let Some(answer) = ex.response.as_mut() else {
                            continue;
                        };
                        if is_json(line) {
                            answer.body = Some(line.clone());
                            at = At::ResponseBody;
                        } else {
                            answer.headers.push(parse_header(line).ok_or((
                                i,
                                "a response header `name: value` or the body as one line of JSON"
                                    .to_string(),
                            ))?);
                        }
                    }
                    At::ResponseBody => {
                        return Err((
                            i,
                            "the end of the exchange after the response body: a body is one line of JSON".into(),
                        ));
                    }
                },
            }
        }
        if at == At::Start {
            return Err((
                t.events.len(),
                "an HTTP request line such as `C: POST /emails`".into(),
            ));
        }
        Ok(ex)
    }
}

fn is_json(line: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(line).is_ok()
}

fn parse_request_line(line: &str) -> Option<(String, String)> {
    let (method, target) = line.split_once(' ')?;
    // The target may hold a redacted key's stand-in, spaces and all.
    let ok = !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && target.starts_with('/');
    ok.then(|| (method.to_string(), target.to_string()))
}

fn parse_status_line(line: &str) -> Option<(u16, String)> {
    let (code, reason) = line.split_once(' ').unwrap_or((line, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let status: u16 = code.parse().ok()?;
    (100..=599)
        .contains(&status)
        .then(|| (status, reason.to_string()))
}

fn parse_header(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once(':')?;
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    token.then(|| (name.to_ascii_lowercase(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::Tape;

    #[test]
    fn bodies_are_json_lines_kept_as_sent() {
        let sent = "{\"z\": 1,\n  \"a\": \"x y\\\" z\"}";
        assert_eq!(body_line(sent.as_bytes()), "{\"z\":1,\"a\":\"x y\\\" z\"}");
        assert_eq!(
            body_line(b"<html>oops: no</html>"),
            "\"<html>oops: no</html>\""
        );
        assert_eq!(
            body_bytes("\"<html>x</html>\"", Some("text/html")),
            b"<html>x</html>"
        );
        assert_eq!(body_bytes("\"s\"", Some("application/json")), b"\"s\"");
        let key = "re_Secret1234_abcd";
        let with_key = format!(r#"{{"text":"hi\n{key}","{key}":1}}"#);
        let shown = body_line(with_key.as_bytes());
        assert!(!shown.contains("Secret1234"), "{shown}");
        let att = br#"{"attachments":[{"filename":"a.pdf","content":"QUJDRA=="}]}"#;
        let shown = body_line(att);
        assert!(shown.contains("<8 bytes elided, sha256 "), "{shown}");
        assert!(!shown.contains("QUJDRA=="), "{shown}");
        // elided once, never again (a tape read back is left as it is)
        let mut v: Value = serde_json::from_str(&shown).unwrap();
        assert!(!elide_attachments(&mut v));
    }

    #[test]
    fn keys_in_targets_and_headers() {
        let key = "re_Secret1234_abcd";
        for target in [
            format!("/emails?key={key}"),
            "/emails?key=re%5FSecret1234%5Fabcd".to_string(),
        ] {
            let line = request_line("GET", &target);
            assert!(!line.contains("Secret1234"), "{line}");
            assert!(line.starts_with("GET /emails?key=re_…"), "{line}");
        }
        assert_eq!(
            request_line("GET", "/emails?limit=2"),
            "GET /emails?limit=2"
        );
        let auth = request_header("Authorization", format!("Bearer {key}").as_bytes()).unwrap();
        assert!(
            auth.starts_with("authorization: Bearer <redacted key=re_…"),
            "{auth}"
        );
        assert!(request_header("cookie", b"x").is_none());
        let h = request_header("idempotency-key", key.as_bytes()).unwrap();
        assert!(!h.contains("Secret"), "{h}");
        assert!(response_header("set-cookie", b"a=b").is_none());
        assert_eq!(
            response_header("Retry-After", b"1").as_deref(),
            Some("retry-after: 1")
        );
    }

    #[test]
    fn exchanges_read_from_tapes() {
        let text = "# mailtape tape v1\n\n## session 1000001 · listener http\n\
            +0.000 C: POST /emails\n+0.000 C: authorization: Bearer <redacted key=re_…8ed6>\n\
            +0.000 C: {\"from\":\"a@b.co\"}\n+0.100 S: 429 Too Many Requests\n\
            +0.100 S: retry-after: 1\n+0.100 S: {\"statusCode\":429,\"name\":\"rate_limit_exceeded\",\"message\":\"slow\"}\n\
            *: closed by server\n";
        let tape = Tape::parse(text, "t").unwrap();
        let ex = Exchange::from_transcript(&tape.sessions[0]).unwrap();
        assert_eq!((ex.method.as_str(), ex.path()), ("POST", "/emails"));
        assert_eq!(ex.request_body.as_deref(), Some("{\"from\":\"a@b.co\"}"));
        let a = ex.response.unwrap();
        assert_eq!((a.status, a.header("retry-after")), (429, Some("1")));
        assert_eq!(
            a.resend_error(),
            Some(("rate_limit_exceeded".into(), "slow".into()))
        );
        assert_eq!(tape.to_text(), text);
    }

    #[test]
    fn broken_exchanges_name_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("C: post /emails\n", 4, "an HTTP request line"),
            ("C: POST /emails\nC: not a header\n", 5, "a request header"),
            (
                "C: POST /emails\nC: {}\nC: {}\n",
                6,
                "after the request body",
            ),
            ("C: POST /emails\nS: 2000 OK\n", 5, "an HTTP status line"),
            (
                "C: POST /emails\nS: 200 OK\nS: {}\nS: x: y\n",
                7,
                "the end of the exchange",
            ),
            (
                "C: POST /emails\nS: 200 OK\nC: GET /emails\n",
                6,
                "one request per exchange",
            ),
            ("C: POST /emails\nD: hi\n", 5, "no `D:`"),
        ];
        for (body, line, expected) in cases {
            let text = format!("# mailtape tape v1\n\n## session 1 · listener http\n{body}");
            let e = Tape::parse(&text, "bad.tape").unwrap_err();
            assert_eq!(e.line, *line, "{body:?}: {e}");
            assert!(e.expected.contains(expected), "{body:?}: {e}");
        }
    }
}
