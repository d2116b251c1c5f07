//! Replay's REST door: answers Resend API requests from the HTTP exchanges
//! of a tape ([`crate::tape::http`]), with no upstream.
//!
//! A request is matched to an exchange of the tape by its method, its path,
//! its query (parameters in any order) and its JSON body, normalised: key
//! order does not matter, the body is redacted as capture redacts it (so an
//! attachment matches its elided form, a key its fingerprint), strings that
//! are ids (UUIDs) or dates (ISO 8601) match any id or date, and the fields
//! named with `--match-ignore` are left out. Of the exchanges that match,
//! the first not played yet answers (in tape order); with `--loop`, once all
//! are played, the one played least.
//!
//! A request no exchange answers is a **departure**: counted with the SMTP
//! ones, listed in the summary, and answered `500` `application_error` with
//! a message starting `mailtape replay:`. A 5xx because it is a failure of
//! the stand-in, not of the request: a 4xx would tell the app its request
//! was wrong (the SDKs raise their validation errors for 422), and Resend's
//! SDKs do not retry a 500 on their own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use serde_json::{Value, json};

use super::responder::Divergence;
use crate::net::http::listener::addresses;
use crate::output::sink::Sink;
use crate::smtp::own::DIVERGED_PREFIX;
use crate::tape::capture::Capture;
use crate::tape::http::{self, Exchange};
use crate::tape::{Closer, Meta, Tape};

/// The REST exchanges of a tape and what has been played of them.
pub struct RestTape {
    name: String,
    exchanges: Vec<Exchange>,
    /// Each exchange's query and body as matched, worked out once.
    keys: Vec<(Vec<String>, Value)>,
    plays: Mutex<Vec<usize>>,
    looped: bool,
    realtime: bool,
    ignore: Vec<String>,
    next_id: AtomicU64,
    answered: AtomicU64,
    departures: Mutex<Vec<Divergence>>,
}

impl RestTape {
    /// The exchanges of `tape` that have an answer, in tape order.
    /// `ignore`: JSON fields left out of matching (a name at any depth, or
    /// a dotted path from the top, such as `headers.X-Entity-Ref-ID`).
    pub fn new(
        tape: &Tape,
        name: String,
        looped: bool,
        realtime: bool,
        ignore: Vec<String>,
    ) -> RestTape {
        let exchanges: Vec<Exchange> = tape
            .sessions
            .iter()
            .filter(|t| http::is_http(&t.meta))
            .filter_map(|t| Exchange::from_transcript(t).ok())
            .filter(|e| e.response.is_some())
            .collect();
        let keys = exchanges
            .iter()
            .map(|e| {
                let body = e
                    .request_body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<Value>(b).ok());
                let query = query(&e.target).into_iter().map(String::from).collect();
                (query, normalised(body, &ignore))
            })
            .collect();
        RestTape {
            name,
            keys,
            plays: Mutex::new(vec![0; exchanges.len()]),
            exchanges,
            looped,
            realtime,
            ignore,
            next_id: AtomicU64::new(1_000_001),
            answered: AtomicU64::new(0),
            departures: Mutex::new(Vec::new()),
        }
    }

    /// Exchanges on the tape.
    pub fn total(&self) -> usize {
        self.exchanges.len()
    }

    /// Exchanges played at least once.
    pub fn played(&self) -> usize {
        self.lock_plays().iter().filter(|n| **n > 0).count()
    }

    /// Requests answered from the tape (more than `total` with `--loop`).
    pub fn plays(&self) -> usize {
        self.answered.load(Ordering::SeqCst) as usize
    }

    /// Requests the tape did not hold.
    pub fn departures(&self) -> Vec<Divergence> {
        self.departures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn lock_plays(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        self.plays.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exchange that answers a request (and marks it played), or why
    /// none does: the closest exchange, to show what the tape expected.
    fn pick(&self, request: &Request_) -> Result<usize, Miss> {
        let body = normalised(request.body.clone(), &self.ignore);
        let mut plays = self.lock_plays();
        let matching: Vec<usize> = (0..self.exchanges.len())
            .filter(|&i| self.matches(i, request, &body))
            .collect();
        let chosen = matching
            .iter()
            .copied()
            .find(|&i| plays[i] == 0)
            .or_else(|| {
                self.looped
                    .then(|| matching.iter().copied().min_by_key(|&i| plays[i]))
                    .flatten()
            });
        match chosen {
            Some(i) => {
                plays[i] += 1;
                self.answered.fetch_add(1, Ordering::SeqCst);
                Ok(i)
            }
            None if !matching.is_empty() => Err(Miss::AllPlayed(matching.len())),
            None => {
                let same_path = |i: &usize| {
                    let e = &self.exchanges[*i];
                    e.method == request.method && e.path() == request.path()
                };
                let closest = (0..self.exchanges.len())
                    .filter(same_path)
                    .find(|&i| plays[i] == 0)
                    .or_else(|| (0..self.exchanges.len()).find(same_path));
                Err(Miss::NotOnTape(closest))
            }
        }
    }

    fn matches(&self, i: usize, r: &Request_, body: &Value) -> bool {
        let e = &self.exchanges[i];
        let (q, b) = &self.keys[i];
        e.method == r.method
            && e.path() == r.path()
            && q.iter().map(String::as_str).eq(query(&r.target))
            && b == body
    }
}

fn normalised(v: Option<Value>, ignore: &[String]) -> Value {
    let mut v = v.unwrap_or(Value::Null);
    normalise(&mut v, ignore, "");
    v
}

/// The parts of a request replay matches on, redacted as a tape holds them.
struct Request_ {
    method: String,
    /// `METHOD target` as a tape line would hold it, without the method.
    target: String,
    body: Option<Value>,
}

impl Request_ {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }
}

