//! Plain-language explanations of what a relay said, with the fix, from what
//! Resend's users actually run into. One table, shared by `show`, `check`
//! and the live view: what a reply means is Resend knowledge, keyed by the
//! reply's name ([`ReplyName`]), so it lives here beside the profile rather
//! than with the tools that print it.

use crate::resend::{ReplyName, recognise};
use crate::smtp::own::{self, Own};
use crate::tape::EventKind;

/// Who the explanation applies to, by the user name of the last AUTH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// Any user name (or none seen).
    Any,
    /// A user name other than `resend`.
    NotResend,
    /// The user name `resend`.
    Resend,
}

impl User {
    /// The condition a user name meets.
    pub fn of(name: &str) -> User {
        if name == crate::resend::account::USERNAME {
            User::Resend
        } else {
            User::NotResend
        }
    }
}

/// What a reply is about: a reply of the profile, by name, or one of
/// mailtape's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// A reply of Resend's (named by the mock, or recognised).
    Reply(ReplyName),
    /// Replay: the client departed from the tape (451 `mailtape replay: …`).
    ReplayDiverged,
    /// Record: the relay could not be reached or talked to (421 `mailtape: upstream …`).
    UpstreamFailed,
    /// REST: no `Authorization: Bearer` key (`missing_api_key`).
    RestMissingKey,
    /// REST: the key is not one of the account's, or was deleted
    /// (`invalid_api_key`).
    RestInvalidKey,
    /// REST: a sending-only key on an endpoint that is not sending
    /// (`restricted_api_key`).
    RestRestrictedKey,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// What it explains.
    pub topics: &'static [Topic],
    /// Whether it applies only after the final dot of DATA.
    pub after_data: Option<bool>,
    /// The user name condition.
    pub user: User,
    /// Whether this is good news (a success callout) rather than a failure.
    pub ok: bool,
    /// The explanation, with the fix.
    pub says: &'static str,
}

const fn rule(topics: &'static [Topic], says: &'static str) -> Rule {
    Rule {
        topics,
        after_data: None,
        user: User::Any,
        ok: false,
        says,
    }
}

use ReplyName as N;
use Topic::Reply as R;

