//! Record mode's REST door: every request to Resend's API is forwarded to
//! the upstream the user named (`--rest-upstream`, by default
//! `https://api.resend.com`) over TLS, and the exchange is captured,
//! redacted, as one HTTP transcript ([`crate::tape::http`]).
//!
//! - **Only to the named upstream.** The URL sent upstream is the upstream's
//!   scheme and authority with the request's path and query: never the
//!   request's Host or an absolute target. Redirects are relayed, never
//!   followed.
//! - **Read whole, then forwarded.** A request body over
//!   [`crate::rest::BODY_LIMIT`] is refused (413, Resend's shape) before a
//!   byte goes upstream; the answer is read whole before the client gets it,
//!   so an upstream that breaks off mid-body gives a clean 502, never a
//!   truncated 200.
//! - **Faults are recorded as what they were** (a note on the exchange) and
//!   answered with mailtape's own Resend-shaped error: `502` when the
//!   upstream cannot be reached, resets, answers something that is not HTTP,
//!   or a 5xx that is not Resend's error JSON; `504` when no whole answer
//!   came within the timeout. Their message starts `mailtape record:`.
//! - Headers are forwarded both ways but for the hop-by-hop ones; the
//!   request asks for no compression (`accept-encoding: identity`), so what
//!   is on tape is the JSON the upstream sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::json;

use crate::error::Error;
use crate::net::http::listener::{addresses, body_timeout};
use crate::net::http_client::HttpClient;
use crate::output::sink::Sink;
use crate::resend::Profile;
use crate::tape::capture::Capture;
use crate::tape::http;
use crate::tape::{Closer, Meta};

/// Resend's API, where `--rest` alone forwards.
pub const DEFAULT_REST_UPSTREAM: &str = "https://api.resend.com";

/// The largest answer read from the upstream (Resend's are kilobytes).
const MAX_ANSWER: usize = 64 << 20;

/// How every error of mailtape's own on the recorded REST door begins.
pub const REST_UPSTREAM_PREFIX: &str = "mailtape record:";

/// Where and how to forward REST requests.
#[derive(Debug, Clone)]
pub struct RestUpstreamOptions {
    /// `https://host[:port]`, optionally with a base path.
    pub url: String,
    /// A CA certificate (PEM) to trust besides the public roots.
    pub ca: Option<std::path::PathBuf>,
    /// Longest wait for the connection and the TLS handshake.
    pub connect_timeout: Duration,
    /// Longest wait for the whole answer.
    pub timeout: Duration,
    /// A listener of its own for the REST door (`--rest ADDR`), besides
    /// the inbox's; port 0 for any free port.
    pub listen: Option<std::net::SocketAddr>,
}

impl Default for RestUpstreamOptions {
    fn default() -> RestUpstreamOptions {
        RestUpstreamOptions {
            url: DEFAULT_REST_UPSTREAM.into(),
            ca: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            listen: None,
        }
    }
}

/// The resolved upstream and the client to it, shared by every request.
pub struct RestUpstream {
    scheme: String,
    authority: String,
    base_path: String,
    client: HttpClient,
    timeout: Duration,
    profile: Profile,
    next_id: AtomicU64,
}

impl std::fmt::Debug for RestUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl RestUpstream {
    /// Checks the URL (https only: it is sent real keys) and builds the client.
    pub fn new(o: &RestUpstreamOptions) -> Result<RestUpstream, Error> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "--rest-upstream {:?}: {why} (such as {DEFAULT_REST_UPSTREAM})",
                o.url
            ))
        };
        let uri: Uri = o.url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad(
                "expected an https:// URL; the API is sent real keys, never in the clear",
            ));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| bad("no host"))?
            .as_str()
            .to_string();
        if authority.contains('@') {
            return Err(bad("user information in the URL is not taken"));
        }
        if uri.query().is_some() {
            return Err(bad("a query is not taken"));
        }
        Ok(RestUpstream {
            scheme: "https".into(),
            authority,
            base_path: uri.path().trim_end_matches('/').to_string(),
            client: crate::net::http_client::client(o.ca.as_deref(), o.connect_timeout, true)?,
            timeout: o.timeout,
            profile: Profile::build(None, "default")?,
            next_id: AtomicU64::new(1_000_001),
        })
    }

    /// The upstream as transcripts name it: `https://api.resend.com`.
    pub fn describe(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.base_path)
    }

    /// The upstream URL for a request's path and query; nothing of the
    /// request but those decides where it goes.
    fn url(&self, path_and_query: &str) -> Result<Uri, String> {
        let pq = if path_and_query.starts_with('/') {
            path_and_query.to_string()
        } else {
            format!("/{path_and_query}")
        };
        format!("{}://{}{}{pq}", self.scheme, self.authority, self.base_path)
            .parse()
            .map_err(|e| format!("{e}"))
    }
}

