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
}