enum Miss {
    /// Exchanges match, all played (no `--loop`): how many.
    AllPlayed(usize),
    /// No exchange matches; the closest one (same method and path), if any.
    NotOnTape(Option<usize>),
}

/// The query's parameters, sorted: their order does not matter.
fn query(target: &str) -> Vec<&str> {
    let mut q: Vec<&str> = target
        .split_once('?')
        .map(|(_, q)| q.split('&').filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    q.sort_unstable();
    q
}

/// Leaves out ignored fields and masks ids and dates (see the module doc).
fn normalise(v: &mut Value, ignore: &[String], path: &str) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| {
                let full = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                !ignore.iter().any(|i| i == k || *i == full)
            });
            for (k, val) in map.iter_mut() {
                let full = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                normalise(val, ignore, &full);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| normalise(i, ignore, path)),
        Value::String(s) => {
            if is_uuid(s) {
                *s = "[id]".into();
            } else if is_date(s) {
                *s = "[date]".into();
            }
        }
        _ => {}
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `2026-08-05T11:52:01…` (an ISO 8601 date and time).
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() >= 16
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
}

/// The REST door's routes: every path and method is answered from the tape.
pub fn router(tape: Arc<RestTape>, sink: Arc<Sink>) -> Router {
    Router::new()
        .fallback(answer)
        .with_state(Arc::new(Door { tape, sink }))
}

struct Door {
    tape: Arc<RestTape>,
    sink: Arc<Sink>,
}

async fn answer(State(door): State<Arc<Door>>, req: Request) -> Response {
    let start = Instant::now();
    let tape = &door.tape;
    let id = tape.next_id.fetch_add(1, Ordering::Relaxed);
    let (peer, local) = addresses(&req);
    let meta = Meta {
        id,
        mode: "replay".into(),
        source: format!("{} (REST API)", tape.name),
        listener: "http".into(),
        client: peer,
        local,
        started: crate::engine::listener::now_rfc3339(),
    };
    let mut cap = door.sink.capture(meta, start);
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let line = http::request_line(parts.method.as_str(), &target);
    cap.client(line.clone());
    for (name, value) in &parts.headers {
        if let Some(l) = http::request_header(name.as_str(), value.as_bytes()) {
            cap.client(l);
        }
    }
    let bytes = match Limited::new(body, crate::rest::BODY_LIMIT).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            cap.note(format!("request body unreadable: {e}"));
            return finish(
                &door.sink,
                cap,
                departure_response(&format!("the request body could not be read: {e}")),
            )
            .await;
        }
    };
    let body_line = (!bytes.is_empty()).then(|| http::body_line(&bytes));
    if let Some(b) = &body_line {
        cap.client(b.clone());
    }
    let (method, shown_target) = line.split_once(' ').unwrap_or((&line, ""));
    let request = Request_ {
        method: method.to_string(),
        target: shown_target.to_string(),
        body: body_line
            .as_deref()
            .map(|b| serde_json::from_str(b).unwrap_or(Value::String(b.to_string()))),
    };
    let received = match &body_line {
        Some(b) => format!("{line} {b}"),
        None => line.clone(),
    };
    match tape.pick(&request) {
        Ok(i) => {
            let e = &tape.exchanges[i];
            let Some(a) = &e.response else {
                return finish(
                    &door.sink,
                    cap,
                    departure_response("the tape's exchange has no answer"),
                )
                .await;
            };
            cap.note(format!(
                "replaying exchange {} of {} (REST)",
                i + 1,
                tape.name
            ));
            if tape.realtime
                && let (Some(at), Some(asked)) = (a.at, e.requested_at)
            {
                tokio::time::sleep(at.saturating_sub(asked)).await;
            }
            let mut resp = Response::new(Body::from(a.body_bytes()));
            *resp.status_mut() =
                StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            for (name, value) in &a.headers {
                if let (Ok(n), Ok(v)) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    resp.headers_mut().append(n, v);
                }
            }
            finish(&door.sink, cap, resp).await
        }
        Err(miss) => {
            let (expected, why, tape_session) = match miss {
                Miss::AllPlayed(n) => (
                    format!("no more `{line}` like this one"),
                    format!(
                        "the tape's {n} {} for this request {} been played (use --loop to start over)",
                        super::responder::plural(n, "exchange", "exchanges"),
                        if n == 1 { "has" } else { "have" }
                    ),
                    0,
                ),
                Miss::NotOnTape(Some(i)) => {
                    let e = &tape.exchanges[i];
                    let expected = match &e.request_body {
                        Some(b) => format!("{} {} {b}", e.method, e.target),
                        None => format!("{} {}", e.method, e.target),
                    };
                    (
                        expected,
                        format!("the tape holds no `{line}` with this body or query"),
                        i + 1,
                    )
                }
                Miss::NotOnTape(None) => (
                    "(a request the tape holds)".into(),
                    format!("the tape holds no `{line}`"),
                    0,
                ),
            };
            cap.note(format!(
                "diverged from the tape: expected `{expected}`, received `{received}`"
            ));
            tape.departures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Divergence {
                    session: id,
                    tape_session,
                    expected,
                    received,
                });
            finish(&door.sink, cap, departure_response(&why)).await
        }
    }
}

