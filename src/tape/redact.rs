//! Redaction at capture: secrets are replaced before a line is stored,
//! printed or written anywhere.
//!
//! What a key is (`tape/keys.rs`) and where encoded keys hide
//! (`tape/encoded.rs`) are below this file; here are the rules of a
//! transcript: a line, a message, an AUTH exchange.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use super::keys::{MIN_KEY_BODY, contains_key, fingerprint, redact_secret, scrub_bytes};
use super::printable::{into_printable, printable};
use super::transcript::MAX_KEPT_BODY;

/// Scrubs a whole message for the mailbox and the transcript: keys in the
/// clear anywhere, and keys inside base64 (wrapped attachments included),
/// quoted-printable and RFC 2047 encoded words (see `tape/encoded.rs`).
pub fn scrub_message(bytes: &[u8]) -> Vec<u8> {
    super::encoded::scrub_all(bytes).into_owned()
}

/// Replaces every webhook signing secret (`whsec_` and its base64) with
/// `whsec_…`: the REST door answers `POST /webhooks` with one, and its
/// transcript must not keep it. (Not part of [`scrub`]: the answer itself
/// must carry the secret to the caller.)
pub fn redact_webhook_secrets(text: &str) -> Cow<'_, str> {
    const PREFIX: &str = "whsec_";
    if !text.contains(PREFIX) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(PREFIX) {
        out.push_str(&rest[..i]);
        out.push_str("whsec_…");
        let after = &rest[i + PREFIX.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Scrubs one line of text: Resend keys in the clear, and keys inside
/// base64 (an AUTH payload sent out of turn, echoed in a reply, a header
/// value inside JSON, a path segment, an address), quoted-printable or an
/// RFC 2047 word. The same one pass as [`scrub_message`]: a line and a
/// message are redacted alike.
pub fn scrub(text: &str) -> Cow<'_, str> {
    match super::encoded::scrub_all(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(v) => Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
    }
}

/// Shows a user name safely: printable, bounded, no `>` to break the form.
fn show_user(user: &[u8]) -> String {
    let text = String::from_utf8_lossy(user);
    let mut out: String = text
        .chars()
        .take(64)
        .map(|c| {
            if c.is_control() || c == '>' || c == ' ' {
                '?'
            } else {
                c
            }
        })
        .collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// Which part of a SASL exchange a client line carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPart {
    /// An AUTH PLAIN payload: `authzid NUL authcid NUL password`, base64.
    Plain,
    /// An AUTH LOGIN user name, base64.
    LoginUser,
    /// A password or any other secret, base64.
    Secret,
}

/// The redacted form of one base64 SASL line, e.g.
/// `<redacted user=resend key=re_…a1f3>`. `*` (cancel) is kept as it is.
pub fn redact_auth(part: AuthPart, b64: &str) -> String {
    if b64 == "*" {
        return "*".into();
    }
    let Ok(raw) = STANDARD.decode(b64.trim()) else {
        return "<redacted: not base64>".into();
    };
    match part {
        AuthPart::Plain => {
            let mut fields = raw.splitn(3, |&b| b == 0);
            let (authz, user, pass) = (fields.next(), fields.next(), fields.next());
            match (authz, user, pass) {
                (Some(authz), Some(user), Some(pass)) => {
                    // Any field that looks like a key is a key (a key pasted
                    // as the user, or as the authzid).
                    let authz = if authz.is_empty() || authz == user {
                        String::new()
                    } else {
                        format!(" authzid={}", show_user(&scrub_message(authz)))
                    };
                    format!(
                        "<redacted user={}{authz} key={}>",
                        show_user(&scrub_message(user)),
                        redact_secret(pass)
                    )
                }
                _ => format!("<redacted: malformed PLAIN key={}>", redact_secret(&raw)),
            }
        }
        // A user name that is itself a key (pasted in the wrong field) is redacted too.
        AuthPart::LoginUser if contains_key(&raw) => {
            format!("<redacted user={}>", redact_secret(&raw))
        }
        AuthPart::LoginUser => format!("<redacted user={}>", show_user(&raw)),
        AuthPart::Secret => format!("<redacted key={}>", redact_secret(&raw)),
    }
}

/// The transcript form of an `AUTH` command line, or `None` if `line` is
/// not one: the mechanism shown, everything after it redacted as one
/// payload. Words after the mechanism are joined first, so a payload split
/// by a space (which gets a 501) is redacted as the payload it was, not
/// kept as two harmless-looking halves.
pub fn redact_auth_command(line: &str) -> Option<String> {
    let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
    let verb = words.next()?;
    if !verb.eq_ignore_ascii_case("AUTH") {
        return None;
    }
    let verb = printable(verb);
    let Some(mechanism) = words.next() else {
        return Some(verb);
    };
    let mechanism = printable(mechanism);
    let mechanism = match scrub_bytes(mechanism.as_bytes()) {
        Cow::Borrowed(_) => mechanism,
        Cow::Owned(v) => String::from_utf8_lossy(&v).into_owned(),
    };
    let payload: String = words.collect();
    if payload.is_empty() {
        return Some(format!("{verb} {mechanism}"));
    }
    let part = match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => AuthPart::Plain,
        "LOGIN" => AuthPart::LoginUser,
        _ => AuthPart::Secret,
    };
    Some(format!(
        "{verb} {mechanism} {}",
        redact_auth(part, &payload)
    ))
}