/// The table, most specific first: the first rule that matches explains.
pub const RULES: &[Rule] = &[
    Rule {
        ok: true,
        ..rule(
            &[R(N::AuthOk)],
            "credentials accepted: the user name and the API key are right",
        )
    },
    Rule {
        ok: true,
        after_data: Some(true),
        ..rule(
            &[R(N::Accepted)],
            "message accepted: the relay took the email for delivery",
        )
    },
    Rule {
        user: User::NotResend,
        ..rule(
            &[R(N::InvalidUsername), R(N::InvalidKey)],
            "the user name must be the literal lowercase `resend` (not your email address or account name); the password is your API key",
        )
    },
    rule(
        &[R(N::InvalidUsername)],
        "the user name must be the literal lowercase `resend` (not your email address or account name); the password is your API key",
    ),
    rule(
        &[R(N::InvalidKey)],
        "the password must be a Resend API key, re_ then at least 8 of A-Z a-z 0-9 _ (not your dashboard password); a key of that shape may be revoked or lack sending access: create one at resend.com/api-keys",
    ),
    rule(
        &[R(N::TlsRequired)],
        "encryption first: send STARTTLS before AUTH (port 587 or 2587), or connect with implicit TLS (port 465 or 2465)",
    ),
    rule(
        &[R(N::AuthRequired)],
        "log in first: the relay needs AUTH (user `resend`, password your API key) before MAIL",
    ),
    rule(
        &[R(N::Sandbox)],
        "sandbox: until a domain is verified, a new account may only send to its owner's address; verify a domain and request production access at resend.com/domains",
    ),
    rule(
        &[R(N::KeyDomainUnverified)],
        "the API key is limited to one domain, and that domain is not verified: verify it at resend.com/domains, or create a key with full access or for a verified domain at resend.com/api-keys",
    ),
    rule(
        &[
            R(N::IdempotencyConflict),
            R(N::InvalidIdempotencyKey),
            R(N::IdempotencyInProgress),
        ],
        "the Resend-Idempotency-Key was already used in the last 24 hours for a different message (or is longer than 256 characters): use a new key for a new message (a retry of the same message gets the first email's id)",
    ),
    rule(
        &[R(N::ApiKeyInvalid)],
        "the API refused the key after AUTH let it through: it was revoked or deleted while the connection stayed open; create a key at resend.com/api-keys and reconnect",
    ),
    rule(
        &[R(N::UnverifiedDomain)],
        "authentication worked, but the From domain is not verified: add it at resend.com/domains and publish its SPF and DKIM (and DMARC) DNS records",
    ),
    rule(
        &[R(N::InvalidFrom)],
        "the From address must look like `email@example.com` or `Name <email@example.com>`",
    ),
    rule(
        &[R(N::ReservedDomain)],
        "reserved domains such as example.com are refused: send to Resend's test addresses delivered@resend.dev, bounced@resend.dev or complained@resend.dev",
    ),
    rule(
        &[R(N::RateLimited)],
        "rate limited: Resend allows 5 requests per second per team by default (2 for older teams); wait a moment and retry (a 4xx reply means the client should retry by itself)",
    ),
    rule(
        &[R(N::DailyQuota), R(N::MonthlyQuota)],
        "sending quota used up: the free tier allows 100 emails a day and 3,000 a month, and every to, cc and bcc recipient counts; the day resets at midnight UTC",
    ),
    rule(
        &[R(N::KeyRestricted)],
        "the API key is limited to sending from another domain: send From that domain, or use a key with full access (resend.com/api-keys)",
    ),
    rule(
        &[R(N::MessageTooBig)],
        "message too large: Resend takes up to 40 MB per email, attachments included after base64",
    ),
    rule(
        &[R(N::TooManyRecipients), R(N::TooManyRecipientsSession)],
        "too many recipients: up to 50 per email; split the list or use batch sending",
    ),
    rule(
        &[Topic::RestMissingKey],
        "no API key: send `Authorization: Bearer re_…` with a key from resend.com/api-keys (the SDKs read it from RESEND_API_KEY)",
    ),
    rule(
        &[Topic::RestInvalidKey],
        "the API key is not one of this account's, or was deleted: create one at resend.com/api-keys and use it whole, re_ then at least 8 of A-Z a-z 0-9 _",
    ),
    rule(
        &[Topic::RestRestrictedKey],
        "this key has sending access only: it may call POST /emails and /emails/batch, nothing else; use a key with full access for the rest (resend.com/api-keys)",
    ),
    rule(
        &[Topic::ReplayDiverged],
        "the client departed from the tape: it sent something other than what was recorded",
    ),
    rule(
        &[Topic::UpstreamFailed],
        "mailtape could not reach or talk to the relay: see the reason; check the host, the port and the TLS mode (465 implicit, 587 STARTTLS)",
    ),
    rule(
        &[R(N::IdleTimeout)],
        "the server gave up waiting: the client was idle too long",
    ),
    rule(
        &[R(N::LineTimeout), R(N::DataTooSlow)],
        "the client sent too slowly: a command line must be complete within the idle timeout, and a message must arrive at 1,024 octets a second or more",
    ),
    rule(
        &[R(N::BodyMemory)],
        "mailtape holds too much mail in flight right now (--max-body-memory): the client should retry in a moment",
    ),
    rule(
        &[R(N::MailboxFull), R(N::MailboxWriteFailed)],
        "mailtape could not save the message in --mailbox (see the write_error on stderr): free some space or fix the folder; the client should retry",
    ),
    rule(
        &[
            R(N::TemporaryFailure),
            R(N::TooManyConnections),
            R(N::TooManyErrors),
            R(N::TooManyUnrecognized),
            R(N::TooManyUnauthenticated),
            R(N::ShuttingDown),
        ],
        "a temporary failure: the server closed the connection; retry after a pause",
    ),
];

/// What a reply from elsewhere (a relay, a tape) is about: mailtape's own
/// replies by the prefix their code writes, Resend's by [`recognise`].
pub fn topic_of(code: u16, text: &str, after_data: bool) -> Option<Topic> {
    match own::recognise(code, text) {
        Some(Own::Diverged) => return Some(Topic::ReplayDiverged),
        Some(Own::Upstream) => return Some(Topic::UpstreamFailed),
        None => {}
    }
    recognise(code, text, after_data).map(Topic::Reply)
}

