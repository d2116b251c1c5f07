//! Which app sent what: the API keys seen (as fingerprints, never keys)
//! with how many messages and sessions each sent, for the page's per-key
//! view. Lists filter with `?key=`; queries with `key:`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;

/// The routes of this module.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/keys", get(keys))
        .with_state(state)
}

/// `GET /api/keys`: `{"keys": [{"key": "re_…a1f3", "messages": 3, "sessions": 4}]}`.
async fn keys(State(s): State<Arc<AppState>>) -> Response {
    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for m in s.store.messages(0, usize::MAX, |_| true).items {
        if let Some(k) = &m.key {
            seen.entry(k.clone()).or_default().0 += 1;
        }
    }
    for r in s.store.sessions(0, usize::MAX, |_| true).items {
        if let Some(k) = &r.summary.api_key {
            seen.entry(k.clone()).or_default().1 += 1;
        }
    }
    let keys: Vec<_> = seen
        .into_iter()
        .map(|(key, (messages, sessions))| json!({"key": key, "messages": messages, "sessions": sessions}))
        .collect();
    Json(json!({ "keys": keys })).into_response()
}
