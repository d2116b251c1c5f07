//! mailtape's own API (`/api/…`, documented in docs/api.md), the page and
//! its assets (`/`, `/assets/…`), and the message views (`/view/…`).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::mime::{Part, safe_filename};
use super::store::{MessageRec, SessionRec};
use crate::tape::Tape;
use crate::tools::show::{ShowOptions, render, render_json};

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The page's policy: its own script and style only, frames from itself
/// (the message views), nothing from anywhere else.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Most items one list call returns.
pub const MAX_LIMIT: usize = 1000;

type Shared = State<Arc<AppState>>;

/// The routes of this module.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/assets/app.js",
            get(|| asset(APP_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/assets/app.css",
            get(|| asset(APP_CSS, "text/css; charset=utf-8")),
        )
        .route("/api/info", get(info))
        .route("/api/sessions", get(sessions))
        .route("/api/sessions/{key}", get(session))
        .route("/api/sessions/{key}/tape", get(session_tape))
        .route("/api/messages", get(messages))
        .route("/api/messages/{id}", get(message))
        .route("/api/messages/{id}/raw", get(message_raw))
        .route("/api/messages/{id}/html", get(message_html))
        .route("/api/messages/{id}/parts/{part}", get(message_part))
        .route("/api/scenario", get(scenario).put(set_scenario))
        .route("/api/account", get(account))
        .route("/api/clear", post(clear))
        .route("/api/events", get(events))
        .route("/view/{file}", get(view))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

/// An error under `/api/` is `{"error": …}` whoever made it: an extractor's
/// rejection (a path that is not UTF-8, a bad query) is plain text otherwise.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !api || res.status().as_u16() < 400 || is_json {
        return res;
    }
    let status = res.status();
    let text = match axum::body::to_bytes(res.into_body(), 64 << 10).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => status.canonical_reason().unwrap_or("error").to_string(),
    };
    error(status, text)
}

/// A JSON error with a status.
pub fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({"error": text.into()}))).into_response()
}

fn not_found(what: &str) -> Response {
    NotFound(what.to_string()).into_response()
}

/// A session, message or part that is not (or no longer) kept: a JSON 404.
pub struct NotFound(pub String);

impl IntoResponse for NotFound {
    fn into_response(self) -> Response {
        error(
            StatusCode::NOT_FOUND,
            format!(
                "no {}; it may have been dropped (see --keep) or cleared",
                self.0
            ),
        )
    }
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        INDEX,
    )
        .into_response()
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

async fn info(State(s): Shared) -> Response {
    let scenario = s.control.get().map(|c| c.scenario().scenario);
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "mode": s.mode.get(),
        "scenario": scenario,
        "can_switch_scenario": s.control.get().is_some(),
        "uptime": s.store.uptime(),
        "counts": s.store.counts(),
        "outcomes": super::summary::Outcome::ALL,
    }))
    .into_response()
}

/// Paging and filters of list calls.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    /// Items to skip.
    pub start: Option<usize>,
    /// Items to return (default 50, at most 1000).
    pub limit: Option<usize>,
    /// Search text: addresses, subject, user, reply.
    pub q: Option<String>,
    /// Outcome filter (`accepted`, `refused`, `refused_auth`, …).
    pub outcome: Option<String>,
    /// `smtp` or `http`.
    pub protocol: Option<String>,
    /// Only what was sent with this API key (its fingerprint, `re_…a1f3`
    /// or `a1f3`): one app's mail when several share mailtape.
    pub key: Option<String>,
    /// Only messages with this tag.
    pub tag: Option<String>,
}

impl ListQuery {
    /// The key filter as a fingerprint.
    fn key(&self) -> Option<String> {
        self.key
            .as_deref()
            .filter(|k| !k.trim().is_empty())
            .map(super::query::key_fingerprint)
    }
}

fn same_key(key: Option<&str>, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|w| key.is_some_and(|k| super::query::key_fingerprint(k) == w))
}

impl ListQuery {
    fn start(&self) -> usize {
        self.start.unwrap_or(0)
    }
    fn limit(&self) -> usize {
        self.limit.unwrap_or(50).min(MAX_LIMIT)
    }
    fn q(&self) -> Option<String> {
        self.q
            .as_deref()
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty())
    }
}

async fn sessions(State(s): Shared, Query(q): Query<ListQuery>) -> Response {
    let search = q.q();
    let outcome = q.outcome.clone().filter(|o| !o.is_empty());
    if let Some(o) = &outcome
        && o != "refused"
        && !super::summary::Outcome::ALL.contains(&o.as_str())
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "outcome {o:?} is not known; use refused or one of {}",
                super::summary::Outcome::ALL.join(", ")
            ),
        );
    }
    let protocol = q.protocol.clone().filter(|p| !p.is_empty());
    let key = q.key();
    let page = s.store.sessions(q.start(), q.limit(), |r: &SessionRec| {
        let sum = &r.summary;
        same_key(sum.api_key.as_deref(), key.as_deref())
            && outcome.as_deref().is_none_or(|o| sum.outcome.matches(o))
            && protocol.as_deref().is_none_or(|p| sum.protocol == p)
            && search.as_deref().is_none_or(|t| sum.matches(t))
    });
    let counts = s.store.counts();
    let rows: Vec<_> = page.items.iter().map(|r| &r.summary).collect();
    Json(json!({
        "total": counts.sessions,
        "matched": page.matched,
        "start": q.start(),
        "dropped": counts.dropped_sessions,
        "sessions": rows,
    }))
    .into_response()
}

