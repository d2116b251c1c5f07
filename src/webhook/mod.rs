//! Webhooks: the events Resend would send after an email is accepted,
//! signed as Resend signs them, delivered and retried on Resend's schedule.
//!
//! The sender is one more subscriber of the sink, with its own bounded
//! queue (like the inbox): it reads accepted, scheduled and failed messages,
//! and neither the engine nor the modes know it is there.
//!
//! - [`sign`]: the Svix / Standard Webhooks signature (no I/O).
//! - [`events`]: which events an email implies, and their payloads.
//! - [`deliver`]: one HTTP attempt, the retry schedule, where endpoints
//!   may point.
//! - [`api`]: Resend's management API (`/webhooks…`) for the REST door, and
//!   mailtape's own `/api/webhooks…` for the inbox and tests.
//!
//! Deliveries of one email to one endpoint go in order, one at a time (a
//! retrying event holds back the later events of the same email); emails
//! and endpoints go in parallel, at most [`PER_ENDPOINT`] requests at once
//! per endpoint. Memory is bounded: the last [`WebhookConfig::keep`] events
//! are kept with their attempts, and at most [`PENDING_PER_ENDPOINT`]
//! deliveries wait for one endpoint ([`MAX_PENDING`] for all).

pub mod api;
pub mod deliver;
pub mod events;
mod runtime;
pub mod sign;
pub mod tape;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::error::Error;
use crate::output::sink::{Event as SinkEvent, Message, Sink};
use crate::resend::TestOutcome;
use deliver::Target;
use events::{EmailFacts, EventType, Fate, Planned};
use sign::Secret;

/// Endpoints at most: each may have [`PER_ENDPOINT`] requests in flight, and
/// every event goes to each, so the list is bounded like everything else.
pub const MAX_ENDPOINTS: usize = 100;
/// Requests in flight to one endpoint at most.
pub const PER_ENDPOINT: usize = 16;
/// Deliveries (an event to an endpoint) waiting or retrying for one
/// endpoint at most; more are dropped and counted rather than grow without
/// bound. Per endpoint: a dead endpoint, whose every event waits for its
/// retries, fills its own budget, never a live endpoint's.
pub const PENDING_PER_ENDPOINT: usize = 20_000;
/// Deliveries waiting or retrying for all endpoints together at most.
pub const MAX_PENDING: usize = 100_000;
/// Work waiting for the sender (accepted messages not yet made into
/// events, lanes not yet started) beyond which it also runs at normal
/// priority (`runtime.rs`): far above a burst of 1,000 sends (3,000 with
/// two endpoints), below the point where events are dropped.
pub const BACKLOG_HIGH: usize = 10_000;
/// Messages handed to the sender's thread in one task at most.
const BATCH: usize = 256;
/// The sink queue of the sender: accepted messages waiting to be turned
/// into events.
pub const QUEUE: usize = 16 * 1024;
/// How long the old secret keeps signing after a rotation (Resend: 24 h).
pub const ROTATION_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// An endpoint whose every attempt failed for this long is disabled (Resend,
/// as Svix: 5 days), scaled by `--webhook-retry-scale` like the retries.
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);
/// Attempt transcripts waiting for the disk at most (`--tapes`); more are
/// not written, and counted.
pub const MAX_TAPES_WAITING: usize = 4096;

/// An endpoint as configured (`--webhook URL[,events]`, the account file's
/// `[[webhooks]]`, or the test API).
#[derive(Debug, Clone, Default)]
pub struct EndpointSpec {
    /// Where to POST.
    pub url: String,
    /// Event names to send; empty: all.
    pub events: Vec<String>,
    /// The `whsec_` secret; `None`: a new one.
    pub secret: Option<String>,
    /// `false`: added but sent nothing (`status = "disabled"`).
    pub disabled: bool,
}

impl EndpointSpec {
    /// `URL` or `URL,email.sent,email.bounced` (the `--webhook` flag).
    pub fn parse_flag(s: &str) -> EndpointSpec {
        let mut parts = s.split(',').map(str::trim);
        EndpointSpec {
            url: parts.next().unwrap_or_default().to_string(),
            events: parts.filter(|p| !p.is_empty()).map(String::from).collect(),
            ..EndpointSpec::default()
        }
    }
}

/// Settings of the webhook sender.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Endpoints to start with.
    pub endpoints: Vec<EndpointSpec>,
    /// Multiplies every wait of the retry schedule (0.001: seconds become
    /// milliseconds), for tests that must see retries.
    pub retry_scale: f64,
    /// Endpoints on hosts other than loopback are allowed.
    pub allow_remote: bool,
    /// Extra CA certificates (PEM) trusted for `https` endpoints, besides
    /// the Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// The wait between `email.sent` and what follows it.
    pub delay: Duration,
    /// Events kept, with their attempts (the oldest go first).
    pub keep: usize,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Deliveries that may wait or retry for one endpoint (more are
    /// dropped): [`PENDING_PER_ENDPOINT`] unless a test wants to see it.
    pub pending_per_endpoint: usize,
    /// Lowers the priority of the thread that calls it: the sender's own
    /// (see `runtime.rs`). The binary gives SCHED_IDLE; the default is
    /// nice 19 on Linux (and nothing elsewhere).
    pub lower_priority: fn(),
    /// Work waiting beyond which the sender also runs at normal priority:
    /// [`BACKLOG_HIGH`] unless a test wants to see it.
    pub backlog_high: usize,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig {
            endpoints: Vec::new(),
            retry_scale: 1.0,
            allow_remote: false,
            ca_file: None,
            delay: Duration::ZERO,
            keep: 5_000,
            timeout: deliver::TIMEOUT,
            pending_per_endpoint: PENDING_PER_ENDPOINT,
            lower_priority: lower_to_nice,
            backlog_high: BACKLOG_HIGH,
        }
    }
}

/// Nice 19 for the calling thread on Linux (elsewhere nothing): the
/// default of [`WebhookConfig::lower_priority`].
pub use runtime::nice as lower_to_nice;

