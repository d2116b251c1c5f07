//! The mock as a library: start it on free ports from a test, talk to it
//! with any client, then read the transcripts and messages.

pub mod headers;
pub mod judge;
pub mod options;
pub mod responder;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::engine::listener::ResponderFactory;
use crate::engine::responder::SessionState;
use crate::engine::server::{Service, ServiceConfig, service_builder_methods};
use crate::error::Error;
use crate::modes::mock::options::{MockOptions, MockSettings};
use crate::modes::mock::responder::{Mock, MockShared};
use crate::resend::ReplyName;
use crate::rest::serve::RestListener;
use crate::smtp::Reply;
use crate::webhook::{EndpointSpec, WebhookConfig, WebhookEvent, Webhooks};

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
    /// Where to serve Resend's REST API on a listener of its own (port 0:
    /// any free port); `None` leaves it to the inbox's listener.
    pub rest: Option<SocketAddr>,
    /// Webhooks: endpoints to send Resend's events to (`None`: none, but
    /// the management API can still add some).
    pub webhooks: Option<WebhookConfig>,
    /// Serve that listener over HTTPS with the server's certificate (the
    /// generated CA's, by default): the mock then stands in for
    /// `https://api.resend.com`, as a REST upstream for `record`.
    pub rest_tls: bool,
}

