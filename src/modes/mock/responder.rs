//! The mock: answers as Resend's relay would, from a profile, an account,
//! limits and a scenario's behaviour.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::options::MockSettings;
use crate::engine::responder::{DataOutcome, LocalEvent, Responder, Response, SessionState};
use crate::modes::mock::headers::{domain_of, first_address, header};
use crate::output::sink::{Message, Sink};
use crate::resend::ReplyName;
use crate::resend::account::Day;
use crate::resend::{Exceeded, Grant, LoginError, Profile, Usage};
use crate::smtp::{Command, ParseError, Reply, is_valid_mailbox, params};

/// Recipients one transaction may collect before RCPT is refused with 452:
/// far above the API's limit (checked after DATA), low enough to bound memory.
pub const MAX_SESSION_RECIPIENTS: usize = 1000;

/// State shared by every session of one mock server.
pub struct MockShared {
    settings: MockSettings,
    usage: Mutex<Usage>,
    temporary_failures: AtomicU32,
    sink: Arc<Sink>,
}

impl MockShared {
    /// Shared state for a server with these settings, delivering to `sink`.
    pub fn new(settings: MockSettings, sink: Arc<Sink>) -> Arc<MockShared> {
        Arc::new(MockShared {
            usage: Mutex::new(settings.usage.clone()),
            temporary_failures: AtomicU32::new(settings.behaviour.temporary_failures),
            settings,
            sink,
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &MockSettings {
        &self.settings
    }
}

enum AuthFlow {
    Plain,
    LoginUser,
    LoginPassword(Vec<u8>),
}

struct Transaction {
    from: String,
    rcpts: Vec<String>,
}

/// One session's mock.
pub struct Mock {
    shared: Arc<MockShared>,
    session: u64,
    helo: bool,
    grant: Option<Grant>,
    flow: Option<AuthFlow>,
    tx: Option<Transaction>,
}

impl Mock {
    /// The mock for one session.
    pub fn new(shared: Arc<MockShared>, session: u64) -> Mock {
        Mock {
            shared,
            session,
            helo: false,
            grant: None,
            flow: None,
            tx: None,
        }
    }

    fn p(&self) -> &Profile {
        &self.shared.settings.profile
    }

    fn reply(&self, name: ReplyName, vars: &[(&str, &str)]) -> Response {
        let b = &self.shared.settings.behaviour;
        if b.silent {
            return Response::default();
        }
        Response {
            reply: Some(self.p().reply(name, vars)),
            name: Some(name),
            delay: b.reply_delay,
            ..Response::default()
        }
    }

    fn ehlo(&mut self, s: &SessionState) -> Response {
        let p = self.p();
        let mut lines = vec![p.reply(ReplyName::Ehlo, &[]).lines.remove(0)];
        for kw in &p.ehlo {
            if s.starttls_available && kw.starts_with("AUTH") {
                lines.push("STARTTLS".into());
            }
            lines.push(kw.clone());
        }
        if s.starttls_available && !lines.iter().any(|l| l == "STARTTLS") {
            lines.push("STARTTLS".into());
        }
        let code = p.reply(ReplyName::Ehlo, &[]).code;
        let mut r = self.reply(ReplyName::Ehlo, &[]);
        if r.reply.is_some() {
            r.reply = Some(Reply::multi(code, lines));
        }
        r
    }

    fn auth(&mut self, s: &SessionState, mechanism: &str, initial: Option<&str>) -> Response {
        if !self.helo {
            return self.reply(ReplyName::NeedHelo, &[]);
        }
        if self.grant.is_some() {
            return self.reply(ReplyName::AuthAlready, &[]);
        }
        if s.listener == crate::engine::responder::ListenerKind::Starttls && !s.tls {
            return self.reply(ReplyName::TlsRequired, &[]);
        }
        let decode = |b64: &str| {
            if b64 == "=" {
                Ok(Vec::new())
            } else {
                STANDARD.decode(b64)
            }
        };
        match (mechanism.to_ascii_uppercase().as_str(), initial) {
            ("PLAIN", None) => {
                self.flow = Some(AuthFlow::Plain);
                self.reply(ReplyName::AuthPlainPrompt, &[])
            }
            ("PLAIN", Some("*")) => self.reply(ReplyName::AuthCancelled, &[]),
            ("PLAIN", Some(init)) => match decode(init) {
                Ok(raw) => self.plain(&raw),
                Err(_) => self.reply(ReplyName::AuthBadBase64, &[]),
            },
            ("LOGIN", None) => {
                self.flow = Some(AuthFlow::LoginUser);
                self.reply(ReplyName::AuthUsernamePrompt, &[])
            }
            ("LOGIN", Some(init)) => match decode(init) {
                Ok(user) => {
                    self.flow = Some(AuthFlow::LoginPassword(user));
                    self.reply(ReplyName::AuthPasswordPrompt, &[])
                }
                Err(_) => self.reply(ReplyName::AuthBadBase64, &[]),
            },
            _ => self.reply(ReplyName::AuthUnknownMechanism, &[]),
        }
    }

    fn plain(&mut self, raw: &[u8]) -> Response {
        let mut fields = raw.splitn(3, |&b| b == 0);
        let (_authz, user, pass) = (fields.next(), fields.next(), fields.next());
        match (user, pass) {
            (Some(user), Some(pass)) => self.login(user, pass),
            _ => self.reply(ReplyName::InvalidUsername, &[]),
        }
    }

    fn login(&mut self, user: &[u8], pass: &[u8]) -> Response {
        match self.shared.settings.account.login(user, pass) {
            Ok(grant) => {
                self.grant = Some(grant);
                self.reply(ReplyName::AuthOk, &[])
            }
            Err(LoginError::InvalidUsername) => self.reply(ReplyName::InvalidUsername, &[]),
            Err(LoginError::InvalidKey) => self.reply(ReplyName::InvalidKey, &[]),
            // Resend says no more than for a wrong key; the transcript says
            // what is wrong with its shape (never the key itself).
            Err(LoginError::MalformedKey(problem)) => Response {
                notes: vec![format!("the key is refused: {problem}")],
                ..self.reply(ReplyName::InvalidKey, &[])
            },
        }
    }

    fn mail(&mut self, from: &str, raw_params: &str) -> Response {
        if !self.helo {
            return self.reply(ReplyName::NeedHelo, &[]);
        }
        if self.grant.is_none() {
            return self.reply(ReplyName::AuthRequired, &[]);
        }
        if self.tx.is_some() {
            return self.reply(ReplyName::NestedMail, &[]);
        }
        if !is_valid_mailbox(from) {
            return self.reply(ReplyName::InvalidFrom, &[]);
        }
        let limit = self.shared.settings.limits.message_size;
        for p in params(raw_params) {
            match (p.key.to_ascii_uppercase().as_str(), p.value) {
                ("SIZE", Some(v)) => match v.parse::<u64>() {
                    Ok(n) if limit > 0 && n > limit => {
                        return self
                            .reply(ReplyName::MessageTooBig, &[("limit", &limit.to_string())]);
                    }
                    Ok(_) => {}
                    Err(_) => return self.reply(ReplyName::BadArguments, &[("verb", "MAIL")]),
                },
                ("BODY", Some(v))
                    if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
                ("SMTPUTF8", None) => {}
                _ => return self.reply(ReplyName::UnknownParameter, &[("param", p.key)]),
            }
        }
        self.tx = Some(Transaction {
            from: from.to_string(),
            rcpts: Vec::new(),
        });
        self.reply(ReplyName::MailOk, &[])
    }

    fn rcpt(&mut self, to: &str, raw_params: &str) -> Response {
        let Some(tx) = &self.tx else {
            return self.reply(ReplyName::NeedMail, &[]);
        };
        if !is_valid_mailbox(to) && !to.eq_ignore_ascii_case("postmaster") {
            return self.reply(ReplyName::BadAddress, &[("verb", "RCPT TO:")]);
        }
        if let Some(p) = params(raw_params).next() {
            return self.reply(ReplyName::UnknownParameter, &[("param", p.key)]);
        }
        if tx.rcpts.len() >= MAX_SESSION_RECIPIENTS {
            return self.reply(ReplyName::TooManyRecipientsSession, &[]);
        }
        if let Some(tx) = &mut self.tx {
            tx.rcpts.push(to.to_string());
        }
        self.reply(ReplyName::RcptOk, &[])
    }

    /// The checks Resend's API makes, in its order, after the final dot.
    fn check_message(&self, tx: &Transaction, body: &[u8]) -> Result<(), Response> {
        let st = &self.shared.settings;
        let from = match header(body, "from") {
            Some(v) => first_address(&v).unwrap_or_default(),
            None => tx.from.clone(),
        };
        if !is_valid_mailbox(&from) {
            return Err(self.reply(ReplyName::InvalidFrom, &[]));
        }
        let from_domain = domain_of(&from).unwrap_or_default();
        for rcpt in &tx.rcpts {
            let d = domain_of(rcpt).unwrap_or_default();
            if let Some(r) = st
                .profile
                .reserved_domains
                .iter()
                .find(|r| d == **r || d.ends_with(&format!(".{r}")))
            {
                return Err(self.reply(ReplyName::ReservedDomain, &[("domain", r)]));
            }
        }
        if !st
            .account
            .domain_verified(&from_domain, &st.profile.shared_domains)
        {
            return Err(self.reply(ReplyName::UnverifiedDomain, &[("domain", &from_domain)]));
        }
        if let Some(owner) = &st.account.owner {
            let allowed = |r: &String| {
                r.eq_ignore_ascii_case(owner)
                    || domain_of(r).is_some_and(|d| st.profile.shared_domains.contains(&d))
            };
            if !tx.rcpts.iter().all(allowed) {
                return Err(self.reply(ReplyName::Sandbox, &[("owner", owner)]));
            }
        }
        if st.limits.recipients > 0 && tx.rcpts.len() as u64 > st.limits.recipients {
            return Err(self.reply(
                ReplyName::TooManyRecipients,
                &[("max", &st.limits.recipients.to_string())],
            ));
        }
        if let Some(domain) = self.grant.as_ref().and_then(|g| g.domain.as_ref())
            && *domain != from_domain
            && !from_domain.ends_with(&format!(".{domain}"))
        {
            return Err(self.reply(ReplyName::KeyRestricted, &[("domain", domain)]));
        }
        let per_second = st.limits.per_second.to_string();
        if st.behaviour.rate_limited {
            return Err(self.reply(ReplyName::RateLimited, &[("per_second", &per_second)]));
        }
        let admitted = self
            .shared
            .usage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(
                &st.limits,
                Instant::now(),
                Day::today(),
                tx.rcpts.len() as u64,
            );
        match admitted {
            Ok(()) => Ok(()),
            Err(Exceeded::Rate) => {
                Err(self.reply(ReplyName::RateLimited, &[("per_second", &per_second)]))
            }
            Err(Exceeded::Daily) => Err(self.reply(ReplyName::DailyQuota, &[])),
            Err(Exceeded::Monthly) => Err(self.reply(ReplyName::MonthlyQuota, &[])),
        }
    }
}

impl Responder for Mock {
    async fn greeting(&mut self, _s: &SessionState) -> Response {
        self.reply(ReplyName::Greeting, &[])
    }

    async fn command(
        &mut self,
        s: &SessionState,
        _raw: &[u8],
        cmd: Result<Command<'_>, ParseError>,
    ) -> Response {
        let cmd = match cmd {
            Ok(c) => c,
            Err(ParseError::BadCharacters | ParseError::Empty) => {
                return self.reply(ReplyName::SyntaxError, &[]);
            }
            Err(ParseError::BadArguments(verb)) => {
                return self.reply(ReplyName::BadArguments, &[("verb", verb)]);
            }
            Err(ParseError::BadPath(verb)) => {
                let verb = if verb == "MAIL" {
                    "MAIL FROM:"
                } else {
                    "RCPT TO:"
                };
                return self.reply(ReplyName::BadAddress, &[("verb", verb)]);
            }
        };
        match cmd {
            Command::Ehlo(_) => {
                self.helo = true;
                self.tx = None;
                self.ehlo(s)
            }
            Command::Helo(_) => {
                self.helo = true;
                self.tx = None;
                self.reply(ReplyName::Helo, &[])
            }
            Command::Auth { mechanism, initial } => self.auth(s, mechanism, initial),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => match &self.tx {
                None => self.reply(ReplyName::NeedMail, &[]),
                Some(tx) if tx.rcpts.is_empty() => self.reply(ReplyName::NeedRcpt, &[]),
                Some(_) => self.reply(ReplyName::Data, &[]),
            },
            Command::Rset => {
                self.tx = None;
                self.reply(ReplyName::Rset, &[])
            }
            Command::Noop => self.reply(ReplyName::Noop, &[]),
            Command::Vrfy(_) => self.reply(ReplyName::Vrfy, &[]),
            Command::Help(_) => self.reply(ReplyName::Help, &[]),
            Command::Quit => self.reply(ReplyName::Quit, &[]),
            Command::StartTls => self.reply(crate::engine::responder::starttls_reply_name(s), &[]),
            // CHUNKING is not offered, so BDAT is as unknown as any other verb.
            Command::Bdat | Command::Unknown(_) => self.reply(ReplyName::UnknownCommand, &[]),
        }
    }

    async fn auth_response(&mut self, _s: &SessionState, line: &[u8]) -> Response {
        let Some(flow) = self.flow.take() else {
            return self.reply(ReplyName::SyntaxError, &[]);
        };
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text == "*" {
            return self.reply(ReplyName::AuthCancelled, &[]);
        }
        let Ok(raw) = STANDARD.decode(text) else {
            return self.reply(ReplyName::AuthBadBase64, &[]);
        };
        match flow {
            AuthFlow::Plain => self.plain(&raw),
            AuthFlow::LoginUser => {
                self.flow = Some(AuthFlow::LoginPassword(raw));
                self.reply(ReplyName::AuthPasswordPrompt, &[])
            }
            AuthFlow::LoginPassword(user) => self.login(&user, &raw),
        }
    }

    async fn data_end(&mut self, _s: &SessionState, data: DataOutcome) -> Response {
        let Some(tx) = self.tx.take() else {
            return self.reply(ReplyName::NeedMail, &[]);
        };
        let st = &self.shared.settings;
        if data.overflowed {
            return self.reply(
                ReplyName::MessageTooBig,
                &[("limit", &st.limits.message_size.to_string())],
            );
        }
        if st.behaviour.drop_after_data {
            return Response {
                delay: st.behaviour.reply_delay,
                close: true,
                ..Response::default()
            };
        }
        let left = &self.shared.temporary_failures;
        if left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return self.reply(ReplyName::TemporaryFailure, &[]);
        }
        if let Err(refusal) = self.check_message(&tx, &data.body) {
            return refusal;
        }
        let id = crate::resend::new_id();
        let r = self.reply(ReplyName::Accepted, &[("id", &id)]);
        self.shared.sink.deliver(Message {
            id,
            session: self.session,
            from: tx.from,
            to: tx.rcpts,
            data: data.body,
            path: None,
        });
        r
    }

    fn tls_started(&mut self, _s: &SessionState) {
        self.helo = false;
        self.grant = None;
        self.flow = None;
        self.tx = None;
    }

    fn local(&mut self, event: LocalEvent) -> Option<Reply> {
        if self.shared.settings.behaviour.silent {
            return None;
        }
        Some(self.p().reply(event.reply_name(), &[]))
    }

    fn body_limit(&self) -> usize {
        match self.shared.settings.limits.message_size {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::mock::options::MockOptions;

    #[test]
    fn ids_are_uuids() {
        let a = crate::resend::new_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, crate::resend::new_id());
    }

    #[test]
    fn settings_layering() {
        let s = MockSettings::resolve(&MockOptions::default()).unwrap();
        assert_eq!(
            (s.limits.per_second, s.limits.per_day, s.limits.recipients),
            (2, 100, 50)
        );
        assert!(s.account.verified_domains.is_none());
        let sandbox = MockSettings::resolve(&MockOptions {
            scenario: "sandbox".into(),
            owner: Some("me@corp.io".into()),
            ..MockOptions::default()
        })
        .unwrap();
        assert_eq!(sandbox.account.owner.as_deref(), Some("me@corp.io"));
        assert_eq!(sandbox.account.verified_domains, Some(vec![]));
        let bad = MockSettings::resolve(&MockOptions {
            owner: Some("nobody".into()),
            ..MockOptions::default()
        });
        assert!(bad.is_err());
    }
}
