//! Where sessions go once captured: the live view, tape files, the mailbox
//! and the in-memory record the test API reads.

pub mod event;
pub(crate) mod files;
pub(crate) mod live;
pub mod sink;
