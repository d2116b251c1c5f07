//! SMTP reply codes used by the engine and the responders, named for what
//! they mean, each with the RFC section that defines it.

/// Service ready (greeting). RFC 5321 4.2.2
pub const SERVICE_READY: u16 = 220;
/// Service closing transmission channel (reply to QUIT). RFC 5321 4.2.2
pub const CLOSING: u16 = 221;
/// Authentication succeeded. RFC 4954 6
pub const AUTH_OK: u16 = 235;
/// Requested action okay, completed. RFC 5321 4.2.2
pub const OK: u16 = 250;
/// Cannot VRFY user, but will accept the message. RFC 5321 3.5.3
pub const CANNOT_VRFY: u16 = 252;
/// AUTH continuation: server challenge. RFC 4954 4
pub const AUTH_CONTINUE: u16 = 334;
/// Start mail input. RFC 5321 4.2.2
pub const START_DATA: u16 = 354;
/// Service not available, closing the channel. RFC 5321 3.8
pub const SERVICE_UNAVAILABLE: u16 = 421;
/// Local error in processing. RFC 5321 4.2.2
pub const LOCAL_ERROR: u16 = 451;
/// Insufficient storage (too many recipients). RFC 5321 4.5.3.1.10
pub const INSUFFICIENT_STORAGE: u16 = 452;
/// Syntax error, command unrecognised or line too long. RFC 5321 4.2.2
pub const SYNTAX_ERROR: u16 = 500;
/// Syntax error in parameters or arguments. RFC 5321 4.2.2
pub const BAD_ARGUMENTS: u16 = 501;
/// Command not implemented. RFC 5321 4.2.2
pub const NOT_IMPLEMENTED: u16 = 502;
/// Bad sequence of commands. RFC 5321 4.2.4
pub const BAD_SEQUENCE: u16 = 503;
/// Command parameter / authentication mechanism not implemented. RFC 5321 4.2.2, RFC 4954 6
pub const PARAM_NOT_IMPLEMENTED: u16 = 504;
/// Authentication required. RFC 4954 6
pub const AUTH_REQUIRED: u16 = 530;
/// Authentication credentials invalid. RFC 4954 6
pub const AUTH_INVALID: u16 = 535;
/// Encryption required for the requested mechanism. RFC 4954 6
pub const ENCRYPTION_REQUIRED: u16 = 538;
/// Mailbox unavailable / policy refusal. RFC 5321 4.2.2
pub const MAILBOX_UNAVAILABLE: u16 = 550;
/// Exceeded storage allocation (message too big). RFC 5321 4.2.2, RFC 1870
pub const SIZE_EXCEEDED: u16 = 552;
/// Transaction failed. RFC 5321 4.2.2
pub const TRANSACTION_FAILED: u16 = 554;
/// MAIL FROM/RCPT TO parameters not recognised. RFC 5321 4.1.1.11
pub const PARAMS_NOT_RECOGNISED: u16 = 555;