/// Whether the sender makes events of what the sink published: accepted,
/// scheduled and failed messages, and replayed sessions (whose messages it
/// rebuilds). Its own `Webhook` events come back too, and are not.
fn makes_events(event: &SinkEvent) -> bool {
    match event {
        SinkEvent::MessageAccepted(_)
        | SinkEvent::MessageScheduled(_)
        | SinkEvent::MessageFailed { .. } => true,
        SinkEvent::SessionFinished { transcript, .. } => transcript.meta.mode == "replay",
        _ => false,
    }
}

/// How an endpoint's status is written.
fn status_name(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

struct EndpointState {
    target: Target,
    events: Vec<EventType>,
    /// The secrets that sign, newest first, with when each stops.
    secrets: Vec<(Secret, Option<Instant>)>,
    enabled: bool,
    /// Since when every attempt failed (none succeeded since).
    failing_since: Option<Instant>,
    /// Why mailtape disabled it, when it did (failing for 5 days).
    disabled_reason: Option<String>,
}

/// One endpoint.
pub struct Endpoint {
    id: String,
    created_at: OffsetDateTime,
    state: RwLock<EndpointState>,
    slots: Semaphore,
    pool: deliver::Pool,
    /// Deliveries to it waiting or retrying.
    pending: AtomicUsize,
    /// True while it is removed or disabled: wakes its waiting retries,
    /// which then end (a removed or disabled endpoint gets nothing more).
    off: watch::Sender<bool>,
}

impl Endpoint {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, EndpointState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, EndpointState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Its id (a UUID, as Resend's).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The URL.
    pub fn url(&self) -> String {
        self.read().target.url.clone()
    }

    /// The secret in force (`whsec_…`): for the banner, the ready line and
    /// `POST /webhooks`'s answer only.
    pub fn secret(&self) -> String {
        self.read()
            .secrets
            .first()
            .map(|(s, _)| s.expose().to_string())
            .unwrap_or_default()
    }

    fn wants(&self, kind: EventType) -> bool {
        let s = self.read();
        s.enabled && (s.events.is_empty() || s.events.contains(&kind))
    }

    /// Whether it is enabled.
    pub fn enabled(&self) -> bool {
        self.read().enabled
    }

    /// Why mailtape disabled it, if it did (every attempt failed for 5
    /// days, scaled).
    pub fn disabled_reason(&self) -> Option<String> {
        self.read().disabled_reason.clone()
    }

    /// As `GET /webhooks/{id}` shows it (no secret).
    pub fn to_json(&self) -> Value {
        let s = self.read();
        json!({
            "object": "webhook",
            "id": self.id,
            "endpoint": s.target.url,
            "events": if s.events.is_empty() { EventType::ALL.iter().map(|e| e.name()).collect::<Vec<_>>() } else { s.events.iter().map(|e| e.name()).collect() },
            "status": status_name(s.enabled),
            "created_at": crate::resend::emails::api_time(self.created_at),
        })
    }

    /// Notes how an attempt went; a failure that ends [`DISABLE_AFTER`]
    /// (scaled) of nothing but failures disables the endpoint, and says why.
    fn note_result(&self, ok: bool, scale: f64) -> Option<String> {
        let mut s = self.write();
        if ok {
            s.failing_since = None;
            return None;
        }
        let since = *s.failing_since.get_or_insert_with(Instant::now);
        let limit = DISABLE_AFTER.mul_f64(scale.max(0.0));
        // With no time at all (scale 0) there are no 5 days to wait for.
        if !s.enabled || limit.is_zero() || since.elapsed() < limit {
            return None;
        }
        let why = if (scale - 1.0).abs() < f64::EPSILON {
            "every attempt failed for 5 days".to_string()
        } else {
            format!(
                "every attempt failed for 5 days ({:.3} s at --webhook-retry-scale {scale})",
                limit.as_secs_f64()
            )
        };
        s.enabled = false;
        s.disabled_reason = Some(why.clone());
        self.off.send_replace(true);
        Some(why)
    }

    fn signers(&self) -> Vec<Secret> {
        let now = Instant::now();
        self.read()
            .secrets
            .iter()
            .filter(|(_, until)| until.is_none_or(|u| u > now))
            .map(|(s, _)| s.clone())
            .collect()
    }
}

/// One attempt to deliver an event to an endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// The endpoint's id.
    pub webhook_id: String,
    /// Its URL then.
    pub endpoint: String,
    /// 1 for the first attempt, up to 8.
    pub attempt: usize,
    /// When it started.
    #[serde(serialize_with = "ser_time")]
    pub at: OffsetDateTime,
    /// The request's headers (the signature is not a secret).
    pub request_headers: Vec<(String, String)>,
    /// The response's status.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// The response's headers (the first bytes).
    pub response_headers: Vec<(String, String)>,
    /// The first bytes of the response's body.
    pub response_body: String,
    /// Whether it counts as delivered (a 2xx).
    pub ok: bool,
    /// When the next attempt is due, if one follows this failure
    /// (`2024-02-22T23:41:12.126Z`).
    pub next_attempt_at: Option<String>,
    /// What came of it: `delivered`, `retry 2 of 8 at …`, `aborted …`,
    /// `failed: …`, `endpoint disabled: …`.
    pub outcome: String,
}

fn ser_time<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&events::timestamp(*t))
}

/// Where an event stands for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its turn or its next attempt.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// All eight attempts failed.
    Failed,
    /// The endpoint answered `webhook-delivery: abort-message`.
    Aborted,
    /// Never attempted: too many deliveries waiting, or mailtape stopped.
    Dropped,
}

/// One event, as sent (the same body and id to every endpoint, on every
/// attempt).
pub struct EventRecord {
    /// The `svix-id` (`msg_…`).
    pub id: String,
    /// Its type.
    pub kind: EventType,
    /// The email it is about (empty for a `domain.*` event).
    pub email_id: String,
    /// The domain it is about (`domain.*` events).
    pub domain_id: Option<String>,
    /// The SMTP session or REST exchange the email came in (0 for a
    /// `domain.*` event).
    pub session: u64,
    /// When it was emitted.
    pub created_at: OffsetDateTime,
    /// The JSON body.
    pub body: Bytes,
    log: Mutex<EventLog>,
}

