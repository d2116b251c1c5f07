//! Named scenarios: small TOML files compiled into the binary, each changing
//! the account, the limits or the server's behaviour.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::account::{AccountFile, LimitsFile};
use crate::error::Error;

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        /// The built-in scenarios: name and TOML text.
        pub const BUILTIN: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../fixtures/scenarios/", $name, ".toml")))),*
        ];
    };
}

builtin!(
    "default",
    "unlimited",
    "sandbox",
    "unverified-domain",
    "invalid-key",
    "restricted-key",
    "restricted-key-unverified",
    "key-invalid-after-auth",
    "rate-limited",
    "daily-quota",
    "monthly-quota",
    "temporary-failure",
    "slow",
    "silent",
    "drop-after-data",
    "domains-verify-slowly",
    "domains-never-verify",
    "delivery-delayed",
);

/// How the server behaves apart from its replies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourFile {
    /// Delay before every reply, greeting included.
    pub reply_delay_ms: Option<u64>,
    /// Never send anything.
    pub silent: Option<bool>,
    /// Close without a reply after the final dot of DATA.
    pub drop_after_data: Option<bool>,
    /// The first N messages get a 421 and the connection closes.
    pub temporary_failures: Option<u32>,
    /// Refuse every message with the rate-limit reply.
    pub rate_limited: Option<bool>,
    /// Accept AUTH, then refuse every message as the API does a key it no
    /// longer takes (a key revoked while a connection stays open).
    pub key_invalid_at_send: Option<bool>,
    /// How `POST /domains/{id}/verify` goes: `at_once` (the default),
    /// `delayed` (pending, then verified), or `never` (pending for good).
    pub domain_verification: Option<VerificationFile>,
    /// With `delayed`: how long verification takes, in milliseconds (10 s
    /// unless given).
    pub domain_verification_delay_ms: Option<u64>,
}

/// `domain_verification` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationFile {
    /// Verified at once.
    AtOnce,
    /// Pending, then verified after the delay.
    Delayed,
    /// Pending for good.
    Never,
}

/// The server's behaviour in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Delay before every reply.
    pub reply_delay: Duration,
    /// Never send anything.
    pub silent: bool,
    /// Close without a reply after DATA.
    pub drop_after_data: bool,
    /// The first N messages get a 421.
    pub temporary_failures: u32,
    /// Refuse every message as too fast.
    pub rate_limited: bool,
    /// Refuse every message with "API key is invalid" after AUTH accepted it.
    pub key_invalid_at_send: bool,
    /// How domains created through the API get verified.
    pub domain_verification: super::directory::Verification,
}

impl Behaviour {
    /// Applies an overlay.
    pub fn apply(&mut self, f: &BehaviourFile) {
        if let Some(ms) = f.reply_delay_ms {
            self.reply_delay = Duration::from_millis(ms);
        }
        if let Some(v) = f.silent {
            self.silent = v;
        }
        if let Some(v) = f.drop_after_data {
            self.drop_after_data = v;
        }
        if let Some(v) = f.temporary_failures {
            self.temporary_failures = v;
        }
        if let Some(v) = f.rate_limited {
            self.rate_limited = v;
        }
        if let Some(v) = f.key_invalid_at_send {
            self.key_invalid_at_send = v;
        }
        use super::directory::Verification;
        let delay =
            std::time::Duration::from_millis(f.domain_verification_delay_ms.unwrap_or(10_000));
        match f.domain_verification {
            Some(VerificationFile::AtOnce) => self.domain_verification = Verification::AtOnce,
            Some(VerificationFile::Delayed) => {
                self.domain_verification = Verification::After(delay)
            }
            Some(VerificationFile::Never) => self.domain_verification = Verification::Never,
            None => {
                if let (Verification::After(_), Some(_)) =
                    (self.domain_verification, f.domain_verification_delay_ms)
                {
                    self.domain_verification = Verification::After(delay);
                }
            }
        }
    }
}

/// Usage already spent when the server starts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageFile {
    /// Recipients already sent today.
    pub day: Option<u64>,
    /// Recipients already sent this month.
    pub month: Option<u64>,
}

/// A scenario's `[webhooks]`: how the events after the send go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksFile {
    /// The wait between `email.sent` and `email.delivered` (and what else
    /// follows it), in milliseconds; over `--webhook-delay`.
    pub delay_ms: Option<u64>,
    /// Whose mail gets `email.delivery_delayed` before `email.delivered`:
    /// `"all"`, or a list of addresses and domains.
    pub delivery_delayed: Option<Recipients>,
}

/// `"all"`, one address or domain, or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    /// `"all"`, or one address or domain.
    One(String),
    /// Addresses (`a@b.com`) and domains (`b.com`, `@b.com`).
    Many(Vec<String>),
}

/// Which recipients a scenario's webhooks treat alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Who {
    /// Nobody.
    #[default]
    Nobody,
    /// Every recipient.
    All,
    /// These addresses (lower case) and domains (lower case; their
    /// subdomains too).
    Some {
        /// Whole addresses.
        addresses: Vec<String>,
        /// Domains.
        domains: Vec<String>,
    },
}

