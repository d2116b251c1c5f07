//! The account the mock plays: who owns it, which domains are verified,
//! which keys exist, and the limits and usage counters.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A key's SHA-256: how a key is known without being kept.
pub type KeyDigest = [u8; 32];

/// The SHA-256 of a key.
pub fn digest(key: &[u8]) -> KeyDigest {
    let d = ring::digest::digest(&ring::digest::SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The only user name Resend accepts.
pub const USERNAME: &str = "resend";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Every API call.
    #[default]
    FullAccess,
    /// Sending only, optionally from one domain.
    SendingAccess,
}

/// One API key of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// The key itself, `re_…`.
    pub key: String,
    /// A revoked key fails AUTH like a wrong one.
    #[serde(default)]
    pub revoked: bool,
    /// Its permission.
    #[serde(default)]
    pub permission: Permission,
    /// The one domain a sending key may send from, if restricted.
    #[serde(default)]
    pub domain: Option<String>,
}

/// How keys that are not listed are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPolicy {
    /// Any well-formed key (`re_` and at least 8 of `[A-Za-z0-9_]`).
    Accept,
    /// Only listed keys.
    Reject,
}

/// The account as written in TOML; every field optional for overlays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFile {
    /// The sandbox owner: when set, only this address (and Resend's test
    /// addresses) may receive.
    pub owner: Option<String>,
    /// Verified sender domains; absent means every domain is verified.
    pub verified_domains: Option<Vec<String>>,
    /// What to do with keys that are not listed.
    pub unlisted_keys: Option<KeyPolicy>,
    /// Restricts accepted unlisted keys to sending from this domain.
    pub unlisted_key_domain: Option<String>,
    /// The keys.
    pub keys: Option<Vec<KeySpec>>,
    /// Webhook endpoints (`[[webhooks]]`).
    pub webhooks: Option<Vec<WebhookSpec>>,
}

/// A webhook endpoint of the account file:
/// `[[webhooks]] endpoint = "http://127.0.0.1:4000/hooks"`, optionally
/// `events = ["email.bounced"]` (default: all), `secret = "whsec_…"`
/// (default: a new one, printed in the banner), `status = "disabled"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// The URL.
    pub endpoint: String,
    /// Event names; empty: every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// The signing secret.
    pub secret: Option<String>,
    /// `enabled` (default) or `disabled`.
    pub status: Option<String>,
}

/// The account in force.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// Sandbox owner.
    pub owner: Option<String>,
    /// Verified domains; `None` means all.
    pub verified_domains: Option<Vec<String>>,
    /// Policy for unlisted keys; `None` means accept when no key is listed.
    pub unlisted_keys: Option<KeyPolicy>,
    /// Domain restriction for accepted unlisted keys.
    pub unlisted_key_domain: Option<String>,
    /// Listed keys.
    pub keys: Vec<KeySpec>,
    /// Webhook endpoints from the account file.
    pub webhooks: Vec<WebhookSpec>,
}

impl Account {
    /// Applies an overlay: what it names replaces what is here.
    pub fn apply(&mut self, f: &AccountFile) {
        if let Some(o) = &f.owner {
            self.owner = Some(o.clone()).filter(|o| !o.is_empty());
        }
        if let Some(v) = &f.verified_domains {
            self.verified_domains = Some(v.iter().map(|d| d.to_ascii_lowercase()).collect());
        }
        if let Some(p) = f.unlisted_keys {
            self.unlisted_keys = Some(p);
        }
        if let Some(d) = &f.unlisted_key_domain {
            self.unlisted_key_domain = Some(d.to_ascii_lowercase());
        }
        if let Some(k) = &f.keys {
            self.keys = k.clone();
        }
        if let Some(w) = &f.webhooks {
            self.webhooks = w.clone();
        }
    }

