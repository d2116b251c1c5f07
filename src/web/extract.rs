//! One-time codes in a message, found once when it reaches the inbox: what
//! a sign-in test reads from the mail ("Your verification code is 482913").
//!
//! A code is 4 to 8 digits (also written in two groups, `482 913` or
//! `482-913`), or a token of 6 to 12 capitals and digits with both in it
//! (`X7K9PQ`, `AB12-CD34`), standing alone and within a few words of a word
//! that names a code: code, OTP, verification, verify, passcode, PIN,
//! one-time, token, 2FA, security, login, sign in, confirm, authentication.
//! Prices, amounts with separators, phone numbers and order numbers far
//! from such a word are not codes. The subject is read first, then the
//! text (an HTML-only message's text is the HTML made text).

use serde::Serialize;

/// A code found in a message.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Code {
    /// The code as a test types it (groups joined: `482913`).
    pub code: String,
    /// `digits` or `token`.
    pub kind: &'static str,
    /// `subject` or `text`.
    pub found_in: &'static str,
    /// The words around it, on one line.
    pub context: String,
}

/// Words that say a code is near (lower case; matched at word starts).
const NEAR: &[&str] = &[
    "code",
    "otp",
    "verification",
    "verify",
    "passcode",
    "password",
    "pin",
    "one-time",
    "one time",
    "token",
    "2fa",
    "mfa",
    "security",
    "login",
    "log in",
    "sign-in",
    "sign in",
    "confirm",
    "authentication",
    "authenticate",
    "magic",
];
/// How far (in characters) a naming word may be before a code, or after it.
const BEFORE: usize = 60;
const AFTER: usize = 40;
/// Characters of context on each side.
const CONTEXT: usize = 40;
/// Most codes reported per message (a statement full of numbers is not a
/// sign-in mail).
const MAX_CODES: usize = 10;

/// The codes in a message's subject and text, in order, each once.
pub fn codes(subject: &str, text: &str) -> Vec<Code> {
    let mut out: Vec<Code> = Vec::new();
    for (found_in, s) in [("subject", subject), ("text", text)] {
        for c in codes_in(s, found_in) {
            if out.len() < MAX_CODES && !out.iter().any(|o| o.code == c.code) {
                out.push(c);
            }
        }
    }
    out
}

/// A candidate: its byte range in the text and the code it spells.
struct Candidate {
    start: usize,
    end: usize,
    code: String,
    kind: &'static str,
}

