//! Mailpit's tag endpoints (`/api/v1/tags…`), over the tags the store keeps:
//! `X-Tags` of SMTP messages, Resend's `tags` of REST sends (`name=value`),
//! and whatever these calls set. What the npm `mailpit-api` client's
//! `getTags`, `setTags`, `renameTag` and `deleteTag` send, answered as
//! Mailpit answers (JSON list; plain `ok`; plain-text 400s).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Deserialize;

use super::AppState;
use super::store::clean_tags;

type Shared = State<Arc<AppState>>;

/// The routes of this module.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/tags", get(list).put(set))
        .route("/api/v1/tags/{tag}", put(rename).delete(delete))
        .with_state(state)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn ok() -> Response {
    text(StatusCode::OK, "ok")
}

async fn list(State(s): Shared) -> Response {
    Json(s.store.tag_counts().into_keys().collect::<Vec<_>>()).into_response()
}

#[derive(Deserialize)]
struct SetTags {
    #[serde(default, rename = "IDs")]
    ids: Vec<String>,
    #[serde(default, rename = "Tags")]
    tags: Vec<String>,
}

/// `PUT /api/v1/tags {"IDs": [...], "Tags": [...]}`: replaces the tags of
/// those messages (no `Tags`: removes them all).
async fn set(State(s): Shared, body: Bytes) -> Response {
    let b: SetTags = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("expected a JSON body like {{\"IDs\": [\"…\"], \"Tags\": [\"…\"]}}: {e}"),
            );
        }
    };
    if b.ids.is_empty() {
        return text(StatusCode::BAD_REQUEST, "no IDs: name the messages to tag");
    }
    let tags = clean_tags(b.tags);
    s.store.update_tags(|m| {
        if b.ids.contains(&m.id) {
            Some(tags.clone())
        } else {
            None
        }
    });
    ok()
}

#[derive(Deserialize)]
struct Rename {
    #[serde(rename = "Name")]
    name: String,
}

/// `PUT /api/v1/tags/TAG {"Name": "new"}`: renames a tag on every message.
async fn rename(State(s): Shared, Path(tag): Path<String>, body: Bytes) -> Response {
    let b: Rename = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("expected a JSON body like {{\"Name\": \"new name\"}}: {e}"),
            );
        }
    };
    let Some(new) = clean_tags(vec![b.name]).pop() else {
        return text(
            StatusCode::BAD_REQUEST,
            "the new name has no character a tag may hold (letters, digits, - _ . = and spaces)",
        );
    };
    s.store.update_tags(|m| {
        let tags = m.tags();
        tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)).then(|| {
            tags.iter()
                .map(|t| {
                    if t.eq_ignore_ascii_case(&tag) {
                        new.clone()
                    } else {
                        t.clone()
                    }
                })
                .collect()
        })
    });
    ok()
}

/// `DELETE /api/v1/tags/TAG`: takes a tag off every message (the messages stay).
async fn delete(State(s): Shared, Path(tag): Path<String>) -> Response {
    s.store.update_tags(|m| {
        let tags = m.tags();
        tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)).then(|| {
            tags.iter()
                .filter(|t| !t.eq_ignore_ascii_case(&tag))
                .cloned()
                .collect()
        })
    });
    ok()
}