#[derive(Default)]
struct EventLog {
    attempts: Vec<Attempt>,
    states: Vec<(String, DeliveryState)>,
    /// Per endpoint: when its next attempt is due, while a retry waits.
    next: Vec<(String, OffsetDateTime)>,
}

/// What the test API and `/api/webhooks/events` show of an event.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEvent {
    /// The `svix-id`.
    pub id: String,
    /// `email.sent`, `email.bounced`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The email's id (empty for a `domain.*` event).
    pub email_id: String,
    /// The domain's id, for a `domain.*` event.
    pub domain_id: Option<String>,
    /// The session or REST exchange of the email.
    pub session: u64,
    /// When it was emitted.
    pub created_at: String,
    /// The payload as sent.
    pub payload: Value,
    /// Per endpoint: where it stands.
    pub deliveries: Vec<(String, DeliveryState)>,
    /// The soonest next attempt while a retry waits, for any endpoint
    /// (`2024-02-22T23:41:12.126Z`); `None` when none waits.
    pub next_attempt_at: Option<String>,
    /// Per endpoint whose retry waits: when it is due.
    pub next_attempts: Vec<(String, String)>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
}

impl WebhookEvent {
    /// Whether some endpoint answered it with a 2xx.
    pub fn delivered(&self) -> bool {
        self.deliveries
            .iter()
            .any(|(_, s)| *s == DeliveryState::Delivered)
    }
}

impl EventRecord {
    /// A snapshot.
    pub fn view(&self) -> WebhookEvent {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        WebhookEvent {
            id: self.id.clone(),
            kind: self.kind.name().into(),
            email_id: self.email_id.clone(),
            domain_id: self.domain_id.clone(),
            session: self.session,
            created_at: events::timestamp(self.created_at),
            payload: serde_json::from_slice(&self.body).unwrap_or(Value::Null),
            deliveries: log.states.clone(),
            next_attempt_at: log
                .next
                .iter()
                .map(|(_, t)| *t)
                .min()
                .map(events::timestamp),
            next_attempts: log
                .next
                .iter()
                .map(|(e, t)| (e.clone(), events::timestamp(*t)))
                .collect(),
            attempts: log.attempts.clone(),
        }
    }

    /// When `endpoint`'s next attempt is due (`None`: none waits).
    fn set_next(&self, endpoint: &str, at: Option<OffsetDateTime>) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.next.retain(|(e, _)| e != endpoint);
        if let Some(at) = at {
            log.next.push((endpoint.to_string(), at));
        }
    }

    /// What it is about: `email ID` or `domain ID` (events of one go to an
    /// endpoint in order).
    pub fn about(&self) -> String {
        match &self.domain_id {
            Some(d) if self.email_id.is_empty() => format!("domain {d}"),
            _ => format!("email {}", self.email_id),
        }
    }

    fn set_state(&self, endpoint: &str, state: DeliveryState) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        match log.states.iter_mut().find(|(e, _)| e == endpoint) {
            Some(s) => s.1 = state,
            None => log.states.push((endpoint.to_string(), state)),
        }
    }
}

/// Which test outcome the running profile gives an address.
pub type TestAddresses = dyn Fn(&str) -> Option<TestOutcome> + Send + Sync;

type LaneKey = (String, String);

/// The webhook sender of one server.
pub struct Webhooks {
    config: WebhookConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    endpoints: RwLock<Vec<Arc<Endpoint>>>,
    events: Mutex<VecDeque<Arc<EventRecord>>>,
    /// What the events said of each recent email (and whom it went to),
    /// for opens and clicks caused later.
    emails: Mutex<VecDeque<(EmailFacts, Vec<String>)>>,
    lanes: Mutex<HashMap<LaneKey, mpsc::UnboundedSender<Arc<EventRecord>>>>,
    pending: AtomicUsize,
    dropped: AtomicU64,
    emitted: watch::Sender<u64>,
    stop: watch::Sender<bool>,
    stopping: AtomicBool,
    sink: OnceLock<Arc<Sink>>,
    tests: RwLock<Option<Arc<TestAddresses>>>,
    /// The sender's own threads, once attached.
    background: OnceLock<runtime::Background>,
    /// Work waiting for the sender's thread: messages not yet made into
    /// events, lanes (an email's deliveries to an endpoint) not yet started.
    backlog: Arc<AtomicUsize>,
    /// Tasks run at normal priority because too much work waited.
    caught_up: AtomicU64,
    /// Attempt transcripts queued for `--tapes`, and those not written.
    tapes_waiting: Arc<AtomicUsize>,
    tapes_lost: Arc<AtomicU64>,
    /// The scenario's `[webhooks]` in force (the mock's switch changes it).
    play: RwLock<crate::resend::WebhookPlay>,
    /// The endpoints the scenario (its account, or the account file) added:
    /// a switch to another scenario removes those it does not list.
    from_scenario: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("endpoints", &self.endpoints().len())
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Checks the endpoints (URL, host, event names, secrets, duplicates)
    /// and loads the CA file; starts nothing (see [`Webhooks::attach`]).
    pub fn new(config: WebhookConfig) -> Result<Arc<Webhooks>, Error> {
        let tls = match crate::net::tls::client_config(config.ca_file.as_deref()) {
            Ok(c) => Some(c),
            Err(e) if config.ca_file.is_some() => return Err(e),
            Err(_) => None,
        };
        let hooks = Arc::new(Webhooks {
            tls,
            endpoints: RwLock::new(Vec::new()),
            events: Mutex::new(VecDeque::new()),
            emails: Mutex::new(VecDeque::new()),
            lanes: Mutex::new(HashMap::new()),
            pending: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            emitted: watch::channel(0).0,
            stop: watch::channel(false).0,
            stopping: AtomicBool::new(false),
            sink: OnceLock::new(),
            background: OnceLock::new(),
            backlog: Arc::new(AtomicUsize::new(0)),
            caught_up: AtomicU64::new(0),
            tapes_waiting: Arc::new(AtomicUsize::new(0)),
            tapes_lost: Arc::new(AtomicU64::new(0)),
            play: RwLock::new(crate::resend::WebhookPlay::default()),
            from_scenario: Mutex::new(Vec::new()),
            // Resend's own test addresses until a mock says which profile
            // is in force (replay uses these).
            tests: RwLock::new(
                crate::resend::Profile::build(None, "default")
                    .ok()
                    .map(|p| Arc::new(move |a: &str| p.test_address(a)) as Arc<TestAddresses>),
            ),
            config: WebhookConfig {
                endpoints: Vec::new(),
                ..config.clone()
            },
        });
        for spec in &config.endpoints {
            hooks.add(spec).map_err(|reason| Error::Config {
                origin: format!("--webhook {}", spec.url),
                reason,
            })?;
        }
        Ok(hooks)
    }

