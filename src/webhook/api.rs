//! The webhooks' HTTP side.
//!
//! - [`management`]: Resend's API on the REST door — `POST /webhooks`
//!   (201 with `signing_secret`), `GET /webhooks`, `GET/PATCH/DELETE
//!   /webhooks/{id}`, `GET /webhooks/{id}/events[/{event_id}[/attempts]]`,
//!   `POST /webhooks/{id}/events/{event_id}/replay` and
//!   `POST /webhooks/{id}/signing-secret/rotate` (the paths and shapes of
//!   Resend's Node SDK). The REST door checks the key first.
//! - [`inbox`]: mailtape's `/api/webhooks…` on the inbox's listener, for
//!   the page and for tests in any language: endpoints, events with their
//!   attempts, replay, and opens and clicks on demand.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::{self, EventType};
use super::{DeliveryState, EndpointSpec, Webhooks};

type Hooks = State<Arc<Webhooks>>;

/// Resend's management routes (no key check: the REST door's layer does it).
pub fn management(hooks: Arc<Webhooks>) -> Router {
    Router::new()
        .route("/webhooks", post(create).get(list))
        .route("/webhooks/{id}", get(read_one).patch(update).delete(remove))
        .route("/webhooks/{id}/events", get(endpoint_events))
        .route("/webhooks/{id}/events/{event_id}", get(endpoint_event_one))
        .route(
            "/webhooks/{id}/events/{event_id}/attempts",
            get(endpoint_attempts),
        )
        .route(
            "/webhooks/{id}/events/{event_id}/replay",
            post(endpoint_replay),
        )
        .route("/webhooks/{id}/signing-secret/rotate", post(rotate))
        .with_state(hooks)
}

/// mailtape's own routes for the inbox and tests.
pub fn inbox(hooks: Arc<Webhooks>) -> Router {
    Router::new()
        .route("/api/webhooks", get(overview).post(inbox_add))
        .route("/api/webhooks/events", get(inbox_events))
        .route("/api/webhooks/events/{id}", get(inbox_event))
        .route("/api/webhooks/events/{id}/replay", post(inbox_replay))
        .route("/api/webhooks/emails/{email_id}/open", post(open))
        .route("/api/webhooks/emails/{email_id}/click", post(click))
        .route(
            "/api/webhooks/endpoints/{id}",
            axum::routing::delete(inbox_remove),
        )
        .with_state(hooks)
}

/// A Resend-shaped error.
fn error(status: StatusCode, name: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"statusCode": status.as_u16(), "name": name, "message": message})),
    )
        .into_response()
}

fn invalid(message: &str) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
        message,
    )
}

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("{what} not found"),
    )
}

/// A JSON body, or the 422 that says what is wrong with it.
#[allow(clippy::result_large_err)]
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| invalid(&format!("The request body is not valid: {e}")))
}

#[derive(Deserialize)]
struct CreateIn {
    endpoint: Option<String>,
    events: Option<Vec<String>>,
}

