//! The inbox: a web page and an HTTP API over the sessions and messages of a
//! running server, on a listener of its own (default 127.0.0.1:8025,
//! Mailpit's port).
//!
//! - [`store`]: the last N sessions and messages, a subscriber of the sink
//!   with its own bounded queue (a slow inbox never slows SMTP), and the
//!   live events.
//! - [`api`]: mailtape's own API (`/api/…`), the page and its assets (`/`).
//! - [`mailpit`]: the Mailpit-compatible subset (`/api/v1/…`).
//!
//! The listener itself — the Host and cross-site guard, the connection cap,
//! the header and body deadlines — is `net::http`'s, shared with the REST
//! API's own listener.
//!
//! Other parts of mailtape (Resend's REST API) serve on the same listener
//! by handing a [`RouteMaker`]; they must stay off `/`, `/api/` and `/view/`.

mod api;
mod apps;
pub mod extract;
pub mod found;
mod mailpit;
mod mime;
pub mod query;
pub(crate) mod store;
mod summary;
mod tags;
pub mod wait;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::error::Error;
use crate::net::http::listener::HttpShared;
use crate::net::http::{Guard, HttpListener};
use crate::output::sink::Sink;
pub use store::Store;
pub use summary::{Outcome, SessionSummary, TapedMessage, accepted_messages};

/// Sessions and messages kept by default (`--keep`).
pub const DEFAULT_KEEP: usize = 1000;
/// The default address (`--ui`): Mailpit's port, so its clients find it.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8025";

/// Makes a router given the sink (to publish what its routes receive).
pub type MakeRoutes = dyn Fn(&Arc<Sink>) -> axum::Router + Send + Sync;

/// Builds routes to serve on the inbox's listener.
#[derive(Clone)]
pub struct RouteMaker(pub Arc<MakeRoutes>);

impl std::fmt::Debug for RouteMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteMaker(..)")
    }
}

/// Settings of the inbox.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where to listen (port 0: any free port).
    pub addr: SocketAddr,
    /// Allow an address other than loopback.
    pub allow_remote: bool,
    /// Sessions and messages kept in memory.
    pub keep: usize,
    /// Routes of other parts served on the same listener.
    pub routes: Vec<RouteMaker>,
    /// When `addr`'s port is in use, listen on a free port of the same IP
    /// instead of failing: set for the default address (Mailpit may hold
    /// 8025), never for one the user asked for.
    pub move_if_taken: bool,
}

impl WebConfig {
    /// The inbox on `addr`, keeping the default number of items.
    pub fn at(addr: SocketAddr) -> WebConfig {
        WebConfig {
            addr,
            allow_remote: false,
            keep: DEFAULT_KEEP,
            routes: Vec::new(),
            move_if_taken: false,
        }
    }
}

/// The mock's scenario as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioState {
    /// The scenario in force.
    pub scenario: String,
    /// The profile variant.
    pub variant: String,
    /// The sandbox owner, if any.
    pub owner: Option<String>,
    /// Verified domains (`None`: every domain counts as verified).
    pub verified_domains: Option<Vec<String>>,
    /// How many keys the account lists (never the keys).
    pub keys: usize,
    /// The built-in scenarios: name and what each does.
    pub scenarios: Vec<(String, String)>,
}

/// What the page can change in a running server (the mock's scenario).
pub trait Control: Send + Sync {
    /// The scenario in force.
    fn scenario(&self) -> ScenarioState;
    /// Switches to a built-in scenario; later sessions answer from it.
    fn set_scenario(&self, name: &str) -> Result<ScenarioState, Error>;
    /// The account's keys (by fingerprint) and domains with their status,
    /// as the API left them.
    fn account(&self) -> serde_json::Value;
}

/// Shared by every handler.
pub struct AppState {
    /// The store.
    pub store: Arc<Store>,
    /// The mode: mock, record or replay (set when the server knows it).
    pub mode: OnceLock<String>,
    /// The scenario switch (mock only).
    pub control: OnceLock<Arc<dyn Control>>,
}

/// A running inbox.
pub struct Web {
    addr: SocketAddr,
    moved_from: Option<SocketAddr>,
    state: Arc<AppState>,
    listener: HttpListener,
}

/// Binds the inbox's listener; refused non-loopback addresses and a port in
/// use are errors that name `--ui`.
pub async fn bind(config: &WebConfig) -> Result<tokio::net::TcpListener, Error> {
    if !config.allow_remote && !config.addr.ip().is_loopback() {
        return Err(Error::Usage(format!(
            "--ui {} is not a loopback address; the inbox shows every message, so it listens on 127.0.0.1 or ::1 unless --allow-remote is given",
            config.addr
        )));
    }
    let bound = match tokio::net::TcpListener::bind(config.addr).await {
        Err(e) if config.move_if_taken && e.kind() == std::io::ErrorKind::AddrInUse => {
            tokio::net::TcpListener::bind(SocketAddr::new(config.addr.ip(), 0)).await
        }
        other => other,
    };
    bound.map_err(|e| Error::Bind {
        listener: "ui",
        addr: config.addr,
        source: e,
    })
}

impl Web {
    /// Serves the inbox on a bound listener, within the server's HTTP limits.
    pub(crate) fn serve(
        listener: tokio::net::TcpListener,
        config: &WebConfig,
        store: Arc<Store>,
        sink: &Arc<Sink>,
        http: &HttpShared,
    ) -> Result<Web, Error> {
        let addr = listener.local_addr().map_err(|e| Error::Io {
            action: "read the inbox's bound address".into(),
            source: e,
        })?;
        let state = Arc::new(AppState {
            store,
            mode: OnceLock::new(),
            control: OnceLock::new(),
        });
        let mut router = api::routes(state.clone())
            .merge(mailpit::routes(state.clone()))
            .merge(wait::routes(state.clone()))
            .merge(tags::routes(state.clone()))
            .merge(apps::routes(state.clone()));
        for extra in &config.routes {
            router = router.merge((extra.0)(sink));
        }
        let guard = Guard {
            bound: addr,
            allow_remote: config.allow_remote,
            serves: "inbox",
        };
        // Event streams never end on their own: a second is their grace.
        let grace = std::time::Duration::from_secs(1);
        let listener =
            HttpListener::serve(listener, router, guard, http, grace).map_err(|e| Error::Io {
                action: "serve the inbox".into(),
                source: e,
            })?;
        // A listener on another port than the one asked for (not 0) was
        // moved there because that one was in use.
        let moved_from = (config.addr.port() != 0 && config.addr != addr).then_some(config.addr);
        Ok(Web {
            addr,
            moved_from,
            state,
            listener,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address asked for, when it was in use and the inbox moved to a
    /// free port ([`WebConfig::move_if_taken`]).
    pub fn moved_from(&self) -> Option<SocketAddr> {
        self.moved_from
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.state.store
    }

    /// Says which mode the server runs in (shown on the page).
    pub fn set_mode(&self, mode: &str) {
        let _ = self.state.mode.set(mode.to_string());
    }

    /// Gives the page a scenario switch.
    pub fn set_control(&self, control: Arc<dyn Control>) {
        let _ = self.state.control.set(control);
    }

    /// Stops serving; open event streams end. Waits at most a second.
    pub async fn shutdown(self) {
        self.listener.stop().await;
    }
}