    /// Checks AUTH credentials the way Resend does: the user name first,
    /// then the key.
    pub fn login(&self, user: &[u8], password: &[u8]) -> Result<Grant, LoginError> {
        if user != USERNAME.as_bytes() {
            return Err(LoginError::InvalidUsername);
        }
        let password = std::str::from_utf8(password)
            .map_err(|_| LoginError::MalformedKey(KeyProblem::BadChar('\u{fffd}')))?;
        if let Some(k) = self.keys.iter().find(|k| k.key == password) {
            if k.revoked {
                return Err(LoginError::InvalidKey);
            }
            let domain = match k.permission {
                Permission::FullAccess => None,
                Permission::SendingAccess => k.domain.clone(),
            };
            return Ok(Grant {
                domain,
                sending_only: k.permission == Permission::SendingAccess,
                digest: digest(password.as_bytes()),
            });
        }
        let policy = self.unlisted_keys.unwrap_or(if self.keys.is_empty() {
            KeyPolicy::Accept
        } else {
            KeyPolicy::Reject
        });
        if let Some(problem) = key_problem(password) {
            return Err(LoginError::MalformedKey(problem));
        }
        if policy == KeyPolicy::Accept {
            // A key tied to a domain can only be a sending key.
            return Ok(Grant {
                domain: self.unlisted_key_domain.clone(),
                sending_only: self.unlisted_key_domain.is_some(),
                digest: digest(password.as_bytes()),
            });
        }
        Err(LoginError::InvalidKey)
    }

    /// Whether mail from `domain` is allowed by verification.
    pub fn domain_verified(&self, domain: &str, shared: &[String]) -> bool {
        let domain = domain.to_ascii_lowercase();
        if shared.iter().any(|s| s.eq_ignore_ascii_case(&domain)) {
            return true;
        }
        match &self.verified_domains {
            None => true,
            Some(list) => list
                .iter()
                .any(|d| *d == domain || domain.ends_with(&format!(".{d}"))),
        }
    }
}

/// What a successful login allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The one domain the key may send from, if restricted.
    pub domain: Option<String>,
    /// A `sending_access` key: it may send, and nothing else over the API.
    pub sending_only: bool,
    /// The key's SHA-256: a key deleted through the API stops working in
    /// sessions that logged in with it before.
    pub digest: KeyDigest,
}

/// Why AUTH failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// The user name is not `resend`.
    InvalidUsername,
    /// The key is wrong or revoked.
    InvalidKey,
    /// The key is not shaped like one (Resend refuses it the same way).
    MalformedKey(KeyProblem),
}

/// The shape of a Resend API key, as said to people (banner, help, notes).
pub const KEY_RULE: &str = "re_ then at least 8 of A-Z a-z 0-9 _";

/// `re_` followed by at least 8 of `[A-Za-z0-9_]`, and nothing else.
pub fn is_well_formed_key(key: &str) -> bool {
    key_problem(key).is_none()
}

/// What is wrong with the shape of a key, if anything. It never holds the
/// key, only what a person needs to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// It does not begin with `re_`.
    NoPrefix,
    /// It holds a character a key never holds (the first such one).
    BadChar(char),
    /// Fewer than 8 characters after `re_` (how many there are).
    TooShort(usize),
}

/// Checks the shape of a key: [`KEY_RULE`].
pub fn key_problem(key: &str) -> Option<KeyProblem> {
    let Some(rest) = key.strip_prefix("re_") else {
        return Some(KeyProblem::NoPrefix);
    };
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Some(KeyProblem::BadChar(c));
    }
    let n = rest.chars().count();
    (n < 8).then_some(KeyProblem::TooShort(n))
}

impl std::fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyProblem::NoPrefix => f.write_str("it does not start with re_")?,
            KeyProblem::TooShort(n) => {
                let s = if *n == 1 { "" } else { "s" };
                write!(f, "{n} character{s} after re_, a key has at least 8")?
            }
            KeyProblem::BadChar(c) => {
                // A character people cannot see is named as well as shown.
                let name = match c {
                    ' ' => " (a space)",
                    '\t' => " (a tab)",
                    '\u{a0}' => " (a no-break space)",
                    _ => "",
                };
                let shown = if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                };
                write!(f, "it holds `{shown}`{name}, which a key never does")?
            }
        }
        write!(f, " ({KEY_RULE})")
    }
}