    /// Adds an endpoint; the error says what is wrong (a bad URL, a host
    /// that is not allowed, an unknown event, a bad secret, a duplicate).
    pub fn add(&self, spec: &EndpointSpec) -> Result<Arc<Endpoint>, String> {
        let target = Target::parse(&spec.url, self.config.allow_remote)?;
        let events = parse_events(&spec.events)?;
        let secret = match &spec.secret {
            Some(s) => Secret::parse(s)?,
            None => Secret::generate(),
        };
        let mut list = self.endpoints.write().unwrap_or_else(|p| p.into_inner());
        if list.len() >= MAX_ENDPOINTS {
            return Err(format!(
                "at most {MAX_ENDPOINTS} webhook endpoints; delete one (DELETE /webhooks/{{id}}) before adding another"
            ));
        }
        if list.iter().any(|e| e.read().target.url == target.url) {
            return Err(format!(
                "a webhook for {} already exists; change it (PATCH) rather than add it twice",
                target.url
            ));
        }
        let e = Arc::new(Endpoint {
            id: crate::resend::new_id(),
            created_at: OffsetDateTime::now_utc(),
            state: RwLock::new(EndpointState {
                target,
                events,
                secrets: vec![(secret, None)],
                enabled: !spec.disabled,
                failing_since: None,
                disabled_reason: None,
            }),
            slots: Semaphore::new(PER_ENDPOINT),
            pool: deliver::Pool::new(deliver::refusal_window(self.config.retry_scale)),
            pending: AtomicUsize::new(0),
            off: watch::channel(spec.disabled).0,
        });
        list.push(e.clone());
        Ok(e)
    }

    /// Changes an endpoint (`PATCH /webhooks/{id}`): its URL, events or
    /// status.
    pub fn update(
        &self,
        id: &str,
        url: Option<&str>,
        events: Option<&[String]>,
        enabled: Option<bool>,
    ) -> Result<Option<Arc<Endpoint>>, String> {
        let Some(e) = self.endpoint(id) else {
            return Ok(None);
        };
        let target = url
            .map(|u| Target::parse(u, self.config.allow_remote))
            .transpose()?;
        if let Some(t) = &target
            && self
                .endpoints()
                .iter()
                .any(|o| o.id != e.id && o.read().target.url == t.url)
        {
            return Err(format!("a webhook for {} already exists", t.url));
        }
        let events = events.map(parse_events).transpose()?;
        let mut s = e.write();
        if let Some(t) = target {
            s.target = t;
        }
        if let Some(ev) = events {
            s.events = ev;
        }
        if let Some(en) = enabled {
            s.enabled = en;
            // Enabled again by hand: its 5 days start over.
            s.failing_since = None;
            s.disabled_reason = None;
        }
        drop(s);
        if let Some(en) = enabled {
            e.off.send_replace(!en);
        }
        Ok(Some(e))
    }

    /// Removes an endpoint; what is pending for it is dropped.
    pub fn remove(&self, id: &str) -> Option<Arc<Endpoint>> {
        let mut list = self.endpoints.write().unwrap_or_else(|p| p.into_inner());
        let i = list.iter().position(|e| e.id == id)?;
        let e = list.remove(i);
        e.off.send_replace(true);
        Some(e)
    }

    /// A new secret for an endpoint; the old one signs too for 24 hours.
    pub fn rotate(&self, id: &str) -> Option<Arc<Endpoint>> {
        let e = self.endpoint(id)?;
        let mut s = e.write();
        let until = Instant::now() + ROTATION_WINDOW;
        for old in s.secrets.iter_mut() {
            old.1 = Some(old.1.map_or(until, |u| u.min(until)));
        }
        s.secrets.insert(0, (Secret::generate(), None));
        s.secrets.truncate(2);
        drop(s);
        Some(e)
    }

