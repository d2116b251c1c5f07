//! The names of the profile's replies, as a type: code asks the profile for
//! `ReplyName::InvalidKey`, never for a string, and `explain` keys off the
//! same names. A reply that came from elsewhere (a real relay, a tape) is
//! recognised here, once, by its code and a few words of Resend's wording.

use std::fmt;

macro_rules! reply_names {
    ($($variant:ident = $name:literal,)*) => {
        /// A reply of the profile, by name (the keys of `[replies]` in
        /// `fixtures/resend.toml`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ReplyName {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl ReplyName {
            /// Every name, in the order of the built-in profile.
            pub const ALL: &'static [ReplyName] = &[$(ReplyName::$variant),*];

            /// The name as the profile file writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ReplyName::$variant => $name,)*
                }
            }

            /// The name a profile file wrote, if it is one.
            pub fn parse(name: &str) -> Option<ReplyName> {
                match name {
                    $($name => Some(ReplyName::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

reply_names! {
    Greeting = "greeting",
    Ehlo = "ehlo",
    Helo = "helo",
    Noop = "noop",
    Rset = "rset",
    Vrfy = "vrfy",
    Help = "help",
    Quit = "quit",
    Starttls = "starttls",
    StarttlsUnavailable = "starttls_unavailable",
    StarttlsActive = "starttls_active",
    AuthPlainPrompt = "auth_plain_prompt",
    AuthUsernamePrompt = "auth_username_prompt",
    AuthPasswordPrompt = "auth_password_prompt",
    AuthOk = "auth_ok",
    InvalidUsername = "invalid_username",
    InvalidKey = "invalid_key",
    TlsRequired = "tls_required",
    AuthCancelled = "auth_cancelled",
    AuthBadBase64 = "auth_bad_base64",
    AuthUnknownMechanism = "auth_unknown_mechanism",
    AuthAlready = "auth_already",
    AuthRequired = "auth_required",
    NeedHelo = "need_helo",
    NeedMail = "need_mail",
    NeedRcpt = "need_rcpt",
    NestedMail = "nested_mail",
    MailOk = "mail_ok",
    RcptOk = "rcpt_ok",
    Data = "data",
    Accepted = "accepted",
    SyntaxError = "syntax_error",
    BadArguments = "bad_arguments",
    BadAddress = "bad_address",
    UnknownCommand = "unknown_command",
    UnknownParameter = "unknown_parameter",
    LineTooLong = "line_too_long",
    TooManyUnrecognized = "too_many_unrecognized",
    TooManyUnauthenticated = "too_many_unauthenticated",
    TooManyErrors = "too_many_errors",
    IdleTimeout = "idle_timeout",
    TooManyConnections = "too_many_connections",
    ShuttingDown = "shutting_down",
    LineTimeout = "line_timeout",
    DataTooSlow = "data_too_slow",
    BodyMemory = "body_memory",
    MailboxFull = "mailbox_full",
    MailboxWriteFailed = "mailbox_write_failed",
    TooManyRecipientsSession = "too_many_recipients_session",
    InvalidFrom = "invalid_from",
    ReservedDomain = "reserved_domain",
    UnverifiedDomain = "unverified_domain",
    Sandbox = "sandbox",
    TooManyRecipients = "too_many_recipients",
    ApiKeyInvalid = "api_key_invalid",
    KeyRestricted = "key_restricted",
    KeyDomainUnverified = "key_domain_unverified",
    RateLimited = "rate_limited",
    DailyQuota = "daily_quota",
    MonthlyQuota = "monthly_quota",
    InvalidIdempotencyKey = "invalid_idempotency_key",
    IdempotencyConflict = "idempotency_conflict",
    IdempotencyInProgress = "idempotency_in_progress",
    MessageTooBig = "message_too_big",
    TemporaryFailure = "temporary_failure",
}

impl fmt::Display for ReplyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which reply of Resend's a reply from elsewhere (a real relay, a tape, an
/// older version of the wording) most likely is: by its code and a few words
/// that stay when the wording changes. `after_data`: it answers the final dot.
/// `None` when it is none of those `explain` has something to say about.
pub fn recognise(code: u16, text: &str, after_data: bool) -> Option<ReplyName> {
    use ReplyName as N;
    let lower = text.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let name = match code {
        235 => N::AuthOk,
        250 if after_data => N::Accepted,
        535 if has(&["invalid username"]) => N::InvalidUsername,
        535 => N::InvalidKey,
        538 | 530 if has(&["starttls", "tls", "encryption"]) => N::TlsRequired,
        530 => N::AuthRequired,
        550 if has(&["only send testing emails", "sandbox"]) => N::Sandbox,
        550 if has(&["associated domain with your api key"]) => N::KeyDomainUnverified,
        550 if has(&["not authorized to send emails from"]) => N::KeyRestricted,
        550 if has(&["idempotency key"]) => N::IdempotencyConflict,
        550 if has(&["api key is invalid"]) => N::ApiKeyInvalid,
        550 if has(&["not verified"]) => N::UnverifiedDomain,
        550 | 553 | 501 if has(&["invalid `from`", "from` field"]) => N::InvalidFrom,
        550 if has(&["invalid `to`", "testing email address"]) => N::ReservedDomain,
        421 | 450 | 451 | 550 if has(&["too many requests", "rate limit"]) => N::RateLimited,
        550 | 452 | 421 if has(&["monthly"]) && has(&["quota"]) => N::MonthlyQuota,
        550 | 452 | 421 if has(&["quota"]) => N::DailyQuota,
        550 if has(&["api key", "restricted"]) => N::KeyRestricted,
        552 => N::MessageTooBig,
        550 | 452 if has(&["too many recipients"]) => N::TooManyRecipients,
        421 if has(&["end of the command line"]) => N::LineTimeout,
        421 if has(&["too slow"]) => N::DataTooSlow,
        421 if has(&["timeout", "timed out"]) => N::IdleTimeout,
        452 if has(&["in flight"]) => N::BodyMemory,
        452 if has(&["could not be saved"]) => N::MailboxFull,
        451 if has(&["could not be saved"]) => N::MailboxWriteFailed,
        421 => N::TemporaryFailure,
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for n in ReplyName::ALL {
            assert_eq!(ReplyName::parse(n.as_str()), Some(*n));
        }
        assert_eq!(ReplyName::parse("no_such_reply"), None);
    }
}
