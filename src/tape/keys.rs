//! Resend API keys in the clear: what counts as one, and the stand-in that
//! replaces it.
//!
//! Resend API keys are `re_` followed by letters, digits and underscores. A
//! redacted key keeps the prefix and a short SHA-256 fingerprint, so two keys
//! can be told apart in a transcript without either being recoverable.
//!
//! What counts as a key: `re_` and at least [`MIN_KEY_BODY`] key characters.
//! At the start of a word that is enough. Glued to a word (`xre_…`,
//! `1re_…`, `_re_…`) the rest must also look random — hold a digit or a
//! capital — so that `are_you_there_friend` stays readable while a key
//! pasted after other text does not (a real key has both almost surely).
//!
//! This is the bottom of redaction: the encoded forms (`encoded.rs`) and
//! the transcript rules (`redact.rs`) build on it, never the reverse.

use std::borrow::Cow;

/// Shortest run of key characters after `re_` that counts as a key.
pub const MIN_KEY_BODY: usize = 8;

/// A short fingerprint of a secret: the first 4 hex digits of its SHA-256.
pub fn fingerprint(secret: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret);
    digest.as_ref()[..2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The redacted stand-in for a password or key: `re_…a1f3` for a Resend key,
/// `…a1f3` for anything else.
pub fn redact_secret(secret: &[u8]) -> String {
    let prefix = if secret.starts_with(b"re_") {
        "re_"
    } else {
        ""
    };
    format!("{prefix}…{}", fingerprint(secret))
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Finds Resend keys in `text`: (start, end) byte ranges (see the module
/// doc for the rule). Every line and body goes through here, so the search
/// for `re_` is memchr's, not a byte loop.
pub(crate) fn find_keys(text: &[u8]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut next = 0;
    static RE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"re_"));
    for start in RE.find_iter(text) {
        if start < next {
            continue; // inside a key already found
        }
        let glued = start > 0 && is_key_char(text[start - 1]);
        let Some(end) = key_end(text, start) else {
            continue;
        };
        let body = &text[start + 3..end];
        if !glued
            || body
                .iter()
                .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        {
            found.push((start, end));
            next = end;
        }
    }
    found
}

/// Where the key that starts with the `re_` at `start` ends, if what
/// follows is long enough to be one (what comes before is not looked at).
pub(crate) fn key_end(text: &[u8], start: usize) -> Option<usize> {
    let body_start = start + 3;
    let end = text
        .get(body_start..)?
        .iter()
        .position(|&b| !is_key_char(b))
        .map_or(text.len(), |n| body_start + n);
    (end - body_start >= MIN_KEY_BODY).then_some(end)
}

/// Whether `bytes` hold a Resend key anywhere.
pub fn contains_key(bytes: &[u8]) -> bool {
    !find_keys(bytes).is_empty()
}

/// Replaces every Resend key in `bytes`.
pub fn scrub_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let keys = find_keys(bytes);
    if keys.is_empty() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut last = 0;
    for (s, e) in keys {
        out.extend_from_slice(&bytes[last..s]);
        out.extend_from_slice(redact_secret(&bytes[s..e]).as_bytes());
        last = e;
    }
    out.extend_from_slice(&bytes[last..]);
    Cow::Owned(out)
}
