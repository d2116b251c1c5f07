//! The profile: hostname, EHLO keywords and every reply text, as data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ReplyName;
use crate::error::Error;
use crate::smtp::Reply;

/// The built-in profile, compiled in.
pub const BUILTIN: &str = include_str!("../../fixtures/resend.toml");

/// Where a reply's wording comes from (see shared/RESEND.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Pasted from a real session with the relay.
    Seen,
    /// Resend's documentation.
    Docs,
    /// Not seen, but the default of the SMTP library (Node's `smtp-server`)
    /// whose defaults every seen Resend text matches byte for byte.
    Library,
    /// The product brief.
    Brief,
    /// The most likely value; configurable.
    Guess,
    /// mailtape's own reply, for a limit Resend does not have (a full
    /// mailbox, the memory budget, a plain listener): no claim about Resend.
    Local,
}

/// One reply of the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplySpec {
    /// The reply code, 200 to 599.
    #[serde(deserialize_with = "checked::reply_code")]
    pub code: u16,
    /// The text, with `{placeholders}`: one line.
    #[serde(deserialize_with = "checked::one_line")]
    pub text: String,
    /// Where it comes from.
    pub source: Source,
}

/// One error of the REST API: HTTP status, Resend's error name, message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestSpec {
    /// The HTTP status.
    pub status: u16,
    /// Resend's error `name` (`validation_error`, `rate_limit_exceeded`, …).
    pub name: String,
    /// The `message`, with `{placeholders}`.
    pub message: String,
    /// Where it comes from.
    pub source: Source,
}

/// A REST error with its placeholders filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    /// The HTTP status.
    pub status: u16,
    /// Resend's error name.
    pub name: String,
    /// The message.
    pub message: String,
}

/// A variant: a named set of replies that replace the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    /// One line on what it changes.
    #[serde(default)]
    pub description: String,
    /// The replies it replaces.
    #[serde(default)]
    pub replies: BTreeMap<String, ReplySpec>,
    /// The REST errors it replaces.
    #[serde(default)]
    pub rest: BTreeMap<String, RestSpec>,
    /// The limits it changes (an older team's rate, say).
    pub limits: Option<super::LimitsFile>,
}

/// A profile file as written; every part optional so that a user's file
/// overrides only what it names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// The host name in the greeting and EHLO.
    #[serde(default, deserialize_with = "checked::hostname")]
    pub hostname: Option<String>,
    /// EHLO keywords.
    #[serde(default, deserialize_with = "checked::keywords")]
    pub ehlo: Option<Vec<String>>,
    /// Recipient domains refused as reserved for testing.
    pub reserved_domains: Option<Vec<String>>,
    /// Sender domains every account may use.
    pub shared_domains: Option<Vec<String>>,
    /// Local parts of Resend's test recipients at the shared domain.
    pub test_addresses: Option<Vec<String>>,
    /// Replies by name.
    #[serde(default)]
    pub replies: BTreeMap<String, ReplySpec>,
    /// Named variants.
    #[serde(default)]
    pub variants: BTreeMap<String, VariantFile>,
    /// The REST API's errors by name.
    #[serde(default)]
    pub rest: BTreeMap<String, RestSpec>,
    /// The account (see [`crate::resend::AccountFile`]).
    pub account: Option<super::AccountFile>,
    /// The limits.
    pub limits: Option<super::LimitsFile>,
}

impl ProfileFile {
    /// Parses TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ProfileFile, Error> {
        crate::error::parse_toml(text, origin)
    }
}

/// Checks made while a profile is read (issue 16, finding 17), so that a
/// profile cannot break the protocol it describes: a code outside 200–599
/// or a CR LF in a text would let one reply turn into two (`hostname =
/// "evil\r\n250 x"` split the greeting). Each is a serde error, so the
/// TOML reader names the file, line and column of the value at fault.
mod checked {
    use serde::de::{Deserialize, Deserializer, Error};

