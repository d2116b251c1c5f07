//! The checks Resend's API makes before it sends, in its order, for both
//! doors: SMTP answers a refusal with a 550 after the final dot, the REST API
//! with its JSON error. One account, one rate counter, one set of quotas.

use std::time::Instant;

use super::headers::domain_of;
use super::responder::MockShared;
use crate::resend::account::Day;
use crate::resend::{Exceeded, Grant, ReplyName};
use crate::smtp::is_valid_mailbox;

/// Why a message is refused: the reply name (the same in the SMTP profile
/// and the REST errors) and its placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The reply's name in the profile (an SMTP reply, and the REST error
    /// of the same name).
    pub name: ReplyName,
    /// Its placeholders.
    pub vars: Vec<(&'static str, String)>,
}

impl Refusal {
    fn of(name: ReplyName) -> Refusal {
        Refusal {
            name,
            vars: Vec::new(),
        }
    }

    fn with(name: ReplyName, key: &'static str, value: impl Into<String>) -> Refusal {
        Refusal {
            name,
            vars: vec![(key, value.into())],
        }
    }

    /// The placeholders as the profile takes them.
    pub fn vars(&self) -> Vec<(&str, &str)> {
        self.vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

impl MockShared {
    /// Judges one message from `from` to `rcpts` (every to, cc and bcc) sent
    /// with `grant`; when it passes, it is counted against the rate and the
    /// quotas.
    pub fn judge(
        &self,
        grant: Option<&Grant>,
        from: &str,
        rcpts: &[String],
    ) -> Result<(), Refusal> {
        self.check(grant, from, rcpts)?;
        self.admit(rcpts.len() as u64)
    }

    /// The account's checks of one message, without counting it.
    pub fn check(
        &self,
        grant: Option<&Grant>,
        from: &str,
        rcpts: &[String],
    ) -> Result<(), Refusal> {
        let st = self.settings();
        if !is_valid_mailbox(from) {
            return Err(Refusal::of(ReplyName::InvalidFrom));
        }
        // A key deleted through the API after this session logged in with it.
        let deleted = grant.is_some_and(|g| self.directory().is_deleted(&g.digest));
        if st.behaviour.key_invalid_at_send || deleted {
            return Err(Refusal::of(ReplyName::ApiKeyInvalid));
        }
        let from_domain = domain_of(from).unwrap_or_default();
        // A key tied to one domain: judged before anything about the message.
        if let Some(key_domain) = grant.and_then(|g| g.domain.as_ref()) {
            if !self.domain_verified(key_domain) {
                return Err(Refusal::of(ReplyName::KeyDomainUnverified));
            }
            if *key_domain != from_domain && !from_domain.ends_with(&format!(".{key_domain}")) {
                return Err(Refusal::with(
                    ReplyName::KeyRestricted,
                    "domain",
                    from_domain,
                ));
            }
        }
        for rcpt in rcpts {
            let d = domain_of(rcpt).unwrap_or_default();
            if let Some(r) = st
                .profile
                .reserved_domains
                .iter()
                .find(|r| d == **r || d.ends_with(&format!(".{r}")))
            {
                return Err(Refusal::with(
                    ReplyName::ReservedDomain,
                    "domain",
                    r.clone(),
                ));
            }
        }
        if !self.domain_verified(&from_domain) {
            return Err(Refusal::with(
                ReplyName::UnverifiedDomain,
                "domain",
                from_domain,
            ));
        }
        if let Some(owner) = &st.account.owner {
            let allowed =
                |r: &String| r.eq_ignore_ascii_case(owner) || st.profile.test_address(r).is_some();
            if !rcpts.iter().all(allowed) {
                return Err(Refusal::with(ReplyName::Sandbox, "owner", owner.clone()));
            }
        }
        if st.limits.recipients > 0 && rcpts.len() as u64 > st.limits.recipients {
            return Err(Refusal::with(
                ReplyName::TooManyRecipients,
                "max",
                st.limits.recipients.to_string(),
            ));
        }
        Ok(())
    }

    /// Counts one request with `recipients` recipients against the team's
    /// rate and quotas (a scenario may refuse every one as too fast).
    pub fn admit(&self, recipients: u64) -> Result<(), Refusal> {
        let st = self.settings();
        let per_second = st.limits.per_second.to_string();
        if st.behaviour.rate_limited {
            return Err(Refusal::with(
                ReplyName::RateLimited,
                "per_second",
                per_second,
            ));
        }
        let admitted = self
            .usage()
            .admit(&st.limits, Instant::now(), Day::today(), recipients);
        match admitted {
            Ok(()) => Ok(()),
            Err(Exceeded::Rate) => Err(Refusal::with(
                ReplyName::RateLimited,
                "per_second",
                per_second,
            )),
            Err(Exceeded::Daily) => Err(Refusal::of(ReplyName::DailyQuota)),
            Err(Exceeded::Monthly) => Err(Refusal::of(ReplyName::MonthlyQuota)),
        }
    }
}
