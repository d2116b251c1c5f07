//! The Mailpit-compatible subset at `/api/v1/…`, with Mailpit's JSON field
//! names (from axllent/mailpit `internal/storage/structs.go`,
//! `server/apiv1/messages.go`, `internal/stats/stats.go`), so Mailpit's
//! clients (`mailpit-api` on npm, `cypress-mailpit`) work unchanged:
//! list, search, one message, headers, raw source, parts, delete, read
//! status, info, webui. Unlike Mailpit, opening a message does not mark it
//! read: a GET changes nothing (use `PUT /api/v1/messages`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::{html_view, part_download, raw_eml};
use super::mime::Addr;
use super::query::{self, Target};
use super::store::MessageRec;
use super::wait::{self, Wait, WaitParams, Waited, wait_for};

type Shared = State<Arc<AppState>>;

/// The routes of this module.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/info", get(info))
        .route("/api/v1/webui", get(webui))
        .route("/api/v1/messages", get(list).put(set_read).delete(delete))
        .route("/api/v1/search", get(search).delete(delete_search))
        .route("/api/v1/message/{id}", get(message))
        .route("/api/v1/message/{id}/headers", get(headers))
        .route("/api/v1/message/{id}/raw", get(raw))
        .route("/api/v1/message/{id}/part/{part}", get(part))
        .route("/api/v1/message/{id}/html", get(html))
        .with_state(state)
}

/// Mailpit answers errors as plain text with 400 (404 for a missing message).
fn text_error(status: StatusCode, text: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.into(),
    )
        .into_response()
}

fn ok() -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], "ok").into_response()
}

/// A message that is not kept: Mailpit's plain-text 404.
struct Missing;

impl IntoResponse for Missing {
    fn into_response(self) -> Response {
        text_error(StatusCode::NOT_FOUND, "404 page not found")
    }
}

fn find(s: &AppState, id: &str) -> Result<Arc<MessageRec>, Missing> {
    s.store.message(id).ok_or(Missing)
}

/// From, To, Cc, Bcc as Mailpit fills them: headers first; the envelope
/// sender when there is no From; envelope recipients not named in To or Cc
/// are Bcc (as Mailpit does).
fn people(m: &MessageRec) -> (Value, Vec<Addr>, Vec<Addr>, Vec<Addr>) {
    let p = &m.parsed;
    let from = match &p.from {
        Some(a) => json!(a),
        None if !m.env_from.is_empty() => json!(Addr {
            name: String::new(),
            address: m.env_from.clone()
        }),
        None => Value::Null,
    };
    let named = |a: &str| {
        p.to.iter()
            .chain(&p.cc)
            .chain(&p.bcc)
            .any(|x| x.address.eq_ignore_ascii_case(a))
    };
    let mut bcc = p.bcc.clone();
    for r in &m.env_to {
        if !named(r) {
            bcc.push(Addr {
                name: String::new(),
                address: r.clone(),
            });
        }
    }
    (from, p.to.clone(), p.cc.clone(), bcc)
}

fn username(s: &AppState, m: &MessageRec) -> String {
    m.session
        .get()
        .and_then(|k| s.store.session(*k))
        .and_then(|r| r.summary.user.clone())
        .unwrap_or_default()
}

/// Mailpit's `MessageSummary`.
fn summary(s: &AppState, m: &MessageRec) -> Value {
    let (from, to, cc, bcc) = people(m);
    json!({
        "ID": m.id,
        "MessageID": m.parsed.message_id,
        "Read": !super::api::unread(m),
        "From": from,
        "To": to,
        "Cc": cc,
        "Bcc": bcc,
        "ReplyTo": m.parsed.reply_to,
        "Subject": m.parsed.subject,
        "Created": m.created,
        "Username": username(s, m),
        "Tags": *m.tags(),
        "Size": m.raw.len(),
        "Attachments": m.parsed.attachments.len(),
        "Snippet": m.snippet(),
    })
}

#[derive(Deserialize, Default)]
struct Paging {
    start: Option<String>,
    limit: Option<String>,
    query: Option<String>,
}

impl Paging {
    /// Mailpit's `getStartLimit`: bad numbers fall back to 0 and 50.
    fn start_limit(&self) -> (usize, usize) {
        let start = self
            .start
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let limit = self
            .limit
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(50)
            .min(super::api::MAX_LIMIT);
        (start, limit)
    }
}

