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
//! One engine ([`engine::session`]) drives every connection: line framing with a
//! cap, DATA, the STARTTLS upgrade, timeouts and error limits. It asks a
//! [`engine::responder::Responder`] what to reply; the mock ([`modes::mock`])
//! answers from a profile of replies ([`resend::Profile`], data compiled in
//! from `fixtures/resend.toml`), an account and a scenario. Protocol code
//! ([`smtp`]) does no I/O. Transcripts ([`tape`]) are redacted as they are
//! captured and go to the [`output::sink`]: the live view, tape files, the mailbox,
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

pub mod engine;
pub mod error;
pub mod fsutil;
pub mod modes;
pub mod net;
pub mod output;
pub mod resend;
pub mod smtp;
pub mod tape;
pub mod tools;

pub use engine::listener::Addrs;
pub use engine::server::{Blocking, Service, ServiceConfig};
pub use error::Error;
pub use modes::mock::{MockBuilder, MockConfig, MockServer};
pub use modes::record::{RecordBuilder, RecordConfig, RecordServer};
pub use modes::replay::{ReplayBuilder, ReplayConfig, ReplayOutcome, ReplayServer};
pub use output::sink::{LiveView, Message};
pub use tape::Transcript;
