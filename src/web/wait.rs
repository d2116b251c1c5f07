//! Waiting server-side: a test asks once and is answered as soon as what it
//! waits for arrives, instead of polling with sleeps.
//!
//! - `GET /api/wait/message?query=…&since=…&timeout=…&link=…`: the first
//!   message after `since` that matches the query (Mailpit's language, see
//!   [`super::query`]), or a `408` listing what did arrive meanwhile.
//! - `GET /api/wait/session?…`: the same for sessions (`outcome:refused`).
//! - `GET /api/wait/event?…`: the same for items other parts record in the
//!   store's feed ([`Store::record`]: webhook deliveries), `type:` and
//!   free text.
//! - `GET /api/v1/message/latest?query=…&timeout=…`: Mailpit's `latest`
//!   message, waited for (see `mailpit.rs`).
//! - `GET /api/cursor`: where the inbox stands now, for `since`.
//!
//! `since` is a cursor (every message, session and feed item gets the next
//! number as it arrives; answers carry theirs as `cursor`), `now`, or an
//! RFC 3339 time. With a `since`, the *first* match after it is the answer,
//! so a message sent before the wait, or a second one sent after the first,
//! never answers it. Without one, the newest kept match answers at once,
//! else the next to arrive (Mailpit's `waitForMessage`).
//!
//! A wait is a future parked on a `Notify`, with its query registered in
//! the store: as each item arrives, the store's own thread checks it against
//! the waits' queries and wakes only those it matches. A wait costs a few
//! hundred bytes and no thread; a thousand of them cost the inbox's thread a
//! query check each per message, and the SMTP path nothing. A client that
//! goes away drops the request's future, and with it the wait.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query as Params, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::{error, message_json};
use super::query::{self, Query, Target, first_link};
use super::store::{Arrival, FeedItem, MessageRec, SessionRec, Store};

/// The longest wait taken.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// A wait's timeout when the test gives none.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// Waits in progress at most; more are refused (503) rather than let
/// memory grow without bound.
pub const MAX_WAITERS: usize = 10_000;
/// Items a timeout answer lists of what arrived meanwhile.
const ARRIVED_SHOWN: usize = 20;

type Shared = State<Arc<AppState>>;

/// The routes of this module.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/cursor", get(cursor))
        .route("/api/wait/message", get(wait_message))
        .route("/api/wait/session", get(wait_session))
        .route("/api/wait/event", get(wait_event))
        .route("/api/messages/{id}/link", get(link))
        .route("/api/run-sessions/{number}", get(run_session))
        .with_state(state)
}

/// A wait's parameters, as the query string gives them.
#[derive(Debug, Deserialize, Default)]
pub struct WaitParams {
    /// Mailpit's search language.
    pub query: Option<String>,
    /// A cursor, `now`, or an RFC 3339 time.
    pub since: Option<String>,
    /// `10s`, `500ms`, `2m` or seconds (default 30 s, at most 5 min).
    pub timeout: Option<String>,
    /// A glob on the links: the answer's `link` is the first that matches.
    pub link: Option<String>,
}

impl WaitParams {
    /// Whether any wait parameter is given (so `latest` waits).
    pub fn any(&self) -> bool {
        self.query.is_some() || self.since.is_some() || self.timeout.is_some()
    }
}

/// From where a wait counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// No `since`: the newest kept match, else the next.
    Any,
    /// After this cursor.
    Cursor(u64),
    /// Arrived at or after this time.
    Time(SystemTime),
}

/// A wait that cannot start: its text says why (a 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadWait(pub String);

/// `10s`, `1500ms`, `2m`, `1.5s` or a number of seconds.
pub fn parse_timeout(text: &str) -> Result<Duration, BadWait> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" | "sec" | "secs" => 1.0,
        "m" | "min" => 60.0,
        _ => {
            return Err(BadWait(format!(
                "timeout {t:?} is not a duration; write 10s, 500ms or 2m"
            )));
        }
    };
    let n: f64 = num.parse().map_err(|_| {
        BadWait(format!(
            "timeout {t:?} is not a duration; write 10s, 500ms or 2m"
        ))
    })?;
    let d = Duration::from_secs_f64(n * scale);
    if d > MAX_WAIT {
        return Err(BadWait(format!(
            "timeout {t} is over the cap of {}s; wait at most 5m",
            MAX_WAIT.as_secs()
        )));
    }
    Ok(d)
}

