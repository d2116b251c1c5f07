//! The mock: answers as Resend's relay would, from a profile, an account,
//! limits and a scenario's behaviour.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::options::MockSettings;
use crate::engine::responder::{DataOutcome, LocalEvent, Responder, Response, SessionState};
use crate::modes::mock::headers::{first_address, header};
use crate::output::sink::{Message, Sink};
use crate::resend::directory::{Directory, DomainVerdict, KeyVerdict};
use crate::resend::emails::{EmailRecord, Emails, State};
use crate::resend::idempotency::{self, Idempotency, Seen};
use crate::resend::{Grant, LoginError, Profile, ReplyName, Source, Usage};
use crate::smtp::{Command, ParseError, Reply, is_valid_mailbox, params};

/// Recipients one transaction may collect before RCPT is refused with 452:
/// far above the API's limit (checked after DATA), low enough to bound memory.
pub const MAX_SESSION_RECIPIENTS: usize = 1000;

/// REST exchanges are numbered from here, SMTP sessions from 1.
pub const REST_SESSION_BASE: u64 = 1_000_000;

/// The idempotency header Resend reads over SMTP.
pub const IDEMPOTENCY_HEADER: &str = "resend-idempotency-key";

/// State shared by every session of one mock server.
pub struct MockShared {
    /// Swapped whole by a scenario switch; each session keeps the one it
    /// started with.
    settings: std::sync::RwLock<Arc<MockSettings>>,
    usage: Mutex<Usage>,
    idempotency: Mutex<Idempotency>,
    emails: Mutex<Emails>,
    directory: Mutex<Directory>,
    rest_exchanges: AtomicU64,
    temporary_failures: AtomicU32,
    sink: Arc<Sink>,
    account_events: std::sync::OnceLock<Arc<AccountEvents>>,
}

/// Told of a change to the account the API made: the event's name
/// (`domain.created`, …) and its `data`.
pub type AccountEvents = dyn Fn(&str, serde_json::Value) + Send + Sync;

impl MockShared {
    /// Shared state for a server with these settings, delivering to `sink`.
    pub fn new(settings: MockSettings, sink: Arc<Sink>) -> Arc<MockShared> {
        Arc::new(MockShared {
            usage: Mutex::new(settings.usage.clone()),
            idempotency: Mutex::new(Idempotency::default()),
            emails: Mutex::new(Emails::default()),
            directory: Mutex::new(Directory::default()),
            rest_exchanges: AtomicU64::new(0),
            temporary_failures: AtomicU32::new(settings.behaviour.temporary_failures),
            settings: std::sync::RwLock::new(Arc::new(settings)),
            sink,
            account_events: std::sync::OnceLock::new(),
        })
    }

    /// Who is told of the account's changes (the webhook sender); once.
    pub fn on_account_events(&self, f: Arc<AccountEvents>) {
        let _ = self.account_events.set(f);
    }