fn one_session(s: &AppState, key: &str) -> Result<Arc<SessionRec>, NotFound> {
    key.parse::<u64>()
        .ok()
        .and_then(|k| s.store.session(k))
        .ok_or_else(|| NotFound(format!("session {key}")))
}

fn as_tape(r: &SessionRec) -> Tape {
    Tape {
        comments: Vec::new(),
        sessions: vec![(*r.transcript).clone()],
    }
}

async fn session(State(s): Shared, Path(key): Path<String>) -> Response {
    let r = match one_session(&s, &key) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let tape = as_tape(&r);
    let opts = ShowOptions::default();
    let name = format!("session-{}", r.summary.key);
    // The same renderings as `mailtape show` and `show --json`: one table
    // of explanations serves both.
    let shown = render_json(&name, &tape, &opts);
    let detail = shown["sessions"].get(0).cloned().unwrap_or_default();
    Json(json!({
        "summary": r.summary,
        "meta": detail["meta"],
        "events": detail["events"],
        "closed_by": detail["closed_by"],
        "text": render(&name, &tape, &opts),
    }))
    .into_response()
}

fn download(body: impl IntoResponse, kind: &str, filename: &str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let disposition = format!("attachment; filename=\"{}\"", safe_filename(filename));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    res
}

async fn session_tape(State(s): Shared, Path(key): Path<String>) -> Response {
    match one_session(&s, &key) {
        Ok(r) => download(
            as_tape(&r).to_text(),
            "text/plain; charset=utf-8",
            &format!("session-{}.tape", r.summary.key),
        ),
        Err(e) => e.into_response(),
    }
}

async fn messages(State(s): Shared, Query(q): Query<ListQuery>) -> Response {
    let search = q.q();
    let key = q.key();
    let tag = q
        .tag
        .as_deref()
        .map(str::to_lowercase)
        .filter(|t| !t.is_empty());
    let page = s.store.messages(q.start(), q.limit(), |m: &MessageRec| {
        same_key(m.key.as_deref(), key.as_deref())
            && tag
                .as_deref()
                .is_none_or(|t| m.tags().iter().any(|x| super::query::tag_matches(x, t)))
            && search.as_deref().is_none_or(|t| m.matches(t))
    });
    let counts = s.store.counts();
    let rows: Vec<_> = page.items.iter().map(|m| m.row()).collect();
    Json(json!({
        "total": counts.messages,
        "matched": page.matched,
        "start": q.start(),
        "dropped": counts.dropped_messages,
        "messages": rows,
    }))
    .into_response()
}

/// One message by id (or `latest`), or a 404 response.
pub fn one_message(s: &AppState, id: &str) -> Result<Arc<MessageRec>, NotFound> {
    s.store
        .message(id)
        .ok_or_else(|| NotFound(format!("message {id}")))
}

fn part_row(p: &Part) -> serde_json::Value {
    json!({
        "part": p.part_id,
        "file_name": p.file_name,
        "content_type": p.content_type,
        "content_id": p.content_id,
        "size": p.size,
        "inline": p.inline,
    })
}

