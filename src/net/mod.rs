//! Sockets, TLS and the buffered client connection.

pub mod client;
pub mod stream;
pub mod tls;

pub use stream::{Conn, Io, Stream};
pub use tls::{CertSource, Tls};
