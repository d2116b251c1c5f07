//! What Resend's relay is: the profile (replies as data), the account
//! (keys, domains, owner), limits and usage, and named scenarios.

pub mod account;
pub mod directory;
pub mod emails;
pub mod explain;
pub mod idempotency;
pub mod profile;
pub mod reply;
pub mod scenario;
pub mod when;

pub use account::{
    Account, AccountFile, Exceeded, Grant, KeyPolicy, KeySpec, Limits, LimitsFile, LoginError,
    Usage, WebhookSpec,
};
pub use profile::{Profile, ProfileFile, ReplySpec, Source, TestOutcome};
pub use reply::{ReplyName, recognise};
pub use scenario::{Behaviour, Scenario, ScenarioFile, WebhookPlay, Who};

/// A random UUID (version 4), the form of Resend's email ids.
pub(crate) fn new_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // No system randomness: fall back to time and a counter, still unique here.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b[..12].copy_from_slice(&t.to_le_bytes()[..12]);
        b[12..].copy_from_slice(
            &N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_le_bytes(),
        );
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