    /// Every endpoint.
    pub fn endpoints(&self) -> Vec<Arc<Endpoint>> {
        self.endpoints
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The endpoint with this id.
    pub fn endpoint(&self, id: &str) -> Option<Arc<Endpoint>> {
        self.endpoints().into_iter().find(|e| e.id == id)
    }

    /// Uses the running profile's test addresses (`delivered@resend.dev`,
    /// …) to decide each recipient's events.
    pub fn set_test_addresses(&self, f: Arc<TestAddresses>) {
        *self.tests.write().unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    /// Subscribes to the sink and starts turning what it publishes into
    /// events (inside a tokio runtime). Once only: a second call does
    /// nothing.
    pub fn attach(self: &Arc<Self>, sink: &Arc<Sink>) {
        if self.sink.set(sink.clone()).is_err() {
            return;
        }
        let mut sub = sink.subscribe_sessions(QUEUE);
        let me = self.clone();
        let Ok(caller) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if let Some(bg) = runtime::Background::start(&caller, self.config.lower_priority) {
            let _ = self.background.set(bg);
        }
        // The subscriber only hands each message on, at normal priority, so
        // that the sink's queue never fills behind a starved sender; making
        // the events is the work that waits for spare CPU.
        let task = async move {
            while let Some(first) = sub.recv().await {
                // What has come meanwhile goes along in one task: one wake-up
                // of the sender's thread for a burst, not one a message.
                let mut batch = Vec::new();
                let mut next = Some(first);
                while let Some(event) = next {
                    if makes_events(&event) {
                        batch.push(event);
                    }
                    next = if batch.len() < BATCH {
                        sub.try_recv()
                    } else {
                        None
                    };
                }
                let missed = sub.take_dropped();
                if missed > 0 {
                    tracing::warn!("webhooks: {missed} accepted messages not seen (queue full)");
                }
                if batch.is_empty() {
                    continue;
                }
                me.backlog.fetch_add(batch.len(), Ordering::AcqRel);
                let one = me.clone();
                me.spawn(async move {
                    for event in batch {
                        match &*event {
                            SinkEvent::MessageAccepted(m) => one.on_message(m, None),
                            SinkEvent::MessageScheduled(m) => one.on_scheduled(m),
                            SinkEvent::MessageFailed { message, reason } => {
                                one.on_message(message, Some(reason))
                            }
                            SinkEvent::SessionFinished { transcript, .. } => {
                                one.on_replayed(transcript)
                            }
                            // Left out by `makes_events`.
                            _ => {}
                        }
                        one.backlog.fetch_sub(1, Ordering::AcqRel);
                    }
                });
            }
        };
        self.spawn_on(true, task);
    }

    /// Runs a task of the sender: on its own low-priority thread once
    /// attached, or the normal one while more than [`BACKLOG_HIGH`] pieces
    /// of work wait; else on the caller's runtime.
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let behind = self.backlog.load(Ordering::Acquire) > self.config.backlog_high;
        if behind && self.background.get().is_some() {
            self.caught_up.fetch_add(1, Ordering::Relaxed);
        }
        self.spawn_on(behind, task);
    }

    /// Runs a task on the sender's normal-priority thread (`normal`) or its
    /// low-priority one, once attached; else on the caller's runtime.
    fn spawn_on(&self, normal: bool, task: impl std::future::Future<Output = ()> + Send + 'static) {
        match self.background.get() {
            Some(bg) => {
                bg.handle(normal).spawn(task);
            }
            None => {
                tokio::spawn(task);
            }
        }
    }

    fn fate(&self, addr: &str) -> Fate {
        let test = self
            .tests
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|f| f(addr));
        match Fate::of(addr, test) {
            Fate::Delivered if self.play().delivery_delayed.has(addr) => Fate::Delayed,
            fate => fate,
        }
    }

    fn play(&self) -> crate::resend::WebhookPlay {
        self.play.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Plays a scenario's `[webhooks]` from now on: its delay (else
    /// `--webhook-delay`), whose mail gets `email.delivery_delayed`.
    pub fn set_play(&self, play: crate::resend::WebhookPlay) {
        *self.play.write().unwrap_or_else(|p| p.into_inner()) = play;
    }

    /// The endpoints a scenario's account lists (or the account file's
    /// `[[webhooks]]`), in force from now on: those a previous scenario
    /// added and this one does not list are removed; those it lists and
    /// are not there are added (and said live). An endpoint of the same URL
    /// already there (`--webhook`, the API, or kept from the previous
    /// scenario) stays as it is, secret and all. Checked whole first: on
    /// an error nothing changes.
    pub fn set_scenario_endpoints(
        &self,
        specs: &[EndpointSpec],
    ) -> Result<Vec<Arc<Endpoint>>, String> {
        for spec in specs {
            Target::parse(&spec.url, self.config.allow_remote)?;
            parse_events(&spec.events)?;
            if let Some(s) = &spec.secret {
                Secret::parse(s)?;
            }
        }
        let wanted: Vec<String> = specs
            .iter()
            .filter_map(|s| Target::parse(&s.url, self.config.allow_remote).ok())
            .map(|t| t.url)
            .collect();
        let mut owned = self.from_scenario.lock().unwrap_or_else(|p| p.into_inner());
        for id in owned.clone() {
            match self.endpoint(&id) {
                Some(e) if wanted.contains(&e.url()) => {}
                Some(_) => {
                    self.remove(&id);
                    owned.retain(|o| *o != id);
                }
                None => owned.retain(|o| *o != id),
            }
        }
        let mut added = Vec::new();
        for spec in specs {
            let url = Target::parse(&spec.url, self.config.allow_remote)?.url;
            if self.endpoints().iter().any(|e| e.url() == url) {
                continue;
            }
            let e = self.add(spec)?;
            owned.push(e.id.clone());
            added.push(e);
        }
        Ok(added)
    }

    fn facts(m: &Message) -> EmailFacts {
        let mut f = events::facts_from_mime(&m.id, m.session, &m.data);
        // Tags travel as `name=value`.
        f.tags = m
            .tags
            .iter()
            .map(|t| match t.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (t.clone(), String::new()),
            })
            .collect();
        f.created_at = Some(OffsetDateTime::now_utc());
        f
    }

    fn on_message(self: &Arc<Self>, m: &Message, failed: Option<&String>) {
        if self.endpoints().is_empty() {
            return;
        }
        let facts = Self::facts(m);
        if let Some(reason) = failed {
            let p = Planned {
                kind: EventType::Failed,
                to: m.to.clone(),
                extra: events::failed(reason),
                later: false,
            };
            self.emit(&facts, &p);
            return;
        }
        let fates: Vec<(String, Fate)> = m.to.iter().map(|a| (a.clone(), self.fate(a))).collect();
        self.emit_plan(facts, events::plan(&fates));
    }

    fn on_scheduled(self: &Arc<Self>, m: &Message) {
        if self.endpoints().is_empty() {
            return;
        }
        let p = Planned {
            kind: EventType::Scheduled,
            to: m.to.clone(),
            extra: serde_json::Map::new(),
            later: false,
        };
        self.emit(&Self::facts(m), &p);
    }

