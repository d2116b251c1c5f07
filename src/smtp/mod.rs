//! The SMTP protocol without I/O: command parsing, line framing, the DATA
//! reader, replies and reply codes. Pure functions over bytes.

pub mod codes;
pub mod command;
pub mod data;
pub mod line;
pub mod own;
pub mod reply;

pub use command::{Command, Param, ParseError, is_valid_mailbox, params, parse_command};
pub use data::{DataReader, DataWriter, Fed};
pub use line::{Line, MAX_LINE, split_line};
pub use reply::{Reply, ReplyError, parse_reply};
