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
//! A header folded inside a key (`X-Key: re_AbC` then ` dEf123…` on the
//! next line) is unfolded before looking (issue 25, item 13): a key goes
//! on across a line break followed by spaces or tabs, its stand-in replaces
//! both pieces, and its fingerprint is that of the key without the fold.
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

pub(crate) fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The length of a fold at `i` (a line break, then spaces or tabs) that a
/// key goes on across: the next line must go on with a key character.
fn fold_at(text: &[u8], i: usize) -> Option<usize> {
    let nl = match text.get(i..)? {
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] => 1,
        _ => return None,
    };
    let wsp = text[i + nl..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    (wsp > 0 && text.get(i + nl + wsp).copied().is_some_and(is_key_char)).then_some(nl + wsp)
}

/// Where `re_` starts when a fold cuts it (`r` or `re` ends a line, the
/// rest of `re_` begins the folded one). Found from the `_` — rare in
/// most text, unlike the line breaks and spaces of a fold — by looking
/// back over the fold.
fn prefixes_across_folds(text: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    for u in memchr::memchr_iter(b'_', text) {
        // `re` | fold | `_`, or `r` | fold | `e_`
        let (fold_end, want): (usize, &[u8]) = match u.checked_sub(1).map(|i| text[i]) {
            Some(b' ' | b'\t') => (u, b"re"),
            Some(b'e') if u >= 2 && matches!(text[u - 2], b' ' | b'\t') => (u - 1, b"r"),
            _ => continue,
        };
        let wsp = text[..fold_end]
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let Some(nl) = (fold_end - wsp)
            .checked_sub(1)
            .filter(|&nl| text[nl] == b'\n')
        else {
            continue;
        };
        let at = if nl >= 1 && text[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if text[..at].ends_with(want) {
            found.push(at - want.len());
        }
    }
    found
}

/// Finds Resend keys in `text`: (start, end) byte ranges (see the module
/// doc for the rule; a range may hold a fold). Every line and body goes
/// through here, so the search for `re_` is memchr's, not a byte loop.
pub(crate) fn find_keys(text: &[u8]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut next = 0;
    static RE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"re_"));
    let mut starts: Vec<usize> = RE.find_iter(text).collect();
    let folded = prefixes_across_folds(text);
    if !folded.is_empty() {
        starts.extend(folded);
        starts.sort_unstable();
    }
    for start in starts {
        if start < next {
            continue; // inside a key already found
        }
        let glued = start > 0 && is_key_char(text[start - 1]);
        let Some(end) = key_end(text, start) else {
            continue;
        };
        let body = &text[start..end];
        if !glued
            || body
                .iter()
                .skip(3)
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
/// The key goes on across a fold ([`fold_at`]), `re_` itself included.
pub(crate) fn key_end(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let mut chars = 0;
    loop {
        match text.get(i) {
            Some(&b) if is_key_char(b) => {
                chars += 1;
                i += 1;
            }
            Some(_) if chars > 0 => match fold_at(text, i) {
                Some(len) => i += len,
                None => break,
            },
            _ => break,
        }
    }
    (chars >= 3 + MIN_KEY_BODY).then_some(i)
}

/// The key a range from [`find_keys`] holds, without any fold in it.
pub(crate) fn unfolded(span: &[u8]) -> Cow<'_, [u8]> {
    if span.iter().all(|&b| is_key_char(b)) {
        return Cow::Borrowed(span);
    }
    Cow::Owned(span.iter().copied().filter(|&b| is_key_char(b)).collect())
}

/// The stand-in for the key a range from [`find_keys`] holds.
pub(crate) fn stand_in(span: &[u8]) -> String {
    redact_secret(&unfolded(span))
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
        out.extend_from_slice(stand_in(&bytes[s..e]).as_bytes());
        last = e;
    }
    out.extend_from_slice(&bytes[last..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "re_Rt3amK3y_ZZ9yy8xx7ww6";

    fn scrubbed(text: &str) -> String {
        String::from_utf8(scrub_bytes(text.as_bytes()).into_owned()).unwrap()
    }

    /// Issue 25, item 13: a key cut by header folding is one key.
    #[test]
    fn a_key_folded_anywhere_is_redacted_whole() {
        let fp = redact_secret(KEY.as_bytes());
        for cut in 1..KEY.len() {
            for fold in ["\r\n ", "\r\n\t", "\n ", "\r\n   "] {
                let text = format!(
                    "X-Key: {}{fold}{}\r\nX-Next: 1\r\n",
                    &KEY[..cut],
                    &KEY[cut..]
                );
                let out = scrubbed(&text);
                let tail = &KEY[cut.max(KEY.len() - 8)..];
                assert!(
                    !out.contains("Rt3amK3y") && !out.contains(tail),
                    "{cut} {fold:?}: {out:?}"
                );
                assert_eq!(out, format!("X-Key: {fp}\r\nX-Next: 1\r\n"), "{cut}");
            }
        }
        // a fold between words is not a key's
        assert_eq!(
            scrubbed("Subject: re\r\n _ hello"),
            "Subject: re\r\n _ hello"
        );
        assert_eq!(scrubbed("X: are_\r\n you_there"), "X: are_\r\n you_there");
    }
}
