//! The mock as a library: start it on free ports from a test, talk to it
//! with any client, then read the transcripts and messages.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::hub::{Hub, HubConfig, LiveView, Message};
use crate::net::{CertSource, Tls};
use crate::responder::SessionState;
use crate::responder::mock::{Mock, MockOptions, MockSettings, MockShared};
use crate::server::{Addrs, ResponderFactory, Server, ServerConfig};
use crate::smtp::Reply;
use crate::tape::Transcript;

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
        self.0.settings().profile.reply("too_many_connections", &[])
    }
}

/// Everything a mock server is started from.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Scenario, profile, account.
    pub mock: MockOptions,
    /// Listeners and limits.
    pub server: ServerConfig,
    /// Certificates.
    pub certs: CertSource,
    /// Live view, tapes, mailbox.
    pub hub: HubConfig,
}

impl MockConfig {
    /// Settings for tests: every listener on a free port of 127.0.0.1, no
    /// live view, transcripts kept in memory, certificates in a shared
    /// folder under the system's temporary folder (made once, then reused).
    pub fn for_tests() -> MockConfig {
        MockConfig {
            mock: MockOptions::default(),
            server: ServerConfig {
                addrs: Addrs::ephemeral(),
                ..ServerConfig::default()
            },
            certs: CertSource::Generated(std::env::temp_dir().join("mailtape-test-certs")),
            hub: HubConfig {
                view: LiveView::Quiet,
                tapes: None,
                mailbox: None,
                keep: true,
            },
        }
    }
}

/// A running mock server.
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
    server: Option<Server>,
    tls: Option<Tls>,
    shared: Arc<MockShared>,
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
    /// Where certificates are made and kept.
    pub fn certs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.certs = CertSource::Generated(dir.into());
        self
    }
    /// Where to listen (defaults: free ports on 127.0.0.1).
    pub fn addrs(mut self, addrs: Addrs) -> Self {
        self.config.server.addrs = addrs;
        self
    }
    /// Idle timeout of a session.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.config.server.limits.idle_timeout = d;
        self
    }
    /// Failed commands before a session is closed.
    pub fn max_errors(mut self, n: usize) -> Self {
        self.config.server.limits.max_errors = n;
        self
    }
    /// Most sessions at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.server.max_connections = n;
        self
    }
    /// Write accepted messages here as `.eml` files.
    pub fn mailbox(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.hub.mailbox = Some(dir.into());
        self
    }
    /// Write each session's tape here.
    pub fn tapes(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.hub.tapes = Some(dir.into());
        self
    }
    /// The whole configuration, for what the helpers above do not cover.
    pub fn config(mut self, f: impl FnOnce(&mut MockConfig)) -> Self {
        f(&mut self.config);
        self
    }
    /// Starts the server (inside a tokio runtime).
    pub async fn start(self) -> Result<MockServer, Error> {
        MockServer::start(self.config).await
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
        let tls_needed =
            config.server.addrs.smtps.is_some() || config.server.addrs.starttls.is_some();
        let tls = if tls_needed {
            Some(Tls::load(&config.certs)?)
        } else {
            None
        };
        let hub = Arc::new(Hub::new(config.hub.clone()));
        let shared = MockShared::new(settings, hub.clone());
        let server = Server::start(
            config.server,
            tls.as_ref(),
            hub,
            MockFactory(shared.clone()),
        )
        .await?;
        Ok(MockServer {
            server: Some(server),
            tls,
            shared,
        })
    }

    fn server(&self) -> &Server {
        // Only `shutdown` takes the server, and it consumes self.
        self.server.as_ref().expect("server present until shutdown")
    }

    /// The bound addresses.
    pub fn addrs(&self) -> Addrs {
        self.server().addrs()
    }
    /// The implicit-TLS address.
    pub fn smtps_addr(&self) -> Option<SocketAddr> {
        self.addrs().smtps
    }
    /// The STARTTLS address.
    pub fn starttls_addr(&self) -> Option<SocketAddr> {
        self.addrs().starttls
    }
    /// The plain address.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.addrs().plain
    }
    /// The CA certificate to trust, in PEM (generated certificates only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().and_then(|t| t.ca_pem.as_deref())
    }
    /// Where that CA certificate is on disk.
    pub fn ca_path(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().and_then(|t| t.ca_path.as_deref())
    }
    /// The settings in force.
    pub fn settings(&self) -> &MockSettings {
        self.shared.settings()
    }
    /// The hub (live view, files, in-memory record).
    pub fn hub(&self) -> &Arc<Hub> {
        self.server().hub()
    }
    /// Waits until `n` sessions have finished; false on timeout.
    pub async fn wait_for_sessions(&self, n: usize, timeout: Duration) -> bool {
        self.hub().wait_for_sessions(n, timeout).await
    }
    /// Transcripts of finished sessions, in the order they finished.
    pub fn transcripts(&self) -> Vec<Transcript> {
        self.hub().transcripts()
    }
    /// Messages accepted so far.
    pub fn messages(&self) -> Vec<Message> {
        self.hub().messages()
    }
    /// Stops the server: open sessions get `421`, files are complete after.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}