/// Limits as written; `0` turns a limit off.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Messages per second, across sessions.
    pub per_second: Option<u64>,
    /// Recipients per UTC calendar day.
    pub per_day: Option<u64>,
    /// Recipients per UTC calendar month.
    pub per_month: Option<u64>,
    /// Recipients per message.
    pub recipients: Option<u64>,
    /// Message size in octets.
    pub message_size: Option<u64>,
    /// Commands a client may send before it authenticates; the last gets 421.
    pub unauthenticated_commands: Option<u64>,
    /// Unrecognized commands a session may send; the last gets 421.
    pub unrecognized_commands: Option<u64>,
}

/// Limits in force; `0` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Messages per second, across sessions.
    pub per_second: u64,
    /// Recipients per UTC day.
    pub per_day: u64,
    /// Recipients per UTC month.
    pub per_month: u64,
    /// Recipients per message.
    pub recipients: u64,
    /// Message size in octets.
    pub message_size: u64,
    /// Commands before authentication; the last gets 421.
    pub unauthenticated_commands: u64,
    /// Unrecognized commands in a session; the last gets 421.
    pub unrecognized_commands: u64,
}

impl Limits {
    /// Applies an overlay.
    pub fn apply(&mut self, f: &LimitsFile) {
        let set = |slot: &mut u64, v: Option<u64>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut self.per_second, f.per_second);
        set(&mut self.per_day, f.per_day);
        set(&mut self.per_month, f.per_month);
        set(&mut self.recipients, f.recipients);
        set(&mut self.message_size, f.message_size);
        set(
            &mut self.unauthenticated_commands,
            f.unauthenticated_commands,
        );
        set(&mut self.unrecognized_commands, f.unrecognized_commands);
    }
}

/// Which limit a message ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// Too many messages this second.
    Rate,
    /// The day's recipients are used up.
    Daily,
    /// The month's recipients are used up.
    Monthly,
}

/// A calendar day in UTC, for the quota boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// Days since 1970-01-01.
    pub index: i64,
    /// Year and month, for the monthly quota.
    pub month: (i32, u8),
}

impl Day {
    /// Today in UTC.
    pub fn today() -> Day {
        let now = time::OffsetDateTime::now_utc();
        Day {
            index: now.unix_timestamp().div_euclid(86_400),
            month: (now.year(), u8::from(now.month())),
        }
    }
}

/// Usage counters shared by every session of one server.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    recent: VecDeque<Instant>,
    day: Option<(i64, u64)>,
    month: Option<((i32, u8), u64)>,
    preset_day: u64,
    preset_month: u64,
}

impl Usage {
    /// Counters that start as if `day` and `month` recipients were already sent.
    pub fn preset(day: u64, month: u64) -> Usage {
        Usage {
            preset_day: day,
            preset_month: month,
            ..Usage::default()
        }
    }

