//! The engine: one SMTP session per connection, driven through a
//! [`responder::Responder`]; the listeners that accept connections; the
//! server every mode runs on.

pub mod budget;
pub mod listener;
pub mod responder;
pub mod server;
pub mod session;
pub(crate) mod shutdown;
