//! The Svix / Standard Webhooks signature, as Resend signs its webhooks:
//! `svix-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`
//! where the key is the base64 after `whsec_`. Protocol only: no I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SecureRandom;

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret: `whsec_` and the base64 of its key. Never shown but
/// in the banner and the ready line (its `Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    text: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

impl Secret {
    /// A new random secret (24 bytes of key, as Svix makes them).
    pub fn generate() -> Secret {
        let mut key = vec![0u8; 24];
        fill_random(&mut key);
        Secret {
            text: format!("{SECRET_PREFIX}{}", STANDARD.encode(&key)),
            key,
        }
    }

    /// A secret as given (`whsec_` and base64 of at least 16 bytes).
    pub fn parse(text: &str) -> Result<Secret, String> {
        let b64 = text.strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            "a webhook secret starts with whsec_ (then base64 of 16 to 64 bytes)".to_string()
        })?;
        let key = STANDARD
            .decode(b64)
            .map_err(|_| "a webhook secret's part after whsec_ must be base64".to_string())?;
        if !(16..=64).contains(&key.len()) {
            return Err(format!(
                "a webhook secret's key must be 16 to 64 bytes, not {}",
                key.len()
            ));
        }
        Ok(Secret {
            text: text.to_string(),
            key,
        })
    }

    /// The secret as the user pastes it into their app (`whsec_…`).
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `v1,` and the signature of one delivery.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.key);
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(msg_id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
    }
}

/// The `svix-signature` header's value: one signature per secret in force
/// (two during a rotation window), space-separated.
pub fn signature_header(secrets: &[&Secret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new message id, `msg_` and 27 base62 characters (the shape of Svix's).
pub fn new_msg_id() -> String {
    format!("msg_{}", base62(27))
}

/// `len` random base62 characters.
pub fn base62(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut raw = vec![0u8; len];
    fill_random(&mut raw);
    raw.iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn fill_random(buf: &mut [u8]) {
    if ring::rand::SystemRandom::new().fill(buf).is_err() {
        // No system randomness: a secret must not be guessable, so fail
        // loudly rather than sign with a weak key.
        panic!("no system randomness to make a webhook secret");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known answer from svix's own test suite (RESEND.md, "Webhooks").
    #[test]
    fn known_answer_vector() {
        let s = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            s.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn rotation_signs_with_both() {
        let a = Secret::generate();
        let b = Secret::generate();
        let h = signature_header(&[&a, &b], "msg_x", 1, b"{}");
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(
            parts,
            vec![a.sign("msg_x", 1, b"{}"), b.sign("msg_x", 1, b"{}")]
        );
    }

    #[test]
    fn bad_secrets_are_refused_with_reasons() {
        assert!(Secret::parse("abc").unwrap_err().contains("whsec_"));
        assert!(Secret::parse("whsec_!!!").unwrap_err().contains("base64"));
        assert!(
            Secret::parse("whsec_AAAA")
                .unwrap_err()
                .contains("16 to 64")
        );
        let g = Secret::generate();
        assert_eq!(Secret::parse(g.expose()).unwrap(), g);
        assert!(!format!("{g:?}").contains(g.expose()));
        assert!(new_msg_id().starts_with("msg_") && new_msg_id().len() == 31);
    }
}