impl Who {
    /// Reads `"all"` or addresses and domains; the error says which entry
    /// is neither.
    pub fn parse(r: &Recipients) -> Result<Who, String> {
        let list = match r {
            Recipients::One(s) if s.trim().eq_ignore_ascii_case("all") => return Ok(Who::All),
            Recipients::One(s) => vec![s.clone()],
            Recipients::Many(l) => l.clone(),
        };
        let (mut addresses, mut domains) = (Vec::new(), Vec::new());
        for entry in &list {
            let e = entry.trim().to_ascii_lowercase();
            match e.split_once('@') {
                Some(("", d)) if is_domain(d) => domains.push(d.to_string()),
                Some((l, d)) if !l.is_empty() && is_domain(d) => addresses.push(e.clone()),
                None if is_domain(&e) => domains.push(e.clone()),
                _ => {
                    return Err(format!(
                        "{entry:?} is not an address (a@b.com) or a domain (b.com); write \"all\" for everyone"
                    ));
                }
            }
        }
        Ok(Who::Some { addresses, domains })
    }

    /// Whether `addr` is one of them.
    pub fn has(&self, addr: &str) -> bool {
        match self {
            Who::Nobody => false,
            Who::All => true,
            Who::Some { addresses, domains } => {
                let a = addr.trim().to_ascii_lowercase();
                let domain = a.rsplit_once('@').map_or("", |(_, d)| d);
                addresses.contains(&a)
                    || domains
                        .iter()
                        .any(|d| domain == d || domain.ends_with(&format!(".{d}")))
            }
        }
    }
}

fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.contains('.')
        && d.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// A scenario's webhooks, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPlay {
    /// The wait before `email.delivered` and what follows it, when the
    /// scenario says (else `--webhook-delay`).
    pub delay: Option<Duration>,
    /// Whose mail is delayed (`email.delivery_delayed`) before it is
    /// delivered.
    pub delivery_delayed: Who,
}

impl WebhookPlay {
    /// From a scenario's `[webhooks]`; `origin` names it in errors.
    pub fn from_file(f: Option<&WebhooksFile>, origin: &str) -> Result<WebhookPlay, Error> {
        let Some(f) = f else {
            return Ok(WebhookPlay::default());
        };
        let delivery_delayed = match &f.delivery_delayed {
            None => Who::Nobody,
            Some(r) => Who::parse(r).map_err(|reason| Error::Config {
                origin: origin.to_string(),
                reason: format!("[webhooks] delivery_delayed: {reason}"),
            })?,
        };
        Ok(WebhookPlay {
            delay: f.delay_ms.map(Duration::from_millis),
            delivery_delayed,
        })
    }
}

/// A scenario file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// One line on what it plays.
    #[serde(default)]
    pub description: String,
    /// The profile variant it implies, if any.
    pub variant: Option<String>,
    /// Account overrides.
    pub account: Option<AccountFile>,
    /// Limit overrides.
    pub limits: Option<LimitsFile>,
    /// Behaviour.
    pub behaviour: Option<BehaviourFile>,
    /// Usage at start.
    pub usage: Option<UsageFile>,
    /// How the webhooks' events go.
    pub webhooks: Option<WebhooksFile>,
}

/// A scenario with its name.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The built-in name, or the path it came from.
    pub name: String,
    /// Its contents.
    pub file: ScenarioFile,
}

impl Scenario {
    /// Loads a built-in scenario by name, or a file by path (anything with a
    /// `/` or ending in `.toml`).
    pub fn load(name_or_path: &str) -> Result<Scenario, Error> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Ok(Scenario {
                name: name.to_string(),
                file: parse(text, &format!("builtin:{name}"))?,
            });
        }
        if name_or_path.contains('/')
            || name_or_path.ends_with(".toml")
            || Path::new(name_or_path).is_file()
        {
            let text = std::fs::read_to_string(name_or_path).map_err(|e| Error::Io {
                action: format!("read the scenario file {name_or_path}"),
                source: e,
            })?;
            return Ok(Scenario {
                name: name_or_path.to_string(),
                file: parse(&text, name_or_path)?,
            });
        }
        Err(Error::Unknown {
            what: "scenario",
            name: name_or_path.to_string(),
            known: BUILTIN.iter().map(|(n, _)| n.to_string()).collect(),
        })
    }

    /// Every built-in scenario with its one-line description.
    pub fn list() -> Vec<(String, String)> {
        BUILTIN
            .iter()
            .map(|(n, text)| {
                let desc = parse(text, n).map(|f| f.description).unwrap_or_default();
                (n.to_string(), desc)
            })
            .collect()
    }
}

fn parse(text: &str, origin: &str) -> Result<ScenarioFile, Error> {
    crate::error::parse_toml(text, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_with_a_description() {
        for (name, desc) in Scenario::list() {
            assert!(Scenario::load(&name).is_ok(), "{name}");
            assert!(!desc.is_empty(), "{name} has no description");
        }
        let err = Scenario::load("sandbx").unwrap_err().to_string();
        assert!(err.contains("sandbox"), "{err}");
    }

    #[test]
    fn who_reads_all_addresses_and_domains() {
        let one = |s: &str| Who::parse(&Recipients::One(s.into()));
        assert_eq!(one("all"), Ok(Who::All));
        let w = Who::parse(&Recipients::Many(vec![
            "Late@Acme.org".into(),
            "slow.example".into(),
            "@mx.test".into(),
        ]))
        .unwrap();
        assert!(w.has("late@acme.org"));
        assert!(!w.has("early@acme.org"));
        assert!(w.has("x@slow.example") && w.has("x@eu.slow.example"));
        assert!(w.has("y@MX.test"));
        assert!(!w.has("y@notslow.example"));
        let err = one("nobody").unwrap_err();
        assert!(err.contains("\"nobody\" is not an address"), "{err}");
        assert!(!Who::Nobody.has("a@b.co"));
    }
}
