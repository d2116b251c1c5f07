//! Resend's REST API, played by the mock on the same account as its SMTP
//! relay: the same keys, domains, sandbox owner, rate counter, quotas and
//! idempotency keys, and one inbox for what either door sends.
//!
//! - [`send`]: `POST /emails` and `POST /emails/batch`: validation, the
//!   account's checks ([`crate::modes::mock::judge`]), a real MIME message.
//! - [`read`]: `GET /emails`, `GET /emails/{id}`, `PATCH /emails/{id}`,
//!   `POST /emails/{id}/cancel`, and the read side of `/domains` and
//!   `/api-keys`.
//! - [`exchange`]: every request and response becomes a redacted
//!   transcript, published like an SMTP session.
//!
//! [`router`] gives an `axum::Router` for `/emails…`, `/domains…` and
//! `/api-keys…`, served on the inbox's HTTP listener.

pub mod exchange;
pub mod mime;
pub mod read;
pub mod send;
pub mod serve;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::modes::mock::judge::Refusal;
use crate::modes::mock::responder::MockShared;
use crate::resend::profile::RestError;
use crate::resend::{Grant, ReplyName};

/// Everything the REST handlers answer from.
pub struct Rest {
    /// The mock's account state, shared with its SMTP sessions.
    pub shared: Arc<MockShared>,
}

/// The largest request body taken: Resend takes up to 40 MB per email after
/// base64; a batch may hold more. A larger one gets `body_too_large` (413).
pub const BODY_LIMIT: usize = 128 << 20;

/// The routes of Resend's API, on the mock's account.
pub fn router(shared: Arc<MockShared>) -> Router {
    router_with(shared, Router::new())
}

/// [`router`] and `more` routes of the same API served by other parts (the
/// webhooks' `/webhooks…`): each call of those needs a full-access key and
/// counts against the rate, and is recorded like the others.
pub fn router_with(shared: Arc<MockShared>, more: Router) -> Router {
    let rest = Arc::new(Rest { shared });
    let more = more.route_layer(axum::middleware::from_fn_with_state(
        rest.clone(),
        admit_call,
    ));
    Router::new()
        .route("/emails", post(send::one).get(read::list))
        .route("/emails/batch", post(send::batch))
        .route("/emails/{id}", get(read::email).patch(read::update))
        .route("/emails/{id}/cancel", post(read::cancel))
        .route("/domains", get(read::domains))
        .route("/domains/{id}", get(read::domain))
        .route("/api-keys", get(read::api_keys))
        .method_not_allowed_fallback(not_allowed)
        .with_state(rest.clone())
        .merge(more)
        .layer(axum::middleware::from_fn_with_state(
            rest.clone(),
            exchange::record,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// The key check and rate count of a call of another part's routes.
async fn admit_call(
    axum::extract::State(rest): axum::extract::State<Arc<Rest>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Err(r) = rest.authorize(req.headers(), false) {
        return r;
    }
    if let Err(r) = rest.count_call() {
        return r;
    }
    next.run(req).await
}

async fn not_allowed(
    axum::extract::State(rest): axum::extract::State<Arc<Rest>>,
    method: Method,
    uri: Uri,
) -> Response {
    rest.error(
        "method_not_allowed",
        &[("method", method.as_str()), ("path", uri.path())],
    )
}

impl Rest {
    /// The profile's REST error `name` as a response.
    pub fn error(&self, name: &str, vars: &[(&str, &str)]) -> Response {
        error_response(self.shared.settings().profile.rest_error(name, vars))
    }

    /// A refusal of the account's checks as the API gives it.
    pub fn refusal(&self, r: &Refusal) -> Response {
        let mut resp = self.error(rest_name(r.name), &r.vars());
        if r.name == ReplyName::RateLimited {
            // A 429 says when to come back.
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        resp
    }

    /// Checks `Authorization: Bearer re_…` against the account.
    /// `sending` is false for every call but sending, which a
    /// `sending_access` key may not make.
    #[allow(clippy::result_large_err)]
    pub fn authorize(&self, headers: &HeaderMap, sending: bool) -> Result<Grant, Response> {
        let Some(key) = bearer(headers) else {
            return Err(self.error("missing_api_key", &[]));
        };
        let grant = self
            .shared
            .settings()
            .account
            .login(crate::resend::account::USERNAME.as_bytes(), key.as_bytes())
            .map_err(|_| self.error("invalid_api_key", &[]))?;
        if !sending && grant.sending_only {
            return Err(self.error("restricted_api_key", &[]));
        }
        Ok(grant)
    }

    /// Counts a call that sends nothing against the team's rate, as every
    /// API request counts.
    #[allow(clippy::result_large_err)]
    pub fn count_call(&self) -> Result<(), Response> {
        self.shared.admit(0).map_err(|r| self.refusal(&r))
    }
}

/// The REST error of an SMTP refusal: the same name, but for the SMTP
/// door's "API key is invalid", which is the API's `invalid_api_key`.
pub fn rest_name(name: ReplyName) -> &'static str {
    match name {
        ReplyName::ApiKeyInvalid => "invalid_api_key",
        other => other.as_str(),
    }
}

/// The key of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// `{"statusCode","name","message"}` with its status.
pub fn error_response(e: RestError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A message may quote the request (a JSON error); no key leaves in it.
    let message = crate::tape::redact::scrub(&e.message).into_owned();
    let body = json!({"statusCode": e.status, "name": e.name, "message": message});
    (status, axum::Json(body)).into_response()
}
