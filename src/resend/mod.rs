//! What Resend's relay is: the profile (replies as data), the account
//! (keys, domains, owner), limits and usage, and named scenarios.

pub mod account;
pub mod emails;
pub mod idempotency;
pub mod profile;
pub mod scenario;

pub use account::{
    Account, AccountFile, Exceeded, Grant, KeyPolicy, KeySpec, Limits, LimitsFile, LoginError,
    Usage,
};
pub use profile::{Profile, ProfileFile, ReplySpec, Source, TestOutcome};
pub use scenario::{Behaviour, Scenario, ScenarioFile};