/// A cursor, `now` (the store's cursor), or an RFC 3339 time.
pub fn parse_since(text: Option<&str>, store: &Store) -> Result<Since, BadWait> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Since::Any);
    };
    if t == "now" {
        return Ok(Since::Cursor(store.cursor()));
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(Since::Cursor(n));
    }
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map(|d| Since::Time(d.into()))
        .map_err(|_| {
            BadWait(format!(
                "since {t:?} is neither a cursor (a number from /api/cursor or an answer's \"cursor\"), now, nor an RFC 3339 time"
            ))
        })
}

/// A wait's settings, checked.
pub struct Wait {
    /// What must match.
    pub query: Query,
    /// From where it counts.
    pub since: Since,
    /// How long at most.
    pub timeout: Duration,
}

impl Wait {
    /// Checks the parameters of a wait on `target`.
    pub fn from_params(p: &WaitParams, target: Target, store: &Store) -> Result<Wait, BadWait> {
        let query = query::parse(p.query.as_deref().unwrap_or(""), target)
            .map_err(|e| BadWait(format!("bad query: {e}")))?;
        let timeout = match p.timeout.as_deref() {
            Some(t) => parse_timeout(t)?,
            None => DEFAULT_WAIT,
        };
        Ok(Wait {
            query,
            since: parse_since(p.since.as_deref(), store)?,
            timeout,
        })
    }
}

/// Runs `check` now and whenever an item `wants` accepts arrives, until it
/// finds something or `timeout` passes; `None` on timeout. The wait is
/// counted while it runs.
pub async fn until<T>(
    store: &Store,
    timeout: Duration,
    wants: impl Fn(&Arrival<'_>) -> bool + Send + Sync + 'static,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let _counted = store.waiter();
    // Registered before looking: an arrival after this wakes us (the
    // notification waits as a permit if we are not parked yet).
    let interest = store.interest(wants);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        tokio::select! {
            _ = interest.woken.notified() => {}
            _ = tokio::time::sleep_until(deadline) => return check(),
        }
    }
}

/// What a wait on a kind of item ended with.
pub enum Waited<T> {
    /// The first match.
    Found(Arc<T>),
    /// None in time: what arrived meanwhile, oldest first.
    TimedOut(Vec<Arc<T>>),
}

/// Items a wait can look at.
pub trait Waitable: Send + Sync + 'static {
    /// Its cursor.
    fn seq(&self) -> u64;
    /// Whether it arrived at or after `t` (items without a time: yes).
    fn since_time(&self, t: SystemTime) -> bool;
    /// Whether the query matches it.
    fn matches(&self, q: &Query) -> bool;
    /// The items after a cursor, oldest first.
    fn after(store: &Store, cursor: u64) -> Vec<Arc<Self>>;
    /// Whether an arriving item is one of these that the query matches.
    fn wanted(item: &Arrival<'_>, q: &Query) -> bool;
}

impl Waitable for MessageRec {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn since_time(&self, t: SystemTime) -> bool {
        self.received >= t
    }
    fn matches(&self, q: &Query) -> bool {
        q.matches_message(self)
    }
    fn after(store: &Store, cursor: u64) -> Vec<Arc<Self>> {
        store.messages_after(cursor)
    }
    fn wanted(item: &Arrival<'_>, q: &Query) -> bool {
        matches!(item, Arrival::Message(m) if q.matches_message(m))
    }
}

impl Waitable for SessionRec {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn since_time(&self, t: SystemTime) -> bool {
        time::OffsetDateTime::parse(
            &self.summary.started,
            &time::format_description::well_known::Rfc3339,
        )
        .map_or(true, |s| SystemTime::from(s) + Duration::from_secs(1) >= t)
    }
    fn matches(&self, q: &Query) -> bool {
        q.matches_session(&self.summary)
    }
    fn after(store: &Store, cursor: u64) -> Vec<Arc<Self>> {
        store.sessions_after(cursor)
    }
    fn wanted(item: &Arrival<'_>, q: &Query) -> bool {
        matches!(item, Arrival::Session(s) if q.matches_session(&s.summary))
    }
}

/// Waits for the first item of kind `T` the wait asks for.
pub async fn wait_for<T: Waitable>(store: &Store, w: &Wait) -> Waited<T> {
    let start = store.cursor();
    let mut seen = match w.since {
        Since::Cursor(c) => c,
        Since::Time(_) => 0,
        Since::Any => {
            // The newest kept match answers at once.
            let newest = T::after(store, 0)
                .into_iter()
                .rev()
                .find(|i| i.seq() <= start && i.matches(&w.query));
            if let Some(found) = newest {
                return Waited::Found(found);
            }
            start
        }
    };
    let since = w.since;
    let counts = |i: &T| match since {
        Since::Time(t) => i.since_time(t),
        _ => true,
    };
    let q = w.query.clone();
    let found = until(
        store,
        w.timeout,
        move |a| T::wanted(a, &q),
        || {
            for item in T::after(store, seen) {
                seen = seen.max(item.seq());
                if counts(&item) && item.matches(&w.query) {
                    return Some(item);
                }
            }
            None
        },
    )
    .await;
    match found {
        Some(f) => Waited::Found(f),
        None => {
            let from = match since {
                Since::Cursor(c) => c,
                Since::Any => start,
                Since::Time(_) => 0,
            };
            let arrived = T::after(store, from)
                .into_iter()
                .filter(|i| counts(i))
                .collect();
            Waited::TimedOut(arrived)
        }
    }
}