/// Splits a message body into the `D:` lines of a transcript; large bodies
/// (or ones not kept) become one summary line with their size and hash.
pub fn body_lines(body: &[u8], size: usize, overflowed: bool, sha256: &[u8]) -> Vec<String> {
    if overflowed || size > MAX_KEPT_BODY || body.len() > MAX_KEPT_BODY {
        let hex: String = sha256.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return vec![format!("<body of {size} bytes, sha256 {hex}…>")];
    }
    redacted_lines(body)
}

/// A body as transcript lines: keys are scrubbed in the whole body first
/// (base64 wrapped across lines, quoted-printable soft breaks, folded
/// headers), then each line is shown lossily with control characters
/// replaced. The final CR LF leaves no empty line.
pub(crate) fn redacted_lines(body: &[u8]) -> Vec<String> {
    let body = super::encoded::scrub_all(body);
    let mut lines: Vec<String> = body
        .split(|&b| b == b'\n')
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            into_printable(String::from_utf8_lossy(l).into_owned())
        })
        .collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "re_AbCdEf12_345678";

    #[test]
    fn webhook_secrets_are_redacted() {
        assert_eq!(
            redact_webhook_secrets(
                r#"{"signing_secret":"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD","id":"x"}"#
            ),
            r#"{"signing_secret":"whsec_…","id":"x"}"#
        );
        assert_eq!(redact_webhook_secrets("none here"), "none here");
    }

    #[test]
    fn keys_in_text() {
        let line = format!("password is {KEY}, and are_you_there_friend stays");
        let out = scrub(&line);
        assert!(!out.contains(KEY), "{out}");
        assert!(out.contains("re_…"), "{out}");
        assert!(out.contains("are_you_there_friend"), "{out}");
        assert_eq!(scrub("re_short"), "re_short");
        assert_eq!(scrub("plain text"), "plain text");
    }

    #[test]
    fn base64_payloads_out_of_turn() {
        let b64 = STANDARD.encode(format!("\0resend\0{KEY}"));
        let out = scrub(&b64);
        assert!(
            !out.contains(&b64) && out.starts_with("<redacted base64 key=re_…"),
            "{out}"
        );
        let login = STANDARD.encode(KEY);
        assert!(!scrub(&format!("XX {login}")).contains(&login));
    }

    #[test]
    fn auth_forms() {
        let plain = STANDARD.encode(format!("\0resend\0{KEY}"));
        let fp = fingerprint(KEY.as_bytes());
        assert_eq!(
            redact_auth(AuthPart::Plain, &plain),
            format!("<redacted user=resend key=re_…{fp}>")
        );
        let with_authz = STANDARD.encode(format!("admin\0resend\0{KEY}"));
        assert_eq!(
            redact_auth(AuthPart::Plain, &with_authz),
            format!("<redacted user=resend authzid=admin key=re_…{fp}>")
        );
        assert_eq!(
            redact_auth(AuthPart::LoginUser, &STANDARD.encode("resend")),
            "<redacted user=resend>"
        );
        assert_eq!(
            redact_auth(AuthPart::Secret, &STANDARD.encode(KEY)),
            format!("<redacted key=re_…{fp}>")
        );
        assert_eq!(
            redact_auth(AuthPart::Secret, "!!!"),
            "<redacted: not base64>"
        );
        assert_eq!(redact_auth(AuthPart::Secret, "*"), "*");
        assert!(!redact_auth(AuthPart::LoginUser, &STANDARD.encode(KEY)).contains(KEY));
        // two keys are told apart
        assert_ne!(fingerprint(b"re_aaaaaaaaaa"), fingerprint(b"re_bbbbbbbbbb"));
    }

    #[test]
    fn bodies() {
        assert_eq!(
            body_lines(b"a\r\nb\r\n", 6, false, &[0; 32]),
            vec!["a", "b"]
        );
        let big = vec![b'x'; MAX_KEPT_BODY + 1];
        let l = body_lines(&big, big.len(), false, &[0xab; 32]);
        assert!(l[0].starts_with("<body of 65537 bytes, sha256 "), "{l:?}");
        assert!(
            !body_lines(b"key re_1234567890abc\r\n", 22, false, &[0; 32])[0]
                .contains("re_1234567890abc")
        );
    }
}