    /// Says a change to the account (`domain.created`, …) to whoever asked.
    pub fn account_event(&self, name: &str, data: serde_json::Value) {
        if let Some(f) = self.account_events.get() {
            f(name, data);
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<MockSettings> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Answers later sessions from these settings (the inbox's scenario
    /// switch); usage counters and temporary failures start over.
    pub fn switch(&self, settings: MockSettings) {
        *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = settings.usage.clone();
        self.temporary_failures
            .store(settings.behaviour.temporary_failures, Ordering::Relaxed);
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(settings);
    }

    /// Where sessions, REST exchanges and messages go.
    pub fn sink(&self) -> &Arc<Sink> {
        &self.sink
    }

    /// The team's rate and quota counters (both doors).
    pub fn usage(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The account's idempotency keys (both doors).
    pub fn idempotency(&self) -> MutexGuard<'_, Idempotency> {
        self.idempotency.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The emails the account sent (both doors).
    pub fn emails(&self) -> MutexGuard<'_, Emails> {
        self.emails.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The keys and domains the API created, changed or deleted (both doors).
    pub fn directory(&self) -> MutexGuard<'_, Directory> {
        self.directory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks credentials as Resend does, on both doors: the user name,
    /// then the key, where a key the API created or deleted counts before
    /// the account the mock started with.
    pub fn login(&self, user: &[u8], key: &[u8]) -> Result<Grant, LoginError> {
        if user != crate::resend::account::USERNAME.as_bytes() {
            return Err(LoginError::InvalidUsername);
        }
        let verdict = self.directory().key(key);
        let grant = match verdict {
            KeyVerdict::Created(g) => g,
            KeyVerdict::Deleted => return Err(LoginError::InvalidKey),
            KeyVerdict::Unknown => self.settings().account.login(user, key)?,
        };
        self.directory()
            .touch(&grant.digest, time::OffsetDateTime::now_utc());
        Ok(grant)
    }

    /// Whether mail from `domain` may be sent: the API's changes first,
    /// then the account's verified domains.
    pub fn domain_verified(&self, domain: &str) -> bool {
        let verdict = self
            .directory()
            .domain(domain, time::OffsetDateTime::now_utc());
        match verdict {
            DomainVerdict::Verified => true,
            DomainVerdict::NotVerified => false,
            DomainVerdict::Unknown => {
                let st = self.settings();
                st.account
                    .domain_verified(domain, &st.profile.shared_domains)
            }
        }
    }

    /// Takes one of the queued temporary failures, if any are left.
    pub fn take_temporary_failure(&self) -> bool {
        self.temporary_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// A session number for a REST exchange: counted apart from SMTP
    /// sessions, from [`REST_SESSION_BASE`], so the two never collide.
    pub fn next_rest_session(&self) -> u64 {
        REST_SESSION_BASE + self.rest_exchanges.fetch_add(1, Ordering::Relaxed) + 1
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
    settings: Arc<MockSettings>,
    session: u64,
    helo: bool,
    grant: Option<Grant>,
    /// Who logged in: the user and the key's fingerprint (which app).
    login: Option<(String, String)>,
    flow: Option<AuthFlow>,
    tx: Option<Transaction>,
    unauthenticated: u32,
    unrecognized: u32,
}

impl Mock {
    /// The mock for one session.
    pub fn new(shared: Arc<MockShared>, session: u64) -> Mock {
        Mock {
            settings: shared.settings(),
            shared,
            session,
            helo: false,
            grant: None,
            login: None,
            flow: None,
            tx: None,
            unauthenticated: 0,
            unrecognized: 0,
        }
    }

    fn p(&self) -> &Profile {
        &self.settings.profile
    }

    fn reply(&self, name: ReplyName, vars: &[(&str, &str)]) -> Response {
        let b = &self.settings.behaviour;
        if b.silent {
            return Response::default();
        }
        let reply = self.p().reply(name, vars);
        // Name a guess as such in the transcript, where the user reads it.
        let notes = match self.p().replies.get(name.as_str()) {
            Some(spec) if spec.source == Source::Guess => {
                vec![crate::resend::profile::unconfirmed_note(
                    reply.code,
                    name.as_str(),
                )]
            }
            _ => Vec::new(),
        };
        Response {
            reply: Some(reply),
            name: Some(name),
            delay: b.reply_delay,
            notes,
            ..Response::default()
        }
    }

    /// EHLO as the library answers it: the greeting line naming the client,
    /// then the keywords, AUTH only before authentication and STARTTLS after
    /// it where the listener offers the upgrade.
    fn ehlo(&mut self, s: &SessionState) -> Response {
        let client = client_name(s);
        let p = self.p();
        let first = p.reply(ReplyName::Ehlo, &[("client", &client)]);
        let mut lines = first.lines;
        lines.truncate(1);
        for kw in &p.ehlo {
            let is_auth = kw.split(' ').next() == Some("AUTH");
            if !(is_auth && self.grant.is_some()) {
                lines.push(kw.clone());
            }
        }
        if s.starttls_available && !lines.iter().any(|l| l == "STARTTLS") {
            lines.push("STARTTLS".into());
        }
        let mut r = self.reply(ReplyName::Ehlo, &[("client", &client)]);
        if r.reply.is_some() {
            r.reply = Some(Reply::multi(first.code, lines));
        }
        r
    }

    fn auth(&mut self, s: &SessionState, mechanism: &str, initial: Option<&str>) -> Response {
        // The library's order: HELO first, then TLS, then "no identity changes".
        if !self.helo {
            return self.reply(ReplyName::NeedHelo, &[]);
        }
        if s.listener == crate::engine::responder::ListenerKind::Starttls && !s.tls {
            return self.reply(ReplyName::TlsRequired, &[]);
        }
        if self.grant.is_some() {
            return self.reply(ReplyName::AuthAlready, &[]);
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
        match self.shared.login(user, pass) {
            Ok(grant) => {
                self.grant = Some(grant);
                self.login = Some((
                    String::from_utf8_lossy(user).into_owned(),
                    crate::tape::redact::redact_secret(pass),
                ));
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
        if self.tx.is_some() {
            return self.reply(ReplyName::NestedMail, &[]);
        }
        if !is_valid_mailbox(from) {
            return self.reply(ReplyName::InvalidFrom, &[]);
        }
        let limit = self.settings.limits.message_size;
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
            return self.reply(ReplyName::BadAddress, &[]);
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

    /// Counts a command sent before authentication, as the library does
    /// (AUTH itself excepted); the tenth gets a 421 and the connection closes.
    fn count_unauthenticated(&mut self, is_auth: bool) -> Option<Response> {
        if self.grant.is_some() || is_auth {
            return None;
        }
        self.unauthenticated += 1;
        let cap = self.settings.limits.unauthenticated_commands;
        (cap > 0 && u64::from(self.unauthenticated) >= cap)
            .then(|| self.reply(ReplyName::TooManyUnauthenticated, &[]))
    }

    /// The checks Resend's API makes, in its order, after the final dot.
    fn check_message(&self, tx: &Transaction, body: &[u8]) -> Result<(), Response> {
        let from = match header(body, "from") {
            Some(v) => first_address(&v).unwrap_or_default(),
            None => tx.from.clone(),
        };
        self.shared
            .judge(self.grant.as_ref(), &from, &tx.rcpts)
            .map_err(|r| self.reply(r.name, &r.vars()))
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
            Ok(Command::Bdat | Command::Unknown(_))
            | Err(ParseError::BadCharacters | ParseError::Empty) => {
                // CHUNKING is not offered, so BDAT is as unknown as any other verb.
                self.unrecognized += 1;
                let cap = self.settings.limits.unrecognized_commands;
                if cap > 0 && u64::from(self.unrecognized) >= cap {
                    return self.reply(ReplyName::TooManyUnrecognized, &[]);
                }
                return self.reply(ReplyName::UnknownCommand, &[]);
            }
            Ok(c) => Ok(c),
            Err(e) => Err(e),
        };
        if let Some(r) = self.count_unauthenticated(matches!(cmd, Ok(Command::Auth { .. }))) {
            return r;
        }
        let verb = match &cmd {
            Ok(Command::Mail { .. }) | Err(ParseError::BadPath("MAIL")) => Some("MAIL"),
            Ok(Command::Rcpt { .. }) | Err(ParseError::BadPath(_)) => Some("RCPT"),
            Ok(Command::Data) => Some("DATA"),
            Ok(Command::Auth { .. }) => Some("AUTH"),
            _ => None,
        };
        // The library's guards, in its order: HELO first, then AUTH.
        if verb.is_some() && !self.helo {
            return self.reply(ReplyName::NeedHelo, &[]);
        }
        if verb.is_some_and(|v| v != "AUTH") && self.grant.is_none() {
            return self.reply(ReplyName::AuthRequired, &[]);
        }
        let cmd = match cmd {
            Ok(c) => c,
            Err(ParseError::BadArguments(verb)) => {
                return self.reply(ReplyName::BadArguments, &[("verb", verb)]);
            }
            // Resend judges a malformed sender at MAIL with its API's wording.
            Err(ParseError::BadPath("MAIL")) => return self.reply(ReplyName::InvalidFrom, &[]),
            Err(ParseError::BadPath(_)) => return self.reply(ReplyName::BadAddress, &[]),
            Err(ParseError::BadCharacters | ParseError::Empty) => {
                return self.reply(ReplyName::UnknownCommand, &[]);
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
                self.reply(ReplyName::Helo, &[("client", &client_name(s))])
            }
            Command::Auth { mechanism, initial } => self.auth(s, mechanism, initial),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            // The library asks only for recipients: without MAIL there are none.
            Command::Data => match &self.tx {
                Some(tx) if !tx.rcpts.is_empty() => self.reply(ReplyName::Data, &[]),
                _ => self.reply(ReplyName::NeedRcpt, &[]),
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
            Command::Bdat | Command::Unknown(_) => self.reply(ReplyName::UnknownCommand, &[]),
        }
    }

    async fn auth_response(&mut self, _s: &SessionState, line: &[u8]) -> Response {
        let Some(flow) = self.flow.take() else {
            return self.reply(ReplyName::SyntaxError, &[]);
        };
        // The library counts the lines of an AUTH exchange as commands too.
        if let Some(r) = self.count_unauthenticated(false) {
            return r;
        }
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
        // The library forgets unrecognized commands once a DATA is over.
        self.unrecognized = 0;
        let Some(tx) = self.tx.take() else {
            return self.reply(ReplyName::NeedMail, &[]);
        };
        let st = &self.settings;
        if data.overflowed {
            return self.reply(
                ReplyName::MessageTooBig,
                &[("limit", &st.limits.message_size.to_string())],
            );
        }
        if data.memory_spent {
            return self.reply(ReplyName::BodyMemory, &[]);
        }
        if st.behaviour.drop_after_data {
            return Response {
                delay: st.behaviour.reply_delay,
                close: true,
                ..Response::default()
            };
        }
        if self.shared.take_temporary_failure() {
            return self.reply(ReplyName::TemporaryFailure, &[]);
        }
        // Resend-Idempotency-Key: a retry of the same message gets the same
        // id and is neither counted nor stored again.
        let idem = header(&data.body, IDEMPOTENCY_HEADER).map(|key| {
            let fp = idempotency::fingerprint(&[
                b"smtp",
                tx.from.as_bytes(),
                tx.rcpts.join(",").as_bytes(),
                &data.body,
            ]);
            (key, fp)
        });
        if let Some((key, fp)) = &idem {
            if !idempotency::valid_key(key) {
                return self.reply(ReplyName::InvalidIdempotencyKey, &[]);
            }
            let seen = self.shared.idempotency().check(key, fp, Instant::now());
            match seen {
                Seen::New => {}
                Seen::Replay(id) => {
                    let mut r = self.reply(ReplyName::Accepted, &[("id", &id)]);
                    r.notes.push(format!(
                        "idempotent retry: Resend-Idempotency-Key already sent email {id}; not sent or stored again"
                    ));
                    return r;
                }
                Seen::InProgress => {
                    return self.reply(ReplyName::IdempotencyInProgress, &[]);
                }
                Seen::Conflict => return self.reply(ReplyName::IdempotencyConflict, &[]),
            }
        }
        if let Err(refusal) = self.check_message(&tx, &data.body) {
            // A refused message does not keep its key: the retry is new.
            if let Some((key, _)) = &idem {
                self.shared.idempotency().forget(key);
            }
            return refusal;
        }
        let id = crate::resend::new_id();
        let mut r = self.reply(ReplyName::Accepted, &[("id", &id)]);
        for rcpt in &tx.rcpts {
            if let Some(outcome) = self.p().test_address(rcpt) {
                r.notes.push(format!("{rcpt}: {}", outcome.says()));
            }
        }
        let record = smtp_record(&id, &tx, &data.body, self.session, self.p());
        // With a mailbox, 250 means the message is on disk (issue 16); the
        // idempotency key and the account's email list only learn of a
        // message that was kept.
        let saved = self
            .shared
            .sink
            .accept(Message {
                id: id.clone(),
                session: self.session,
                from: tx.from,
                to: tx.rcpts,
                data: data.body,
                path: None,
                key: self.login.as_ref().map(|l| l.1.clone()),
                user: self.login.as_ref().map(|l| l.0.clone()),
                ..Message::default()
            })
            .await;
        match saved {
            Ok(()) => {
                if let Some((key, fp)) = idem {
                    self.shared
                        .idempotency()
                        .remember(&key, fp, &id, Instant::now());
                }
                self.shared.emails().push(record);
                r
            }
            Err(e) => {
                // Not kept, so a retry with the same key is new.
                if let Some((key, _)) = &idem {
                    self.shared.idempotency().forget(key);
                }
                if e.is_full() {
                    self.reply(ReplyName::MailboxFull, &[])
                } else {
                    self.reply(ReplyName::MailboxWriteFailed, &[])
                }
            }
        }
    }

    fn tls_started(&mut self, _s: &SessionState) {
        self.helo = false;
        self.grant = None;
        self.login = None;
        self.flow = None;
        self.tx = None;
    }

    fn local(&mut self, event: LocalEvent) -> Option<Reply> {
        if self.settings.behaviour.silent {
            return None;
        }
        Some(self.p().reply(event.reply_name(), &[]))
    }

    fn body_limit(&self) -> usize {
        match self.settings.limits.message_size {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }
}

/// What `GET /emails/{id}` shows of an email sent over SMTP, from its headers.
fn smtp_record(
    id: &str,
    tx: &Transaction,
    body: &[u8],
    session: u64,
    profile: &Profile,
) -> EmailRecord {
    let list = |name: &str| -> Vec<String> {
        header(body, name)
            .map(|v| {
                v.split(',')
                    .filter_map(first_address)
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let to = list("to");
    let cc = list("cc");
    // Whoever is in the envelope but not in To or Cc was a Bcc.
    let bcc = tx
        .rcpts
        .iter()
        .filter(|r| !to.iter().chain(&cc).any(|a| a.eq_ignore_ascii_case(r)))
        .cloned()
        .collect();
    EmailRecord {
        id: id.to_string(),
        from: header(body, "from").unwrap_or_else(|| tx.from.clone()),
        to: if to.is_empty() { tx.rcpts.clone() } else { to },
        cc,
        bcc,
        reply_to: list("reply-to"),
        subject: header(body, "subject").unwrap_or_default(),
        html: None,
        text: None,
        tags: Vec::new(),
        created_at: time::OffsetDateTime::now_utc(),
        scheduled_at: None,
        outcome: outcome_of(profile, &tx.rcpts),
        state: State::Sent,
        session,
        envelope_from: tx.from.clone(),
        api_key: None,
        message_id: header(body, "message-id")
            .map(|m| m.trim().to_string())
            .unwrap_or_else(|| format!("<{id}@resend.dev>")),
        attachments: attachments_of(body),
    }
}

/// The attachments of a message sent over SMTP, for
/// `GET /emails/{id}/attachments` (parsed with mail-parser, as the inbox does).
fn attachments_of(body: &[u8]) -> Vec<crate::resend::emails::AttachmentRecord> {
    use mail_parser::MimeHeaders;
    let Some(msg) = mail_parser::MessageParser::default().parse(body) else {
        return Vec::new();
    };
    msg.attachments()
        .map(|part| {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            let contents = part.contents().to_vec();
            crate::resend::emails::AttachmentRecord {
                id: crate::resend::new_id(),
                filename: part.attachment_name().map(String::from),
                content_type,
                content_id: part
                    .content_id()
                    .map(|c| c.trim_matches(['<', '>']).to_string()),
                size: contents.len(),
                content: Some(Arc::new(contents)),
                url: None,
            }
        })
        .collect()
}

/// The `last_event` Resend would report for mail to `rcpts`: a test
/// address's event (the first one's), else `sent`.
pub fn outcome_of(profile: &Profile, rcpts: &[String]) -> &'static str {
    rcpts
        .iter()
        .find_map(|r| profile.test_address(r))
        .map_or("sent", |o| o.event())
}

/// How the library names the client in its EHLO line: `[ip]` (the real
/// relay shows the reverse-DNS name when there is one; mailtape looks up
/// nothing).
pub fn client_name(s: &SessionState) -> String {
    let ip = match s.peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        ip => ip,
    };
    format!("[{ip}]")
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
            (5, 100, 50)
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