/// The REST door's routes: every path and method is forwarded.
pub fn router(upstream: Arc<RestUpstream>, sink: Arc<Sink>) -> Router {
    Router::new()
        .fallback(forward)
        .with_state(Arc::new(Door { upstream, sink }))
}

struct Door {
    upstream: Arc<RestUpstream>,
    sink: Arc<Sink>,
}

/// Request headers that belong to one connection, not to the request
/// (RFC 9110 §7.6.1), and those the client recomputes.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

fn forwarded_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != "accept-encoding" {
            to.append(name.clone(), value.clone());
        }
    }
}

async fn forward(State(door): State<Arc<Door>>, req: Request) -> Response {
    let start = Instant::now();
    let up = &door.upstream;
    let id = up.next_id.fetch_add(1, Ordering::Relaxed);
    let (peer, local) = addresses(&req);
    let meta = Meta {
        id,
        mode: "record".into(),
        source: format!("{} (REST API)", up.describe()),
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
    cap.client(http::request_line(parts.method.as_str(), &target));
    for (name, value) in &parts.headers {
        if let Some(line) = http::request_header(name.as_str(), value.as_bytes()) {
            cap.client(line);
        }
    }
    // Read whole before anything is sent: a body over the limit is refused
    // without a byte going upstream.
    let limit = crate::rest::BODY_LIMIT;
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let too_large = |cap: &mut Capture, size: String| {
        cap.note(format!(
            "request body of {size} bytes refused unread, not forwarded"
        ));
        let e = up
            .profile
            .rest_error("body_too_large", &[("max", &format!("{} MB", limit >> 20))]);
        crate::rest::error_response(e)
    };
    let bytes = match declared {
        Some(n) if n > limit as u64 => {
            let resp = too_large(&mut cap, n.to_string());
            return answer_local(&door.sink, cap, resp).await;
        }
        _ => match Limited::new(body, limit).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let resp = if e.is::<http_body_util::LengthLimitError>() {
                    too_large(&mut cap, format!("more than {limit}"))
                } else if let Some(t) = body_timeout(e.as_ref()) {
                    cap.note(format!("request body refused, not forwarded: {t}"));
                    local_error(StatusCode::REQUEST_TIMEOUT, &t.to_string())
                } else {
                    cap.note(format!("request body unreadable, not forwarded: {e}"));
                    local_error(
                        StatusCode::BAD_REQUEST,
                        &format!("the request body could not be read: {e}"),
                    )
                };
                return answer_local(&door.sink, cap, resp).await;
            }
        },
    };
    if !bytes.is_empty() {
        cap.client(http::body_line(&bytes));
    }
    let url = match up.url(&target) {
        Ok(u) => u,
        Err(e) => {
            cap.note(format!("request target not forwarded: {e}"));
            let resp = local_error(
                StatusCode::BAD_REQUEST,
                &format!("the request target cannot be forwarded: {e}"),
            );
            return answer_local(&door.sink, cap, resp).await;
        }
    };
    let mut upstream_req = hyper::Request::new(Full::new(bytes));
    *upstream_req.method_mut() = parts.method.clone();
    *upstream_req.uri_mut() = url;
    forwarded_headers(&parts.headers, upstream_req.headers_mut());
    upstream_req.headers_mut().insert(
        axum::http::header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    let exchange = async {
        let resp = up.client.request(upstream_req).await.map_err(Fault::Send)?;
        let (head, body) = resp.into_parts();
        match Limited::new(body, MAX_ANSWER).collect().await {
            Ok(b) => Ok((head, b.to_bytes())),
            Err(e) => Err(Fault::Body(head.status, e.to_string())),
        }
    };
    let (head, body) = match tokio::time::timeout(up.timeout, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(fault)) => {
            let (status, what) = fault.describe(up);
            cap.note(format!("upstream fault: {what}"));
            return answer_local(&door.sink, cap, local_error(status, &what)).await;
        }
        Err(_) => {
            let what = format!(
                "{} did not answer within {} s",
                up.describe(),
                up.timeout.as_secs_f64()
            );
            cap.note(format!("upstream fault: {what}"));
            return answer_local(
                &door.sink,
                cap,
                local_error(StatusCode::GATEWAY_TIMEOUT, &what),
            )
            .await;
        }
    };
    // A 5xx that is not Resend's error JSON (a proxy's HTML page, garbage)
    // would leave an SDK guessing: the app gets a 502 that says what came.
    if head.status.is_server_error() && http::resend_error(&http::body_line(&body)).is_none() {
        let what = format!(
            "{} answered {} with a body that is not Resend's error JSON ({} bytes{})",
            up.describe(),
            head.status,
            body.len(),
            head.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(|c| format!(", {c}"))
                .unwrap_or_default()
        );
        cap.note(format!(
            "upstream fault: {what}: {}",
            http::body_line(&body)
        ));
        return answer_local(&door.sink, cap, local_error(StatusCode::BAD_GATEWAY, &what)).await;
    }
    let mut resp = Response::new(Body::from(body.clone()));
    *resp.status_mut() = head.status;
    forwarded_headers(&head.headers, resp.headers_mut());
    capture_answer(&mut cap, &resp, &body);
    door.sink.finish_written(cap, Closer::Server).await;
    resp
}

