//! Record mode as a library: a proxy in front of an upstream relay that
//! keeps every session, redacted, as a tape; with a REST upstream, a proxy
//! in front of Resend's API too ([`rest`]), its exchanges on the same tape.

pub mod relay;
pub mod rest;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::listener::ResponderFactory;
use crate::engine::responder::SessionState;
use crate::engine::server::{Service, ServiceConfig, service_builder_methods};
use crate::error::Error;
use crate::modes::record::relay::{Upstream, UpstreamConfig};
use crate::modes::record::rest::{RestUpstream, RestUpstreamOptions};
use crate::net::client::UpstreamTls;
use crate::net::tls::client_config;
use crate::resend::Profile;
use crate::resend::ReplyName;
use crate::rest::serve::RestListener;
use crate::smtp::Reply;

/// Where the proxy forwards to.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// `host:port`; default `smtp.resend.com:465`.
    pub addr: String,
    /// The TLS mode; by default it follows the port (465/2465 implicit, else STARTTLS).
    pub tls: Option<UpstreamTls>,
    /// A CA certificate (PEM) to trust besides the public roots.
    pub ca: Option<PathBuf>,
    /// Longest wait for the connection and TLS handshake.
    pub connect_timeout: Duration,
    /// Longest wait for any one reply.
    pub reply_timeout: Duration,
}

impl Default for UpstreamOptions {
    fn default() -> UpstreamOptions {
        UpstreamOptions {
            addr: "smtp.resend.com:465".into(),
            tls: None,
            ca: None,
            connect_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(60),
        }
    }
}

impl UpstreamOptions {
    /// Checks the address and builds the responders' configuration.
    pub fn resolve(&self) -> Result<UpstreamConfig, Error> {
        let (host, port) = split_host_port(&self.addr)?;
        let tls = self.tls.unwrap_or_else(|| UpstreamTls::for_port(port));
        Ok(UpstreamConfig {
            host,
            port,
            tls,
            client: client_config(self.ca.as_deref())?,
            connect_timeout: self.connect_timeout,
            reply_timeout: self.reply_timeout,
            ehlo_name: "localhost".into(),
            profile: Profile::build(None, "default")?,
        })
    }
}

/// `host:port`, `[v6]:port` or `v4:port`.
fn split_host_port(addr: &str) -> Result<(String, u16), Error> {
    let bad = || {
        Error::Usage(format!(
            "--upstream {addr:?}: expected HOST:PORT such as smtp.resend.com:465"
        ))
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Makes an [`Upstream`] per session.
pub struct UpstreamFactory(pub Arc<UpstreamConfig>);

impl ResponderFactory for UpstreamFactory {
    type R = Upstream;

    fn make(&self, _s: &SessionState) -> Upstream {
        Upstream::new(self.0.clone())
    }

    fn mode(&self) -> &'static str {
        "record"
    }

    fn source(&self) -> String {
        self.0.describe()
    }

    fn too_many_connections(&self) -> Reply {
        self.0.profile.reply(ReplyName::TooManyConnections, &[])
    }
}

/// Everything a recording proxy is started from.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The upstream.
    pub upstream: UpstreamOptions,
    /// Resend's API to forward the REST door to, if it is recorded too.
    pub rest: Option<RestUpstreamOptions>,
    /// Listeners, certificates, outputs.
    pub service: ServiceConfig,
}

/// A running recording proxy; the accessors are those of [`Service`].
pub struct RecordServer {
    service: Service,
    upstream: Arc<UpstreamConfig>,
    rest_upstream: Option<Arc<RestUpstream>>,
    rest: Option<RestListener>,
}

impl crate::engine::server::Served for RecordServer {
    fn into_service(self) -> Service {
        self.service
    }
}

impl std::ops::Deref for RecordServer {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.service
    }
}

/// Sets up a [`RecordServer`].
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    config: RecordConfig,
}

