//! Every REST request and its response as a transcript, published through
//! the same sink as SMTP sessions (live view, tapes, inbox, test API):
//!
//! ```text
//! C: POST /emails
//! C: authorization: Bearer <redacted key=re_…8ed6>
//! C: idempotency-key: welcome/42
//! C: {"from":"…","attachments":[{"content":"<2048 bytes elided>", …}], …}
//! S: 200 OK
//! S: ratelimit-limit: 2
//! S: ratelimit-remaining: 1
//! S: ratelimit-reset: 1
//! S: {"id":"…"}
//! ```
//!
//! The key is never written (only its fingerprint), attachment bodies are
//! elided, and any key left in the JSON is scrubbed like in SMTP transcripts.
//! The rate-limit headers are added here, to every response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use super::Rest;
use crate::tape::capture::Capture;
use crate::tape::redact::{redact_secret, redact_webhook_secrets, scrub};
use crate::tape::{Closer, Meta};

/// The session number of the exchange a handler answers (for its messages).
#[derive(Debug, Clone, Copy)]
pub struct ExchangeId(pub u64);

/// Request headers worth keeping in the transcript (others are noise).
const KEPT_HEADERS: &[&str] = &["idempotency-key", "x-batch-validation", "content-type"];

/// The middleware: numbers the exchange, runs the handler, adds the
/// rate-limit headers, and publishes the transcript.
pub async fn record(State(rest): State<Arc<Rest>>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = rest.shared.next_rest_session();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let meta = Meta {
        id,
        mode: "mock".into(),
        source: format!("{} (REST API)", rest.shared.settings().scenario),
        listener: "http".into(),
        client: peer,
        local: host,
        started: crate::engine::listener::now_rfc3339(),
    };
    let mut cap = Capture::new(rest.shared.sink().clone(), meta, start);
    let line = match req.uri().query() {
        Some(q) => format!("{} {}?{}", req.method(), req.uri().path(), q),
        None => format!("{} {}", req.method(), req.uri().path()),
    };
    cap.client(scrub(&line).into_owned());
    if let Some(auth) = req.headers().get("authorization") {
        cap.client(format!("authorization: {}", redact_auth(auth.as_bytes())));
    }
    for name in KEPT_HEADERS {
        if let Some(v) = req.headers().get(*name) {
            let v = String::from_utf8_lossy(v.as_bytes());
            cap.client(format!("{name}: {}", scrub(&v)));
        }
    }
    // The body is read here to be shown, then handed on unchanged; never
    // more than the API takes, or a careless upload would all be buffered
    // before the handler's own limit refused it.
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let bytes = match declared {
        Some(n) if n > super::BODY_LIMIT as u64 => Err(n.to_string()),
        _ => match axum::body::to_bytes(body, super::BODY_LIMIT).await {
            Ok(b) => Ok(b),
            Err(e) if is_too_large(&e) => Err(format!("more than {}", super::BODY_LIMIT)),
            Err(e) => {
                cap.note(format!("request body unreadable: {e}"));
                Ok(Bytes::new())
            }
        },
    };
    let mut resp = match bytes {
        Ok(bytes) => {
            if !bytes.is_empty() {
                cap.client(shown_json(&bytes));
            }
            req = Request::from_parts(parts, Body::from(bytes));
            req.extensions_mut().insert(ExchangeId(id));
            next.run(req).await
        }
        Err(size) => {
            cap.note(format!("request body of {size} bytes refused unread"));
            rest.error(
                "body_too_large",
                &[("max", &format!("{} MB", super::BODY_LIMIT >> 20))],
            )
        }
    };
    if let Some(w) = rest
        .shared
        .usage()
        .rate_window(&rest.shared.settings().limits, Instant::now())
    {
        let h = resp.headers_mut();
        h.insert("ratelimit-limit", HeaderValue::from(w.limit));
        h.insert("ratelimit-remaining", HeaderValue::from(w.remaining));
        h.insert("ratelimit-reset", HeaderValue::from(w.reset_secs));
    }
    let delay = rest.shared.settings().behaviour.reply_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let status = resp.status();
    cap.server(format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    ));
    for name in [
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
    ] {
        if let Some(v) = resp.headers().get(name) {
            cap.server(format!("{name}: {}", String::from_utf8_lossy(v.as_bytes())));
        }
    }
    let (mut parts, body) = resp.into_parts();
    let mut out = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    // An email read back holds what was sent, keys included; like the
    // mailbox's .eml, the answer carries them redacted.
    if let Some(clean) = scrubbed_json(&out) {
        out = Bytes::from(clean);
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    }
    if !out.is_empty() {
        cap.server(shown_json(&out));
    }
    cap.finish(Closer::Server);
    Response::from_parts(parts, Body::from(out))
}