fn listing(s: &AppState, p: &Paging, keep: impl Fn(&MessageRec) -> bool) -> Response {
    let (start, limit) = p.start_limit();
    let page = s.store.messages(start, limit, keep);
    let counts = s.store.counts();
    let rows: Vec<Value> = page.items.iter().map(|m| summary(s, m)).collect();
    Json(json!({
        "total": counts.messages,
        "unread": counts.unread,
        "count": rows.len(),
        "messages_count": page.matched,
        "messages_unread": counts.unread,
        "start": start,
        "tags": s.store.tag_counts().into_keys().collect::<Vec<_>>(),
        "messages": rows,
    }))
    .into_response()
}

async fn list(State(s): Shared, Query(p): Query<Paging>) -> Response {
    listing(&s, &p, |_| true)
}

async fn search(State(s): Shared, Query(p): Query<Paging>) -> Response {
    let query = p.query.clone().unwrap_or_default();
    if query.trim().is_empty() {
        return text_error(StatusCode::BAD_REQUEST, "Error: no search query");
    }
    match query::parse(&query, Target::Messages) {
        Ok(q) => listing(&s, &p, |m| q.matches_message(m)),
        Err(e) => text_error(StatusCode::BAD_REQUEST, format!("Error: {e}")),
    }
}

async fn delete_search(State(s): Shared, Query(p): Query<Paging>) -> Response {
    let query = p.query.clone().unwrap_or_default();
    if query.trim().is_empty() {
        return text_error(StatusCode::BAD_REQUEST, "Error: no search query");
    }
    let ids = match matching_ids(&s, &query) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    if !ids.is_empty() {
        s.store.delete_messages(&ids);
    }
    ok()
}

/// The ids of every kept message a Mailpit search matches, or a 400.
#[allow(clippy::result_large_err)]
fn matching_ids(s: &AppState, text: &str) -> Result<Vec<String>, Response> {
    let q = query::parse(text, Target::Messages)
        .map_err(|e| text_error(StatusCode::BAD_REQUEST, format!("Error: {e}")))?;
    Ok(s.store
        .messages(0, usize::MAX, |m| q.matches_message(m))
        .items
        .iter()
        .map(|m| m.id.clone())
        .collect())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Ids {
    #[serde(default, rename = "IDs")]
    ids: Vec<String>,
    #[serde(default)]
    read: bool,
    #[serde(default)]
    search: String,
}

/// The JSON body of Mailpit's delete and read-status calls (empty: no IDs),
/// or why it is not one.
fn body_ids(body: &Bytes) -> Result<Ids, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Ids::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| format!("expected a JSON body like {{\"IDs\": [\"…\"]}}: {e}"))
}

/// `DELETE /api/v1/messages`: the IDs given, or all without any.
async fn delete(State(s): Shared, body: Bytes) -> Response {
    match body_ids(&body) {
        Ok(b) => {
            if b.ids.is_empty() {
                s.store.delete_messages(&[]);
            } else {
                s.store.delete_messages(&b.ids);
            }
            ok()
        }
        Err(e) => text_error(StatusCode::BAD_REQUEST, e),
    }
}

/// `PUT /api/v1/messages`: set Read on the IDs, a search, or all.
async fn set_read(State(s): Shared, body: Bytes) -> Response {
    let b = match body_ids(&body) {
        Ok(b) => b,
        Err(e) => return text_error(StatusCode::BAD_REQUEST, e),
    };
    if !b.ids.is_empty() && !b.search.is_empty() {
        return text_error(
            StatusCode::BAD_REQUEST,
            "You may specify either IDs or a search query, not both",
        );
    }
    let ids = if b.search.is_empty() {
        b.ids
    } else {
        let ids = match matching_ids(&s, &b.search) {
            Ok(ids) => ids,
            Err(e) => return e,
        };
        if ids.is_empty() {
            return ok();
        }
        ids
    };
    s.store.set_read(&ids, b.read);
    ok()
}

