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
//! One engine ([`session`]) drives every connection: line framing with a
//! cap, DATA, the STARTTLS upgrade, timeouts and error limits. It asks a
//! [`responder::Responder`] what to reply; the mock ([`responder::mock`])
//! answers from a profile of replies ([`resend::Profile`], data compiled in
//! from `fixtures/resend.toml`), an account and a scenario. Protocol code
//! ([`smtp`]) does no I/O. Transcripts ([`tape`]) are redacted as they are
//! captured and go to the [`hub`]: the live view, tape files, the mailbox,
//! and the test API.
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

pub mod bench;
pub mod check;
pub mod error;
pub mod explain;
pub mod fsutil;
pub mod hub;
pub mod message;
pub mod mock_server;
pub mod net;
pub mod record_server;
pub mod replay_server;
pub mod resend;
pub mod responder;
pub mod server;
pub mod service;
pub mod session;
pub mod show;
pub mod smtp;
pub mod tape;
pub mod web;
mod writer;

pub use error::Error;
pub use hub::{LiveView, Message};
pub use mock_server::{MockBuilder, MockConfig, MockServer};
pub use record_server::{RecordBuilder, RecordConfig, RecordServer};
pub use replay_server::{ReplayBuilder, ReplayConfig, ReplayOutcome, ReplayServer};
pub use server::Addrs;
pub use service::{Blocking, Service, ServiceConfig};
pub use tape::Transcript;