    /// Checks one message with `recipients` recipients against the limits
    /// and, if it passes, counts it. Every attempt within the quotas counts
    /// towards the rate, as every API request does.
    pub fn admit(
        &mut self,
        limits: &Limits,
        now: Instant,
        today: Day,
        recipients: u64,
    ) -> Result<(), Exceeded> {
        // A preset stands for usage before the server started: it applies
        // until the first day (month) boundary the server sees.
        let day_used = match self.day {
            Some((d, n)) if d == today.index => n,
            Some(_) => 0,
            None => self.preset_day,
        };
        let month_used = match self.month {
            Some((m, n)) if m == today.month => n,
            Some(_) => 0,
            None => self.preset_month,
        };
        self.day = Some((today.index, day_used));
        self.month = Some((today.month, month_used));
        // An exhausted quota is the more useful answer, so it is checked first.
        if limits.per_day > 0 && day_used + recipients > limits.per_day {
            return Err(Exceeded::Daily);
        }
        if limits.per_month > 0 && month_used + recipients > limits.per_month {
            return Err(Exceeded::Monthly);
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        let too_fast = limits.per_second > 0 && self.recent.len() as u64 >= limits.per_second;
        self.recent.push_back(now);
        if self.recent.len() > 1024 {
            self.recent.pop_front();
        }
        if too_fast {
            return Err(Exceeded::Rate);
        }
        self.day = Some((today.index, day_used + recipients));
        self.month = Some((today.month, month_used + recipients));
        Ok(())
    }

    /// Recipients sent today and this month (UTC), as the REST API's
    /// `x-resend-daily-quota` and `x-resend-monthly-quota` headers tell them.
    pub fn used(&self, today: Day) -> (u64, u64) {
        let day = match self.day {
            Some((d, n)) if d == today.index => n,
            Some(_) => 0,
            None => self.preset_day,
        };
        let month = match self.month {
            Some((m, n)) if m == today.month => n,
            Some(_) => 0,
            None => self.preset_month,
        };
        (day, month)
    }

    /// Which quota is already spent, without counting anything: a
    /// scheduled email due then fails (`email.failed`, reached_daily_quota).
    pub fn exhausted(&self, limits: &Limits, today: Day) -> Option<Exceeded> {
        let (day, month) = self.used(today);
        if limits.per_day > 0 && day >= limits.per_day {
            Some(Exceeded::Daily)
        } else if limits.per_month > 0 && month >= limits.per_month {
            Some(Exceeded::Monthly)
        } else {
            None
        }
    }

    /// The rate window as the REST API's headers tell it: the limit, the
    /// requests left in the current second, and whole seconds until it resets.
    /// `None` when there is no rate limit.
    pub fn rate_window(&self, limits: &Limits, now: Instant) -> Option<RateWindow> {
        if limits.per_second == 0 {
            return None;
        }
        let live: Vec<&Instant> = self
            .recent
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < Duration::from_secs(1))
            .collect();
        let used = live.len() as u64;
        Some(RateWindow {
            limit: limits.per_second,
            remaining: limits.per_second.saturating_sub(used),
            // Windows are one second long; Resend's headers count whole seconds.
            reset_secs: 1,
        })
    }
}