    /// A reply code the server may send: 2xx to 5xx.
    pub fn reply_code<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        let code = i64::deserialize(d)?;
        match u16::try_from(code) {
            Ok(c @ 200..=599) => Ok(c),
            _ => Err(D::Error::custom(format!(
                "reply code {code}: a reply code is three digits from 200 to 599"
            ))),
        }
    }

    /// Why `text` cannot be part of one reply line, if it cannot.
    fn not_one_line(text: &str) -> Option<String> {
        let bad = text.chars().find(|c| c.is_control() && *c != '\t')?;
        Some(format!(
            "{:?} holds the control character U+{:04X}; a reply text is one line (no CR, LF or other control characters)",
            crate::tape::redact::scrub(text),
            u32::from(bad)
        ))
    }

    /// The longest reply text: RFC 5321 4.5.3.1.5 caps a reply line at
    /// 512 octets with its code, separator and CR LF (`250 ` … `\r\n`).
    pub const MAX_TEXT: usize = crate::smtp::reply::MAX_REPLY_LINE - 6;

    /// Why `text` is too long for one reply line, if it is. The text is not
    /// quoted: it may be thousands of characters.
    pub(super) fn too_long(what: &str, text: &str) -> Option<String> {
        (text.len() > MAX_TEXT).then(|| {
            format!(
                "{what} of {} octets: a reply line is at most 512 octets with its code and CR LF, so a text holds at most {MAX_TEXT}",
                text.len()
            )
        })
    }

    /// A reply text: one line that fits SMTP's 512 octets (issue 25, item
    /// 15).
    pub fn one_line<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let text = String::deserialize(d)?;
        if let Some(why) = too_long("reply text", &text) {
            return Err(D::Error::custom(why));
        }
        match not_one_line(&text) {
            Some(why) => Err(D::Error::custom(why)),
            None => Ok(text),
        }
    }

    /// A host name: one line, not empty.
    pub fn hostname<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let name = String::deserialize(d)?;
        // The greeting and EHLO put it in a reply line of their own.
        if let Some(why) = too_long("hostname", &name) {
            return Err(D::Error::custom(why));
        }
        if let Some(why) = not_one_line(&name) {
            return Err(D::Error::custom(format!("hostname {why}")));
        }
        // Not one word necessarily: Resend's greeting names "Resend SMTP Relay".
        if name.trim().is_empty() {
            return Err(D::Error::custom("hostname is empty"));
        }
        Ok(Some(name))
    }

    /// EHLO keywords: each one line, not empty.
    pub fn keywords<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let words = Vec::<String>::deserialize(d)?;
        for w in &words {
            if w.trim().is_empty() {
                return Err(D::Error::custom("an EHLO keyword is empty"));
            }
            if let Some(why) = too_long("EHLO keyword", w) {
                return Err(D::Error::custom(why));
            }
            if let Some(why) = not_one_line(w) {
                return Err(D::Error::custom(format!("EHLO keyword {why}")));
            }
        }
        Ok(Some(words))
    }
}

/// The profile in force: every reply resolved.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The host name in the greeting and EHLO.
    pub hostname: String,
    /// EHLO keywords.
    pub ehlo: Vec<String>,
    /// Recipient domains refused as reserved for testing (and their subdomains).
    pub reserved_domains: Vec<String>,
    /// Sender domains every account may use.
    pub shared_domains: Vec<String>,
    /// Local parts of Resend's test recipients (`delivered`, …) at the
    /// first shared domain; each may carry a `+label`.
    pub test_addresses: Vec<String>,
    /// Replies by name.
    pub replies: BTreeMap<String, ReplySpec>,
    /// The REST API's errors by name.
    pub rest: BTreeMap<String, RestSpec>,
    /// The variant applied (`default` if none).
    pub variant: String,
    /// The limits the variant changes, applied over the profile's own.
    pub variant_limits: Option<super::LimitsFile>,
}