/// Whether reading a body failed on its length limit (axum's error wraps
/// http-body-util's `LengthLimitError`).
fn is_too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// `Bearer <redacted key=re_…8ed6>`: the scheme and a fingerprint only.
fn redact_auth(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    match text.split_once(' ') {
        Some((scheme, key)) => format!(
            "{scheme} <redacted key={}>",
            redact_secret(key.trim().as_bytes())
        ),
        None => format!("<redacted {}>", redact_secret(value)),
    }
}

/// A JSON body on one line with attachment contents elided and any key
/// scrubbed; a body that is not JSON is shown as text, scrubbed.
pub fn shown_json(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            elide_attachments(&mut v);
            scrub_strings(&mut v);
            redact_webhook_secrets(&scrub(&v.to_string())).into_owned()
        }
        Err(_) => redact_webhook_secrets(&scrub(&String::from_utf8_lossy(bytes))).into_owned(),
    }
}

/// `bytes` again with every key in its strings redacted, if it is JSON that
/// held one.
fn scrubbed_json(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut v = serde_json::from_slice::<Value>(bytes).ok()?;
    scrub_strings(&mut v).then(|| v.to_string().into_bytes())
}

/// Scrubs every string and object key of `v` on its own: in the JSON text a
/// key after an escape (`"line\nre_…"`) is not at a word boundary and would
/// be missed. Whether anything changed.
fn scrub_strings(v: &mut Value) -> bool {
    match v {
        Value::String(s) => match scrub(s) {
            std::borrow::Cow::Owned(clean) => {
                *s = clean;
                true
            }
            std::borrow::Cow::Borrowed(_) => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |c, i| scrub_strings(i) | c),
        Value::Object(map) => {
            let dirty: Vec<String> = map
                .keys()
                .filter(|k| matches!(scrub(k), std::borrow::Cow::Owned(_)))
                .cloned()
                .collect();
            for k in &dirty {
                if let Some(val) = map.remove(k) {
                    map.insert(scrub(k).into_owned(), val);
                }
            }
            map.values_mut()
                .fold(!dirty.is_empty(), |c, i| scrub_strings(i) | c)
        }
        _ => false,
    }
}

fn elide_attachments(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(elide_attachments),
        Value::Object(map) => {
            if let Some(Value::Array(atts)) = map.get_mut("attachments") {
                for a in atts {
                    if let Some(c) = a.get_mut("content") {
                        let n = match &*c {
                            Value::String(s) => s.len(),
                            other => other.to_string().len(),
                        };
                        *c = Value::String(format!("<{n} bytes elided>"));
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_attachments_never_shown() {
        let body = br#"{"from":"a@b.co","text":"re_Secret1234_abcd","attachments":[{"filename":"x.pdf","content":"QUJDRA=="}]}"#;
        let shown = shown_json(body);
        assert!(!shown.contains("re_Secret1234_abcd"), "{shown}");
        assert!(!shown.contains("QUJDRA=="), "{shown}");
        assert!(shown.contains("<8 bytes elided>"), "{shown}");
        let batch = br#"[{"attachments":[{"content":"QUJD"}]}]"#;
        assert!(shown_json(batch).contains("<4 bytes elided>"));
        let auth = redact_auth(b"Bearer re_Secret1234_abcd");
        assert!(auth.starts_with("Bearer <redacted key=re_"), "{auth}");
        assert!(!auth.contains("Secret"));
    }
}
