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
    /// The product brief.
    Brief,
    /// The most likely value; configurable.
    Guess,
}

/// One reply of the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplySpec {
    /// The reply code.
    pub code: u16,
    /// The text, with `{placeholders}`.
    pub text: String,
    /// Where it comes from.
    pub source: Source,
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
}

/// A profile file as written; every part optional so that a user's file
/// overrides only what it names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// The host name in the greeting and EHLO.
    pub hostname: Option<String>,
    /// EHLO keywords.
    pub ehlo: Option<Vec<String>>,
    /// Recipient domains refused as reserved for testing.
    pub reserved_domains: Option<Vec<String>>,
    /// Sender domains every account may use.
    pub shared_domains: Option<Vec<String>>,
    /// Replies by name.
    #[serde(default)]
    pub replies: BTreeMap<String, ReplySpec>,
    /// Named variants.
    #[serde(default)]
    pub variants: BTreeMap<String, VariantFile>,
    /// The account (see [`crate::resend::AccountFile`]).
    pub account: Option<super::AccountFile>,
    /// The limits.
    pub limits: Option<super::LimitsFile>,
}

impl ProfileFile {
    /// Parses TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ProfileFile, Error> {
        toml::from_str(text).map_err(|e| Error::Config {
            origin: origin.to_string(),
            reason: e.to_string(),
        })
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
    /// Replies by name.
    pub replies: BTreeMap<String, ReplySpec>,
    /// The variant applied (`default` if none).
    pub variant: String,
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
            replies: BTreeMap::new(),
            variant: variant.to_string(),
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
            for (name, v) in &o.variants {
                variants
                    .entry(name.clone())
                    .or_default()
                    .replies
                    .extend(v.replies.clone());
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
        }
        p.replies = replies;
        Ok(p)
    }

    /// The variants of the built-in profile with their descriptions.
    pub fn builtin_variants() -> Vec<(String, String)> {
        let base = ProfileFile::parse(BUILTIN, "builtin:resend").unwrap_or_default();
        let mut out = vec![(
            "default".to_string(),
            "as seen on the wire; rate limiting as 421 (the brief)".to_string(),
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
        Reply::new(spec.code, text)
    }
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
    }

    #[test]
    fn variants_follow_resend_md() {
        let d = Profile::build(None, "default").unwrap();
        assert_eq!(
            d.reply(ReplyName::InvalidUsername, &[]).to_string(),
            "535 Invalid username"
        );
        assert_eq!(
            d.reply(ReplyName::RateLimited, &[("per_second", "2")]).code,
            421
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
        let w = Profile::build(None, "wire").unwrap();
        assert_eq!(
            w.reply(ReplyName::RateLimited, &[("per_second", "2")])
                .to_string(),
            "550 Too many requests. You can only make 2 requests per second."
        );
        let err = Profile::build(None, "nope").unwrap_err().to_string();
        assert!(err.contains("brief") && err.contains("wire"), "{err}");
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
}
