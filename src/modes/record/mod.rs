//! Record mode as a library: a proxy in front of an upstream relay that
//! keeps every session, redacted, as a tape.

pub mod relay;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::listener::ResponderFactory;
use crate::engine::responder::SessionState;
use crate::engine::server::{Service, ServiceConfig, service_builder_methods};
use crate::error::Error;
use crate::modes::record::relay::{Upstream, UpstreamConfig};
use crate::net::client::UpstreamTls;
use crate::net::tls::client_config;
use crate::resend::Profile;
use crate::resend::ReplyName;
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
    /// Listeners, certificates, outputs.
    pub service: ServiceConfig,
}

/// A running recording proxy; the accessors are those of [`Service`].
pub struct RecordServer {
    service: Service,
    upstream: Arc<UpstreamConfig>,
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
                service: ServiceConfig::for_tests(),
            },
        }
    }

    /// Starts a proxy from a whole configuration.
    pub async fn start(mut config: RecordConfig) -> Result<RecordServer, Error> {
        let upstream = Arc::new(config.upstream.resolve()?);
        if config.service.output.tape_comments.is_empty() {
            config.service.output.tape_comments = vec![format!(
                "recorded by mailtape record from {}",
                upstream.describe()
            )];
        }
        let factory = UpstreamFactory(upstream.clone());
        let (service, ()) = Service::start(config.service, |_| (factory, ())).await?;
        Ok(RecordServer { service, upstream })
    }

    /// The upstream, as transcripts name it.
    pub fn upstream(&self) -> String {
        self.upstream.describe()
    }

    /// Stops the proxy: open sessions get `421`, the tape is complete after.
    pub async fn shutdown(self) {
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