/// What went wrong with the upstream.
enum Fault {
    /// No answer: connect, TLS, or a reply that was not HTTP.
    Send(hyper_util::client::legacy::Error),
    /// The answer broke off in its body.
    Body(StatusCode, String),
}

impl Fault {
    fn describe(&self, up: &RestUpstream) -> (StatusCode, String) {
        let at = up.describe();
        match self {
            Fault::Send(e) => {
                let chain = error_chain(e);
                let what = if e.is_connect() {
                    format!("{at} cannot be reached: {chain}")
                } else {
                    format!("{at} gave no HTTP answer: {chain}")
                };
                (StatusCode::BAD_GATEWAY, what)
            }
            Fault::Body(status, e) => (
                StatusCode::BAD_GATEWAY,
                format!("{at} broke off its answer ({status}) in the body: {e}"),
            ),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// mailtape's own error on the recorded door, in Resend's shape.
fn local_error(status: StatusCode, what: &str) -> Response {
    let message =
        crate::tape::redact::scrub(&format!("{REST_UPSTREAM_PREFIX} {what}")).into_owned();
    let body = json!({
        "statusCode": status.as_u16(),
        "name": "application_error",
        "message": message,
    });
    (status, axum::Json(body)).into_response()
}

/// Captures a local answer and sends it once the exchange is on tape.
async fn answer_local(sink: &Sink, mut cap: Capture, resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let resp = Response::from_parts(parts, Body::from(bytes.clone()));
    capture_answer(&mut cap, &resp, &bytes);
    sink.finish_written(cap, Closer::Server).await;
    resp
}

fn capture_answer(cap: &mut Capture, resp: &Response, body: &Bytes) {
    let status = resp.status();
    cap.server(http::status_line(
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
    ));
    for (name, value) in resp.headers() {
        if let Some(line) = http::response_header(name.as_str(), value.as_bytes()) {
            cap.server(line);
        }
    }
    if !body.is_empty() {
        cap.server(http::body_line(body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_upstreams_and_only_their_host() {
        let o = |url: &str| RestUpstreamOptions {
            url: url.into(),
            ..RestUpstreamOptions::default()
        };
        for bad in [
            "http://api.resend.com",
            "api.resend.com",
            "https://user:pw@api.resend.com",
            "https://api.resend.com/?x=1",
        ] {
            assert!(RestUpstream::new(&o(bad)).is_err(), "{bad}");
        }
        let up = RestUpstream::new(&o("https://127.0.0.1:8443/v1/")).unwrap();
        assert_eq!(up.describe(), "https://127.0.0.1:8443/v1");
        assert_eq!(
            up.url("/emails?limit=2").unwrap().to_string(),
            "https://127.0.0.1:8443/v1/emails?limit=2"
        );
        // an absolute target names no other host: only its path is used
        assert_eq!(
            up.url("//evil.example/emails")
                .unwrap()
                .authority()
                .unwrap()
                .as_str(),
            "127.0.0.1:8443"
        );
    }
}
