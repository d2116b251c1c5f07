//! Transcripts, redaction and their text forms.

pub mod redact;
pub mod transcript;

pub use transcript::{Closer, Event, EventKind, Meta, Transcript};

/// The first line of every tape file.
pub const TAPE_HEADER: &str = "# mailtape tape v1";