impl Profile {
    /// Builds the profile: the built-in file, then `overlay` (a user's file),
    /// then the named variant's replies from either.
    pub fn build(overlay: Option<&ProfileFile>, variant: &str) -> Result<Profile, Error> {
        let base = ProfileFile::parse(BUILTIN, "builtin:resend")?;
        let mut replies = base.replies.clone();
        let mut variants = base.variants.clone();
        let mut p = Profile {
            hostname: base.hostname.clone().unwrap_or_default(),
            ehlo: base.ehlo.clone().unwrap_or_default(),
            reserved_domains: base.reserved_domains.clone().unwrap_or_default(),
            shared_domains: base.shared_domains.clone().unwrap_or_default(),
            test_addresses: base.test_addresses.clone().unwrap_or_default(),
            replies: BTreeMap::new(),
            rest: base.rest.clone(),
            variant: variant.to_string(),
            variant_limits: None,
        };
        if let Some(o) = overlay {
            for (name, spec) in &o.replies {
                if !replies.contains_key(name) {
                    return Err(Error::Unknown {
                        what: "reply name in the profile",
                        name: name.clone(),
                        known: replies.keys().cloned().collect(),
                    });
                }
                replies.insert(name.clone(), spec.clone());
            }
            for (name, spec) in &o.rest {
                if !p.rest.contains_key(name) {
                    return Err(Error::Unknown {
                        what: "REST error name in the profile",
                        name: name.clone(),
                        known: p.rest.keys().cloned().collect(),
                    });
                }
                p.rest.insert(name.clone(), spec.clone());
            }
            for (name, v) in &o.variants {
                let slot = variants.entry(name.clone()).or_default();
                slot.replies.extend(v.replies.clone());
                slot.rest.extend(v.rest.clone());
                if v.limits.is_some() {
                    slot.limits = v.limits.clone();
                }
            }
            if let Some(h) = &o.hostname {
                p.hostname = h.clone();
            }
            if let Some(e) = &o.ehlo {
                p.ehlo = e.clone();
            }
            if let Some(r) = &o.reserved_domains {
                p.reserved_domains = r.clone();
            }
            if let Some(s) = &o.shared_domains {
                p.shared_domains = s.clone();
            }
            if let Some(t) = &o.test_addresses {
                p.test_addresses = t.clone();
            }
        }
        if variant != "default" {
            let v = variants.get(variant).ok_or_else(|| Error::Unknown {
                what: "variant",
                name: variant.to_string(),
                known: std::iter::once("default".to_string())
                    .chain(variants.keys().cloned())
                    .collect(),
            })?;
            for (name, spec) in &v.replies {
                replies.insert(name.clone(), spec.clone());
            }
            for (name, spec) in &v.rest {
                if !p.rest.contains_key(name) {
                    return Err(Error::Unknown {
                        what: "REST error name in the variant",
                        name: name.clone(),
                        known: p.rest.keys().cloned().collect(),
                    });
                }
                p.rest.insert(name.clone(), spec.clone());
            }
            p.variant_limits = v.limits.clone();
        }
        p.replies = replies;
        Ok(p)
    }

    /// The variants of the built-in profile with their descriptions.
    pub fn builtin_variants() -> Vec<(String, String)> {
        let base = ProfileFile::parse(BUILTIN, "builtin:resend").unwrap_or_default();
        let mut out = vec![(
            "default".to_string(),
            "as seen on the wire (rate limiting as 550 Too many requests); library defaults where not seen".to_string(),
        )];
        out.extend(base.variants.into_iter().map(|(k, v)| (k, v.description)));
        out
    }

    /// The reply named `name`, its placeholders filled from `vars`.
    pub fn reply(&self, name: ReplyName, vars: &[(&str, &str)]) -> Reply {
        let Some(spec) = self.replies.get(name.as_str()) else {
            // Only reachable with a broken built-in profile; the unit test
            // below checks every name the mock uses.
            return Reply::new(
                451,
                format!("mailtape: reply {name} missing from the profile"),
            );
        };
        let mut text = spec.text.replace("{host}", &self.hostname);
        for (k, v) in vars {
            text = text.replace(&format!("{{{k}}}"), v);
        }
        // A text that fit when loaded may outgrow the line once filled (a
        // long domain): cut at a character boundary rather than send a line
        // a client may refuse.
        if text.len() > checked::MAX_TEXT {
            let mut cut = checked::MAX_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Reply::new(spec.code, text)
    }
}

/// What Resend does with mail to one of its test addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestOutcome {
    /// `delivered@resend.dev`: delivered, a `delivered` event.
    Delivered,
    /// `bounced@resend.dev`: a hard bounce, a `bounced` event.
    Bounced,
    /// `complained@resend.dev`: delivered, then marked as spam, a `complained` event.
    Complained,
    /// `suppressed@resend.dev`: not sent, the address is on the account's
    /// suppression list, a `suppressed` event.
    Suppressed,
}