    /// A replayed session's accepted messages produce the events the mock
    /// would have sent for them, under the email id the tape's `250` gave.
    fn on_replayed(self: &Arc<Self>, t: &crate::tape::Transcript) {
        if self.endpoints().is_empty() {
            return;
        }
        for (i, m) in crate::web::accepted_messages(t).into_iter().enumerate() {
            let id = m
                .email_id()
                .map_or_else(|| format!("replay-{}-{}", t.meta.id, i + 1), String::from);
            let msg = Message {
                id,
                session: t.meta.id,
                from: m.from,
                to: m.to,
                data: m.data,
                ..Message::default()
            };
            self.on_message(&msg, None);
        }
    }

    /// Emits the events at once, or the later ones after the delay.
    fn emit_plan(self: &Arc<Self>, facts: EmailFacts, plan: Vec<Planned>) {
        let delivered: Vec<String> = plan
            .iter()
            .find(|p| p.kind == EventType::Delivered)
            .map(|p| p.to.clone())
            .unwrap_or_default();
        {
            let mut emails = self.emails.lock().unwrap_or_else(|p| p.into_inner());
            emails.push_back((facts.clone(), delivered));
            while emails.len() > self.config.keep.max(1) {
                emails.pop_front();
            }
        }
        let delay = self.play().delay.unwrap_or(self.config.delay);
        if delay.is_zero() {
            for p in &plan {
                self.emit(&facts, p);
            }
            return;
        }
        let me = self.clone();
        self.spawn(async move {
            let mut waited = false;
            for p in &plan {
                if p.later && !waited {
                    tokio::time::sleep(delay).await;
                    waited = true;
                }
                me.emit(&facts, p);
            }
        });
    }

    /// Emits one event about an email: kept, shown live, queued for every
    /// endpoint that wants it.
    pub fn emit(self: &Arc<Self>, facts: &EmailFacts, p: &Planned) -> Arc<EventRecord> {
        let now = OffsetDateTime::now_utc();
        let record = Arc::new(EventRecord {
            id: sign::new_msg_id(),
            kind: p.kind,
            email_id: facts.email_id.clone(),
            domain_id: None,
            session: facts.session,
            created_at: now,
            body: Bytes::from(events::body(facts, p, now)),
            log: Mutex::new(EventLog::default()),
        });
        self.publish_record(&record);
        record
    }

    /// An event about the account (`domain.created`, `domain.updated`,
    /// `domain.deleted`) with this `data`, for every endpoint that wants
    /// it; `None` for a name mailtape does not send this way.
    pub fn emit_account(self: &Arc<Self>, name: &str, data: Value) -> Option<Arc<EventRecord>> {
        let kind = EventType::parse(name).filter(|k| k.sent() && !k.is_email())?;
        if self.endpoints().is_empty() {
            return None;
        }
        let now = OffsetDateTime::now_utc();
        let record = Arc::new(EventRecord {
            id: sign::new_msg_id(),
            kind,
            email_id: String::new(),
            domain_id: data.get("id").and_then(Value::as_str).map(String::from),
            session: 0,
            created_at: now,
            body: Bytes::from(events::account_body(kind, data, now)),
            log: Mutex::new(EventLog::default()),
        });
        self.publish_record(&record);
        Some(record)
    }

    /// Keeps an event, shows it live and queues it for every endpoint that
    /// wants it.
    fn publish_record(self: &Arc<Self>, record: &Arc<EventRecord>) {
        {
            let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            events.push_back(record.clone());
            while events.len() > self.config.keep.max(1) {
                events.pop_front();
            }
        }
        self.live(|| {
            (
                record.session,
                format!("webhook {} for {}", record.kind.name(), record.about()),
                json!({"type": "webhook_event", "session": record.session, "id": record.id, "event": record.kind.name(), "email_id": record.email_id, "domain_id": record.domain_id}),
            )
        });
        for e in self.endpoints() {
            if e.wants(record.kind) {
                self.enqueue(&e, record);
            }
        }
        self.emitted.send_modify(|n| *n += 1);
    }

    /// An open or a click of a delivered email (Resend sends these only
    /// with tracking on; mailtape when asked): `None` if the email is not
    /// one the sender has seen.
    pub fn engage(
        self: &Arc<Self>,
        email_id: &str,
        kind: EventType,
        extra: serde_json::Map<String, Value>,
    ) -> Option<Arc<EventRecord>> {
        let (facts, to) = self
            .emails
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .rev()
            .find(|(f, _)| f.email_id == email_id)
            .cloned()?;
        let p = Planned {
            kind,
            to,
            extra,
            later: false,
        };
        Some(self.emit(&facts, &p))
    }

    /// Sends an event again to one endpoint (or every endpoint that wants
    /// it), with the same id and body (`POST …/replay`).
    pub fn replay(
        self: &Arc<Self>,
        event_id: &str,
        endpoint: Option<&str>,
    ) -> Option<Arc<EventRecord>> {
        let record = self.event(event_id)?;
        for e in self.endpoints() {
            let chosen = match endpoint {
                Some(id) => e.id == id,
                None => e.wants(record.kind),
            };
            if chosen {
                self.enqueue(&e, &record);
            }
        }
        Some(record)
    }