/// What an error of Resend's REST API is about, by its `name` — Resend's own
/// key for it, as `ReplyName` is the profile's — and, for the catch-all
/// `validation_error`, by its message, which Resend words as the relay
/// does (a sandbox, an unverified domain, a reserved address).
pub fn topic_of_rest(name: &str, message: &str) -> Option<Topic> {
    use ReplyName as N;
    let reply = match name {
        "missing_api_key" => return Some(Topic::RestMissingKey),
        "invalid_api_key" => return Some(Topic::RestInvalidKey),
        "restricted_api_key" => return Some(Topic::RestRestrictedKey),
        "invalid_from_address" => N::InvalidFrom,
        "invalid_idempotency_key" => N::InvalidIdempotencyKey,
        "invalid_idempotent_request" => N::IdempotencyConflict,
        "concurrent_idempotent_requests" => N::IdempotencyInProgress,
        "rate_limit_exceeded" => N::RateLimited,
        "daily_quota_exceeded" => N::DailyQuota,
        "monthly_quota_exceeded" => N::MonthlyQuota,
        "validation_error" => return recognise(550, message, true).map(Topic::Reply),
        _ => return None,
    };
    Some(Topic::Reply(reply))
}

/// The topic of a REST answer's body line, if it is one of Resend's errors
/// (`{"statusCode":…,"name":…,"message":…}`).
fn rest_error_topic(line: &str) -> Option<Topic> {
    if !line.starts_with('{') || !line.contains("\"name\"") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("statusCode")?;
    let name = v.get("name")?.as_str()?;
    let message = v.get("message").and_then(|m| m.as_str()).unwrap_or("");
    topic_of_rest(name, message)
}

/// Explains a topic, if the table has something to say.
pub fn explain_topic(topic: Topic, user: User, after_data: bool) -> Option<Said> {
    RULES
        .iter()
        .find(|r| {
            r.topics.contains(&topic)
                && r.after_data.is_none_or(|a| a == after_data)
                && match r.user {
                    User::Any => true,
                    u => u == user,
                }
        })
        .map(|r| Said {
            text: r.says,
            ok: r.ok,
        })
}

/// What Resend's REST errors that have no SMTP twin mean, by their `name`.
const REST_RULES: &[(&str, &str)] = &[
    (
        "missing_api_key",
        "no API key was sent: the call needs `Authorization: Bearer re_…` (the SDKs send the key they were made with: `new Resend(key)`, `resend.api_key`)",
    ),
    (
        "invalid_api_key",
        "the API key is not valid: mistyped, revoked or deleted; create one at resend.com/api-keys (an SMTP password is a key too, a dashboard password is not)",
    ),
    (
        "restricted_api_key",
        "this API key may only send emails (sending access): reading emails, domains or keys needs a key with full access",
    ),
    (
        "not_found",
        "not found: no such id on this account, or no such endpoint (ids come from the account's own answers)",
    ),
    (
        "method_not_allowed",
        "this endpoint does not take that method: check the API reference for the path",
    ),
    (
        "missing_required_field",
        "a required field is missing (the message names it): `from`, `to` and `subject` are needed to send",
    ),
    (
        "invalid_attachment",
        "an attachment needs its `content` (base64) or a `path` (a URL) to fetch it from",
    ),
    (
        "invalid_parameter",
        "a parameter is malformed (the message names it): ids are UUIDs",
    ),
    (
        "validation_error",
        "the request was refused by validation: the message says which field and why",
    ),
    (
        "application_error",
        "Resend failed on its side: retry later (a 5xx is not about the request)",
    ),
];

/// Said of mailtape record's own REST errors (`mailtape record: …`).
const REST_UPSTREAM: &str = "mailtape could not get an answer from the REST upstream: see the reason; check --rest-upstream (https://api.resend.com) and, for a local upstream, --rest-upstream-ca";