/// Mailpit's `Message`. `latest` with `query`, `since` or `timeout` waits
/// for it (mailtape's extension; see `wait.rs`): a 400 for a bad wait, a
/// 408 naming what arrived instead when none matched in time.
async fn message(
    State(s): Shared,
    Path(id): Path<String>,
    Query(w): Query<WaitParams>,
) -> Response {
    if id == "latest" && w.any() {
        return latest(&s, &w).await;
    }
    match find(&s, &id) {
        Ok(m) => Json(message_json(&s, &m)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn latest(s: &AppState, p: &WaitParams) -> Response {
    let w = match Wait::from_params(p, Target::Messages, &s.store) {
        Ok(w) => w,
        Err(e) => return text_error(StatusCode::BAD_REQUEST, format!("Error: {}", e.0)),
    };
    match wait_for::<MessageRec>(&s.store, &w).await {
        Waited::Found(m) => Json(message_json(s, &m)).into_response(),
        Waited::TimedOut(arrived) => {
            let mut text = format!(
                "Error: no message matched {:?} within {}",
                p.query.as_deref().unwrap_or(""),
                wait::human(w.timeout)
            );
            if arrived.is_empty() {
                text.push_str("; none arrived meanwhile");
            } else {
                text.push_str(&format!("; {} arrived meanwhile:", arrived.len()));
                for m in arrived.iter().rev().take(10) {
                    text.push_str(&format!(
                        "\n  {} to {} subject {:?}",
                        m.id,
                        m.env_to.join(", "),
                        m.parsed.subject
                    ));
                }
            }
            text_error(StatusCode::REQUEST_TIMEOUT, text)
        }
    }
}

/// Mailpit's `Message` JSON.
fn message_json(s: &AppState, m: &MessageRec) -> Value {
    let p = &m.parsed;
    let (from, to, cc, bcc) = people(m);
    let links: Vec<String> = p
        .list_unsubscribe
        .split(',')
        .map(|l| l.trim().trim_matches(['<', '>']).to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let post = p
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("list-unsubscribe-post"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    json!({
        "ID": m.id,
        "MessageID": p.message_id,
        "From": from,
        "To": to,
        "Cc": cc,
        "Bcc": bcc,
        "ReplyTo": p.reply_to,
        "ReturnPath": if p.return_path.is_empty() { m.env_from.clone() } else { p.return_path.clone() },
        "Subject": p.subject,
        "ListUnsubscribe": {
            "Header": p.list_unsubscribe,
            "Links": links,
            "Errors": "",
            "HeaderPost": post,
        },
        "Date": p.date.clone().unwrap_or_else(|| m.created.clone()),
        "Tags": *m.tags(),
        "Username": username(s, m),
        "Text": p.text,
        "HTML": p.html,
        "Size": m.raw.len(),
        "Inline": p.inline,
        "Attachments": p.attachments,
    })
}

/// Go's canonical header key (`message-id` → `Message-Id`), as Mailpit
/// returns them.
fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

async fn headers(State(s): Shared, Path(id): Path<String>) -> Response {
    let m = match find(&s, &id) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, v) in &m.parsed.headers {
        map.entry(canonical(n)).or_default().push(v.clone());
    }
    Json(map).into_response()
}

async fn raw(State(s): Shared, Path(id): Path<String>) -> Response {
    match find(&s, &id) {
        Ok(m) => {
            // Mailpit serves the source as text/plain (inline) unless
            // ?dl=1; a download is the safe form for a browser either way.
            let mut res = raw_eml(&m);
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            res
        }
        Err(e) => e.into_response(),
    }
}

async fn part(State(s): Shared, Path((id, part)): Path<(String, String)>) -> Response {
    match find(&s, &id) {
        Ok(m) => part_download(&m, &part),
        Err(e) => e.into_response(),
    }
}

async fn html(State(s): Shared, Path(id): Path<String>) -> Response {
    match find(&s, &id) {
        Ok(m) => html_view(&m, false),
        Err(e) => e.into_response(),
    }
}

async fn info(State(s): Shared) -> Response {
    let c = s.store.counts();
    Json(json!({
        "Version": format!("mailtape {}", env!("CARGO_PKG_VERSION")),
        "LatestVersion": "disabled",
        "Database": "memory",
        "DatabaseSize": 0,
        "Messages": c.messages,
        "Unread": c.unread,
        "Tags": s.store.tag_counts(),
        "RuntimeStats": {
            "Uptime": s.store.uptime(),
            "Memory": 0,
            "MessagesDeleted": c.deleted + c.dropped_messages,
            "SMTPAccepted": c.messages as u64 + c.dropped_messages + c.deleted,
            "SMTPAcceptedSize": 0,
            "SMTPRejected": 0,
            "SMTPIgnored": 0,
        },
    }))
    .into_response()
}

async fn webui() -> Response {
    Json(json!({
        "Label": "mailtape",
        "MessageRelay": {
            "Enabled": false,
            "SMTPServer": "",
            "ReturnPath": "",
            "AllowedRecipients": "",
            "BlockedRecipients": "",
            "OverrideFrom": "",
            "PreserveMessageIDs": false,
            "RecipientAllowlist": "",
        },
        "SpamAssassin": false,
        "ChaosEnabled": false,
        "DuplicatesIgnored": false,
        "HideDeleteAllButton": false,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_keys_are_canonical_as_in_go() {
        assert_eq!(canonical("message-id"), "Message-Id");
        assert_eq!(canonical("MIME-Version"), "Mime-Version");
        assert_eq!(canonical("subject"), "Subject");
    }
}