/// A wait's refusal before it starts: a 400 naming the problem, or a 503
/// when too many waits are in progress.
#[allow(clippy::result_large_err)]
fn refuse(store: &Store, bad: Result<Wait, BadWait>) -> Result<Wait, Response> {
    match bad {
        Err(BadWait(why)) => Err(error(StatusCode::BAD_REQUEST, why)),
        Ok(_) if store.waiters() >= MAX_WAITERS => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_WAITERS} waits are in progress already; try again when some end"),
        )),
        Ok(w) => Ok(w),
    }
}

fn timed_out(
    what: &str,
    w: &Wait,
    raw_query: Option<&str>,
    arrived: Vec<Value>,
    store: &Store,
) -> Response {
    let count = arrived.len();
    let query = raw_query.unwrap_or("");
    let shown: Vec<Value> = arrived
        .into_iter()
        .rev()
        .take(ARRIVED_SHOWN)
        .rev()
        .collect();
    let mut text = format!("no {what} matched {query:?} within {}", human(w.timeout));
    text.push_str(&match count {
        0 => format!("; no {what} arrived meanwhile"),
        1 => format!("; 1 {what} arrived meanwhile (see arrived)"),
        n => format!("; {n} {what}s arrived meanwhile (see arrived)"),
    });
    (
        StatusCode::REQUEST_TIMEOUT,
        Json(json!({
            "error": text,
            "query": query,
            "timeout_ms": w.timeout.as_millis() as u64,
            "cursor": store.cursor(),
            "arrived_count": count,
            "arrived": shown,
        })),
    )
        .into_response()
}

/// A duration as a person writes it (`10s`, `1.5s`, `250ms`).
pub fn human(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The answer to a message wait: the message as `GET /api/messages/ID`
/// gives it, plus `link` (the first link matching `link=` or a `link:`
/// term; else the first link) and `code` (the first code).
pub fn found_message(m: &MessageRec, q: &Query, link: Option<&str>) -> Value {
    let mut v = message_json(m);
    let pattern = link.or(q.link_pattern());
    let chosen = match pattern {
        Some(p) => first_link(&m.parsed.links, p),
        None => m.parsed.links.first().map(String::as_str),
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("link".into(), json!(chosen));
        o.insert("code".into(), json!(m.codes.first().map(|c| &c.code)));
    }
    v
}

async fn cursor(State(s): Shared) -> Response {
    Json(json!({"cursor": s.store.cursor(), "waiters": s.store.waiters()})).into_response()
}

async fn wait_message(State(s): Shared, Params(p): Params<WaitParams>) -> Response {
    let w = match refuse(&s.store, Wait::from_params(&p, Target::Messages, &s.store)) {
        Ok(w) => w,
        Err(r) => return r,
    };
    match wait_for::<MessageRec>(&s.store, &w).await {
        Waited::Found(m) => Json(found_message(&m, &w.query, p.link.as_deref())).into_response(),
        Waited::TimedOut(arrived) => {
            let rows = arrived.iter().map(|m| m.row()).collect();
            timed_out("message", &w, p.query.as_deref(), rows, &s.store)
        }
    }
}

async fn wait_session(State(s): Shared, Params(p): Params<WaitParams>) -> Response {
    let w = match refuse(&s.store, Wait::from_params(&p, Target::Sessions, &s.store)) {
        Ok(w) => w,
        Err(r) => return r,
    };
    match wait_for::<SessionRec>(&s.store, &w).await {
        Waited::Found(r) => Json(session_json(&r)).into_response(),
        Waited::TimedOut(arrived) => {
            let rows = arrived.iter().map(|r| session_json(r)).collect();
            timed_out("session", &w, p.query.as_deref(), rows, &s.store)
        }
    }
}

/// A session's row with its cursor and deep link.
pub fn session_json(r: &SessionRec) -> Value {
    let mut v = serde_json::to_value(&r.summary).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("cursor".into(), json!(r.seq));
        o.insert("url".into(), json!(session_url(&r.summary)));
    }
    v
}

