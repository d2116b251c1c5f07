//! Mailpit's search language, for searches and waits alike: `field:value`
//! terms and free words, all of which must match; `-` or `!` in front
//! negates a term; `"…"` quotes a value with spaces.
//!
//! Messages: `to:`, `from:`, `cc:`, `bcc:`, `addressed:` (any recipient),
//! `reply-to:`, `subject:`, `message-id:`, `filename:`, `is:read|unread|tagged`,
//! `has:attachment|inline|code|link`, `tag:`, `key:` (the API key's
//! fingerprint, `re_…a1f3` or `a1f3`, or the key itself), `user:`, `protocol:smtp|http`,
//! `link:PATTERN` (a link in the body matches; see [`glob_match`]), free text.
//! Sessions: `outcome:`, `code:`, `from:`, `to:`, `subject:`, `user:`, `key:`,
//! `protocol:`, free text.
//!
//! Unlike Mailpit, a query that cannot mean anything is an error naming the
//! problem (an unclosed quote, `to:` with no value, `is:` with a word it
//! does not know), so a test's typo is a 400, not a wait that never ends.

use std::fmt;

use super::store::MessageRec;
use super::summary::{Outcome, SessionSummary};
use crate::tape::redact::fingerprint;

/// What a term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Free text: addresses, subject, text.
    Text,
    /// `from:`.
    From,
    /// `to:`.
    To,
    /// `cc:`.
    Cc,
    /// `bcc:`.
    Bcc,
    /// `addressed:`: to, cc, bcc or an envelope recipient.
    Addressed,
    /// `reply-to:`.
    ReplyTo,
    /// `subject:`.
    Subject,
    /// `message-id:`.
    MessageId,
    /// `filename:` of an attachment.
    Filename,
    /// `is:`.
    Is,
    /// `has:`.
    Has,
    /// `tag:`.
    Tag,
    /// `key:` (a fingerprint).
    Key,
    /// `user:` (the SMTP user).
    User,
    /// `protocol:`.
    Protocol,
    /// `link:` (a glob on the links).
    Link,
    /// `outcome:` (sessions).
    Outcome,
    /// `code:` (a session's reply code).
    Code,
}

/// What a query is about: the fields each knows differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Messages.
    Messages,
    /// Sessions.
    Sessions,
}

impl Field {
    fn named(name: &str, target: Target) -> Option<Field> {
        let f = match name {
            "from" => Field::From,
            "to" => Field::To,
            "subject" => Field::Subject,
            "user" => Field::User,
            "key" => Field::Key,
            "protocol" => Field::Protocol,
            _ => match (target, name) {
                (Target::Messages, "cc") => Field::Cc,
                (Target::Messages, "bcc") => Field::Bcc,
                (Target::Messages, "addressed") => Field::Addressed,
                (Target::Messages, "reply-to") => Field::ReplyTo,
                (Target::Messages, "message-id") => Field::MessageId,
                (Target::Messages, "filename") => Field::Filename,
                (Target::Messages, "is") => Field::Is,
                (Target::Messages, "has") => Field::Has,
                (Target::Messages, "tag") => Field::Tag,
                (Target::Messages, "link") => Field::Link,
                (Target::Sessions, "outcome") => Field::Outcome,
                (Target::Sessions, "code") => Field::Code,
                _ => return None,
            },
        };
        Some(f)
    }
}

/// One term: a field, its value (lower case), negated or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// What it looks at.
    pub field: Field,
    /// The value, lower case (a key is already its fingerprint).
    pub value: String,
    /// `-` or `!` in front.
    pub negate: bool,
}

/// A parsed query: every term must match. Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The terms.
    pub terms: Vec<Term>,
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

const IS_WORDS: &[&str] = &["read", "unread", "tagged", "untagged"];
const HAS_WORDS: &[&str] = &[
    "attachment",
    "attachments",
    "inline",
    "code",
    "codes",
    "link",
    "links",
];
/// Longest query taken (a test's query is a line, not a document).
pub const MAX_QUERY: usize = 4096;

