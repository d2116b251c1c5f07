//! Idempotency keys, one store per account for both doors: SMTP's
//! `Resend-Idempotency-Key` header and the REST API's `Idempotency-Key`.
//! Resend keeps a key 24 hours: the same key with the same request gives the
//! same email id (and sends nothing again); the same key with a different
//! request is refused.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long Resend remembers a key.
pub const KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest key Resend accepts.
pub const MAX_KEY_LEN: usize = 256;

/// What a request with a key meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The key is new (or expired): it is now held for this request; go
    /// on, then [`Idempotency::remember`] the id or [`Idempotency::forget`]
    /// the key if the request is refused.
    New,
    /// The first request with this key is still being answered.
    InProgress,
    /// The same key and the same request: answer as the first time, with
    /// what was remembered (the email id for SMTP, the whole JSON body of
    /// the answer for the REST API).
    Replay(String),
    /// The same key with a different request.
    Conflict,
}

/// A digest of the request a key was first used with.
pub type Fingerprint = [u8; 32];

/// The request's digest: SHA-256 of its bytes.
pub fn fingerprint(parts: &[&[u8]]) -> Fingerprint {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        // Length-prefixed so that ["ab","c"] and ["a","bc"] differ.
        ctx.update(&(p.len() as u64).to_be_bytes());
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Whether a key is acceptable: 1 to 256 characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.chars().count() <= MAX_KEY_LEN
}

#[derive(Debug, Clone)]
struct Entry {
    fingerprint: Fingerprint,
    /// The first answer (see [`Seen::Replay`]); `None` while the first
    /// request is being answered.
    id: Option<String>,
    at: Instant,
}

/// The keys of one account.
#[derive(Debug, Default)]
pub struct Idempotency {
    keys: HashMap<String, Entry>,
}

impl Idempotency {
    /// What a request with `key` and `fp` meets at `now`.
    pub fn check(&mut self, key: &str, fp: &Fingerprint, now: Instant) -> Seen {
        self.expire(now);
        match self.keys.get(key) {
            None => {
                self.keys.insert(
                    key.to_string(),
                    Entry {
                        fingerprint: *fp,
                        id: None,
                        at: now,
                    },
                );
                Seen::New
            }
            Some(Entry { id: None, .. }) => Seen::InProgress,
            Some(Entry {
                id: Some(id),
                fingerprint,
                ..
            }) if fingerprint == fp => Seen::Replay(id.clone()),
            Some(_) => Seen::Conflict,
        }
    }

    /// Lets go of a key whose first request was refused: a retry is new.
    pub fn forget(&mut self, key: &str) {
        if self.keys.get(key).is_some_and(|e| e.id.is_none()) {
            self.keys.remove(key);
        }
    }

    /// Remembers that `key` with `fp` was answered `id` (an email id, or a
    /// REST answer's body).
    pub fn remember(&mut self, key: &str, fp: Fingerprint, id: &str, now: Instant) {
        self.keys.insert(
            key.to_string(),
            Entry {
                fingerprint: fp,
                id: Some(id.to_string()),
                at: now,
            },
        );
    }

    fn expire(&mut self, now: Instant) {
        self.keys
            .retain(|_, e| now.saturating_duration_since(e.at) < KEEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_request_replays_different_conflicts_and_keys_expire() {
        let mut s = Idempotency::default();
        let t0 = Instant::now();
        let a = fingerprint(&[b"a"]);
        let b = fingerprint(&[b"b"]);
        assert_eq!(s.check("k", &a, t0), Seen::New);
        assert_eq!(s.check("k", &a, t0), Seen::InProgress);
        s.remember("k", a, "id-1", t0);
        assert_eq!(s.check("k", &a, t0), Seen::Replay("id-1".into()));
        assert_eq!(s.check("k", &b, t0), Seen::Conflict);
        assert_eq!(s.check("other", &b, t0), Seen::New);
        s.forget("other");
        assert_eq!(
            s.check("other", &a, t0),
            Seen::New,
            "a refused first request frees its key"
        );
        assert_eq!(s.check("k", &b, t0 + KEEP), Seen::New);
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert!(valid_key("x") && !valid_key("") && !valid_key(&"x".repeat(257)));
    }
}