async fn message(State(s): Shared, Path(id): Path<String>) -> Response {
    match one_message(&s, &id) {
        Ok(m) => Json(message_json(&m)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A message as `GET /api/messages/ID` gives it: its row, the headers and
/// bodies, the links and the codes found in it (with their context).
pub fn message_json(m: &MessageRec) -> serde_json::Value {
    let p = &m.parsed;
    let mut v = m.row();
    let extra = json!({
        "message_id": p.message_id,
        "date": p.date,
        "header_to": p.to,
        "cc": p.cc,
        "bcc": p.bcc,
        "reply_to": p.reply_to,
        "headers": p.headers,
        "text": p.text,
        "html": p.html,
        "has_html": !p.html.is_empty(),
        "attachments": p.attachments.iter().chain(&p.inline).map(part_row).collect::<Vec<_>>(),
        "links": p.links,
        "codes": m.codes,
    });
    if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

/// The raw message as an `.eml` download.
pub fn raw_eml(m: &MessageRec) -> Response {
    download(m.raw.clone(), "message/rfc822", &format!("{}.eml", m.id))
}

async fn message_raw(State(s): Shared, Path(id): Path<String>) -> Response {
    match one_message(&s, &id) {
        Ok(m) => raw_eml(&m),
        Err(e) => e.into_response(),
    }
}

/// The policy of a message's HTML: no script (the `sandbox` directive
/// without `allow-scripts`, as the iframe has), no connection anywhere,
/// images only inline unless `remote` (the page's "load remote images").
fn html_csp(remote: bool) -> String {
    let img = if remote {
        "data: http: https:"
    } else {
        "data:"
    };
    format!(
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline' data:; font-src data:; img-src {img}; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )
}

/// A message's HTML as a document of its own, under [`html_csp`].
pub fn html_view(m: &MessageRec, remote: bool) -> Response {
    // Links open outside the frame (the sandbox allows popups, not scripts).
    let body = format!("<base target=\"_blank\">{}", m.parsed.html);
    let csp = html_csp(remote);
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    res
}

#[derive(Deserialize)]
struct HtmlQuery {
    remote: Option<String>,
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true" | "yes" | "on"))
}

async fn message_html(
    State(s): Shared,
    Path(id): Path<String>,
    Query(q): Query<HtmlQuery>,
) -> Response {
    match one_message(&s, &id) {
        Ok(m) => html_view(&m, truthy(q.remote.as_deref())),
        Err(e) => e.into_response(),
    }
}

/// Content types a browser may be given as they are; any other is served
/// as `application/octet-stream` (always as a download, never rendered).
const PLAIN_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/json",
    "text/calendar",
];

/// An attachment or inline part as a download.
pub fn part_download(m: &MessageRec, part: &str) -> Response {
    let p = &m.parsed;
    let Some(found) = p
        .attachments
        .iter()
        .chain(&p.inline)
        .find(|a| a.part_id == part)
    else {
        return not_found(&format!("part {part} in message {}", m.id));
    };
    let kind = found.content_type.to_ascii_lowercase();
    let kind = if PLAIN_TYPES.contains(&kind.as_str()) {
        kind
    } else {
        "application/octet-stream".into()
    };
    let name = if found.file_name.is_empty() {
        format!("part-{part}")
    } else {
        found.file_name.clone()
    };
    download(found.bytes.clone(), &kind, &name)
}

async fn message_part(State(s): Shared, Path((id, part)): Path<(String, String)>) -> Response {
    match one_message(&s, &id) {
        Ok(m) => part_download(&m, &part),
        Err(e) => e.into_response(),
    }
}

/// `/view/ID.html` and `/view/ID.txt`: the HTML (under the same policy) and
/// the text of a message, as Mailpit serves them.
async fn view(State(s): Shared, Path(file): Path<String>) -> Response {
    let (id, kind) = match file.rsplit_once('.') {
        Some((id, kind @ ("html" | "txt"))) => (id.to_string(), kind),
        _ => return not_found(&format!("view {file}; use ID.html or ID.txt")),
    };
    match one_message(&s, &id) {
        Ok(m) if kind == "html" => html_view(&m, false),
        Ok(m) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            m.parsed.text.clone(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The mock's account: keys by fingerprint, domains and their status.
async fn account(State(s): Shared) -> Response {
    match s.control.get() {
        Some(c) => Json(c.account()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "no account here: only `mailtape mock` has one",
        ),
    }
}

async fn scenario(State(s): Shared) -> Response {
    match s.control.get() {
        Some(c) => Json(c.scenario()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "no scenario here: only `mailtape mock` has one",
        ),
    }
}

#[derive(Deserialize)]
struct SetScenario {
    scenario: String,
}

async fn set_scenario(
    State(s): Shared,
    body: Result<Json<SetScenario>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected a JSON body {{\"scenario\": \"NAME\"}}: {e}"),
            );
        }
    };
    let Some(c) = s.control.get().cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "no scenario here: only `mailtape mock` has one",
        );
    };
    // Resolving a scenario may read profile and account files.
    let name = body.scenario.clone();
    let done = tokio::task::spawn_blocking(move || c.set_scenario(&name)).await;
    match done {
        Ok(Ok(state)) => {
            s.store.publish("scenario", json!(state));
            Json(state).into_response()
        }
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the switch failed: {e}"),
        ),
    }
}

async fn clear(State(s): Shared) -> Response {
    s.store.clear();
    Json(json!({"cleared": true, "counts": s.store.counts()})).into_response()
}

/// Server-sent events: `hello` first, then `session`, `message`,
/// `scenario`, `clear`, `deleted`; `resync` when this listener fell behind
/// and missed some (the page then reloads its lists).
async fn events(
    State(s): Shared,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = s.store.subscribe();
    let hello = json!({"type": "hello", "data": {"counts": s.store.counts()}}).to_string();
    let store = s.store.clone();
    let first =
        futures_util::stream::once(async move { Ok(Event::default().event("hello").data(hello)) });
    let rest = futures_util::stream::unfold((rx, store), |(mut rx, store)| async move {
        {
            match rx.recv().await {
                Ok((kind, text)) => {
                    Some((Ok(Event::default().event(kind).data(&*text)), (rx, store)))
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    store.events_lagged(n);
                    let text = json!({"type": "resync", "data": {"missed": n}}).to_string();
                    Some((Ok(Event::default().event("resync").data(text)), (rx, store)))
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
            }
        }
    });
    use futures_util::StreamExt;
    Sse::new(first.chain(rest)).keep_alive(KeepAlive::default())
}

/// Whether any kept message is unread (for Mailpit's info).
pub fn unread(m: &MessageRec) -> bool {
    !m.read.load(Ordering::Relaxed)
}
