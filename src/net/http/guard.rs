//! What every request to an HTTP listener of mailtape passes first — the
//! inbox's (the page, the API, Mailpit's, and Resend's REST API merged in)
//! and the REST API's own (`mock --rest`) alike:
//!
//! - **DNS rebinding.** A page on `evil.example` whose name resolves to
//!   127.0.0.1 could otherwise read mail from the browser. Its requests
//!   carry `Host: evil.example`; only loopback names (`localhost`,
//!   `*.localhost`), loopback addresses and the address the listener was
//!   given pass (any IP literal too with `--allow-remote`).
//! - **Cross-site writes.** A request that is not GET, HEAD or OPTIONS is
//!   refused when a browser says it comes from elsewhere: `Sec-Fetch-Site`
//!   present and not `same-origin`/`none`, or an `Origin` that is not this
//!   listener's own. Browsers always send these on cross-origin requests
//!   (and a page cannot forge or remove them); programs — curl, the
//!   `mailpit-api` client, Resend's SDKs pointed here with
//!   `RESEND_BASE_URL` and an `Authorization: Bearer re_…` header — send
//!   neither, and pass. A required custom header would break those SDKs.
//! - **Headers on every answer:** `nosniff`, no referrer, no framing by
//!   other origins, no caching.
//! - **No key in an error answer** ([`super::answer`]).

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::tape::redact::scrub;

/// What the guard allows.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The address the listener was given (its IP passes the Host check).
    pub bound: std::net::SocketAddr,
    /// Any IP literal passes (`--allow-remote`).
    pub allow_remote: bool,
    /// What the listener serves, as its refusals name it ("inbox").
    pub serves: &'static str,
}

/// `router` with the guard in front of every route.
pub fn wrap(router: Router, guard: Guard) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        std::sync::Arc::new(guard),
        check,
    ))
}

fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    })
}

impl Guard {
    /// Whether a `Host` header value names this listener.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host).trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        match name.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.bound.ip() || self.allow_remote,
            Err(_) => false,
        }
    }
}

/// Whether a state-changing request comes from another site (see the module doc).
pub fn cross_site(headers: &HeaderMap) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("?");
        if site != "same-origin" && site != "none" {
            return Some(format!("Sec-Fetch-Site: {site}"));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let ok = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host));
        if !ok {
            return Some(format!(
                "Origin: {}",
                origin.to_str().unwrap_or("(not text)")
            ));
        }
    }
    None
}

/// A refusal in text; whatever of the request it quotes (a Host, an
/// Origin) is scrubbed of keys first.
fn refuse(status: StatusCode, text: String) -> Response {
    let text = scrub(&text).into_owned();
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The middleware.
async fn check(State(g): State<std::sync::Arc<Guard>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut res = if !g.host_allowed(&host) {
        refuse(
            StatusCode::FORBIDDEN,
            format!(
                "mailtape: Host {host:?} is not this {} (DNS rebinding guard); open http://{}/ instead\n",
                g.serves, g.bound
            ),
        )
    } else if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && let Some(why) = cross_site(req.headers())
    {
        refuse(
            StatusCode::FORBIDDEN,
            format!(
                "mailtape: refused a cross-site {} ({why}); state-changing calls come from the inbox's own page or from programs\n",
                req.method()
            ),
        )
    } else {
        super::answer::scrub_error(next.run(req).await).await
    };
    let h = res.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(remote: bool) -> Guard {
        Guard {
            bound: "127.0.0.1:8025".parse().expect("addr"),
            allow_remote: remote,
            serves: "inbox",
        }
    }

    #[test]
    fn only_loopback_names_pass_the_host_check() {
        let g = guard(false);
        for ok in [
            "127.0.0.1:8025",
            "localhost:8025",
            "LOCALHOST",
            "[::1]:8025",
            "app.localhost:1",
            "127.0.0.2",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example:8025",
            "evil.example",
            "",
            "10.0.0.1:8025",
            "localhost.evil.example",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        assert!(guard(true).host_allowed("10.0.0.1:8025"));
        assert!(!guard(true).host_allowed("evil.example"));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn browsers_from_elsewhere_are_refused_programs_pass() {
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8025")])).is_none());
        assert!(
            cross_site(&headers(&[
                ("host", "127.0.0.1:8025"),
                ("authorization", "Bearer re_x")
            ]))
            .is_none()
        );
        assert!(
            cross_site(&headers(&[
                ("host", "127.0.0.1:8025"),
                ("origin", "http://127.0.0.1:8025"),
                ("sec-fetch-site", "same-origin")
            ]))
            .is_none()
        );
        assert!(
            cross_site(&headers(&[
                ("host", "127.0.0.1:8025"),
                ("origin", "http://evil.example")
            ]))
            .is_some()
        );
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8025"), ("origin", "null")])).is_some());
        assert!(
            cross_site(&headers(&[
                ("host", "127.0.0.1:8025"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_some()
        );
        // Another port on localhost is another origin.
        assert!(
            cross_site(&headers(&[
                ("host", "127.0.0.1:8025"),
                ("sec-fetch-site", "same-site")
            ]))
            .is_some()
        );
        assert!(
            cross_site(&headers(&[
                ("host", "127.0.0.1:8025"),
                ("origin", "http://127.0.0.1:3000")
            ]))
            .is_some()
        );
    }
}