/// Explains one of Resend's REST errors (`{"statusCode","name","message"}`):
/// by its `name`, and for the names that cover several refusals
/// (`validation_error`) by the words of its message, as the SMTP replies of
/// the same refusals are recognised; mailtape's own errors by their prefix.
pub fn explain_rest(status: u16, name: &str, message: &str) -> Option<Said> {
    let said = |text| Some(Said { text, ok: false });
    if message.starts_with("mailtape replay:") {
        return explain_topic(Topic::ReplayDiverged, User::Any, false);
    }
    if message.starts_with("mailtape record:") {
        return said(REST_UPSTREAM);
    }
    let reply = match name {
        "rate_limit_exceeded" => Some(N::RateLimited),
        "daily_quota_exceeded" => Some(N::DailyQuota),
        "monthly_quota_exceeded" => Some(N::MonthlyQuota),
        "invalid_idempotent_request"
        | "concurrent_idempotent_requests"
        | "invalid_idempotency_key" => Some(N::IdempotencyConflict),
        "invalid_from_address" => Some(N::InvalidFrom),
        _ if message.to_ascii_lowercase().contains("api key is invalid") => {
            return REST_RULES
                .iter()
                .find(|(n, _)| *n == "invalid_api_key")
                .and_then(|(_, says)| said(says));
        }
        // The other refusals of a message carry the words of their SMTP twin.
        "validation_error" | "email_above_quota" | "invalid_access" => {
            recognise(550, message, true).filter(|n| *n != N::Accepted)
        }
        _ => None,
    };
    if let Some(n) = reply
        && let Some(s) = explain_topic(Topic::Reply(n), User::Resend, true)
    {
        return Some(s);
    }
    let _ = status;
    REST_RULES
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, says)| said(says))
}

/// Said under a REST send that was accepted.
const REST_ACCEPTED: &str = "email accepted: the API answered with its id";

/// Said when no greeting came (a silent server, a timeout).
pub const NO_GREETING: &str = "no greeting: the port may be blocked by your network or host (port 25 often is, and Resend does not support it); try 587 with STARTTLS or 465 with implicit TLS";

/// What an explanation says, and whether it is good news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Said {
    /// The text.
    pub text: &'static str,
    /// True for the two moments that matter going right (235, 250 after DATA).
    pub ok: bool,
}

/// Finds the explanation of one final reply line from elsewhere (a relay,
/// a tape): what it is about first, then what the table says of that.
pub fn explain(code: u16, text: &str, user: User, after_data: bool) -> Option<Said> {
    explain_topic(topic_of(code, text, after_data)?, user, after_data)
}

/// Walks a session's events and explains the replies that need it,
/// remembering the AUTH user name and whether DATA just ended.
#[derive(Debug, Default)]
pub struct Explainer {
    user: Option<String>,
    after_data: bool,
    replied: bool,
    /// The request line, in an HTTP exchange (a REST session).
    http_request: Option<String>,
    /// Its status, once the answer's first line is in.
    http_status: Option<u16>,
}

impl Explainer {
    /// A fresh explainer for one session.
    pub fn new() -> Explainer {
        Explainer::default()
    }

    /// Takes the next event; returns what to say under it, if anything.
    pub fn observe(&mut self, kind: &EventKind) -> Option<Said> {
        self.observe_named(kind, None)
    }

    /// [`Explainer::observe`] for a reply whose profile name is known (the
    /// mock's own replies): the name, not the text, says what it is.
    pub fn observe_named(&mut self, kind: &EventKind, name: Option<ReplyName>) -> Option<Said> {
        if let Some(request) = &self.http_request {
            return match kind {
                EventKind::Server(line) if self.http_status.is_none() => {
                    self.http_status = line.get(..3).and_then(|c| c.parse().ok());
                    None
                }
                EventKind::Server(line) if line.starts_with('{') => {
                    let status = self.http_status.unwrap_or(0);
                    if let Some((name, message)) = crate::tape::http::resend_error(line) {
                        return explain_rest(status, &name, &message);
                    }
                    let sent = (200..300).contains(&status)
                        && request.starts_with("POST /emails")
                        && (line.contains("\"id\"") || line.contains("\"data\""));
                    sent.then_some(Said {
                        text: REST_ACCEPTED,
                        ok: true,
                    })
                }
                _ => None,
            };
        }
        match kind {
            EventKind::Client(line) if !self.replied && is_request_line(line) => {
                self.http_request = Some(line.clone());
                None
            }
            EventKind::Client(line) => {
                if let Some(u) = line.split("user=").nth(1) {
                    self.user = Some(u.split([' ', '>']).next().unwrap_or("").to_string());
                }
                self.after_data = line == ".";
                None
            }
            EventKind::Server(line) if line.starts_with('{') => {
                // A REST answer's body: Resend's error, by its name.
                self.replied = true;
                let user = self.user.as_deref().map_or(User::Any, User::of);
                rest_error_topic(line).and_then(|t| explain_topic(t, user, false))
            }
            EventKind::Server(line) => {
                self.replied = true;
                // Only the last line of a reply is explained.
                if line.as_bytes().get(3) == Some(&b'-') {
                    return None;
                }
                let code: u16 = line.get(..3)?.parse().ok()?;
                let text = line.get(4..).unwrap_or("");
                let user = self.user.as_deref().map_or(User::Any, User::of);
                let topic = match name {
                    Some(n) => Some(Topic::Reply(n)),
                    None => topic_of(code, text, self.after_data),
                };
                let said = topic.and_then(|t| explain_topic(t, user, self.after_data));
                self.after_data = false;
                said
            }
            EventKind::Note(n)
                if !self.replied && (n.contains("idle timeout") || n.starts_with("closed")) =>
            {
                self.replied = true;
                Some(Said {
                    text: NO_GREETING,
                    ok: false,
                })
            }
            _ => None,
        }
    }
}

