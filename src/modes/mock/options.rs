//! How a mock is set up: the options a user gives (scenario, profile,
//! account, keys) and the settings they resolve to, layer on layer (the
//! built-in profile, a variant, a profile file; a scenario, an account file,
//! flags).

use std::path::PathBuf;

use crate::error::Error;
use crate::resend::{
    Account, AccountFile, Behaviour, KeyPolicy, KeySpec, Limits, Profile, ProfileFile, Scenario,
    Usage, WebhookPlay,
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
    /// The scenario's `[webhooks]`: the delay, whose mail is delayed.
    pub webhooks: WebhookPlay,
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
        // The keys the profile file and the scenario list: the scenario may
        // be a file of the user's too.
        for (layer, origin) in [
            (
                overlay.as_ref().and_then(|f| f.account.as_ref()),
                o.profile.as_ref().map(|p| p.display().to_string()),
            ),
            (
                scenario.file.account.as_ref(),
                Some(format!("scenario {}", scenario.name)),
            ),
        ] {
            if let (Some(a), Some(origin)) = (layer, origin)
                && let Some(why) = unusable_key(a.keys.iter().flatten().map(|k| k.key.as_str()))
            {
                return Err(Error::Config {
                    origin,
                    reason: why,
                });
            }
        }
        if let Some(l) = &scenario.file.limits {
            limits.apply(l);
        }
        if let Some(p) = &o.account {
            let text = read(p, "account")?;
            let file: AccountFile = crate::error::parse_toml(&text, &p.display().to_string())?;
            if let Some(keys) = &file.keys {
                let keys = keys.iter().map(|k| k.key.as_str());
                if let Some(why) = unusable_key(keys) {
                    return Err(Error::Config {
                        origin: p.display().to_string(),
                        reason: why,
                    });
                }
            }
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
            if let Some(why) = unusable_key(o.keys.iter().map(String::as_str)) {
                return Err(Error::Usage(format!("--key: {why}")));
            }
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
        let webhooks = WebhookPlay::from_file(
            scenario.file.webhooks.as_ref(),
            &format!("scenario {}", scenario.name),
        )?;
        Ok(MockSettings {
            scenario: scenario.name,
            profile,
            account,
            limits,
            behaviour,
            usage,
            webhooks,
        })
    }
}

/// Why one of `keys` can never authenticate, if one cannot (issue 25, item
/// 14): Resend issues keys of `re_` and `[A-Za-z0-9_]` only, so a key with
/// a space, a trailing `!` or junk before `re_` (a paste gone wrong) is one
/// no client will ever log in with against the relay; a mock that took it
/// would fail every login later with nothing said. The reason names which
/// key (by position) and what is wrong with it, never the key itself.
fn unusable_key<'a>(keys: impl Iterator<Item = &'a str>) -> Option<String> {
    keys.enumerate().find_map(|(i, key)| {
        crate::resend::account::key_problem(key).map(|problem| {
            format!(
                "the {} key can never authenticate: {problem}",
                ordinal(i + 1)
            )
        })
    })
}

/// `1st`, `2nd`, `3rd`, `4th`, … `11th`, `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