fn codes_in(text: &str, found_in: &'static str) -> Vec<Code> {
    let lower = text.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII: read the naming
    // words from the original when it does.
    let lower = if lower.len() == text.len() {
        lower
    } else {
        text.to_ascii_lowercase()
    };
    candidates(text)
        .into_iter()
        .filter(|c| named_near(&lower, c.start, c.end))
        .filter(|c| !looks_like_a_year(c, &lower))
        .map(|c| Code {
            context: context(text, c.start, c.end),
            code: c.code,
            kind: c.kind,
            found_in,
        })
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Words standing alone (not glued to letters, not part of a decimal or
/// thousands-separated number, not a price or a percentage).
fn candidates(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if !is_word(c) && c != '-' {
            i += 1;
            continue;
        }
        // A word: letters, digits and inner dashes.
        let mut j = i;
        while j < chars.len() && (is_word(chars[j].1) || chars[j].1 == '-') {
            j += 1;
        }
        let end = chars.get(j).map_or(text.len(), |x| x.0);
        let word = text[start..end].trim_matches('-');
        let lead = start + text[start..end].find(word).unwrap_or(0);
        let before = text[..lead].chars().next_back();
        let after = text[lead + word.len()..].chars().next();
        let money =
            matches!(before, Some('$' | '€' | '£' | '¥' | '#' | '+')) || matches!(after, Some('%'));
        let numeric_glue = |c: Option<char>, next: Option<char>| {
            matches!(c, Some('.' | ',' | ':' | '/')) && next.is_some_and(|n| n.is_ascii_digit())
        };
        let after2 = text[lead + word.len()..].chars().nth(1);
        let before2 = text[..lead].chars().rev().nth(1);
        let glued = numeric_glue(after, after2) || numeric_glue(before, before2);
        if !money && !glued {
            if let Some(c) = as_code(word) {
                out.push(Candidate {
                    start: lead,
                    end: lead + word.len(),
                    code: c.0,
                    kind: c.1,
                });
            } else if let Some(next) = grouped(text, lead, word) {
                // `482 913`: two groups of three digits.
                out.push(next);
                // Skip the second group.
                while j < chars.len() && chars[j].0 < out[out.len() - 1].end {
                    j += 1;
                }
            }
        }
        i = j.max(i + 1);
    }
    out
}

/// A word that is a code by its shape.
fn as_code(word: &str) -> Option<(String, &'static str)> {
    let joined: String = word.chars().filter(|c| *c != '-').collect();
    let dashes = word.len() - joined.len();
    if dashes > 1 {
        return None;
    }
    let digits = joined.chars().all(|c| c.is_ascii_digit());
    if digits && (4..=8).contains(&joined.len()) {
        // `482-913` is a code; `2026-12` is not a shape codes take.
        if dashes == 1 && !word.split('-').all(|g| g.len() == 3 || g.len() == 4) {
            return None;
        }
        return Some((joined, "digits"));
    }
    let token = joined
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && joined.chars().any(|c| c.is_ascii_digit())
        && joined.chars().any(|c| c.is_ascii_uppercase())
        && (6..=12).contains(&joined.len());
    token.then_some((joined, "token"))
}

/// Two groups of three digits separated by one space: one code.
fn grouped(text: &str, lead: usize, word: &str) -> Option<Candidate> {
    if word.len() != 3 || !word.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let rest = &text[lead + 3..];
    let second = rest.strip_prefix(' ')?;
    let g2: String = second.chars().take_while(|c| c.is_ascii_digit()).collect();
    let after = second[g2.len()..].chars().next();
    if g2.len() != 3 || after.is_some_and(is_word) {
        return None;
    }
    Some(Candidate {
        start: lead,
        end: lead + 7,
        code: format!("{word}{g2}"),
        kind: "digits",
    })
}

/// Whether a naming word is within reach before the code (lines above
/// count: "Your code:" then the code on a line of its own is the common
/// layout) or a little after it on its line.
fn named_near(lower: &str, start: usize, end: usize) -> bool {
    let line_end = lower[end..].find('\n').map_or(lower.len(), |i| end + i);
    let from = floor(lower, start.saturating_sub(BEFORE));
    let to = ceil(lower, (end + AFTER).min(line_end));
    let window_before = &lower[from..start];
    let window_after = &lower[end..to];
    NEAR.iter()
        .any(|w| word_at(window_before, w) || word_at(window_after, w))
}

/// Whether `w` occurs in `hay` at the start of a word.
fn word_at(hay: &str, w: &str) -> bool {
    hay.match_indices(w).any(|(i, _)| {
        hay[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

/// A year-like 4-digit number (1900–2099) counts only right after its
/// naming word ("code: 2024"), not anywhere in a sentence about codes.
fn looks_like_a_year(c: &Candidate, lower: &str) -> bool {
    let year = c.code.len() == 4
        && c.kind == "digits"
        && c.code
            .parse::<u32>()
            .is_ok_and(|y| (1900..=2099).contains(&y));
    if !year {
        return false;
    }
    let from = floor(lower, c.start.saturating_sub(16));
    !NEAR.iter().any(|w| word_at(&lower[from..c.start], w))
}

fn floor(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The words around a code, whitespace collapsed.
fn context(text: &str, start: usize, end: usize) -> String {
    let from = floor(text, start.saturating_sub(CONTEXT));
    let to = ceil(text, (end + CONTEXT).min(text.len()));
    let mut s: String = text[from..to]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if from > 0 {
        s.insert(0, '…');
    }
    if to < text.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(subject: &str, text: &str) -> Vec<String> {
        codes(subject, text).into_iter().map(|c| c.code).collect()
    }

    #[test]
    fn codes_near_the_words_that_name_them() {
        assert_eq!(found("", "Your verification code is 482913."), ["482913"]);
        assert_eq!(found("Your login code: 7731", ""), ["7731"]);
        assert_eq!(found("", "Use 55120981 to sign in."), ["55120981"]);
        assert_eq!(found("", "Your OTP: 482 913"), ["482913"]);
        assert_eq!(found("", "Enter 482-913 to verify your email"), ["482913"]);
        assert_eq!(found("", "Your one-time token is X7K9PQ2"), ["X7K9PQ2"]);
        assert_eq!(found("", "Security code\n\n  904417\n"), ["904417"]);
        assert_eq!(found("", "Security code: 904417\n"), ["904417"]);
    }

    #[test]
    fn numbers_that_are_not_codes() {
        // Far from any naming word, money, decimals, separators, years.
        assert!(found("", "Order 12345 ships on Friday.").is_empty());
        assert!(found("", "Your code total is $1234 this month").is_empty());
        assert!(found("", "Verify: you paid 1,234.56 today").is_empty());
        assert!(found("", "Code of conduct updated in 2024").is_empty());
        assert!(found("", "Confirm by 12:30 today").is_empty());
        assert!(found("", "Your code is abc123 (lower case is a word)").is_empty());
        assert!(found("", "code 123").is_empty(), "3 digits are too few");
        assert!(
            found("", "code 123456789").is_empty(),
            "9 digits are too many"
        );
        assert_eq!(found("", "Your code: 2024"), ["2024"]);
    }

    #[test]
    fn context_subject_first_and_each_once() {
        let c = codes(
            "482913 is your code",
            "Hi Bob,\nYour verification code is 482913. It expires in 10 minutes.\nOr use 771204 as your backup code.",
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].found_in, "subject");
        assert_eq!(c[0].code, "482913");
        assert_eq!(c[1].code, "771204");
        assert_eq!(c[1].found_in, "text");
        assert!(
            c[1].context.contains("Or use 771204 as your backup code"),
            "{}",
            c[1].context
        );
    }

    #[test]
    fn any_text_is_safe() {
        for t in [
            "",
            "é1234 code",
            "code ١٢٣٤٥٦",
            "código 1234é",
            "-",
            "code -1234-",
        ] {
            let _ = codes(t, t);
        }
        assert_eq!(found("", "Tu código (code): 1234 — ¡gracias!"), ["1234"]);
    }
}