/// The rate-limit headers' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// `ratelimit-limit`.
    pub limit: u64,
    /// `ratelimit-remaining`.
    pub remaining: u64,
    /// `ratelimit-reset` (and `retry-after` on a 429).
    pub reset_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        per_second: 2,
        per_day: 100,
        per_month: 3000,
        recipients: 50,
        message_size: 1000,
        unauthenticated_commands: 10,
        unrecognized_commands: 10,
    };
    const DAY: Day = Day {
        index: 20_000,
        month: (2024, 10),
    };

    #[test]
    fn key_problems_are_said_without_the_key() {
        assert_eq!(
            key_problem("re_test").unwrap().to_string(),
            "4 characters after re_, a key has at least 8 (re_ then at least 8 of A-Z a-z 0-9 _)"
        );
        assert_eq!(
            key_problem("re_abc\tdefghij").unwrap().to_string(),
            "it holds `\\t` (a tab), which a key never does (re_ then at least 8 of A-Z a-z 0-9 _)"
        );
        assert_eq!(key_problem("re_1").unwrap(), KeyProblem::TooShort(1));
        assert_eq!(key_problem("RE_12345678"), Some(KeyProblem::NoPrefix));
        assert_eq!(key_problem("re_12345678"), None);
        assert_eq!(key_problem("re_a_b_c_d_e_"), None);
    }

    #[test]
    fn login_order_and_keys() {
        let any = Account::default();
        assert_eq!(
            any.login(b"resend", b"re_12345678"),
            Ok(Grant {
                domain: None,
                sending_only: false,
                digest: digest(b"re_12345678"),
            })
        );
        assert_eq!(
            any.login(b"Resend", b"re_12345678"),
            Err(LoginError::InvalidUsername)
        );
        assert_eq!(
            any.login(b"me@x.com", b"garbage"),
            Err(LoginError::InvalidUsername)
        );
        assert_eq!(
            any.login(b"resend", b"re_short"),
            Err(LoginError::MalformedKey(KeyProblem::TooShort(5)))
        );
        assert_eq!(
            any.login(b"resend", b"hunter2hunter2"),
            Err(LoginError::MalformedKey(KeyProblem::NoPrefix))
        );
        assert_eq!(
            any.login(b"resend", b"re_abc-defgh-ijk"),
            Err(LoginError::MalformedKey(KeyProblem::BadChar('-')))
        );
        let mut listed = Account::default();
        listed.apply(&AccountFile {
            keys: Some(vec![
                KeySpec {
                    key: "re_good_key_1".into(),
                    revoked: false,
                    permission: Permission::FullAccess,
                    domain: None,
                },
                KeySpec {
                    key: "re_old_key_22".into(),
                    revoked: true,
                    permission: Permission::FullAccess,
                    domain: None,
                },
                KeySpec {
                    key: "re_send_only_3".into(),
                    revoked: false,
                    permission: Permission::SendingAccess,
                    domain: Some("a.com".into()),
                },
            ]),
            ..AccountFile::default()
        });
        assert!(listed.login(b"resend", b"re_good_key_1").is_ok());
        assert_eq!(
            listed.login(b"resend", b"re_old_key_22"),
            Err(LoginError::InvalidKey)
        );
        assert_eq!(
            listed.login(b"resend", b"re_unlisted_44"),
            Err(LoginError::InvalidKey)
        );
        assert_eq!(
            listed.login(b"resend", b"re_send_only_3"),
            Ok(Grant {
                domain: Some("a.com".into()),
                sending_only: true,
                digest: digest(b"re_send_only_3"),
            })
        );
    }

    #[test]
    fn verification() {
        let mut a = Account::default();
        let shared = vec!["resend.dev".to_string()];
        assert!(a.domain_verified("anything.io", &shared));
        a.apply(&AccountFile {
            verified_domains: Some(vec!["Acme.com".into()]),
            ..AccountFile::default()
        });
        assert!(a.domain_verified("acme.com", &shared));
        assert!(a.domain_verified("mail.acme.com", &shared));
        assert!(!a.domain_verified("notacme.com", &shared));
        assert!(a.domain_verified("resend.dev", &shared));
    }

    #[test]
    fn rate_window_slides() {
        let mut u = Usage::default();
        let t0 = Instant::now();
        assert_eq!(u.admit(&LIMITS, t0, DAY, 1), Ok(()));
        assert_eq!(
            u.admit(&LIMITS, t0 + Duration::from_millis(100), DAY, 1),
            Ok(())
        );
        assert_eq!(
            u.admit(&LIMITS, t0 + Duration::from_millis(200), DAY, 1),
            Err(Exceeded::Rate)
        );
        // 1.15 s after the first: the first two have left the window, the refused attempt has not
        assert_eq!(
            u.admit(&LIMITS, t0 + Duration::from_millis(1150), DAY, 1),
            Ok(())
        );
        assert_eq!(
            u.admit(&LIMITS, t0 + Duration::from_millis(1180), DAY, 1),
            Err(Exceeded::Rate)
        );
    }

    #[test]
    fn quotas_count_recipients_and_reset() {
        let mut u = Usage::preset(98, 0);
        let mut t = Instant::now();
        let mut next = || {
            t += Duration::from_secs(2);
            t
        };
        assert_eq!(u.admit(&LIMITS, next(), DAY, 2), Ok(()));
        assert_eq!(u.admit(&LIMITS, next(), DAY, 1), Err(Exceeded::Daily));
        let tomorrow = Day {
            index: DAY.index + 1,
            month: DAY.month,
        };
        // the preset applies to the first day only
        assert_eq!(u.admit(&LIMITS, next(), tomorrow, 50), Ok(()));
        let mut m = Usage::preset(0, 2999);
        assert_eq!(m.admit(&LIMITS, next(), DAY, 2), Err(Exceeded::Monthly));
        let none = Limits {
            per_second: 0,
            per_day: 0,
            per_month: 0,
            ..LIMITS
        };
        for _ in 0..10 {
            assert_eq!(m.admit(&none, t, DAY, 10), Ok(()));
        }
    }
}
