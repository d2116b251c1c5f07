//! What leaves an HTTP listener of mailtape: an error answer often quotes the
//! request (a path, a query, a scenario name, a JSON parse error, a Host),
//! and the request may hold a key. Every answer of status 400 or more is
//! scrubbed here, whatever route made it (issue 25), so a new route cannot
//! forget to; a JSON answer string by string.

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::tape::http::percent_decode;
use crate::tape::redact::scrub;

/// The largest error answer read back to be scrubbed; error answers are a
/// line or two, so a larger one is not an error text and is left as it is.
const MOST: u64 = 1 << 20;

/// `res` with its body scrubbed of keys, if it is an error answer.
pub async fn scrub_error(res: Response) -> Response {
    if res.status().as_u16() < 400 {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    if hyper::body::Body::size_hint(&body)
        .upper()
        .is_none_or(|n| n > MOST)
    {
        return Response::from_parts(parts, body);
    }
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, Body::from("mailtape: the answer failed\n"));
    };
    let bytes = collected.to_bytes();
    let out = match scrubbed_error(&bytes) {
        Some(clean) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Bytes::from(clean)
        }
        None => bytes,
    };
    Response::from_parts(parts, Body::from(out))
}

/// An error answer's `bytes` with every key redacted (percent-encoded ones
/// too), if it held one: JSON string by string, anything else as text.
pub fn scrubbed_error(bytes: &[u8]) -> Option<Vec<u8>> {
    if let Ok(mut v) = serde_json::from_slice::<Value>(bytes) {
        return scrub_strings(&mut v).then(|| v.to_string().into_bytes());
    }
    let text = String::from_utf8_lossy(bytes);
    if let Some(clean) = scrub_decoded(&text) {
        return Some(clean.into_bytes());
    }
    match scrub(&text) {
        Cow::Owned(clean) => Some(clean.into_bytes()),
        Cow::Borrowed(_) if matches!(text, Cow::Owned(_)) => Some(text.into_owned().into_bytes()),
        Cow::Borrowed(_) => None,
    }
}

/// `text` percent-decoded and scrubbed, if the decoding shows a key: an
/// answer or a request line quotes a path as sent (`re%5F…`), and the key
/// is one `%5F` away from plain sight.
fn scrub_decoded(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let decoded = percent_decode(text);
    match scrub(&decoded) {
        Cow::Owned(clean) => Some(clean),
        Cow::Borrowed(_) => None,
    }
}

/// Scrubs every string and object key of `v` on its own, each also
/// percent-decoded (`tape::http::scrub_json` does the same without the
/// decoding, for what is not an error answer). Whether anything changed.
fn scrub_strings(v: &mut Value) -> bool {
    let one = |s: &str| -> Option<String> {
        if let Some(clean) = scrub_decoded(s) {
            return Some(clean);
        }
        match scrub(s) {
            Cow::Owned(clean) => Some(clean),
            Cow::Borrowed(_) => None,
        }
    };
    match v {
        Value::String(s) => match one(s) {
            Some(clean) => {
                *s = clean;
                true
            }
            None => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |c, i| scrub_strings(i) | c),
        Value::Object(map) => {
            let dirty: Vec<(String, String)> = map
                .keys()
                .filter_map(|k| one(k).map(|clean| (k.clone(), clean)))
                .collect();
            for (k, clean) in &dirty {
                if let Some(val) = map.remove(k) {
                    map.insert(clean.clone(), val);
                }
            }
            map.values_mut()
                .fold(!dirty.is_empty(), |c, i| scrub_strings(i) | c)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "re_Secret1234_abcdEFGH";

    #[test]
    fn json_and_text_answers_lose_their_keys() {
        let json = format!(r#"{{"error":"no session {KEY}","x":["line\n{KEY}"]}}"#);
        let out =
            String::from_utf8(scrubbed_error(json.as_bytes()).expect("changed")).expect("utf8");
        assert!(!out.contains("Secret1234"), "{out}");
        assert!(out.contains("no session re_…"), "{out}");
        let text = format!("Failed to deserialize: unknown field `{KEY}`");
        let out =
            String::from_utf8(scrubbed_error(text.as_bytes()).expect("changed")).expect("utf8");
        assert!(!out.contains("Secret1234"), "{out}");
        assert!(scrubbed_error(br#"{"error":"nothing"}"#).is_none());
        assert!(scrubbed_error(b"plain").is_none());
        let pct = KEY.replace('_', "%5F");
        let out = scrubbed_error(format!(r#"{{"message":"not on /emails/{pct}."}}"#).as_bytes());
        let out = String::from_utf8(out.expect("changed")).expect("utf8");
        assert!(!out.contains("Secret1234"), "{out}");
        assert!(scrubbed_error(b"100%25 fine").is_none());
    }
}