/// `POST /emails`: the first line of an HTTP exchange, never an SMTP command.
fn is_request_line(line: &str) -> bool {
    line.split_once(' ').is_some_and(|(m, t)| {
        !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) && t.starts_with('/')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn says(code: u16, text: &str, user: User, after_data: bool) -> &'static str {
        explain(code, text, user, after_data)
            .map(|s| s.text)
            .unwrap_or("")
    }

    #[test]
    fn the_failures_resend_users_run_into() {
        assert!(
            says(535, "Invalid username", User::Any, false).contains("literal lowercase `resend`")
        );
        assert!(
            says(535, "Authentication failed", User::NotResend, false)
                .contains("literal lowercase `resend`")
        );
        assert!(
            says(535, "Authentication failed", User::Resend, false).contains("re_ then at least 8")
        );
        assert!(
            says(
                535,
                "Authentication credentials invalid",
                User::Resend,
                false
            )
            .contains("revoked")
        );
        assert!(
            says(
                538,
                "Error: Must issue a STARTTLS command first",
                User::Any,
                false
            )
            .contains("STARTTLS before AUTH")
        );
        assert!(says(530, "Must issue a STARTTLS command first", User::Any, false).contains("587"));
        assert!(says(530, "Authentication required", User::Any, false).contains("log in first"));
        assert!(says(550, "The acme.com domain is not verified. Please, add and verify your domain on https://resend.com/domains", User::Resend, true).contains("SPF and DKIM"));
        assert!(
            says(550, "Sender address not verified", User::Resend, true).contains("not verified")
        );
        assert!(
            says(
                550,
                "You can only send testing emails to your own email address (a@b.c).",
                User::Resend,
                true
            )
            .contains("sandbox")
        );
        assert!(
            says(
                550,
                "Invalid `from` field. The email address needs to follow",
                User::Resend,
                false
            )
            .contains("Name <email@example.com>")
        );
        assert!(says(550, "Invalid `to` field. Please use our testing email address instead of domains like `example.com`.", User::Resend, true).contains("delivered@resend.dev"));
        assert!(
            says(
                421,
                "Too many requests. You can only make 2 requests per second.",
                User::Resend,
                true
            )
            .contains("5 requests per second")
        );
        assert!(
            says(
                550,
                "Too many requests. You can only make 2 requests per second.",
                User::Resend,
                true
            )
            .contains("rate limited")
        );
        assert!(
            says(
                550,
                "You have exceeded your daily email sending quota.",
                User::Resend,
                true
            )
            .contains("100 emails a day")
        );
        assert!(says(552, "Message size exceeds the limit", User::Resend, true).contains("40 MB"));
        assert!(
            says(
                421,
                "mailtape: upstream smtp.resend.com:465 cannot be reached",
                User::Any,
                false
            )
            .contains("TLS mode")
        );
    }

    #[test]
    fn rest_errors_are_explained_by_name() {
        let rest = |status, name, message| {
            explain_rest(status, name, message)
                .map(|s| s.text)
                .unwrap_or("")
        };
        assert!(rest(401, "missing_api_key", "Missing API key").contains("Authorization: Bearer"));
        assert!(rest(401, "validation_error", "API key is invalid").contains("revoked"));
        assert!(
            rest(
                403,
                "validation_error",
                "You can only send testing emails to your own email address (a@b.co)."
            )
            .contains("sandbox")
        );
        assert!(rest(403, "validation_error", "The acme.com domain is not verified. Please, add and verify your domain on https://resend.com/domains").contains("SPF and DKIM"));
        assert!(rest(429, "rate_limit_exceeded", "Too many requests.").contains("rate limited"));
        assert!(rest(429, "daily_quota_exceeded", "x").contains("100 emails a day"));
        assert!(rest(409, "invalid_idempotent_request", "x").contains("Idempotency-Key"));
        assert!(
            rest(
                422,
                "validation_error",
                "Invalid `from` field. The email address needs to follow"
            )
            .contains("Name <email@example.com>")
        );
        assert!(
            rest(
                500,
                "application_error",
                "mailtape replay: the tape holds no `POST /emails`"
            )
            .contains("departed from the tape")
        );
        assert!(
            rest(
                502,
                "application_error",
                "mailtape record: https://x cannot be reached"
            )
            .contains("--rest-upstream")
        );
        let mut e = Explainer::new();
        let lines = [
            EventKind::Client("POST /emails".into()),
            EventKind::Client("{\"from\":\"a@b.co\"}".into()),
            EventKind::Server("200 OK".into()),
            EventKind::Server("{\"id\":\"x\"}".into()),
        ];
        let said: Vec<_> = lines.iter().map(|k| e.observe(k)).collect();
        assert_eq!(said[3].map(|s| s.ok), Some(true));
        assert_eq!(said[2], None, "a status line is not an SMTP reply");
    }

    #[test]
    fn the_two_moments_that_matter() {
        assert_eq!(
            explain(235, "Authentication successful", User::Resend, false).map(|s| s.ok),
            Some(true)
        );
        assert_eq!(
            explain(250, "OK 0b8e", User::Resend, true).map(|s| s.ok),
            Some(true)
        );
        // a 250 to MAIL or RCPT is routine
        assert_eq!(explain(250, "Accepted", User::Resend, false), None);
        assert_eq!(
            explain(220, "smtp.resend.com ESMTP", User::Any, false),
            None
        );
    }

    #[test]
    fn the_explainer_follows_the_session() {
        let mut e = Explainer::new();
        let events = [
            EventKind::Server("220 x".into()),
            EventKind::Client("AUTH PLAIN <redacted user=me@acme.com key=re_…ab12>".into()),
            EventKind::Server("535 Authentication failed".into()),
        ];
        let said: Vec<_> = events.iter().map(|k| e.observe(k)).collect();
        assert!(said[2].unwrap().text.contains("literal lowercase"));
        let mut silent = Explainer::new();
        assert_eq!(
            silent
                .observe(&EventKind::Note("idle timeout".into()))
                .map(|s| s.text),
            Some(NO_GREETING)
        );
        // every rule is reachable: nothing is shadowed by an earlier, wider one
        for (i, r) in RULES.iter().enumerate() {
            let user = if r.user == User::Any {
                User::Resend
            } else {
                r.user
            };
            for t in r.topics {
                let hit = explain_topic(*t, user, r.after_data.unwrap_or(false)).unwrap();
                assert_eq!(hit.text, r.says, "rule {i} is shadowed for {t:?}");
            }
        }
    }

    /// The REST door's errors are explained by Resend's error `name` (and
    /// a `validation_error` by its message), as SMTP replies are by name.
    #[test]
    fn rest_errors_by_name() {
        let mut e = Explainer::new();
        let lines = [
            ("401 Unauthorized", None),
            (
                r#"{"statusCode":401,"name":"missing_api_key","message":"Missing API key in the authorization header."}"#,
                Some("Authorization: Bearer"),
            ),
            (
                r#"{"statusCode":429,"name":"daily_quota_exceeded","message":"You have reached your daily email sending quota."}"#,
                Some("100 emails a day"),
            ),
            (
                r#"{"statusCode":403,"name":"validation_error","message":"You can only send testing emails to your own email address (a@b.co)."}"#,
                Some("sandbox"),
            ),
            (
                r#"{"statusCode":403,"name":"invalid_api_key","message":"API key is invalid."}"#,
                Some("not one of this account's"),
            ),
            (r#"{"id":"4ef9a417-02e9-4d39-ad75-9611e0fcc33c"}"#, None),
            (
                r#"{"statusCode":404,"name":"not_found","message":"Email not found"}"#,
                None,
            ),
        ];
        for (line, want) in lines {
            let said = e.observe(&EventKind::Server(line.into()));
            match want {
                Some(w) => assert!(said.is_some_and(|s| s.text.contains(w)), "{line}: {said:?}"),
                None => assert_eq!(said, None, "{line}"),
            }
        }
    }
}