impl TestOutcome {
    /// The `last_event` Resend reports for such an email.
    pub fn event(self) -> &'static str {
        match self {
            TestOutcome::Delivered => "delivered",
            TestOutcome::Bounced => "bounced",
            TestOutcome::Complained => "complained",
            TestOutcome::Suppressed => "suppressed",
        }
    }

    /// What Resend would then do, in a sentence.
    pub fn says(self) -> &'static str {
        match self {
            TestOutcome::Delivered => {
                "Resend test address: Resend would report it delivered (event email.delivered)"
            }
            TestOutcome::Bounced => {
                "Resend test address: Resend would report a hard bounce (event email.bounced)"
            }
            TestOutcome::Complained => {
                "Resend test address: Resend would deliver it, then report a spam complaint (event email.complained)"
            }
            TestOutcome::Suppressed => {
                "Resend test address: Resend would not send it, as the address is on the suppression list (event email.suppressed)"
            }
        }
    }
}

impl Profile {
    /// Whether `addr` is one of Resend's test addresses (`delivered@resend.dev`,
    /// `bounced+x@resend.dev`, …), and what Resend does with it.
    pub fn test_address(&self, addr: &str) -> Option<TestOutcome> {
        let (local, domain) = addr.rsplit_once('@')?;
        if !self
            .shared_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
        {
            return None;
        }
        let base = local.split_once('+').map_or(local, |(b, _)| b);
        let base = base.to_ascii_lowercase();
        if !self.test_addresses.contains(&base) {
            return None;
        }
        match base.as_str() {
            "delivered" => Some(TestOutcome::Delivered),
            "bounced" => Some(TestOutcome::Bounced),
            "complained" => Some(TestOutcome::Complained),
            "suppressed" => Some(TestOutcome::Suppressed),
            // A test address added in a profile file: Resend's default is delivery.
            _ => Some(TestOutcome::Delivered),
        }
    }

    /// The reply of this profile a reply on the wire was made from, if any:
    /// its name and spec. Placeholders match any text.
    pub fn reply_matching(&self, code: u16, text: &str) -> Option<(&str, &ReplySpec)> {
        self.replies
            .iter()
            .filter(|(_, spec)| spec.code == code)
            .find(|(_, spec)| template_matches(&spec.text.replace("{host}", &self.hostname), text))
            .map(|(name, spec)| (name.as_str(), spec))
    }

    /// How many SMTP replies come from each source, in the order of [`Source`].
    pub fn counts_by_source(&self) -> Vec<(Source, usize)> {
        count_sources(self.replies.values().map(|r| r.source))
    }

    /// How many REST errors come from each source.
    pub fn rest_counts_by_source(&self) -> Vec<(Source, usize)> {
        count_sources(self.rest.values().map(|r| r.source))
    }

    /// The REST error named `name`, its placeholders filled from `vars`.
    pub fn rest_error(&self, name: &str, vars: &[(&str, &str)]) -> RestError {
        let Some(spec) = self.rest.get(name) else {
            // Only reachable with a broken built-in profile (a unit test checks).
            return RestError {
                status: 500,
                name: "application_error".into(),
                message: format!("mailtape: REST error {name} missing from the profile"),
            };
        };
        let mut message = spec.message.clone();
        for (k, v) in vars {
            message = message.replace(&format!("{{{k}}}"), v);
        }
        RestError {
            status: spec.status,
            name: spec.name.clone(),
            message,
        }
    }
}