/// The answer to a departure (see the module doc).
fn departure_response(why: &str) -> Response {
    let message = crate::tape::redact::scrub(&format!("{DIVERGED_PREFIX} {why}")).into_owned();
    let body = json!({"statusCode": 500, "name": "application_error", "message": message});
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

async fn finish(sink: &Sink, mut cap: Capture, resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    cap.server(http::status_line(
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or(""),
    ));
    for (name, value) in &parts.headers {
        if let Some(line) = http::response_header(name.as_str(), value.as_bytes()) {
            cap.server(line);
        }
    }
    if !bytes.is_empty() {
        cap.server(http::body_line(&bytes));
    }
    sink.finish_written(cap, Closer::Server).await;
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAPE: &str = "# mailtape tape v1\n\n\
        ## session 1000001 · listener http\n\
        C: POST /emails\nC: {\"from\":\"a@b.co\",\"subject\":\"Hi\",\"scheduled_at\":\"2026-08-05T11:52:01.858Z\"}\n\
        S: 200 OK\nS: content-type: application/json\nS: {\"id\":\"1\"}\n\n\
        ## session 1000002 · listener http\n\
        C: POST /emails\nC: {\"from\":\"a@b.co\",\"subject\":\"Hi\",\"scheduled_at\":\"2026-08-05T11:52:01.858Z\"}\n\
        S: 429 Too Many Requests\nS: retry-after: 1\nS: {\"statusCode\":429,\"name\":\"rate_limit_exceeded\",\"message\":\"slow\"}\n\n\
        ## session 1000003 · listener http\n\
        C: GET /emails?limit=2&after=x\nS: 200 OK\nS: {\"data\":[]}\n";

    fn req(method: &str, target: &str, body: Option<&str>) -> Request_ {
        Request_ {
            method: method.into(),
            target: target.into(),
            body: body.map(|b| serde_json::from_str(b).unwrap()),
        }
    }

    #[test]
    fn matching_in_order_then_departures() {
        let tape = Tape::parse(TAPE, "t").unwrap();
        let r = RestTape::new(&tape, "t".into(), false, false, vec![]);
        assert_eq!(r.total(), 3);
        // key order and dates do not matter
        let send = req(
            "POST",
            "/emails",
            Some(
                "{\"scheduled_at\":\"2027-01-01T00:00:00Z\",\"subject\":\"Hi\",\"from\":\"a@b.co\"}",
            ),
        );
        assert!(matches!(r.pick(&send), Ok(0)));
        assert!(matches!(r.pick(&send), Ok(1)));
        assert!(matches!(r.pick(&send), Err(Miss::AllPlayed(2))));
        let changed = req(
            "POST",
            "/emails",
            Some("{\"from\":\"a@b.co\",\"subject\":\"Bye\"}"),
        );
        assert!(matches!(r.pick(&changed), Err(Miss::NotOnTape(Some(_)))));
        assert!(matches!(
            r.pick(&req("GET", "/emails?after=x&limit=2", None)),
            Ok(2)
        ));
        assert!(matches!(
            r.pick(&req("GET", "/domains", None)),
            Err(Miss::NotOnTape(None))
        ));
        assert_eq!((r.played(), r.plays()), (3, 3));
        // ignored fields, and --loop
        let ignore = vec!["subject".into(), "scheduled_at".into()];
        let r = RestTape::new(&tape, "t".into(), true, false, ignore);
        assert!(matches!(r.pick(&changed), Ok(0)));
        assert!(matches!(r.pick(&changed), Ok(1)));
        assert!(matches!(r.pick(&changed), Ok(0)));
        assert_eq!(r.plays(), 3);
    }
}
