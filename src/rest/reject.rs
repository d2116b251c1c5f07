//! Malformed requests, answered in one place and in Resend's JSON error
//! shape (`{"statusCode","name","message"}`), never axum's plain-text
//! rejections or an empty body: path ids that are not UUIDs (or not even
//! UTF-8: `/emails/%ff%fe`), paging parameters out of range, unknown paths
//! and methods. Every handler reads its ids and paging through here, so
//! the REST door and anything merged into it answer alike.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use axum::response::Response;
use serde_json::Value;

use super::Rest;

/// The path parameters of a request, in order; `None` when they could not
/// be read (not UTF-8 once percent-decoded). Never rejects: the handler
/// answers after it has checked the key, as Resend does.
pub struct Ids(Option<Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Ids, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .map(|p| p.iter().map(|(_, v)| v.to_string()).collect());
        Ok(Ids(params))
    }
}

/// Whether `s` is a UUID in its canonical text form (any version).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Rest {
    /// The `index`-th path parameter, named `param` in errors: a UUID, or
    /// Resend's `invalid_parameter`.
    #[allow(clippy::result_large_err)]
    pub fn uuid(&self, ids: &Ids, index: usize, param: &str) -> Result<String, Response> {
        match ids.0.as_ref().and_then(|v| v.get(index)) {
            Some(id) if is_uuid(id) => Ok(id.to_ascii_lowercase()),
            _ => Err(self.error("invalid_parameter", &[("param", param)])),
        }
    }

    /// `limit`, `after` and `before` from a query, as Resend checks them.
    #[allow(clippy::result_large_err)]
    pub fn paging(&self, uri: &Uri) -> Result<Paging, Response> {
        let bad = |param: &str, why: &str| {
            self.error("invalid_paging", &[("param", param), ("why", why)])
        };
        let mut p = Paging {
            limit: DEFAULT_LIMIT,
            after: None,
            before: None,
        };
        for (k, v) in query_pairs(uri.query().unwrap_or("")) {
            let Some(v) = v else {
                return Err(bad(&k, "is not valid UTF-8"));
            };
            match k.as_str() {
                "limit" => match v.parse::<usize>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => p.limit = n,
                    _ => return Err(bad("limit", "must be a number between 1 and 100")),
                },
                "after" => p.after = Some(v),
                "before" => p.before = Some(v),
                _ => {}
            }
        }
        if p.after.is_some() && p.before.is_some() {
            return Err(bad("after", "cannot be used with `before`"));
        }
        for (name, cursor) in [("after", &p.after), ("before", &p.before)] {
            if cursor.as_deref().is_some_and(|c| !is_uuid(c)) {
                return Err(self.error("invalid_parameter", &[("param", name)]));
            }
        }
        Ok(p)
    }
}

/// Page size when `limit` is not given, and the most a page may hold.
pub const DEFAULT_LIMIT: usize = 20;
/// The most a page may hold.
pub const MAX_LIMIT: usize = 100;

/// A list call's paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// Items per page, 1 to 100.
    pub limit: usize,
    /// The page after (older than) this id.
    pub after: Option<String>,
    /// The page before (newer than) this id.
    pub before: Option<String>,
}

impl Paging {
    /// One page of `items` (newest first, each with an `"id"`) and whether
    /// more lie beyond it; `None` when the cursor is not among them.
    pub fn page(&self, items: Vec<Value>) -> Option<(Vec<Value>, bool)> {
        let pos = |id: &str| items.iter().position(|v| v["id"] == id);
        let (start, end, from_end) = match (&self.after, &self.before) {
            (Some(a), _) => (pos(a)? + 1, items.len(), false),
            (None, Some(b)) => (0, pos(b)?, true),
            (None, None) => (0, items.len(), false),
        };
        let slice = &items[start..end];
        let has_more = slice.len() > self.limit;
        let page = if from_end {
            slice[slice.len().saturating_sub(self.limit)..].to_vec()
        } else {
            slice[..slice.len().min(self.limit)].to_vec()
        };
        Some((page, has_more))
    }
}

/// `k=v` pairs of a query, percent-decoded (`+` is a space); a value that is
/// not UTF-8 once decoded is `None`.
fn query_pairs(q: &str) -> Vec<(String, Option<String>)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = String::from_utf8_lossy(&decode(k)).into_owned();
            (k, String::from_utf8(decode(v)).ok())
        })
        .collect()
}

fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Any path the API does not serve: Resend's JSON `not_found`.
pub async fn unknown_endpoint(State(rest): State<Arc<Rest>>) -> Response {
    rest.error("unknown_endpoint", &[])
}

/// A served path with a method it does not take: `method_not_allowed`.
pub async fn not_allowed(State(rest): State<Arc<Rest>>, method: Method, uri: Uri) -> Response {
    rest.error(
        "method_not_allowed",
        &[("method", method.as_str()), ("path", uri.path())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_queries() {
        assert!(is_uuid("4ef9a417-02e9-4d39-ad75-9611e0fcc33c"));
        assert!(!is_uuid("4ef9a417-02e9-4d39-ad75-9611e0fcc33"));
        assert!(!is_uuid("4ef9a417x02e9-4d39-ad75-9611e0fcc33c"));
        assert!(!is_uuid("not-a-uuid"));
        assert_eq!(
            query_pairs("limit=1&after=a%20b&x=%ff&y"),
            vec![
                ("limit".into(), Some("1".into())),
                ("after".into(), Some("a b".into())),
                ("x".into(), None),
                ("y".into(), Some(String::new())),
            ]
        );
        assert_eq!(decode("%4"), b"%4");
        assert_eq!(decode("100%"), b"100%");
    }

    #[test]
    fn pages_with_cursors() {
        let items: Vec<Value> = (1..=5)
            .rev()
            .map(|i| serde_json::json!({ "id": i.to_string() }))
            .collect();
        let ids = |(p, more): (Vec<Value>, bool)| {
            (
                p.iter()
                    .map(|v| v["id"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>(),
                more,
            )
        };
        let p = |limit, after: Option<&str>, before: Option<&str>| Paging {
            limit,
            after: after.map(String::from),
            before: before.map(String::from),
        };
        assert_eq!(
            ids(p(2, None, None).page(items.clone()).unwrap()),
            (vec!["5".into(), "4".into()], true)
        );
        assert_eq!(
            ids(p(2, Some("4"), None).page(items.clone()).unwrap()),
            (vec!["3".into(), "2".into()], true)
        );
        assert_eq!(
            ids(p(2, None, Some("2")).page(items.clone()).unwrap()),
            (vec!["4".into(), "3".into()], true)
        );
        assert!(p(2, Some("9"), None).page(items).is_none());
    }
}