/// The page's link to a session: a live one by its number in the run
/// (what the live view and the JSON events know), a taped one by its key.
pub fn session_url(s: &super::SessionSummary) -> String {
    if s.origin == "live" {
        format!("/#/session/{}", s.session)
    } else {
        format!("/#/session-key/{}", s.key)
    }
}

/// A feed item's query: `type:KIND` and free words over its JSON.
fn feed_matches(item: &FeedItem, raw: &str) -> bool {
    raw.split_whitespace().all(|w| {
        let w = w.to_lowercase();
        match w.strip_prefix("type:") {
            Some(kind) => item.kind == kind || item.data["type"].as_str() == Some(kind),
            None => item.text.contains(&w),
        }
    })
}

async fn wait_event(State(s): Shared, Params(p): Params<WaitParams>) -> Response {
    // The feed's query is its own (type: and words): only the timing is
    // checked the common way.
    let timing = WaitParams {
        query: None,
        since: p.since.clone(),
        timeout: p.timeout.clone(),
        link: None,
    };
    let w = match refuse(
        &s.store,
        Wait::from_params(&timing, Target::Messages, &s.store),
    ) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let raw = p.query.clone().unwrap_or_default();
    if raw.len() > query::MAX_QUERY {
        return error(StatusCode::BAD_REQUEST, "bad query: too long");
    }
    let start = s.store.cursor();
    let mut seen = match w.since {
        Since::Cursor(c) => c,
        _ => 0,
    };
    let store = &s.store;
    let counts = |i: &FeedItem| match w.since {
        Since::Time(t) => i.received >= t,
        _ => true,
    };
    let wanted = raw.clone();
    let found = until(
        store,
        w.timeout,
        move |a| matches!(a, Arrival::Feed(i) if feed_matches(i, &wanted)),
        || {
            let items = store.feed_after(seen);
            let newest = (w.since == Since::Any)
                .then(|| {
                    items
                        .iter()
                        .rev()
                        .find(|i| i.seq <= start && feed_matches(i, &raw))
                })
                .flatten();
            if let Some(i) = newest {
                return Some(i.clone());
            }
            for item in items {
                seen = seen.max(item.seq);
                if counts(&item) && feed_matches(&item, &raw) {
                    return Some(item);
                }
            }
            None
        },
    )
    .await;
    let row = |i: &FeedItem| json!({"cursor": i.seq, "kind": i.kind, "data": i.data});
    match found {
        Some(i) => Json(row(&i)).into_response(),
        None => {
            let from = match w.since {
                Since::Cursor(c) => c,
                _ => start,
            };
            let arrived = store
                .feed_after(from)
                .iter()
                .filter(|i| counts(i))
                .map(|i| row(i))
                .collect();
            timed_out("event", &w, p.query.as_deref(), arrived, store)
        }
    }
}

#[derive(Deserialize)]
struct LinkParams {
    r#match: Option<String>,
}

/// `GET /api/messages/ID/link?match=PATTERN`: the first link of the
/// message whose URL matches (a glob, `*` for any run), or a 404 listing
/// its links.
async fn link(State(s): Shared, Path(id): Path<String>, Params(p): Params<LinkParams>) -> Response {
    let Some(m) = s.store.message(&id) else {
        return super::api::NotFound(format!("message {id}")).into_response();
    };
    let pattern = p.r#match.unwrap_or_default();
    match first_link(&m.parsed.links, &pattern) {
        Some(l) => Json(json!({"link": l, "match": pattern})).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!(
                "no link of message {id} matches {pattern:?}; its links: {}",
                if m.parsed.links.is_empty() {
                    "none".to_string()
                } else {
                    m.parsed.links.join(" ")
                }
            ),
        ),
    }
}

/// A live session by its number in the run (deep links `/#/session/N`).
async fn run_session(State(s): Shared, Path(number): Path<String>) -> Response {
    match number
        .parse::<u64>()
        .ok()
        .and_then(|n| s.store.live_session(n))
    {
        Some(r) => Json(session_json(&r)).into_response(),
        None => super::api::NotFound(format!("session {number} of this run")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_and_are_capped() {
        assert_eq!(parse_timeout("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_timeout("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("5m"), Ok(MAX_WAIT));
        assert_eq!(
            parse_timeout("6m").unwrap_err().0,
            "timeout 6m is over the cap of 300s; wait at most 5m"
        );
        assert!(
            parse_timeout("soon")
                .unwrap_err()
                .0
                .contains("is not a duration")
        );
        assert!(parse_timeout("10h").is_err());
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::from_secs(10)), "10s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
