//! The three modes, each with its options, builder and responder: the mock
//! (answers as Resend would), record (relays to the real relay and keeps the
//! tape) and replay (answers from a tape).

pub mod mock;
pub mod record;
pub mod replay;