async fn create(State(hooks): Hooks, body: Bytes) -> Response {
    let r: CreateIn = match json_body(&body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let Some(endpoint) = r.endpoint.filter(|e| !e.is_empty()) else {
        return invalid("Missing `endpoint` field.");
    };
    let Some(events) = r.events.filter(|e| !e.is_empty()) else {
        return invalid("The `events` field must list at least one event.");
    };
    match hooks.add(&EndpointSpec {
        url: endpoint,
        events,
        ..EndpointSpec::default()
    }) {
        Ok(e) => (
            StatusCode::CREATED,
            axum::Json(json!({"object": "webhook", "id": e.id(), "signing_secret": e.secret()})),
        )
            .into_response(),
        Err(reason) => invalid(&reason),
    }
}

async fn list(State(hooks): Hooks, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut all: Vec<Value> = hooks.endpoints().iter().map(|e| e.to_json()).collect();
    for v in &mut all {
        if let Some(m) = v.as_object_mut() {
            m.remove("object");
        }
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return invalid("`limit` must be a number between 1 and 100"),
    };
    let has_more = all.len() > limit;
    all.truncate(limit);
    axum::Json(json!({"object": "list", "has_more": has_more, "data": all})).into_response()
}

async fn read_one(State(hooks): Hooks, Path(id): Path<String>) -> Response {
    match hooks.endpoint(&id) {
        Some(e) => {
            let mut v = e.to_json();
            v["signing_secret"] = e.secret().into();
            axum::Json(v).into_response()
        }
        None => not_found("Webhook"),
    }
}

#[derive(Deserialize)]
struct UpdateIn {
    endpoint: Option<String>,
    events: Option<Vec<String>>,
    status: Option<String>,
}

async fn update(State(hooks): Hooks, Path(id): Path<String>, body: Bytes) -> Response {
    let r: UpdateIn = match json_body(&body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let enabled = match r.status.as_deref() {
        None => None,
        Some("enabled") => Some(true),
        Some("disabled") => Some(false),
        Some(other) => {
            return invalid(&format!(
                "`status` must be `enabled` or `disabled`, not {other:?}"
            ));
        }
    };
    if r.events.as_ref().is_some_and(|e| e.is_empty()) {
        return invalid("The `events` field must list at least one event.");
    }
    match hooks.update(&id, r.endpoint.as_deref(), r.events.as_deref(), enabled) {
        Ok(Some(e)) => axum::Json(json!({"object": "webhook", "id": e.id()})).into_response(),
        Ok(None) => not_found("Webhook"),
        Err(reason) => invalid(&reason),
    }
}

async fn remove(State(hooks): Hooks, Path(id): Path<String>) -> Response {
    match hooks.remove(&id) {
        Some(e) => {
            axum::Json(json!({"object": "webhook", "id": e.id(), "deleted": true})).into_response()
        }
        None => not_found("Webhook"),
    }
}

/// How Resend's API names where an event stands for an endpoint.
fn log_status(v: &super::WebhookEvent, endpoint: &str) -> Option<&'static str> {
    let state = v.deliveries.iter().find(|(e, _)| e == endpoint)?.1;
    let tried = v.attempts.iter().any(|a| a.webhook_id == endpoint);
    Some(match state {
        DeliveryState::Delivered => "success",
        DeliveryState::Pending if tried => "attempting",
        DeliveryState::Pending => "pending",
        DeliveryState::Failed | DeliveryState::Aborted | DeliveryState::Dropped => "failed",
    })
}

/// When endpoint `id`'s next attempt of the event is due, while a retry
/// waits (`2024-02-22T23:41:12.126Z`); null otherwise.
fn next_attempt(v: &super::WebhookEvent, id: &str) -> Value {
    v.next_attempts
        .iter()
        .find(|(e, _)| e == id)
        .map_or(Value::Null, |(_, t)| Value::String(t.clone()))
}

/// `GET /webhooks/{id}/events`: newest first.
async fn endpoint_events(State(hooks): Hooks, Path(id): Path<String>) -> Response {
    if hooks.endpoint(&id).is_none() {
        return not_found("Webhook");
    }
    let data: Vec<Value> = hooks
        .records()
        .iter()
        .rev()
        .filter_map(|r| {
            let v = r.view();
            let status = log_status(&v, &id)?;
            Some(json!({"id": v.id, "type": v.kind, "created_at": v.created_at, "status": status, "next_attempt_at": next_attempt(&v, &id)}))
        })
        .collect();
    axum::Json(json!({"object": "list", "has_more": false, "data": data})).into_response()
}

/// The event `event_id` as sent to endpoint `id`, if it was.
#[allow(clippy::result_large_err)]
fn endpoint_event(
    hooks: &Webhooks,
    id: &str,
    event_id: &str,
) -> Result<(super::WebhookEvent, &'static str), Response> {
    if hooks.endpoint(id).is_none() {
        return Err(not_found("Webhook"));
    }
    let v = hooks
        .event(event_id)
        .map(|r| r.view())
        .ok_or_else(|| not_found("Webhook event"))?;
    let status = log_status(&v, id).ok_or_else(|| not_found("Webhook event"))?;
    Ok((v, status))
}

/// `GET /webhooks/{id}/events/{event_id}`.
async fn endpoint_event_one(
    State(hooks): Hooks,
    Path((id, event_id)): Path<(String, String)>,
) -> Response {
    match endpoint_event(&hooks, &id, &event_id) {
        Ok((v, status)) => axum::Json(json!({
            "object": "webhook_event",
            "id": v.id,
            "type": v.kind,
            "created_at": v.created_at,
            "status": status,
            "next_attempt_at": next_attempt(&v, &id),
            "payload": v.payload,
        }))
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /webhooks/{id}/events/{event_id}/attempts`: newest first.
async fn endpoint_attempts(
    State(hooks): Hooks,
    Path((id, event_id)): Path<(String, String)>,
) -> Response {
    let (v, _) = match endpoint_event(&hooks, &id, &event_id) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let data: Vec<Value> = v
        .attempts
        .iter()
        .rev()
        .filter(|a| a.webhook_id == id)
        .map(|a| {
            json!({
                "id": format!("{}_{}", v.id.replacen("msg_", "atmpt_", 1), a.attempt),
                "http_status_code": a.status.unwrap_or(0),
                "response": if a.response_body.is_empty() { a.error.clone().unwrap_or_default() } else { a.response_body.clone() },
                "sent_at": events::timestamp(a.at),
                "next_attempt_at": a.next_attempt_at,
            })
        })
        .collect();
    axum::Json(json!({"object": "list", "has_more": false, "data": data})).into_response()
}

/// `POST /webhooks/{id}/events/{event_id}/replay`: the same event (id and
/// body) again, to this endpoint.
async fn endpoint_replay(
    State(hooks): Hooks,
    Path((id, event_id)): Path<(String, String)>,
) -> Response {
    if let Err(r) = endpoint_event(&hooks, &id, &event_id) {
        return r;
    }
    match hooks.replay(&event_id, Some(&id)) {
        Some(r) => axum::Json(json!({"object": "webhook_event", "id": r.id})).into_response(),
        None => not_found("Webhook event"),
    }
}

/// `POST /webhooks/{id}/signing-secret/rotate`.
async fn rotate(State(hooks): Hooks, Path(id): Path<String>) -> Response {
    match hooks.rotate(&id) {
        Some(e) => {
            axum::Json(json!({"object": "webhook", "id": e.id(), "signing_secret": e.secret()}))
                .into_response()
        }
        None => not_found("Webhook"),
    }
}

// mailtape's own routes.

async fn overview(State(hooks): Hooks) -> Response {
    let endpoints: Vec<Value> = hooks
        .endpoints()
        .iter()
        .map(|e| {
            let mut v = e.to_json();
            v["disabled_reason"] = e.disabled_reason().into();
            v
        })
        .collect();
    let types: Vec<Value> = EventType::ALL
        .iter()
        .map(
            |t| json!({"name": t.name(), "source": t.sequence_source().name(), "cause": t.cause(), "sent": t.sent()}),
        )
        .collect();
    axum::Json(json!({
        "endpoints": endpoints,
        "events": hooks.records().len(),
        "pending": hooks.pending(),
        "backlog": hooks.backlog(),
        "caught_up": hooks.caught_up(),
        "dropped": hooks.dropped(),
        "tapes_lost": hooks.tapes_lost(),
        "event_types": types,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct AddIn {
    endpoint: Option<String>,
    #[serde(default)]
    events: Vec<String>,
    secret: Option<String>,
}

async fn inbox_add(State(hooks): Hooks, body: Bytes) -> Response {
    let r: AddIn = match json_body(&body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let Some(url) = r.endpoint else {
        return invalid("Missing `endpoint` field.");
    };
    match hooks.add(&EndpointSpec {
        url,
        events: r.events,
        secret: r.secret,
        disabled: false,
    }) {
        Ok(e) => (
            StatusCode::CREATED,
            axum::Json(json!({"id": e.id(), "signing_secret": e.secret()})),
        )
            .into_response(),
        Err(reason) => invalid(&reason),
    }
}

async fn inbox_remove(State(hooks): Hooks, Path(id): Path<String>) -> Response {
    match hooks.remove(&id) {
        Some(e) => axum::Json(json!({"id": e.id(), "deleted": true})).into_response(),
        None => not_found("Webhook"),
    }
}

/// `?email_id=&type=&session=`: the events kept, oldest first.
async fn inbox_events(State(hooks): Hooks, Query(q): Query<HashMap<String, String>>) -> Response {
    let list: Vec<_> = hooks
        .events()
        .into_iter()
        .filter(|e| q.get("email_id").is_none_or(|id| *id == e.email_id))
        .filter(|e| q.get("type").is_none_or(|t| *t == e.kind))
        .filter(|e| {
            q.get("session")
                .is_none_or(|s| s.parse::<u64>().ok() == Some(e.session))
        })
        .collect();
    axum::Json(list).into_response()
}

async fn inbox_event(State(hooks): Hooks, Path(id): Path<String>) -> Response {
    match hooks.event(&id) {
        Some(r) => axum::Json(r.view()).into_response(),
        None => not_found("Webhook event"),
    }
}

async fn inbox_replay(State(hooks): Hooks, Path(id): Path<String>) -> Response {
    match hooks.replay(&id, None) {
        Some(r) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"id": r.id, "replayed": true})),
        )
            .into_response(),
        None => not_found("Webhook event"),
    }
}

#[derive(Deserialize, Default)]
struct EngageIn {
    link: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}

async fn open(State(hooks): Hooks, Path(email_id): Path<String>) -> Response {
    engage(&hooks, &email_id, EventType::Opened, serde_json::Map::new())
}

async fn click(State(hooks): Hooks, Path(email_id): Path<String>, body: Bytes) -> Response {
    let r: EngageIn = if body.is_empty() {
        EngageIn::default()
    } else {
        match json_body(&body) {
            Ok(r) => r,
            Err(e) => return e,
        }
    };
    let Some(link) = r.link.filter(|l| !l.is_empty()) else {
        return invalid("Missing `link` field: the URL that was clicked.");
    };
    let extra = events::click(
        &link,
        r.ip.as_deref().unwrap_or("127.0.0.1"),
        r.user_agent.as_deref().unwrap_or("mailtape inbox"),
        time::OffsetDateTime::now_utc(),
    );
    engage(&hooks, &email_id, EventType::Clicked, extra)
}

fn engage(
    hooks: &Arc<Webhooks>,
    email_id: &str,
    kind: EventType,
    extra: serde_json::Map<String, Value>,
) -> Response {
    match hooks.engage(email_id, kind, extra) {
        Some(r) => (
            StatusCode::CREATED,
            axum::Json(json!({"id": r.id, "type": kind.name(), "email_id": email_id})),
        )
            .into_response(),
        None => not_found("Email with webhook events"),
    }
}