impl MockConfig {
    /// Settings for tests (see [`ServiceConfig::for_tests`]).
    pub fn for_tests() -> MockConfig {
        MockConfig {
            mock: MockOptions::default(),
            service: ServiceConfig::for_tests(),
            rest: None,
            webhooks: None,
            rest_tls: false,
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
    rest: Option<RestListener>,
    options: MockOptions,
    hooks: Arc<Webhooks>,
}

/// The inbox's scenario switch: built-in scenarios only (a page must not
/// name files to read).
struct ScenarioSwitch {
    shared: Arc<MockShared>,
    options: MockOptions,
    hooks: Arc<Webhooks>,
}

/// The endpoints the account lists (`[[webhooks]]` of the scenario's
/// account or the account file), as the webhook sender takes them.
fn account_endpoints(settings: &MockSettings) -> Result<Vec<EndpointSpec>, Error> {
    settings
        .account
        .webhooks
        .iter()
        .map(|w| {
            let disabled = match w.status.as_deref() {
                None | Some("enabled") => false,
                Some("disabled") => true,
                Some(other) => {
                    return Err(Error::Config {
                        origin: "the account's [[webhooks]]".into(),
                        reason: format!(
                            "status = {other:?}: a webhook is \"enabled\" or \"disabled\""
                        ),
                    });
                }
            };
            Ok(EndpointSpec {
                url: w.endpoint.clone(),
                events: w.events.clone(),
                secret: w.secret.clone(),
                disabled,
            })
        })
        .collect()
}

/// Puts a scenario's webhooks in force: the account's endpoints (added, or
/// removed when the scenario before listed them and this one does not;
/// those of `--webhook` and the API stay) and its `[webhooks]`.
fn switch_webhooks(hooks: &Webhooks, settings: &MockSettings) -> Result<(), Error> {
    let specs = account_endpoints(settings)?;
    hooks
        .set_scenario_endpoints(&specs)
        .map_err(|reason| Error::Config {
            origin: format!(
                "the account's [[webhooks]] (scenario {} or --account)",
                settings.scenario
            ),
            reason,
        })?;
    hooks.set_play(settings.webhooks.clone());
    Ok(())
}

impl crate::web::Control for ScenarioSwitch {
    fn scenario(&self) -> crate::web::ScenarioState {
        let s = self.shared.settings();
        crate::web::ScenarioState {
            scenario: s.scenario.clone(),
            variant: s.profile.variant.clone(),
            owner: s.account.owner.clone(),
            verified_domains: s.account.verified_domains.clone(),
            keys: s.account.keys.len(),
            scenarios: crate::resend::Scenario::list(),
        }
    }

    fn account(&self) -> serde_json::Value {
        crate::rest::account::view(&self.shared)
    }

    fn set_scenario(&self, name: &str) -> Result<crate::web::ScenarioState, Error> {
        if !crate::resend::Scenario::list()
            .iter()
            .any(|(n, _)| n == name)
        {
            return Err(Error::Unknown {
                what: "scenario",
                name: name.into(),
                known: crate::resend::Scenario::list()
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect(),
            });
        }
        let settings = MockSettings::resolve(&MockOptions {
            scenario: name.into(),
            ..self.options.clone()
        })?;
        switch_webhooks(&self.hooks, &settings)?;
        self.shared.switch(settings);
        Ok(self.scenario())
    }
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
    /// Serve Resend's REST API too, on a free loopback port ([`MockServer::rest_url`]).
    pub fn rest(mut self) -> Self {
        self.config.rest = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        self
    }
    /// Serve the REST API over HTTPS on its own listener, with the server's
    /// certificate ([`MockServer::rest_url`] is then `https://…`).
    pub fn rest_tls(mut self) -> Self {
        self.config.rest = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        self.config.rest_tls = true;
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
    /// Sends Resend's webhook events to `url` (every event; a new secret,
    /// see [`MockServer::webhook_secret`]).
    pub fn webhook(mut self, url: &str) -> Self {
        self.config
            .webhooks
            .get_or_insert_with(WebhookConfig::default)
            .endpoints
            .push(EndpointSpec {
                url: url.into(),
                ..EndpointSpec::default()
            });
        self
    }
    /// The webhook sender's settings (retry scale, delay, …).
    pub fn webhooks(mut self, f: impl FnOnce(&mut WebhookConfig)) -> Self {
        f(self
            .config
            .webhooks
            .get_or_insert_with(WebhookConfig::default));
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
    pub async fn start(mut config: MockConfig) -> Result<MockServer, Error> {
        let settings = MockSettings::resolve(&config.mock)?;
        let hooks = Webhooks::new(config.webhooks.clone().unwrap_or_default())?;
        switch_webhooks(&hooks, &settings)?;
        let certs = config.service.certs.clone();
        // Resend's REST API is served on the inbox's listener too: the routes
        // are made when the inbox starts, after the account state exists.
        let account: Arc<OnceLock<Arc<MockShared>>> = Arc::new(OnceLock::new());
        if let Some(web) = &mut config.service.web {
            let account = account.clone();
            let h = hooks.clone();
            web.routes
                .push(crate::web::RouteMaker(Arc::new(move |_sink| {
                    account
                        .get()
                        .map(|s| {
                            crate::rest::router_with(
                                s.clone(),
                                crate::webhook::api::management(h.clone()),
                            )
                        })
                        .unwrap_or_default()
                })));
            let h = hooks.clone();
            web.routes
                .push(crate::web::RouteMaker(Arc::new(move |_sink| {
                    crate::webhook::api::inbox(h.clone())
                })));
        }
        let (service, shared) = Service::start(config.service, |sink| {
            // The webhook sender subscribes before the first session.
            hooks.attach(&sink);
            let s = MockShared::new(settings, sink);
            let _ = account.set(s.clone());
            (MockFactory(s.clone()), s)
        })
        .await?;
        {
            // Domains the REST door creates, changes and deletes: domain.*.
            let h = hooks.clone();
            shared.on_account_events(Arc::new(move |name, data| {
                h.emit_account(name, data);
            }));
        }
        {
            // Test addresses as the profile in force says.
            let shared = shared.clone();
            hooks.set_test_addresses(Arc::new(move |addr: &str| {
                shared.settings().profile.test_address(addr)
            }));
        }
        if let Some(web) = service.web() {
            web.set_control(Arc::new(ScenarioSwitch {
                shared: shared.clone(),
                options: config.mock.clone(),
                hooks: hooks.clone(),
            }));
        }
        let tls = match (config.rest_tls, service.tls()) {
            (false, _) => None,
            (true, Some(t)) => Some(t.config.clone()),
            // No SMTP listener with TLS: the certificates are loaded for the REST one.
            (true, None) => Some(crate::net::Tls::load(&certs)?.config),
        };
        if tls.is_some() && config.rest.is_none() {
            return Err(Error::Usage(
                "--rest-tls is for the REST API's own listener: add --rest ADDR".into(),
            ));
        }
        let rest = match config.rest {
            Some(addr) => Some(
                RestListener::start_tls(
                    addr,
                    crate::rest::router_with(
                        shared.clone(),
                        crate::webhook::api::management(hooks.clone()),
                    ),
                    service.http(),
                    tls,
                )
                .await?,
            ),
            None => None,
        };
        Ok(MockServer {
            service,
            shared,
            rest,
            options: config.mock,
            hooks,
        })
    }

    /// The base URL of Resend's REST API on this mock
    /// (`RESEND_BASE_URL` for the Node SDK, `resend.api_url` for Python):
    /// its own listener (`--rest`) if it has one, else the inbox's.
    pub fn rest_url(&self) -> Option<String> {
        match &self.rest {
            Some(r) if r.tls => Some(format!("https://{}", r.addr)),
            Some(r) => Some(format!("http://{}", r.addr)),
            None => self
                .service
                .ui_url()
                .map(|u| u.trim_end_matches('/').to_string()),
        }
    }

    /// The REST API's routes on this mock's account, to serve elsewhere.
    pub fn rest_router(&self) -> axum::Router {
        crate::rest::router_with(
            self.shared.clone(),
            crate::webhook::api::management(self.hooks.clone()),
        )
    }

    /// The webhook sender: endpoints (add, change, remove), events, attempts.
    pub fn webhooks(&self) -> &Arc<Webhooks> {
        &self.hooks
    }

    /// Every webhook event so far (the last 5,000), oldest first, with
    /// each endpoint's attempts.
    pub fn webhook_events(&self) -> Vec<WebhookEvent> {
        self.hooks.events()
    }

    /// Waits until a webhook event satisfies `pred` (attempts included:
    /// `|e| e.kind == "email.bounced" && e.delivered()`), or the timeout.
    pub async fn wait_for_webhook(
        &self,
        pred: impl Fn(&WebhookEvent) -> bool,
        timeout: std::time::Duration,
    ) -> Option<WebhookEvent> {
        self.hooks.wait_for(pred, timeout).await
    }

    /// The signing secret (`whsec_…`) of the endpoint at `url`.
    pub fn webhook_secret(&self, url: &str) -> Option<String> {
        self.hooks
            .endpoints()
            .into_iter()
            .find(|e| e.url() == url)
            .map(|e| e.secret())
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<MockSettings> {
        self.shared.settings()
    }

    /// Switches to another scenario (built-in name or file); sessions that
    /// start after it answer from it. The other options stay as started.
    pub fn set_scenario(&self, name: &str) -> Result<(), Error> {
        let settings = MockSettings::resolve(&MockOptions {
            scenario: name.into(),
            ..self.options.clone()
        })?;
        switch_webhooks(&self.hooks, &settings)?;
        self.shared.switch(settings);
        Ok(())
    }

    /// Stops the server: open sessions get `421`, files are complete after.
    /// Webhook deliveries in flight get two seconds; how many were left
    /// undelivered is said (and logged).
    pub async fn shutdown(mut self) {
        if let Some(r) = self.rest.take() {
            r.stop().await;
        }
        let sink = self.service.sink().clone();
        let hooks = self.hooks.clone();
        self.service.shutdown().await;
        let left = hooks.stop(std::time::Duration::from_secs(2)).await;
        // The attempts made in the grace have transcripts on their way to
        // `--tapes`: complete after, as the sessions' are.
        let flushing = sink.clone();
        let _ = tokio::task::spawn_blocking(move || flushing.flush()).await;
        let lost = hooks.tapes_lost();
        if lost > 0 {
            let line = format!(
                "mailtape: {lost} webhook attempt transcripts not written to --tapes (the disk fell behind, or a write failed)"
            );
            sink.say(&line);
            tracing::warn!("{line}");
        }
        if left > 0 {
            let line = format!(
                "mailtape: {left} webhook deliveries left undelivered (endpoints that failed or were still retrying)"
            );
            sink.say(&line);
            tracing::warn!("{line}");
        }
    }
}