impl Source {
    /// The lower-case name used in the profile file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Source::Seen => "seen",
            Source::Docs => "docs",
            Source::Library => "library",
            Source::Brief => "brief",
            Source::Guess => "guess",
            Source::Local => "local",
        }
    }

    /// Every source, from the surest.
    pub const ALL: [Source; 6] = [
        Source::Seen,
        Source::Docs,
        Source::Library,
        Source::Brief,
        Source::Guess,
        Source::Local,
    ];

    /// Whether the wording rests on evidence about Resend (seen on the
    /// wire, in its docs, or its SMTP library's default).
    pub fn is_evidence(self) -> bool {
        matches!(self, Source::Seen | Source::Docs | Source::Library)
    }

    /// A source by its name.
    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.name() == name)
    }
}

fn count_sources(sources: impl Iterator<Item = Source> + Clone) -> Vec<(Source, usize)> {
    Source::ALL
        .into_iter()
        .map(|src| (src, sources.clone().filter(|s| *s == src).count()))
        .collect()
}

/// Whether `text` could have been made from `template`: the literal pieces in
/// order, each `{placeholder}` standing for any text.
fn template_matches(template: &str, text: &str) -> bool {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        match rest[open..].find('}') {
            Some(close) => {
                pieces.push(&rest[..open]);
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    pieces.push(rest);
    if pieces.len() == 1 {
        return template == text;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut at = first.len();
    let end = text.len() - last.len();
    if at > end {
        return false;
    }
    for piece in &pieces[1..pieces.len() - 1] {
        match text[at..end].find(piece) {
            Some(i) => at += i + piece.len(),
            None => return false,
        }
    }
    true
}

/// REST errors with no SMTP twin (the API's own checks and endpoints).
pub const REST_ONLY: &[&str] = &[
    "missing_api_key",
    "restricted_api_key",
    "invalid_api_key",
    "invalid_body",
    "missing_required_field",
    "invalid_address",
    "invalid_attachment",
    "invalid_scheduled_at",
    "batch_too_large",
    "body_too_large",
    "body_timeout",
    "not_found",
    "not_scheduled",
    "method_not_allowed",
    "invalid_api_key_elsewhere",
    "invalid_tag",
    "unknown_endpoint",
    "invalid_parameter",
    "invalid_paging",
    "domain_exists",
    "mailbox_failed",
];

/// Replies given at the final dot of DATA, where a guess matters most.
const AT_THE_DOT: &[&str] = &[
    "accepted",
    "daily_quota",
    "monthly_quota",
    "too_many_recipients",
    "idempotency_conflict",
    "idempotency_in_progress",
    "invalid_idempotency_key",
    "temporary_failure",
];

/// The transcript note that names a `guess` reply as such, e.g.
/// "250 after DATA: text not confirmed from a real session …".
pub fn unconfirmed_note(code: u16, name: &str) -> String {
    let when = if AT_THE_DOT.contains(&name) {
        "after DATA"
    } else {
        "reply"
    };
    format!(
        "{code} {when}: text not confirmed from a real session (profile reply `{name}`, source guess)"
    )
}

/// The built-in profile, default variant, built once (for matching wire
/// texts against it).
pub fn builtin() -> &'static Profile {
    static P: std::sync::LazyLock<Option<Profile>> =
        std::sync::LazyLock::new(|| Profile::build(None, "default").ok());
    static EMPTY: std::sync::LazyLock<Profile> = std::sync::LazyLock::new(|| Profile {
        hostname: String::new(),
        ehlo: Vec::new(),
        reserved_domains: Vec::new(),
        shared_domains: Vec::new(),
        test_addresses: Vec::new(),
        replies: BTreeMap::new(),
        rest: BTreeMap::new(),
        variant: "default".into(),
        variant_limits: None,
    });
    P.as_ref().unwrap_or(&EMPTY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_defines_every_reply_and_nothing_else() {
        let p = Profile::build(None, "default").unwrap();
        for name in ReplyName::ALL {
            assert!(p.replies.contains_key(name.as_str()), "missing {name}");
        }
        for name in p.replies.keys() {
            assert!(ReplyName::parse(name).is_some(), "unused reply {name}");
        }
        for name in p.rest.keys() {
            assert!(
                ReplyName::parse(name).is_some() || REST_ONLY.contains(&name.as_str()),
                "REST error {name} is neither an SMTP reply's twin nor REST-only"
            );
        }
    }

    #[test]
    fn variants_follow_resend_md() {
        let d = Profile::build(None, "default").unwrap();
        assert_eq!(
            d.reply(ReplyName::InvalidUsername, &[]).to_string(),
            "535 Invalid username"
        );
        assert_eq!(
            d.reply(ReplyName::RateLimited, &[("per_second", "2")])
                .to_string(),
            "550 Too many requests. You can only make 2 requests per second."
        );
        let b = Profile::build(None, "brief").unwrap();
        assert_eq!(
            b.reply(ReplyName::InvalidKey, &[]).to_string(),
            "535 Authentication failed"
        );
        assert_eq!(
            b.reply(ReplyName::UnverifiedDomain, &[]).to_string(),
            "550 Sender address not verified"
        );
        assert_eq!(
            b.reply(ReplyName::RateLimited, &[("per_second", "2")]).code,
            421
        );
        let err = Profile::build(None, "nope").unwrap_err().to_string();
        assert!(err.contains("brief") && err.contains("default"), "{err}");
    }

    #[test]
    fn overlay_overrides_and_rejects_unknown_names() {
        let o = ProfileFile::parse(
            "hostname = \"relay.test\"\n[replies]\nquit = { code = 221, text = \"See you\", source = \"guess\" }\n",
            "t.toml",
        )
        .unwrap();
        let p = Profile::build(Some(&o), "default").unwrap();
        assert_eq!(
            p.reply(ReplyName::Greeting, &[]).to_string(),
            "220 relay.test ESMTP"
        );
        assert_eq!(p.reply(ReplyName::Quit, &[]).to_string(), "221 See you");
        let bad = ProfileFile::parse(
            "[replies]\nqiut = { code = 221, text = \"x\", source = \"guess\" }\n",
            "t.toml",
        )
        .unwrap();
        assert!(
            Profile::build(Some(&bad), "default")
                .unwrap_err()
                .to_string()
                .contains("qiut")
        );
        let e = ProfileFile::parse("hostnme = 1", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml:"), "{e}");
    }

    #[test]
    fn test_addresses_with_labels() {
        let p = Profile::build(None, "default").unwrap();
        assert_eq!(
            p.test_address("delivered@resend.dev"),
            Some(TestOutcome::Delivered)
        );
        assert_eq!(
            p.test_address("bounced+signup@resend.dev"),
            Some(TestOutcome::Bounced)
        );
        assert_eq!(
            p.test_address("Complained@Resend.dev"),
            Some(TestOutcome::Complained)
        );
        assert_eq!(
            p.test_address("suppressed+x@resend.dev"),
            Some(TestOutcome::Suppressed)
        );
        assert_eq!(p.test_address("someone@resend.dev"), None);
        assert_eq!(p.test_address("delivered@example.com"), None);
    }

    #[test]
    fn replies_are_found_from_their_wire_text() {
        let p = Profile::build(None, "default").unwrap();
        let (name, spec) = p
            .reply_matching(250, "OK 1b4e28ba-2fa1-11d2-883f-0016d3cca427")
            .unwrap();
        assert_eq!((name, spec.source), ("accepted", Source::Guess));
        let (name, _) = p
            .reply_matching(250, "Resend SMTP Relay Nice to meet you, [127.0.0.1]")
            .unwrap();
        assert!(name == "ehlo" || name == "helo");
        let (name, spec) = p
            .reply_matching(550, "The acme.io domain is not verified. Please, add and verify your domain on https://resend.com/domains")
            .unwrap();
        assert_eq!((name, spec.source), ("unverified_domain", Source::Seen));
        assert!(p.reply_matching(250, "something else").is_none());
        assert!(template_matches("a {x} b {y} c", "a 1 b 2 c"));
        assert!(!template_matches("a {x} b {y} c", "a 1 c"));
        assert!(template_matches("{x}", "anything"));
    }

    #[test]
    fn counts_add_up() {
        let p = Profile::build(None, "default").unwrap();
        let total: usize = p.counts_by_source().iter().map(|(_, n)| n).sum();
        assert_eq!(total, ReplyName::ALL.len());
    }
}
