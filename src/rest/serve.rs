//! The REST API on a listener of its own (`mock --rest ADDR`), for when the
//! inbox's listener is off or the API should sit on another port. With the
//! inbox on, the same routes are also served there. Both are served by
//! `net::http`: the same Host and cross-site guard, headers, deadlines and
//! connection cap (a page using DNS rebinding must not read mail here
//! either).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;

use crate::error::Error;
use crate::net::http::listener::HttpShared;
use crate::net::http::{Guard, HttpListener};

/// A running HTTP listener for the REST API.
pub struct RestListener {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it speaks HTTPS.
    pub tls: bool,
    listener: HttpListener,
}

impl RestListener {
    /// Binds `addr` (loopback only, as every listener of mailtape) and serves
    /// `router` on it, within the server's HTTP limits.
    pub(crate) async fn start(
        addr: SocketAddr,
        router: Router,
        http: &HttpShared,
    ) -> Result<RestListener, Error> {
        RestListener::start_tls(addr, router, http, None).await
    }

    /// [`RestListener::start`] over HTTPS with `tls` (`mock --rest-tls`:
    /// the mock then stands in for `https://api.resend.com`).
    pub(crate) async fn start_tls(
        addr: SocketAddr,
        router: Router,
        http: &HttpShared,
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ) -> Result<RestListener, Error> {
        if !addr.ip().is_loopback() {
            return Err(Error::Usage(format!(
                "--rest {addr} is not a loopback address; the REST API takes real keys, so it listens on 127.0.0.1 or ::1"
            )));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Bind {
                listener: "rest",
                addr,
                source: e,
            })?;
        let addr = listener.local_addr().map_err(|e| Error::Io {
            action: "read the REST listener's bound address".into(),
            source: e,
        })?;
        let guard = Guard {
            bound: addr,
            allow_remote: false,
            serves: "REST API",
        };
        // Requests in flight get the SMTP listeners' usual grace.
        let https = tls.is_some();
        let tls = tls.map(|config| {
            // HTTP/1.1 only, said in the handshake.
            let mut config = (*config).clone();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            std::sync::Arc::new(config)
        });
        let listener =
            HttpListener::serve_tls(listener, router, guard, http, Duration::from_secs(5), tls)
                .map_err(|e| Error::Io {
                    action: "serve the REST API".into(),
                    source: e,
                })?;
        Ok(RestListener {
            addr,
            tls: https,
            listener,
        })
    }

    /// Stops taking requests and waits for those in flight.
    pub async fn stop(self) {
        self.listener.stop().await;
    }
}
