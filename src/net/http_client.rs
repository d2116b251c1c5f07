//! The one HTTP client: hyper-util's connection-pooling client over
//! hyper-rustls (rustls with the ring provider, as every other TLS leg of
//! mailtape), HTTP/1.1. The REST recorder forwards through it; anything
//! else that must speak HTTP to another host should use it too.

use std::path::Path;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::Error;

/// A pooled HTTP/1.1 client whose requests carry a whole body.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client that verifies servers against the public web roots (and
/// `extra_ca`, when given; verification cannot be turned off). With
/// `https_only`, a plain `http://` URL is refused by the client itself.
pub fn client(
    extra_ca: Option<&Path>,
    connect_timeout: Duration,
    https_only: bool,
) -> Result<HttpClient, Error> {
    let tls = (*super::tls::client_config(extra_ca)?).clone();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
    let connector = if https_only {
        builder.https_only().enable_http1().wrap_connector(http)
    } else {
        builder.https_or_http().enable_http1().wrap_connector(http)
    };
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector))
}