/// Parses a query for messages or sessions.
pub fn parse(q: &str, target: Target) -> Result<Query, QueryError> {
    if q.len() > MAX_QUERY {
        return Err(QueryError(format!(
            "the query is {} bytes long; at most {MAX_QUERY} are taken",
            q.len()
        )));
    }
    let mut terms = Vec::new();
    for (token, quoted_value) in tokens(q)? {
        let (negate, token) = match token.strip_prefix(['-', '!']) {
            Some(rest) if !rest.is_empty() => (true, rest.to_string()),
            _ => (false, token),
        };
        let (field, value) = match token.split_once(':') {
            Some((f, v)) => match Field::named(&f.to_ascii_lowercase(), target) {
                Some(field) => (field, v.to_string()),
                None => (Field::Text, token.clone()),
            },
            None => (Field::Text, token.clone()),
        };
        if value.is_empty() && !quoted_value {
            return Err(QueryError(format!(
                "{}: needs a value (write {}:something, quoted if it has spaces)",
                field_name(&token),
                field_name(&token)
            )));
        }
        let mut value = value.to_lowercase();
        match field {
            Field::Is if !IS_WORDS.contains(&value.as_str()) => {
                return Err(QueryError(format!(
                    "is:{value} is not known; use is:{}",
                    IS_WORDS.join(", is:")
                )));
            }
            Field::Has if !HAS_WORDS.contains(&value.as_str()) => {
                return Err(QueryError(format!(
                    "has:{value} is not known; use has:attachment, has:inline, has:code or has:link"
                )));
            }
            Field::Protocol if value != "smtp" && value != "http" => {
                return Err(QueryError(format!(
                    "protocol:{value} is not known; use protocol:smtp or protocol:http"
                )));
            }
            Field::Outcome if value != "refused" && !Outcome::ALL.contains(&value.as_str()) => {
                return Err(QueryError(format!(
                    "outcome:{value} is not known; use refused or one of {}",
                    Outcome::ALL.join(", ")
                )));
            }
            Field::Code if value.parse::<u16>().is_err() => {
                return Err(QueryError(format!(
                    "code:{value} is not a reply code; write code:550"
                )));
            }
            Field::Key => {
                value = key_fingerprint(&token[token.find(':').unwrap_or(0) + 1..]);
                if value.is_empty() {
                    return Err(QueryError(
                        "key: names no key; write key:a1f3 (the fingerprint the inbox shows), key:re_…a1f3 or the key itself".into(),
                    ));
                }
            }
            _ => {}
        }
        terms.push(Term {
            field,
            value,
            negate,
        });
    }
    Ok(Query { terms })
}

fn field_name(token: &str) -> &str {
    token.split(':').next().unwrap_or(token)
}

/// The fingerprint a `key:` value names: `re_…a1f3`, `re_...a1f3` and `a1f3`
/// name the same key; a whole key (`re_` and its body) is turned into its
/// fingerprint here, so it is never kept or shown.
pub fn key_fingerprint(value: &str) -> String {
    let v = value.trim();
    if v.starts_with("re_") && !v.contains('…') && !v.contains("...") {
        return fingerprint(v.as_bytes());
    }
    v.rsplit(['…', '.'])
        .next()
        .unwrap_or(v)
        .to_ascii_lowercase()
}

/// Splits on spaces outside quotes; says whether a token's value was quoted
/// (so `subject:""` is an empty value on purpose).
fn tokens(q: &str) -> Result<Vec<(String, bool)>, QueryError> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut token = String::new();
        let mut quoted = false;
        let mut had_quote = false;
        while let Some(&c) = chars.peek() {
            if c == '"' {
                quoted = !quoted;
                had_quote = true;
                chars.next();
                continue;
            }
            if c.is_whitespace() && !quoted {
                break;
            }
            token.push(c);
            chars.next();
        }
        if quoted {
            return Err(QueryError(format!(
                "the query has an unclosed quote (after {token:?})"
            )));
        }
        out.push((token, had_quote));
    }
    Ok(out)
}

/// Whether `text` (lower case) matches a glob pattern anywhere in it: `*`
/// stands for any run of characters, everything else is literal. A
/// pattern is what a test writes for "the reset link": `/reset?token=`,
/// `https://app.acme.com/*/confirm`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // Unanchored at both ends, as a substring search is: each literal part
    // is found after the one before it.
    let mut at = 0;
    for part in pattern.split('*').filter(|p| !p.is_empty()) {
        match text[at..].find(part) {
            Some(found) => at += found + part.len(),
            None => return false,
        }
    }
    true
}