    fn enqueue(self: &Arc<Self>, endpoint: &Arc<Endpoint>, record: &Arc<EventRecord>) {
        if self.stopping.load(Ordering::Acquire)
            || self.pending.load(Ordering::Acquire) >= MAX_PENDING
            || endpoint.pending.load(Ordering::Acquire) >= self.config.pending_per_endpoint
        {
            record.set_state(&endpoint.id, DeliveryState::Dropped);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        record.set_state(&endpoint.id, DeliveryState::Pending);
        self.pending.fetch_add(1, Ordering::AcqRel);
        endpoint.pending.fetch_add(1, Ordering::AcqRel);
        let key = (endpoint.id.clone(), record.about());
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = lanes.get(&key)
            && tx.send(record.clone()).is_ok()
        {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(record.clone());
        lanes.insert(key.clone(), tx);
        drop(lanes);
        let me = self.clone();
        let endpoint = endpoint.clone();
        // A lane not yet started is work waiting for the sender's thread
        // (events behind a retry in a started lane are not: they wait for
        // the endpoint).
        self.backlog.fetch_add(1, Ordering::AcqRel);
        self.spawn(async move {
            me.backlog.fetch_sub(1, Ordering::AcqRel);
            me.lane(key, endpoint, rx).await
        });
    }

    /// Delivers one email's events to one endpoint, in order; ends when
    /// none is left.
    async fn lane(
        self: Arc<Self>,
        key: LaneKey,
        endpoint: Arc<Endpoint>,
        mut rx: mpsc::UnboundedReceiver<Arc<EventRecord>>,
    ) {
        loop {
            let record = match rx.try_recv() {
                Ok(r) => r,
                Err(_) => {
                    let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
                    match rx.try_recv() {
                        Ok(r) => r,
                        Err(_) => {
                            lanes.remove(&key);
                            return;
                        }
                    }
                }
            };
            let state = self.deliver(&endpoint, &record).await;
            record.set_state(&endpoint.id, state);
            if state == DeliveryState::Dropped {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            self.pending.fetch_sub(1, Ordering::AcqRel);
            endpoint.pending.fetch_sub(1, Ordering::AcqRel);
            self.emitted.send_modify(|n| *n += 1);
        }
    }

    /// Up to eight attempts on the (scaled) schedule.
    async fn deliver(&self, endpoint: &Arc<Endpoint>, record: &EventRecord) -> DeliveryState {
        let mut stop = self.stop.subscribe();
        let mut off = endpoint.off.subscribe();
        for n in 0..deliver::SCHEDULE.len() {
            let wait = deliver::wait_before(n, self.config.retry_scale);
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => {
                        record.set_next(&endpoint.id, None);
                        return DeliveryState::Dropped;
                    }
                    // Removed or disabled meanwhile: said below.
                    _ = off.wait_for(|o| *o) => {}
                }
            }
            if *stop.borrow() || self.endpoint(&endpoint.id).is_none() {
                record.set_next(&endpoint.id, None);
                return DeliveryState::Dropped;
            }
            record.set_next(&endpoint.id, None);
            if !endpoint.enabled() {
                // Disabled meanwhile (by hand, or failing for 5 days).
                return DeliveryState::Failed;
            }
            let Ok(_slot) = endpoint.slots.acquire().await else {
                return DeliveryState::Dropped;
            };
            // Two statements: a read guard kept while reading again would
            // deadlock once a writer waits between the two (std's RwLock
            // lets a waiting writer go first).
            let target = endpoint.read().target.clone();
            let signers = endpoint.signers();
            let at = OffsetDateTime::now_utc();
            let ts = at.unix_timestamp();
            let refs: Vec<&Secret> = signers.iter().collect();
            let headers = vec![
                ("svix-id".to_string(), record.id.clone()),
                ("svix-timestamp".to_string(), ts.to_string()),
                (
                    "svix-signature".to_string(),
                    sign::signature_header(&refs, &record.id, ts, &record.body),
                ),
            ];
            let out = deliver::post(
                &endpoint.pool,
                &target,
                self.config.allow_remote,
                self.tls.as_ref(),
                &headers,
                record.body.clone(),
                self.config.timeout,
            )
            .await;
            let ok = out.ok();
            let last = n + 1 == deliver::SCHEDULE.len();
            let disabled = endpoint.note_result(ok, self.config.retry_scale);
            let next_at = (!ok && !out.abort && !last && disabled.is_none()).then(|| {
                OffsetDateTime::now_utc() + deliver::wait_before(n + 1, self.config.retry_scale)
            });
            let outcome = match (&disabled, next_at) {
                _ if ok => "delivered".to_string(),
                _ if out.abort => {
                    "aborted: the endpoint answered webhook-delivery: abort-message".to_string()
                }
                (Some(why), _) => format!("endpoint disabled: {why}"),
                (None, Some(t)) => format!(
                    "retry {} of {} at {}",
                    n + 2,
                    deliver::SCHEDULE.len(),
                    events::timestamp(t)
                ),
                (None, None) => format!("failed: all {} attempts failed", deliver::SCHEDULE.len()),
            };
            record.set_next(&endpoint.id, next_at);
            let attempt = Attempt {
                webhook_id: endpoint.id.clone(),
                endpoint: target.url.clone(),
                attempt: n + 1,
                at,
                request_headers: headers,
                status: out.status,
                error: out.error.clone(),
                latency_ms: u64::try_from(out.latency.as_millis()).unwrap_or(u64::MAX),
                response_headers: out.headers.clone(),
                response_body: out.body.clone(),
                ok,
                next_attempt_at: next_at.map(events::timestamp),
                outcome,
            };
            self.live(|| {
                (
                record.session,
                format!(
                    "webhook {} → {} attempt {}: {} ({} ms); {}",
                    record.kind.name(),
                    target.url,
                    n + 1,
                    match (out.status, &out.error) {
                        (Some(s), None) => s.to_string(),
                        (_, Some(e)) => e.clone(),
                        (None, None) => "?".into(),
                    },
                    attempt.latency_ms,
                    attempt.outcome,
                ),
                json!({"type": "webhook_attempt", "session": record.session, "id": record.id, "event": record.kind.name(), "email_id": record.email_id, "endpoint": target.url, "attempt": n + 1, "status": out.status, "error": out.error, "latency_ms": attempt.latency_ms, "next_attempt_at": attempt.next_attempt_at, "outcome": attempt.outcome}),
                )
            });
            if let Some(why) = &disabled {
                self.live(|| {
                    (
                        record.session,
                        format!("webhook endpoint {} disabled: {why}", target.url),
                        json!({"type": "webhook_endpoint_disabled", "session": record.session, "webhook_id": endpoint.id, "endpoint": target.url, "reason": why}),
                    )
                });
            }
            self.write_tape(record, &attempt, &target.path, out.latency);
            record
                .log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .attempts
                .push(attempt);
            self.emitted.send_modify(|c| *c += 1);
            if ok {
                return DeliveryState::Delivered;
            }
            if out.abort {
                return DeliveryState::Aborted;
            }
            if disabled.is_some() {
                return DeliveryState::Failed;
            }
        }
        DeliveryState::Failed
    }

    /// Writes an attempt's transcript to `--tapes` on the sink's side
    /// writer; at most [`MAX_TAPES_WAITING`] wait for the disk, the rest
    /// are counted and not written.
    fn write_tape(&self, record: &EventRecord, a: &Attempt, path: &str, latency: Duration) {
        let Some(sink) = self.sink.get().filter(|s| s.writes_tapes()) else {
            return;
        };
        if self.tapes_waiting.fetch_add(1, Ordering::AcqRel) >= MAX_TAPES_WAITING {
            self.tapes_waiting.fetch_sub(1, Ordering::AcqRel);
            self.tapes_lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let subject = record.about();
        let facts = tape::AttemptFacts {
            session: record.session,
            event_id: &record.id,
            kind: record.kind.name(),
            subject_id: &subject,
            url: &a.endpoint,
            path,
            attempt: a.attempt,
            of: deliver::SCHEDULE.len(),
            at: a.at,
            request_headers: &a.request_headers,
            body: &record.body,
            status: a.status,
            error: a.error.as_deref(),
            latency,
            response_headers: &a.response_headers,
            response_body: &a.response_body,
            outcome: &a.outcome,
        };
        let (waiting, lost) = (self.tapes_waiting.clone(), self.tapes_lost.clone());
        let queued = sink.write_side_tape(
            tape::stem(&facts),
            tape::attempt_tape(&facts),
            Box::new(move |written| {
                waiting.fetch_sub(1, Ordering::AcqRel);
                if !written {
                    lost.fetch_add(1, Ordering::Relaxed);
                }
            }),
        );
        if !queued {
            self.tapes_waiting.fetch_sub(1, Ordering::AcqRel);
            self.tapes_lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Attempt transcripts not written to `--tapes` (the disk fell
    /// behind, or a write failed).
    pub fn tapes_lost(&self) -> u64 {
        self.tapes_lost.load(Ordering::Relaxed)
    }

    /// Shows an event or attempt live (the live view, `--json`, and the
    /// inbox's waitable events).
    fn live(&self, make: impl FnOnce() -> (u64, String, Value)) {
        if let Some(sink) = self.sink.get() {
            let (session, text, json) = make();
            sink.publish(SinkEvent::Webhook {
                session,
                text,
                json,
            });
        }
    }

    /// The event with this `svix-id`.
    pub fn event(&self, id: &str) -> Option<Arc<EventRecord>> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|e| e.id == id)
            .cloned()
    }

    /// The events kept, oldest first.
    pub fn records(&self) -> Vec<Arc<EventRecord>> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The events kept, oldest first, with their attempts.
    pub fn events(&self) -> Vec<WebhookEvent> {
        self.records().iter().map(|e| e.view()).collect()
    }

    /// Waits until an event (as it stands, attempts included) satisfies
    /// `pred`, or the timeout passes.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&WebhookEvent) -> bool,
        timeout: Duration,
    ) -> Option<WebhookEvent> {
        let mut rx = self.emitted.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return Some(e);
            }
            rx.borrow_and_update();
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    /// Deliveries waiting or retrying.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Work waiting now: messages not yet made into events, lanes not yet
    /// started.
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Acquire)
    }

