//! Resend's REST API, played by the mock on the same account as its SMTP
//! relay: the same keys, domains, sandbox owner, rate counter, quotas and
//! idempotency keys, and one inbox for what either door sends.
//!
//! - [`send`]: `POST /emails` and `POST /emails/batch`: validation, the
//!   account's checks ([`crate::modes::mock::judge`]), a real MIME message.
//! - [`read`]: `GET /emails`, `GET /emails/{id}`, `PATCH /emails/{id}`,
//!   `POST /emails/{id}/cancel`, an email's attachments.
//! - [`account`]: `/domains` and `/api-keys`, read and written.
//! - [`reject`]: malformed ids and paging, unknown paths and methods, in
//!   Resend's JSON error shape.
//! - [`exchange`]: every request and response becomes a redacted
//!   transcript, published like an SMTP session.
//!
//! [`router`] gives an `axum::Router` for `/emails…`, `/domains…` and
//! `/api-keys…`, served on the inbox's HTTP listener.

pub mod account;
pub mod exchange;
pub mod mime;
pub mod read;
pub mod reject;
pub mod send;
pub mod serve;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
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

/// The routes of Resend's API, on the mock's account. Any other path is
/// Resend's JSON `not_found` (not recorded as an exchange: a browser's
/// `/favicon.ico` on the inbox's listener is no API call). With them,
/// `more` routes of the same API served by other parts (the webhooks'
/// `/webhooks…`): each call of those needs a full-access key and counts
/// against the rate, and is recorded like the others.
pub fn router_with(shared: Arc<MockShared>, more: Router) -> Router {
    let rest = Arc::new(Rest { shared });
    let more = more.route_layer(axum::middleware::from_fn_with_state(
        rest.clone(),
        admit_call,
    ));
    let api = Router::new()
        .route("/emails", post(send::one).get(read::list))
        .route("/emails/batch", post(send::batch))
        .route("/emails/{email_id}", get(read::email).patch(read::update))
        .route("/emails/{email_id}/cancel", post(read::cancel))
        .route("/emails/{email_id}/attachments", get(read::attachments))
        .route(
            "/emails/{email_id}/attachments/{attachment_id}",
            get(read::attachment),
        )
        .route(
            "/domains",
            get(account::list_domains).post(account::create_domain),
        )
        .route(
            "/domains/{domain_id}",
            get(account::get_domain)
                .patch(account::update_domain)
                .delete(account::delete_domain),
        )
        .route("/domains/{domain_id}/verify", post(account::verify_domain))
        .route(
            "/api-keys",
            get(account::list_keys).post(account::create_key),
        )
        .route(
            "/api-keys/{api_key_id}",
            axum::routing::delete(account::delete_key),
        )
        .method_not_allowed_fallback(reject::not_allowed)
        .with_state(rest.clone())
        .merge(more)
        .layer(axum::middleware::from_fn_with_state(
            rest.clone(),
            exchange::record,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    // Not an API call: the `download_url` of an attachment, like
    // Resend's signed URLs, and the JSON 404 for any other path.
    let open = Router::new()
        .route(
            "/emails/{email_id}/attachments/{attachment_id}/content",
            get(read::download),
        )
        .fallback(reject::unknown_endpoint)
        .with_state(rest);
    api.merge(open)
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
        // On the sending endpoints a bad key is a 401, elsewhere a 400.
        let invalid = if sending {
            "invalid_api_key"
        } else {
            "invalid_api_key_elsewhere"
        };
        let grant = self
            .shared
            .login(crate::resend::account::USERNAME.as_bytes(), key.as_bytes())
            .map_err(|_| self.error(invalid, &[]))?;
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
