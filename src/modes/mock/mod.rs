//! The mock as a library: start it on free ports from a test, talk to it
//! with any client, then read the transcripts and messages.

pub mod headers;
pub mod options;
pub mod responder;

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::listener::ResponderFactory;
use crate::engine::responder::SessionState;
use crate::engine::server::{Service, ServiceConfig, service_builder_methods};
use crate::error::Error;
use crate::modes::mock::options::{MockOptions, MockSettings};
use crate::modes::mock::responder::{Mock, MockShared};
use crate::resend::ReplyName;
use crate::smtp::Reply;

/// Makes a [`Mock`] per session.
pub struct MockFactory(pub Arc<MockShared>);

impl ResponderFactory for MockFactory {
    type R = Mock;

    fn make(&self, s: &SessionState) -> Mock {
        Mock::new(self.0.clone(), s.id)
    }

    fn mode(&self) -> &'static str {
        "mock"
    }

    fn source(&self) -> String {
        let s = self.0.settings();
        if s.profile.variant == "default" {
            s.scenario.clone()
        } else {
            format!("{} (variant {})", s.scenario, s.profile.variant)
        }
    }

    fn too_many_connections(&self) -> Reply {
        self.0
            .settings()
            .profile
            .reply(ReplyName::TooManyConnections, &[])
    }
}

/// Everything a mock server is started from.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Scenario, profile, account.
    pub mock: MockOptions,
    /// Listeners, certificates, outputs.
    pub service: ServiceConfig,
}

impl MockConfig {
    /// Settings for tests (see [`ServiceConfig::for_tests`]).
    pub fn for_tests() -> MockConfig {
        MockConfig {
            mock: MockOptions::default(),
            service: ServiceConfig::for_tests(),
        }
    }
}

/// A running mock server; the accessors are those of [`Service`].
///
/// ```no_run
/// # async fn demo() -> Result<(), mailtape::Error> {
/// let server = mailtape::MockServer::builder().scenario("sandbox").start().await?;
/// let port = server.plain_addr().unwrap().port();
/// // … point a client at 127.0.0.1:port …
/// server.wait_for_sessions(1, std::time::Duration::from_secs(5)).await;
/// println!("{}", server.transcripts()[0].snapshot());
/// # Ok(()) }
/// ```
pub struct MockServer {
    service: Service,
    shared: Arc<MockShared>,
}

impl crate::engine::server::Served for MockServer {
    fn into_service(self) -> Service {
        self.service
    }
}

impl std::ops::Deref for MockServer {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.service
    }
}

/// Sets up a [`MockServer`].
#[derive(Debug, Clone)]
pub struct MockBuilder {
    config: MockConfig,
}

impl MockBuilder {
    /// A built-in scenario by name, or a scenario file.
    pub fn scenario(mut self, name: &str) -> Self {
        self.config.mock.scenario = name.into();
        self
    }
    /// A profile variant (`brief`, `wire`).
    pub fn variant(mut self, name: &str) -> Self {
        self.config.mock.variant = Some(name.into());
        self
    }
    /// The sandbox owner.
    pub fn owner(mut self, email: &str) -> Self {
        self.config.mock.owner = Some(email.into());
        self
    }
    /// A verified domain (repeat for more).
    pub fn verified_domain(mut self, domain: &str) -> Self {
        self.config.mock.verified_domains.push(domain.into());
        self
    }
    /// A key that is accepted (repeat for more); others are refused.
    pub fn key(mut self, key: &str) -> Self {
        self.config.mock.keys.push(key.into());
        self
    }
    /// A profile file overriding the built-in one.
    pub fn profile_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.mock.profile = Some(path.into());
        self
    }
    /// An account file.
    pub fn account_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.mock.account = Some(path.into());
        self
    }
    /// Write accepted messages here as `.eml` files.
    pub fn mailbox(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.service.output.mailbox = Some(dir.into());
        self
    }
    service_builder_methods!();
    /// The whole configuration, for what the helpers above do not cover.
    pub fn config(mut self, f: impl FnOnce(&mut MockConfig)) -> Self {
        f(&mut self.config);
        self
    }
    /// Starts the server (inside a tokio runtime).
    pub async fn start(self) -> Result<MockServer, Error> {
        MockServer::start(self.config).await
    }
    /// Starts the server on a runtime of its own, for plain `#[test]` code.
    pub fn start_blocking(self) -> Result<crate::engine::server::Blocking<MockServer>, Error> {
        crate::engine::server::Blocking::start(MockServer::start(self.config))
    }
}

impl MockServer {
    /// A builder with test settings ([`MockConfig::for_tests`]).
    pub fn builder() -> MockBuilder {
        MockBuilder {
            config: MockConfig::for_tests(),
        }
    }

    /// Starts a mock from a whole configuration.
    pub async fn start(config: MockConfig) -> Result<MockServer, Error> {
        let settings = MockSettings::resolve(&config.mock)?;
        let (service, shared) = Service::start(config.service, |sink| {
            let s = MockShared::new(settings, sink);
            (MockFactory(s.clone()), s)
        })
        .await?;
        Ok(MockServer { service, shared })
    }

    /// The settings in force.
    pub fn settings(&self) -> &MockSettings {
        self.shared.settings()
    }

    /// Stops the server: open sessions get `421`, files are complete after.
    pub async fn shutdown(self) {
        self.service.shutdown().await;
    }
}
