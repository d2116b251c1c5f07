//! Sockets and TLS: the one byte stream both legs use (plain or TLS, server
//! or client side), the buffered client connection, the SMTP client that
//! talks to a relay, certificates, and the HTTP listeners (inbox, REST).
//!
//! Public: [`HttpLimits`], [`CertSource`], [`Tls`] and [`tls::client_config`] (a relay's
//! TLS settings, used by the benchmark's byte-copying relay).

pub(crate) mod client;
pub(crate) mod http;
pub mod http_client;
pub(crate) mod stream;
pub mod tls;

pub use http::HttpLimits;
pub(crate) use stream::{Conn, Io, Stream};
pub use tls::{CertSource, Tls};
