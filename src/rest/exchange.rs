//! Every REST request and its response as a transcript, published through
//! the same sink as SMTP sessions (live view, tapes, inbox, test API):
//!
//! ```text
//! C: POST /emails
//! C: authorization: Bearer <redacted key=re_…8ed6>
//! C: idempotency-key: welcome/42
//! C: {"from":"…","attachments":[{"content":"<2048 bytes elided, sha256 3f0a…>", …}], …}
//! S: 200 OK
//! S: content-type: application/json
//! S: ratelimit-limit: 2
//! S: ratelimit-remaining: 1
//! S: ratelimit-reset: 1
//! S: {"id":"…"}
//! ```
//!
//! The lines are those of every HTTP exchange on tape ([`crate::tape::http`]):
//! the key is never written (only its fingerprint), attachment bodies are
//! elided, and any key left in the JSON is scrubbed like in SMTP transcripts.
//! The rate-limit headers are added here, to every response.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use super::Rest;
use crate::net::http::answer::scrubbed_error;
use crate::net::http::listener::{BodyTimedOut, addresses, body_timeout};
use crate::resend::profile::RestError;
use crate::tape::capture::Capture;
use crate::tape::http;
use crate::tape::{Closer, Meta};

/// The session number of the exchange a handler answers (for its messages).
#[derive(Debug, Clone, Copy)]
pub struct ExchangeId(pub u64);

/// The middleware: numbers the exchange, runs the handler, adds the
/// rate-limit headers, and publishes the transcript.
pub async fn record(State(rest): State<Arc<Rest>>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = rest.shared.next_rest_session();
    let (peer, local) = addresses(&req);
    let meta = Meta {
        id,
        mode: "mock".into(),
        source: format!("{} (REST API)", rest.shared.settings().scenario),
        listener: "http".into(),
        client: peer,
        local,
        started: crate::engine::listener::now_rfc3339(),
    };
    let mut cap = rest.shared.sink().capture(meta, start);
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    cap.client(http::request_line(req.method().as_str(), &target));
    for (name, value) in req.headers() {
        if let Some(line) = http::request_header(name.as_str(), value.as_bytes()) {
            cap.client(line);
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
                if let Some(t) = body_timeout(&e) {
                    cap.note(format!("request body refused: {t}"));
                    let resp = timed_out(&rest, t);
                    return finish(&rest, cap, resp).await;
                }
                cap.note(format!("request body unreadable: {e}"));
                Ok(Bytes::new())
            }
        },
    };
    let resp = match bytes {
        Ok(bytes) => {
            if !bytes.is_empty() {
                cap.client(http::body_line(&bytes));
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
    finish(&rest, cap, resp).await
}

/// The answer to a body that fell behind its deadline: 408, and the
/// connection closes (the rest of the body is not read).
fn timed_out(rest: &Rest, t: &BodyTimedOut) -> Response {
    let stall = format!("{} s", t.stall.as_secs_f64());
    let rate = t.rate.to_string();
    let mut resp = rest.error("body_timeout", &[("stall", &stall), ("rate", &rate)]);
    resp.headers_mut().insert(
        axum::http::header::CONNECTION,
        HeaderValue::from_static("close"),
    );
    resp
}

/// Adds the rate-limit headers, waits the scenario's delay, and records the
/// answer before it leaves.
async fn finish(rest: &Rest, mut cap: Capture, mut resp: Response) -> Response {
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
    // The team's usage: recipients sent today and this month (the used
    // counts, not what is left).
    let (day, month) = rest
        .shared
        .usage()
        .used(crate::resend::account::Day::today());
    let h = resp.headers_mut();
    h.insert("x-resend-daily-quota", HeaderValue::from(day));
    h.insert("x-resend-monthly-quota", HeaderValue::from(month));
    let delay = rest.shared.settings().behaviour.reply_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let status = resp.status();
    cap.server(http::status_line(
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
    ));
    for (name, value) in resp.headers() {
        if let Some(line) = http::response_header(name.as_str(), value.as_bytes()) {
            cap.server(line);
        }
    }
    let (mut parts, body) = resp.into_parts();
    let mut out = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let is_json = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() >= 400 && !is_json {
        // An extractor's rejection (a path that is not UTF-8, a missing
        // Content-Type) is plain text: the API always answers its shape.
        let shaped = super::error_response(RestError {
            status: status.as_u16(),
            name: if status.is_server_error() {
                "internal_server_error"
            } else {
                "validation_error"
            }
            .into(),
            message: String::from_utf8_lossy(&out).trim().to_string(),
        });
        let (p, b) = shaped.into_parts();
        parts.headers.extend(p.headers);
        out = axum::body::to_bytes(b, usize::MAX)
            .await
            .unwrap_or_default();
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    }
    // An email read back holds what was sent, keys included; like the
    // mailbox's .eml, the answer carries them redacted; an error answer
    // quotes the request, percent-encoded paths included. A new key's token
    // is the one secret the client is meant to get (the transcript below
    // still shows only its fingerprint).
    let on_purpose = parts
        .extensions
        .get::<super::account::CarriesSecret>()
        .is_some();
    let clean = if on_purpose {
        None
    } else if status.as_u16() >= 400 {
        scrubbed_error(&out)
    } else {
        scrubbed_json(&out)
    };
    if let Some(clean) = clean {
        out = Bytes::from(clean);
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    }
    if !out.is_empty() {
        cap.server(http::body_line(&out));
    }
    rest.shared.sink().finish(cap, Closer::Server);
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

/// `bytes` again with every key in its strings redacted, if it is JSON that
/// held one.
fn scrubbed_json(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut v = serde_json::from_slice::<Value>(bytes).ok()?;
    http::scrub_json(&mut v).then(|| v.to_string().into_bytes())
}
