//! Transcripts, redaction and the tape format.

pub mod capture;
mod encoded;
pub mod format;
pub mod http;
pub(crate) mod keys;
mod params;
pub mod printable;
pub mod read;
pub mod redact;
pub(crate) mod references;
pub mod transcript;

pub use format::{Tape, TapeError, VERSION_LINE};
pub use transcript::{Closer, Event, EventKind, Meta, Transcript};
