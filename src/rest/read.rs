//! The read side: emails (whichever door sent them), changing or canceling
//! a scheduled one, and the account's domains and API keys as the API lists
//! them. Every call needs a full-access key and counts against the rate.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Rest;
use crate::resend::emails::{EmailRecord, State as EmailState, api_time};
use crate::tape::redact::{fingerprint, redact_secret};

/// Page size when `limit` is not given, and the most a page may hold.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// Authorizes a read call and counts it; `Err` is the answer.
#[allow(clippy::result_large_err)]
fn admitted(rest: &Rest, headers: &HeaderMap) -> Result<(), Response> {
    rest.authorize(headers, false)?;
    rest.count_call()
}

/// `GET /emails/{id}`.
pub async fn email(
    State(rest): State<Arc<Rest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let found = rest.shared.emails().get(&id).map(|e| e.to_json());
    match found {
        Some(v) => axum::Json(v).into_response(),
        None => rest.error("not_found", &[("what", "Email")]),
    }
}

/// `GET /emails?limit=&after=&before=`: newest first, cursor paging by id.
pub async fn list(
    State(rest): State<Arc<Rest>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return rest.error(
                "invalid_body",
                &[("detail", "`limit` must be a number between 1 and 100")],
            );
        }
    };
    let (after, before) = (q.get("after"), q.get("before"));
    if after.is_some() && before.is_some() {
        return rest.error(
            "invalid_body",
            &[("detail", "use `after` or `before`, not both")],
        );
    }
    let emails = rest.shared.emails();
    let Some((page, has_more)) =
        emails.page(limit, after.map(String::as_str), before.map(String::as_str))
    else {
        return rest.error("not_found", &[("what", "Email")]);
    };
    let data: Vec<Value> = page.iter().map(|e| e.to_json()).collect();
    axum::Json(json!({"object": "list", "has_more": has_more, "data": data})).into_response()
}

/// `PATCH /emails/{id}` with `{"scheduled_at": …}`: moves a scheduled email.
pub async fn update(
    State(rest): State<Arc<Rest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let at = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("scheduled_at")
            .and_then(Value::as_str)
            .map(String::from)
    });
    let Some(at) = at.and_then(|a| OffsetDateTime::parse(a.trim(), &Rfc3339).ok()) else {
        return rest.error("invalid_scheduled_at", &[]);
    };
    if let Err(r) = scheduled(&rest, &id, |e| e.scheduled_at = Some(at)) {
        return r;
    }
    // The running timer sees the new time when it wakes; a sooner time
    // needs a timer of its own.
    super::send::schedule(rest.shared.clone(), id.clone());
    axum::Json(json!({"object": "email", "id": id})).into_response()
}

/// Changes a scheduled email; any other is refused (not found, or not
/// scheduled any more).
#[allow(clippy::result_large_err)]
fn scheduled(rest: &Rest, id: &str, change: impl FnOnce(&mut EmailRecord)) -> Result<(), Response> {
    let mut emails = rest.shared.emails();
    let Some(e) = emails.get_mut(id) else {
        return Err(rest.error("not_found", &[("what", "Email")]));
    };
    if !matches!(e.state, EmailState::Scheduled { .. }) {
        let status = e.last_event();
        drop(emails);
        return Err(rest.error("not_scheduled", &[("status", status)]));
    }
    change(e);
    Ok(())
}

/// `POST /emails/{id}/cancel`: a scheduled email is never sent.
pub async fn cancel(
    State(rest): State<Arc<Rest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    if let Err(r) = scheduled(&rest, &id, |e| e.state = EmailState::Canceled) {
        return r;
    }
    axum::Json(json!({"object": "email", "id": id})).into_response()
}

/// A stable id for a name (a domain, a key): UUID-shaped, from its hash, so
/// that the same account lists the same ids on every run.
fn stable_id(kind: &str, name: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, format!("{kind}:{name}").as_bytes());
    let h: String = d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The account's domains: the verified ones, and any a key is tied to that
/// is not verified (`not_started`). "Every domain verified" lists none.
fn account_domains(rest: &Rest) -> Vec<Value> {
    let st = rest.shared.settings();
    let created = api_time(OffsetDateTime::UNIX_EPOCH);
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for d in st.account.verified_domains.iter().flatten() {
        seen.push(d.clone());
        out.push((d.clone(), "verified"));
    }
    let key_domains = st
        .account
        .keys
        .iter()
        .filter_map(|k| k.domain.clone())
        .chain(st.account.unlisted_key_domain.clone());
    for d in key_domains {
        if !seen.contains(&d) && !st.account.domain_verified(&d, &st.profile.shared_domains) {
            seen.push(d.clone());
            out.push((d, "not_started"));
        }
    }
    out.into_iter()
        .map(|(name, status)| {
            json!({
                "id": stable_id("domain", &name),
                "name": name,
                "status": status,
                "created_at": created,
                "region": "us-east-1",
                "capabilities": {"sending": "enabled", "receiving": "disabled"},
            })
        })
        .collect()
}

/// `GET /domains`.
pub async fn domains(State(rest): State<Arc<Rest>>, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let data = account_domains(&rest);
    axum::Json(json!({"object": "list", "has_more": false, "data": data})).into_response()
}

/// `GET /domains/{id}`.
pub async fn domain(
    State(rest): State<Arc<Rest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    match account_domains(&rest).into_iter().find(|d| d["id"] == id) {
        Some(mut d) => {
            d["object"] = json!("domain");
            d["records"] = json!([]);
            axum::Json(d).into_response()
        }
        None => rest.error("not_found", &[("what", "Domain")]),
    }
}

/// `GET /api-keys`: the listed keys that are not revoked, named by their
/// fingerprint (the key itself is never shown).
pub async fn api_keys(State(rest): State<Arc<Rest>>, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let created = api_time(OffsetDateTime::UNIX_EPOCH);
    let data: Vec<Value> = rest
        .shared
        .settings()
        .account
        .keys
        .iter()
        .filter(|k| !k.revoked)
        .map(|k| {
            json!({
                "id": stable_id("key", &fingerprint(k.key.as_bytes())),
                "name": redact_secret(k.key.as_bytes()),
                "created_at": created,
                "last_used_at": null,
            })
        })
        .collect();
    axum::Json(json!({"object": "list", "has_more": false, "data": data})).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn stable_ids_are_uuid_shaped_and_stable() {
        let a = super::stable_id("domain", "acme.com");
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_eq!(a, super::stable_id("domain", "acme.com"));
        assert_ne!(a, super::stable_id("domain", "acme.io"));
    }
}