    /// Tasks that ran at normal priority because more than
    /// [`WebhookConfig::backlog_high`] pieces of work waited.
    pub fn caught_up(&self) -> u64 {
        self.caught_up.load(Ordering::Relaxed)
    }

    /// Deliveries never attempted (too many waiting, or stopped).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Gives deliveries in flight `grace` to finish, then stops the rest;
    /// returns how many deliveries were left undelivered.
    pub async fn stop(&self, grace: Duration) -> usize {
        let mut rx = self.emitted.subscribe();
        let deadline = tokio::time::Instant::now() + grace;
        while self.pending() > 0 {
            rx.borrow_and_update();
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                break;
            }
        }
        self.stopping.store(true, Ordering::Release);
        let left = self.pending();
        self.stop.send_replace(true);
        // Retries waiting for their time end now; give them a moment to
        // say so (an attempt in flight keeps its own timeout).
        let settle = tokio::time::Instant::now() + Duration::from_millis(500);
        while self.pending() > 0 {
            rx.borrow_and_update();
            if tokio::time::timeout_at(settle, rx.changed()).await.is_err() {
                break;
            }
        }
        if let Some(bg) = self.background.get() {
            bg.end();
        }
        left
    }
}

fn parse_events(names: &[String]) -> Result<Vec<EventType>, String> {
    let mut out = Vec::new();
    for n in names {
        let kind = EventType::parse(n).ok_or_else(|| {
            format!(
                "unknown webhook event {n:?}; known: {}",
                EventType::ALL.map(|e| e.name()).join(", ")
            )
        })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

/// The banner's lines for the endpoints: URL, events, secret.
pub fn banner_lines(hooks: &Webhooks) -> Vec<String> {
    hooks
        .endpoints()
        .iter()
        .map(|e| {
            let s = e.read();
            let events = if s.events.is_empty() {
                "all events".to_string()
            } else {
                s.events
                    .iter()
                    .map(|e| e.name())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!(
                "webhook {} ({events}{}) secret {}",
                s.target.url,
                if s.enabled { "" } else { ", disabled" },
                s.secrets
                    .first()
                    .map(|(k, _)| k.expose())
                    .unwrap_or_default()
            )
        })
        .collect()
}
