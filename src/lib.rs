//! # mailtape
//!
//! mailtape stands between an application and an SMTP relay — Resend's
//! `smtp.resend.com` first of all — and **mocks** its sessions: a local
//! server that answers exactly as the relay would, so an app pointed at
//! localhost sees what it will see in production. Every session is shown and
//! kept as a transcript with the secrets redacted at capture.
//!
//! ## Design
//!
//! One engine drives every connection: line framing with a cap, DATA, the
//! STARTTLS upgrade, timeouts and error limits. It asks a responder what to
//! reply: the mock answers from a profile of replies ([`resend::Profile`],
//! data compiled in from `fixtures/resend.toml`), an account and a scenario;
//! record relays to the real relay; replay answers from a [`Tape`]. Protocol
//! code ([`smtp`]) does no I/O. Transcripts ([`tape`]) are redacted as they
//! are captured ([`tape::capture`]) and go to the [`Sink`]: the live view,
//! tape files, the mailbox, the test API, and any [`Subscription`].
//!
//! The public API is what this page lists; `docs/architecture.md` maps the
//! rest of the source.
//!
//! ## Getting started
//!
//! ```no_run
//! # async fn demo() -> Result<(), mailtape::Error> {
//! let server = mailtape::MockServer::builder().scenario("default").start().await?;
//! let addr = server.plain_addr().expect("plain listener");
//! // … send mail to `addr` as user `resend` with any `re_…` key …
//! server.wait_for_sessions(1, std::time::Duration::from_secs(5)).await;
//! for t in server.transcripts() {
//!     println!("{}", t.snapshot());
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// What stays public, and why (a user of the library calls it; everything
// else is `pub(crate)` and reached through the re-exports below):
// - `smtp`: the protocol codec without I/O (parse a command or a reply,
//   frame lines, read and write DATA) — what a test of an SMTP client, the
//   fuzz targets and the property tests call.
// - `tape`: transcripts and the tape format (read, write, snapshot), and
//   redaction (`tape::redact::scrub`) for a user's own logs.
// - `resend`: the Resend knowledge — profile, scenarios, the account's key
//   rule, reply names and what each reply means (`resend::explain`).
// - `tools`: the client side as functions — `check` a relay, `bench` a
//   server, `show` a tape; the CLI's subcommands of those names call them.
// - `web`: the inbox's configuration and what a test calls on it (waiting
//   for a message, its query language); its routes and store are private.
// - `webhook`: the endpoints a user configures and the events they get.
// The engine, the modes, the outputs, the REST routes, sockets and TLS are
// private: their public face is the builders, servers, configs and the
// sink re-exported here.
pub(crate) mod engine;
mod error;
pub(crate) mod fsutil;
pub(crate) mod modes;
pub(crate) mod net;
pub(crate) mod output;
pub mod resend;
pub(crate) mod rest;
pub mod smtp;
pub mod tape;
pub mod tools;
pub mod web;
pub mod webhook;

pub use engine::listener::{Addrs, ServerConfig};
pub use engine::server::{Blocking, Served, Service, ServiceConfig};
pub use engine::session::Limits;
pub use error::{BindFailure, Error};
pub use modes::mock::options::{MockOptions, MockSettings};
pub use modes::mock::{MockBuilder, MockConfig, MockServer};
pub use modes::record::rest::{DEFAULT_REST_UPSTREAM, RestUpstreamOptions};
pub use modes::record::{RecordBuilder, RecordConfig, RecordServer, UpstreamOptions};
pub use modes::replay::{
    BUILTIN_TAPES, ReplayBuilder, ReplayConfig, ReplayOptions, ReplayOutcome, ReplayServer,
    list_builtin, load_tape,
};
pub use net::client::UpstreamTls;
pub use net::http_client::{HttpClient, client as http_client};
pub use net::tls::client_config as tls_client_config;
pub use net::{CertSource, HttpLimits, Tls};
pub use output::sink::{
    Event as SinkEvent, LiveView, Message, OutputConfig, SaveError, Sink, Subscription,
};
pub use tape::{Tape, Transcript};
pub use web::found::{FoundMessage, WaitError};
pub use web::{Control, RouteMaker, ScenarioState, Web, WebConfig};