/// The first link of a message that matches `pattern` (case-insensitive).
pub fn first_link<'a>(links: &'a [String], pattern: &str) -> Option<&'a str> {
    let pattern = pattern.to_lowercase();
    links
        .iter()
        .find(|l| glob_match(&pattern, &l.to_lowercase()))
        .map(String::as_str)
}

impl Query {
    /// Whether it has no term.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value of its first `link:` term, if any.
    pub fn link_pattern(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == Field::Link && !t.negate)
            .map(|t| t.value.as_str())
    }

    /// Whether a message matches every term.
    pub fn matches_message(&self, m: &MessageRec) -> bool {
        self.terms.iter().all(|t| t.matches_message(m) != t.negate)
    }

    /// Whether a session matches every term.
    pub fn matches_session(&self, s: &SessionSummary) -> bool {
        self.terms.iter().all(|t| t.matches_session(s) != t.negate)
    }
}

/// Whether `hay` contains `v` (already lower case), ignoring case. ASCII
/// text (addresses, most subjects) is compared in place: the store checks
/// every arriving message against every wait's query, so no allocation.
fn has(hay: &str, v: &str) -> bool {
    if hay.is_ascii() && v.is_ascii() {
        let (h, n) = (hay.as_bytes(), v.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(v)
}

/// Whether a tag matches `tag:v`: the tag itself, or a Resend tag
/// `name=value` by its name.
pub fn tag_matches(tag: &str, v: &str) -> bool {
    let t = tag.to_lowercase();
    t == v || t.split_once('=').is_some_and(|(name, _)| name == v)
}

fn key_matches(key: Option<&str>, v: &str) -> bool {
    key.is_some_and(|k| key_fingerprint(k) == v)
}

impl Term {
    fn matches_message(&self, m: &MessageRec) -> bool {
        let p = &m.parsed;
        let v = self.value.as_str();
        let addr_has =
            |list: &[super::mime::Addr]| list.iter().any(|a| has(&a.address, v) || has(&a.name, v));
        match self.field {
            Field::From => {
                p.from
                    .as_ref()
                    .is_some_and(|a| addr_has(std::slice::from_ref(a)))
                    || has(&m.env_from, v)
            }
            Field::To => addr_has(&p.to) || m.env_to.iter().any(|r| has(r, v)),
            Field::Cc => addr_has(&p.cc),
            Field::Bcc => addr_has(&p.bcc) || m.env_to.iter().any(|r| has(r, v)),
            Field::Addressed => {
                addr_has(&p.to)
                    || addr_has(&p.cc)
                    || addr_has(&p.bcc)
                    || m.env_to.iter().any(|r| has(r, v))
            }
            Field::ReplyTo => addr_has(&p.reply_to),
            Field::Subject => has(&p.subject, v),
            Field::MessageId => p.message_id.to_lowercase() == v.trim_matches(['<', '>']),
            Field::Filename => p
                .attachments
                .iter()
                .chain(&p.inline)
                .any(|a| has(&a.file_name, v)),
            Field::Is => match v {
                "read" => m.is_read(),
                "unread" => !m.is_read(),
                "tagged" => !m.tags().is_empty(),
                _ => m.tags().is_empty(),
            },
            Field::Has => match v {
                "attachment" | "attachments" => !p.attachments.is_empty(),
                "inline" => !p.inline.is_empty(),
                "code" | "codes" => !m.codes.is_empty(),
                _ => !p.links.is_empty(),
            },
            Field::Tag => m.tags().iter().any(|t| tag_matches(t, v)),
            Field::Key => key_matches(m.key.as_deref(), v),
            Field::User => m.user.as_deref().is_some_and(|u| has(u, v)),
            Field::Protocol => m.protocol() == v,
            Field::Link => first_link(&p.links, v).is_some(),
            Field::Outcome | Field::Code => false,
            Field::Text => m.matches(v),
        }
    }

    fn matches_session(&self, s: &SessionSummary) -> bool {
        let v = self.value.as_str();
        match self.field {
            Field::From => s.from.as_deref().is_some_and(|f| has(f, v)),
            Field::To => s.to.iter().any(|t| has(t, v)),
            Field::Subject => s.subjects.iter().any(|t| has(t, v)),
            Field::User => s.user.as_deref().is_some_and(|u| has(u, v)),
            Field::Key => key_matches(s.api_key.as_deref(), v),
            Field::Protocol => s.protocol == v,
            Field::Outcome => s.outcome.matches(v),
            Field::Code => s.code.is_some_and(|c| c.to_string() == v),
            Field::Text => s.matches(v),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> String {
        parse(q, Target::Messages).unwrap_err().0
    }

    #[test]
    fn terms_parse_as_mailpit_writes_them() {
        let q = parse(
            "to:bob@x.org subject:\"reset your\" -from:spam hello tag:signup",
            Target::Messages,
        )
        .unwrap();
        let t = &q.terms;
        assert_eq!(t.len(), 5);
        assert_eq!(t[0].field, Field::To);
        assert_eq!(t[1].value, "reset your");
        assert!(t[2].negate);
        assert_eq!(t[3].field, Field::Text);
        assert_eq!(t[4].field, Field::Tag);
        // A colon in free text (a URL) is text, not a field.
        let q = parse("https://app.acme.com/x", Target::Messages).unwrap();
        assert_eq!(q.terms[0].field, Field::Text);
    }

    #[test]
    fn malformed_queries_name_the_problem() {
        assert_eq!(
            err("to: bob"),
            "to: needs a value (write to:something, quoted if it has spaces)"
        );
        assert!(
            err("subject:\"reset").contains("unclosed quote"),
            "{}",
            err("subject:\"reset")
        );
        assert!(err("is:new").starts_with("is:new is not known; use is:read"));
        assert!(err("has:pdf").starts_with("has:pdf is not known"));
        assert!(err("protocol:ftp").starts_with("protocol:ftp is not known"));
        assert!(err(&"x".repeat(5000)).contains("at most 4096"));
        let s = parse("outcome:nope", Target::Sessions).unwrap_err().0;
        assert!(
            s.starts_with("outcome:nope is not known; use refused or one of accepted"),
            "{s}"
        );
        assert!(parse("code:abc", Target::Sessions).is_err());
        // outcome: means nothing for messages: it is free text there.
        assert_eq!(
            parse("outcome:x", Target::Messages).unwrap().terms[0].field,
            Field::Text
        );
    }

    #[test]
    fn a_key_is_named_by_its_fingerprint_in_any_form() {
        let key = "re_AbCdEf12_345678";
        let fp = fingerprint(key.as_bytes());
        assert_eq!(key_fingerprint(key), fp);
        assert_eq!(key_fingerprint(&format!("re_…{fp}")), fp);
        assert_eq!(key_fingerprint(&format!("re_...{fp}")), fp);
        assert_eq!(key_fingerprint(&fp.to_uppercase()), fp);
        let q = parse(&format!("key:{key}"), Target::Messages).unwrap();
        assert_eq!(q.terms[0].value, fp, "the key itself is never kept");
    }

    #[test]
    fn globs_match_anywhere_with_stars() {
        assert!(glob_match("/reset?token=", "https://a.b/reset?token=1"));
        assert!(glob_match(
            "https://app.acme.com/*/confirm",
            "https://app.acme.com/u/7/confirm?x"
        ));
        assert!(!glob_match("https://other.com/*", "https://app.acme.com/x"));
        assert!(glob_match("", "anything"));
        let links = vec![
            "https://a.com/unsubscribe".to_string(),
            "https://a.com/Reset?t=1".to_string(),
        ];
        assert_eq!(first_link(&links, "reset"), Some("https://a.com/Reset?t=1"));
        assert_eq!(first_link(&links, "nope"), None);
    }

    #[test]
    fn case_is_ignored_with_or_without_ascii() {
        assert!(has("Bob@Example.ORG", "bob@example.org"));
        assert!(has("Réinitialiser", "réinit"));
        assert!(!has("bob", "bobby"));
        assert!(has("anything", ""));
    }

    #[test]
    fn tags_match_whole_or_by_resend_name() {
        assert!(tag_matches("signup", "signup"));
        assert!(tag_matches("category=welcome", "category"));
        assert!(tag_matches("category=welcome", "category=welcome"));
        assert!(!tag_matches("signups", "signup"));
    }
}
