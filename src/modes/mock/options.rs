//! How a mock is set up: the options a user gives (scenario, profile,
//! account, keys) and the settings they resolve to, layer on layer (the
//! built-in profile, a variant, a profile file; a scenario, an account file,
//! flags).

use std::path::PathBuf;

use crate::error::Error;
use crate::resend::{
    Account, AccountFile, Behaviour, KeyPolicy, KeySpec, Limits, Profile, ProfileFile, Scenario,
    Usage,
};
use crate::smtp::is_valid_mailbox;

/// How a mock is set up, before files are read.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// A built-in scenario name or a path to a scenario file.
    pub scenario: String,
    /// A profile file that overrides the built-in profile.
    pub profile: Option<PathBuf>,
    /// The variant of the profile: `default`, `brief`, `wire`, or one the profile file defines.
    pub variant: Option<String>,
    /// An account file that overrides the scenario's account.
    pub account: Option<PathBuf>,
    /// The sandbox owner (overrides the files).
    pub owner: Option<String>,
    /// Verified domains (overrides the files when not empty).
    pub verified_domains: Vec<String>,
    /// The only keys accepted (overrides the files when not empty).
    pub keys: Vec<String>,
}

impl Default for MockOptions {
    fn default() -> MockOptions {
        MockOptions {
            scenario: "default".into(),
            profile: None,
            variant: None,
            account: None,
            owner: None,
            verified_domains: Vec::new(),
            keys: Vec::new(),
        }
    }
}

/// Everything the mock answers from, resolved.
#[derive(Debug, Clone)]
pub struct MockSettings {
    /// The scenario's name.
    pub scenario: String,
    /// Replies.
    pub profile: Profile,
    /// Keys, domains, owner.
    pub account: Account,
    /// Limits.
    pub limits: Limits,
    /// Behaviour.
    pub behaviour: Behaviour,
    /// Usage at start.
    pub usage: Usage,
}

fn read(path: &PathBuf, what: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Io {
        action: format!("read the {what} file {}", path.display()),
        source: e,
    })
}

impl MockSettings {
    /// Resolves options: built-in profile, profile file, scenario, account
    /// file, then the flags, each overriding what came before.
    pub fn resolve(o: &MockOptions) -> Result<MockSettings, Error> {
        let scenario = Scenario::load(&o.scenario)?;
        let overlay = match &o.profile {
            Some(p) => Some(ProfileFile::parse(
                &read(p, "profile")?,
                &p.display().to_string(),
            )?),
            None => None,
        };
        let variant = o
            .variant
            .clone()
            .or_else(|| scenario.file.variant.clone())
            .unwrap_or_else(|| "default".into());
        let profile = Profile::build(overlay.as_ref(), &variant)?;
        let base = ProfileFile::parse(crate::resend::profile::BUILTIN, "builtin:resend")?;

        let mut account = Account::default();
        let mut limits = Limits {
            per_second: 0,
            per_day: 0,
            per_month: 0,
            recipients: 0,
            message_size: 0,
            unauthenticated_commands: 0,
            unrecognized_commands: 0,
        };
        for layer in [Some(&base), overlay.as_ref()].into_iter().flatten() {
            if let Some(a) = &layer.account {
                account.apply(a);
            }
            if let Some(l) = &layer.limits {
                limits.apply(l);
            }
        }
        // A variant's limits (an older team's rate) stand over the profile's.
        if let Some(l) = &profile.variant_limits {
            limits.apply(l);
        }
        if let Some(a) = &scenario.file.account {
            account.apply(a);
        }
        if let Some(l) = &scenario.file.limits {
            limits.apply(l);
        }
        if let Some(p) = &o.account {
            let text = read(p, "account")?;
            let file: AccountFile = crate::error::parse_toml(&text, &p.display().to_string())?;
            account.apply(&file);
        }
        if let Some(owner) = &o.owner {
            if !is_valid_mailbox(owner) {
                return Err(Error::Usage(format!(
                    "--owner {:?} is not an email address",
                    crate::tape::redact::scrub(owner)
                )));
            }
            account.owner = Some(owner.clone());
        }
        if !o.verified_domains.is_empty() {
            account.verified_domains = Some(
                o.verified_domains
                    .iter()
                    .map(|d| d.to_ascii_lowercase())
                    .collect(),
            );
        }
        if !o.keys.is_empty() {
            account.keys = o
                .keys
                .iter()
                .map(|k| KeySpec {
                    key: k.clone(),
                    revoked: false,
                    permission: Default::default(),
                    domain: None,
                })
                .collect();
            account.unlisted_keys = Some(KeyPolicy::Reject);
        }
        let mut behaviour = Behaviour::default();
        if let Some(b) = &scenario.file.behaviour {
            behaviour.apply(b);
        }
        let usage = scenario
            .file
            .usage
            .as_ref()
            .map_or_else(Usage::default, |u| {
                Usage::preset(u.day.unwrap_or(0), u.month.unwrap_or(0))
            });
        Ok(MockSettings {
            scenario: scenario.name,
            profile,
            account,
            limits,
            behaviour,
            usage,
        })
    }
}