impl RecordBuilder {
    /// The upstream `host:port`.
    pub fn upstream(mut self, addr: impl Into<String>) -> Self {
        self.config.upstream.addr = addr.into();
        self
    }
    /// The upstream TLS mode.
    pub fn upstream_tls(mut self, tls: UpstreamTls) -> Self {
        self.config.upstream.tls = Some(tls);
        self
    }
    /// A CA certificate file to trust for the upstream.
    pub fn upstream_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.upstream.ca = Some(path.into());
        self
    }
    /// Longest wait for any upstream reply.
    pub fn reply_timeout(mut self, d: Duration) -> Self {
        self.config.upstream.reply_timeout = d;
        self
    }
    /// Longest wait for the upstream connection and handshake.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.upstream.connect_timeout = d;
        self
    }
    /// Record the REST door too, forwarding to `url` (`https://…`), served
    /// on a listener of its own on a free loopback port
    /// ([`RecordServer::rest_url`]) and on the inbox's if it is on.
    pub fn rest_upstream(mut self, url: impl Into<String>) -> Self {
        let rest = self.config.rest.get_or_insert_with(|| RestUpstreamOptions {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            ..RestUpstreamOptions::default()
        });
        rest.url = url.into();
        self
    }
    /// A CA certificate file to trust for the REST upstream (with
    /// [`RecordBuilder::rest_upstream`]).
    pub fn rest_upstream_ca(mut self, path: impl Into<PathBuf>) -> Self {
        if let Some(rest) = &mut self.config.rest {
            rest.ca = Some(path.into());
        }
        self
    }
    /// The whole configuration, for what the helpers above do not cover.
    pub fn config(mut self, f: impl FnOnce(&mut RecordConfig)) -> Self {
        f(&mut self.config);
        self
    }
    service_builder_methods!();
    /// Starts the proxy (inside a tokio runtime).
    pub async fn start(self) -> Result<RecordServer, Error> {
        RecordServer::start(self.config).await
    }
    /// Starts the server on a runtime of its own, for plain `#[test]` code.
    pub fn start_blocking(self) -> Result<crate::engine::server::Blocking<RecordServer>, Error> {
        crate::engine::server::Blocking::start(RecordServer::start(self.config))
    }
}

impl RecordServer {
    /// A builder with test settings ([`ServiceConfig::for_tests`]).
    pub fn builder() -> RecordBuilder {
        RecordBuilder {
            config: RecordConfig {
                upstream: UpstreamOptions::default(),
                rest: None,
                service: ServiceConfig::for_tests(),
            },
        }
    }

    /// Starts a proxy from a whole configuration.
    pub async fn start(mut config: RecordConfig) -> Result<RecordServer, Error> {
        let upstream = Arc::new(config.upstream.resolve()?);
        let rest_upstream = match &config.rest {
            Some(o) => Some(Arc::new(RestUpstream::new(o)?)),
            None => None,
        };
        if config.service.output.tape_comments.is_empty() {
            let mut line = format!("recorded by mailtape record from {}", upstream.describe());
            if let Some(r) = &rest_upstream {
                line.push_str(&format!(" and, for the REST API, {}", r.describe()));
            }
            config.service.output.tape_comments = vec![line];
        }
        // The REST door is served on the inbox's listener too, as the
        // mock's is (RESEND_BASE_URL=http://127.0.0.1:8025).
        if let (Some(web), Some(r)) = (&mut config.service.web, &rest_upstream) {
            let r = r.clone();
            web.routes
                .push(crate::web::RouteMaker(Arc::new(move |sink| {
                    rest::router(r.clone(), sink.clone())
                })));
        }
        let factory = UpstreamFactory(upstream.clone());
        let (service, ()) = Service::start(config.service, |_| (factory, ())).await?;
        let rest = match (config.rest.as_ref().and_then(|o| o.listen), &rest_upstream) {
            (Some(addr), Some(r)) => Some(
                RestListener::start(
                    addr,
                    rest::router(r.clone(), service.sink().clone()),
                    service.http(),
                )
                .await?,
            ),
            _ => None,
        };
        Ok(RecordServer {
            service,
            upstream,
            rest_upstream,
            rest,
        })
    }

    /// The upstream, as transcripts name it.
    pub fn upstream(&self) -> String {
        self.upstream.describe()
    }

    /// The REST upstream (`https://api.resend.com`), when the REST door is recorded.
    pub fn rest_upstream(&self) -> Option<String> {
        self.rest_upstream.as_ref().map(|r| r.describe())
    }

    /// The base URL of the recorded REST door (`RESEND_BASE_URL`): its own
    /// listener if it has one, else the inbox's; `None` when the REST door
    /// is not recorded.
    pub fn rest_url(&self) -> Option<String> {
        self.rest_upstream.as_ref()?;
        match &self.rest {
            Some(r) => Some(format!("http://{}", r.addr)),
            None => self
                .service
                .ui_url()
                .map(|u| u.trim_end_matches('/').to_string()),
        }
    }

    /// Stops the proxy: open sessions get `421`, the tape is complete after.
    pub async fn shutdown(mut self) {
        if let Some(r) = self.rest.take() {
            r.stop().await;
        }
        self.service.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port() {
        assert_eq!(
            split_host_port("smtp.resend.com:465").unwrap(),
            ("smtp.resend.com".into(), 465)
        );
        assert_eq!(split_host_port("[::1]:2525").unwrap(), ("::1".into(), 2525));
        assert!(split_host_port("smtp.resend.com").is_err());
        assert!(split_host_port(":25").is_err());
        assert_eq!(UpstreamTls::for_port(587), UpstreamTls::Starttls);
        assert_eq!(UpstreamTls::for_port(2465), UpstreamTls::Implicit);
    }
}
