//! The read side of emails (whichever door sent them), their attachments,
//! and changing or canceling a scheduled one. Every call needs a
//! full-access key and counts against the rate.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Rest;
use super::reject::Ids;
use crate::resend::emails::{EmailRecord, State as EmailState};

/// How long a `download_url` is said to stay valid (Resend's are signed
/// URLs that expire; mailtape's last as long as the content is kept).
const DOWNLOAD_VALID: time::Duration = time::Duration::hours(1);

/// Authorizes a read call and counts it; `Err` is the answer.
#[allow(clippy::result_large_err)]
fn admitted(rest: &Rest, headers: &HeaderMap) -> Result<(), Response> {
    rest.authorize(headers, false)?;
    rest.count_call()
}

/// `GET /emails/{id}`.
pub async fn email(State(rest): State<Arc<Rest>>, ids: Ids, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let id = match rest.uuid(&ids, 0, "email_id") {
        Ok(id) => id,
        Err(r) => return r,
    };
    let found = rest.shared.emails().get(&id).map(|e| e.to_json());
    match found {
        Some(v) => axum::Json(v).into_response(),
        None => rest.error("not_found", &[("what", "Email")]),
    }
}

/// `GET /emails?limit=&after=&before=`: newest first, cursor paging by id.
pub async fn list(State(rest): State<Arc<Rest>>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let p = match rest.paging(&uri) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let emails = rest.shared.emails();
    let Some((page, has_more)) = emails.page(p.limit, p.after.as_deref(), p.before.as_deref())
    else {
        return rest.error("not_found", &[("what", "Email")]);
    };
    let data: Vec<Value> = page.iter().map(|e| e.to_json()).collect();
    axum::Json(json!({"object": "list", "has_more": has_more, "data": data})).into_response()
}

/// `PATCH /emails/{id}` with `{"scheduled_at": …}`: moves a scheduled email.
pub async fn update(
    State(rest): State<Arc<Rest>>,
    ids: Ids,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let id = match rest.uuid(&ids, 0, "email_id") {
        Ok(id) => id,
        Err(r) => return r,
    };
    let at = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("scheduled_at")
            .and_then(Value::as_str)
            .map(String::from)
    });
    let now = OffsetDateTime::now_utc();
    let Some(at) = at.and_then(|a| crate::resend::when::parse(&a, now)) else {
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
pub async fn cancel(State(rest): State<Arc<Rest>>, ids: Ids, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let id = match rest.uuid(&ids, 0, "email_id") {
        Ok(id) => id,
        Err(r) => return r,
    };
    if let Err(r) = scheduled(&rest, &id, |e| e.state = EmailState::Canceled) {
        return r;
    }
    axum::Json(json!({"object": "email", "id": id})).into_response()
}

/// Where an attachment's content can be fetched on this listener.
fn download_url(headers: &HeaderMap, email: &str, attachment: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}/emails/{email}/attachments/{attachment}/content")
}

/// `GET /emails/{email_id}/attachments`.
pub async fn attachments(
    State(rest): State<Arc<Rest>>,
    ids: Ids,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let (id, paging) = match (rest.uuid(&ids, 0, "email_id"), rest.paging(&uri)) {
        (Ok(id), Ok(p)) => (id, p),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let expires = OffsetDateTime::now_utc() + DOWNLOAD_VALID;
    let items: Option<Vec<Value>> = rest.shared.emails().get(&id).map(|e| {
        e.attachments
            .iter()
            .map(|a| {
                let mut v = a.to_json(&download_url(&headers, &id, &a.id), expires);
                if let Some(o) = v.as_object_mut() {
                    o.remove("object");
                }
                v
            })
            .collect()
    });
    let Some(items) = items else {
        return rest.error("not_found", &[("what", "Email")]);
    };
    match paging.page(items) {
        Some((data, has_more)) => {
            axum::Json(json!({"object": "list", "has_more": has_more, "data": data}))
                .into_response()
        }
        None => rest.error("not_found", &[("what", "Attachment")]),
    }
}

/// `GET /emails/{email_id}/attachments/{attachment_id}`.
pub async fn attachment(State(rest): State<Arc<Rest>>, ids: Ids, headers: HeaderMap) -> Response {
    if let Err(r) = admitted(&rest, &headers) {
        return r;
    }
    let (id, aid) = match (
        rest.uuid(&ids, 0, "email_id"),
        rest.uuid(&ids, 1, "attachment_id"),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let expires = OffsetDateTime::now_utc() + DOWNLOAD_VALID;
    let found = rest.shared.emails().get(&id).map(|e| {
        e.attachments
            .iter()
            .find(|a| a.id == aid)
            .map(|a| a.to_json(&download_url(&headers, &id, &aid), expires))
    });
    match found {
        None => rest.error("not_found", &[("what", "Email")]),
        Some(None) => rest.error("not_found", &[("what", "Attachment")]),
        Some(Some(v)) => axum::Json(v).into_response(),
    }
}

/// `GET /emails/{email_id}/attachments/{attachment_id}/content`: the
/// `download_url`. Like Resend's signed URLs it takes no key (the ids are
/// random); the content is served as a download, never rendered on the
/// inbox's origin.
pub async fn download(State(rest): State<Arc<Rest>>, ids: Ids) -> Response {
    let (id, aid) = match (
        rest.uuid(&ids, 0, "email_id"),
        rest.uuid(&ids, 1, "attachment_id"),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let found = rest.shared.emails().get(&id).and_then(|e| {
        e.attachments
            .iter()
            .find(|a| a.id == aid)
            .and_then(|a| a.content.clone().map(|c| (c, a.filename.clone())))
    });
    let Some((content, filename)) = found else {
        return rest.error("not_found", &[("what", "Attachment")]);
    };
    let name: String = filename
        .unwrap_or_else(|| "attachment".into())
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .collect();
    let mut resp = Vec::clone(&content).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
