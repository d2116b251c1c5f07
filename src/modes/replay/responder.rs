//! The replay responder: answers a client from a recorded session of a tape.
//!
//! Matching is by verb and normalised arguments, in order. AUTH matches any
//! credentials and either PLAIN or LOGIN (the flow is driven for the
//! client's mechanism; the outcome is the tape's). EHLO matches any name.
//! MAIL and RCPT addresses match as recorded, `*` in the tape matching any
//! run of characters. TLS is the listener's business: the tape's STARTTLS is
//! skipped or answered locally, whatever leg the session was recorded on.
//!
//! What real clients do after a refusal is not a departure: RSET and NOOP
//! the tape did not record are answered `250 OK`, and an AUTH retried with
//! another mechanism after the tape's 535 gets the same 535, and RCPT and
//! DATA pipelined after a MAIL the tape refused get `503`, as from any server.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::engine::responder::{
    DataOutcome, LocalEvent, Responder, Response, SessionState, adjust_ehlo,
};
use crate::resend::Profile;
use crate::resend::ReplyName;
use crate::smtp::{Command, ParseError, Reply, codes, parse_command, parse_reply};
use crate::tape::capture::client_text;
use crate::tape::{Closer, EventKind, Tape, Transcript};

/// One step of a recorded session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A reply, with when it was sent.
    Reply(Reply, Option<Duration>),
    /// A client line (a command or an AUTH line), with when it came.
    Client(String, Option<Duration>),
    /// The final dot of DATA.
    DataEnd(Option<Duration>),
    /// The server hung up without a reply.
    Drop,
}

/// A tape session as steps, and whether the server closed it.
#[derive(Debug, Clone)]
struct Script {
    steps: Vec<Step>,
    server_closed: bool,
}

fn script(t: &Transcript) -> Script {
    let mut steps = Vec::new();
    let mut pending = String::new();
    let mut pending_at = None;
    for e in &t.events {
        if let EventKind::Server(line) = &e.kind {
            if pending.is_empty() {
                pending_at = e.at;
            }
            pending.push_str(line);
            pending.push_str("\r\n");
            if let Ok(Some((reply, _))) = parse_reply(pending.as_bytes()) {
                steps.push(Step::Reply(reply, pending_at));
                pending.clear();
            }
            continue;
        }
        match &e.kind {
            EventKind::Client(line) if line == "." => steps.push(Step::DataEnd(e.at)),
            EventKind::Client(line) => steps.push(Step::Client(line.clone(), e.at)),
            EventKind::Note(n) if n == "connection dropped by the server" => steps.push(Step::Drop),
            _ => {}
        }
    }
    Script {
        steps,
        server_closed: t.closed_by == Some(Closer::Server),
    }
}

/// A departure from the tape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Divergence {
    /// The server's session number.
    pub session: u64,
    /// Which session of the tape it played (from 1); 0 for a client that
    /// came after the last one (no `--loop`).
    pub tape_session: usize,
    /// What the tape expected.
    pub expected: String,
    /// What the client sent (redacted).
    pub received: String,
}

/// The tape and the state every replay session shares.
pub struct ReplayShared {
    tape: Vec<Script>,
    name: String,
    next: AtomicUsize,
    looped: bool,
    realtime: bool,
    profile: Profile,
    divergences: Mutex<Vec<Divergence>>,
}

impl ReplayShared {
    /// Replays `tape` (named `name` in transcripts).
    pub fn new(
        tape: &Tape,
        name: String,
        looped: bool,
        realtime: bool,
    ) -> Result<ReplayShared, crate::Error> {
        Ok(ReplayShared {
            // REST exchanges are the REST door's (`rest.rs`), not sessions;
            // webhook attempts were mailtape's own requests, for the reader
            // (replay sends webhooks anew from the sessions it plays).
            tape: tape
                .sessions
                .iter()
                .filter(|t| !crate::tape::http::is_exchange(&t.meta))
                .map(script)
                .collect(),
            name,
            next: AtomicUsize::new(0),
            looped,
            realtime,
            profile: Profile::build(None, "default")?,
            divergences: Mutex::new(Vec::new()),
        })
    }

    /// The tape's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sessions in the tape.
    pub fn total(&self) -> usize {
        self.tape.len()
    }

    /// Sessions of the tape played at least once.
    pub fn played(&self) -> usize {
        self.next.load(Ordering::SeqCst).min(self.tape.len())
    }

    /// Sessions played in all: with `--loop`, a session of the tape counts
    /// each time it is played.
    pub fn plays(&self) -> usize {
        let started = self.next.load(Ordering::SeqCst);
        if self.tape.is_empty() {
            0
        } else if self.looped {
            started
        } else {
            started.min(self.tape.len())
        }
    }

    /// Whether the tape starts over after its last session.
    pub fn looped(&self) -> bool {
        self.looped
    }

    /// Every departure so far.
    pub fn divergences(&self) -> Vec<Divergence> {
        self.divergences
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The reply to a connection over the cap.
    pub fn too_many_connections(&self) -> Reply {
        self.profile.reply(ReplyName::TooManyConnections, &[])
    }

    /// The next session's script and its number in the tape (from 1).
    fn take(&self) -> Option<(usize, Script)> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let len = self.tape.len();
        if len == 0 || (n >= len && !self.looped) {
            return None;
        }
        Some((n % len + 1, self.tape[n % len].clone()))
    }
}

/// Where a SASL exchange driven for the client stands.
enum AuthFlow {
    /// Waiting for the PLAIN payload.
    Plain,
    /// Waiting for the LOGIN user name.
    LoginUser,
    /// Waiting for the LOGIN password.
    LoginPassword,
}

/// One session being replayed.
pub struct Replay {
    shared: std::sync::Arc<ReplayShared>,
    session: u64,
    script: Option<(usize, Script)>,
    pos: usize,
    last_client_at: Option<Duration>,
    last_ehlo: Option<Reply>,
    auth: Option<(AuthFlow, Reply)>,
    /// The tape's 535, for a client that retries with another mechanism.
    last_auth_failure: Option<Reply>,
    /// Whether the replayed MAIL was accepted, and a RCPT since: what a
    /// pipelining client's RCPT and DATA after a refused MAIL get.
    transaction: Option<bool>,
}

impl Replay {
    /// A session playing the next session of the tape.
    pub fn new(shared: std::sync::Arc<ReplayShared>, session: u64) -> Replay {
        let script = shared.take();
        Replay {
            shared,
            session,
            script,
            pos: 0,
            last_client_at: None,
            last_ehlo: None,
            auth: None,
            last_auth_failure: None,
            transaction: None,
        }
    }

    fn steps(&self) -> &[Step] {
        self.script
            .as_ref()
            .map(|(_, s)| s.steps.as_slice())
            .unwrap_or(&[])
    }

    fn peek(&self) -> Option<&Step> {
        self.steps().get(self.pos)
    }

    fn delay(&self, at: Option<Duration>) -> Duration {
        if !self.shared.realtime {
            return Duration::ZERO;
        }
        match (at, self.last_client_at) {
            (Some(at), Some(before)) => at.saturating_sub(before),
            (Some(at), None) => at,
            _ => Duration::ZERO,
        }
    }

    /// The reply at the cursor (and whatever follows it: a drop, the end).
    fn next_reply(&mut self) -> Response {
        match self.peek().cloned() {
            Some(Step::Reply(reply, at)) => {
                self.pos += 1;
                let end = self.pos >= self.steps().len();
                let server_closed = self.script.as_ref().is_some_and(|(_, s)| s.server_closed);
                let dropped = matches!(self.peek(), Some(Step::Drop));
                Response {
                    reply: Some(reply),
                    delay: self.delay(at),
                    close: (end && server_closed) || dropped,
                    ..Response::default()
                }
            }
            Some(Step::Drop) => {
                self.pos += 1;
                Response {
                    close: true,
                    ..Response::default()
                }
            }
            // The tape has no reply here: a silent server.
            _ => Response::default(),
        }
    }

    fn diverge(&mut self, expected: String, received: String) -> Response {
        let tape_session = self.script.as_ref().map(|(n, _)| *n).unwrap_or(0);
        let note = format!("diverged from the tape: expected `{expected}`, received `{received}`");
        self.shared
            .divergences
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Divergence {
                session: self.session,
                tape_session,
                expected: expected.clone(),
                received,
            });
        Response {
            reply: Some(crate::smtp::own::diverged(
                codes::LOCAL_ERROR,
                &format!("the tape expected `{expected}` here"),
            )),
            notes: vec![note],
            ..Response::default()
        }
    }

    /// Skips a recorded STARTTLS, its reply and the EHLO that followed.
    fn skip_starttls(&mut self) {
        if matches!(self.peek(), Some(Step::Client(l, _)) if l.eq_ignore_ascii_case("STARTTLS")) {
            self.pos += 1;
            if matches!(self.peek(), Some(Step::Reply(..))) {
                self.pos += 1;
            }
            if let Some(Step::Client(l, _)) = self.peek()
                && is_verb(l, "EHLO")
            {
                self.pos += 1;
                if let Some(Step::Reply(r, _)) = self.peek().cloned() {
                    self.last_ehlo = Some(r);
                    self.pos += 1;
                }
            }
        }
    }

    /// The recorded AUTH exchange at the cursor: its final reply, and the
    /// index after it. The cursor is on the AUTH line.
    fn auth_block(&self) -> (Option<Reply>, usize) {
        let steps = self.steps();
        let mut i = self.pos + 1;
        while let Some(step) = steps.get(i) {
            match step {
                Step::Reply(r, _) if r.code == codes::AUTH_CONTINUE => i += 1,
                Step::Client(..) => i += 1,
                Step::Reply(r, _) => return (Some(r.clone()), i + 1),
                _ => break,
            }
        }
        (None, i)
    }

    fn start_auth(&mut self, mechanism: &str, initial: Option<&str>) -> Response {
        // A mechanism no relay here offers is refused without using up the
        // tape's AUTH: the client may fall back to PLAIN or LOGIN.
        if !["PLAIN", "LOGIN"]
            .iter()
            .any(|m| mechanism.eq_ignore_ascii_case(m))
        {
            return self.profile_reply(ReplyName::AuthUnknownMechanism);
        }
        let (final_reply, after) = self.auth_block();
        let Some(final_reply) = final_reply else {
            return Response::default();
        };
        self.pos = after;
        if final_reply.code == codes::AUTH_INVALID {
            self.last_auth_failure = Some(final_reply.clone());
        }
        self.drive_auth(final_reply, mechanism, initial)
    }

    /// Drives the client's own SASL flow to the tape's outcome.
    fn drive_auth(
        &mut self,
        final_reply: Reply,
        mechanism: &str,
        initial: Option<&str>,
    ) -> Response {
        // Only 235 and 535 depend on the credentials; anything else (538,
        // 503, 504) came before any were asked for.
        if !matches!(final_reply.code, codes::AUTH_OK | codes::AUTH_INVALID) {
            return final_reply.into();
        }
        let (flow, prompt) = match (mechanism.to_ascii_uppercase().as_str(), initial) {
            ("PLAIN", Some(_)) => return final_reply.into(),
            ("PLAIN", None) => (AuthFlow::Plain, ""),
            ("LOGIN", Some(_)) => (AuthFlow::LoginPassword, "UGFzc3dvcmQ6"),
            ("LOGIN", None) => (AuthFlow::LoginUser, "VXNlcm5hbWU6"),
            _ => return self.profile_reply(ReplyName::AuthUnknownMechanism),
        };
        self.auth = Some((flow, final_reply));
        Reply::new(codes::AUTH_CONTINUE, prompt).into()
    }

    fn profile_reply(&self, name: ReplyName) -> Response {
        Response::named(self.shared.profile.reply(name, &[]), name)
    }

    /// Whether the client's line is the one the tape expects. `received`
    /// is the line as captured: a tape holds redacted lines, so a line
    /// that capture redacts (a malformed AUTH, stray base64) matches its
    /// redacted form.
    fn matches(
        expected: &str,
        raw: &[u8],
        received: &str,
        cmd: &Result<Command<'_>, ParseError>,
    ) -> bool {
        let same = || {
            String::from_utf8_lossy(raw)
                .trim()
                .eq_ignore_ascii_case(expected.trim())
                || received.trim().eq_ignore_ascii_case(expected.trim())
        };
        let Ok(want) = parse_command(expected.as_bytes()) else {
            return same();
        };
        let Ok(got) = cmd else {
            return false;
        };
        match (&want, got) {
            (Command::Ehlo(_), Command::Ehlo(_)) | (Command::Helo(_), Command::Helo(_)) => true,
            // `|| same()`: an address holding a key is on the tape redacted
            (Command::Mail { from: w, .. }, Command::Mail { from: g, .. }) => glob(w, g) || same(),
            (Command::Rcpt { to: w, .. }, Command::Rcpt { to: g, .. }) => glob(w, g) || same(),
            (Command::Vrfy(w), Command::Vrfy(g)) => w.eq_ignore_ascii_case(g),
            (Command::Unknown(_), Command::Unknown(_)) => same(),
            (w, g) => w.verb() == g.verb(),
        }
    }
}

/// `one` for 1, else `many`.
pub fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

fn is_verb(line: &str, verb: &str) -> bool {
    line.split(' ')
        .next()
        .is_some_and(|v| v.eq_ignore_ascii_case(verb))
}

/// Case-insensitive match where `*` in `pattern` stands for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !t.starts_with(first)
        || !t[first.len()..].ends_with(last)
        || t.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &t[first.len()..t.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl Responder for Replay {
    async fn greeting(&mut self, _s: &SessionState) -> Response {
        if self.script.is_none() {
            // A client beyond the tape's sessions is a departure like any
            // other (issue 21): the app met a server the tape does not show,
            // so the run fails (status 1), --strict or not.
            let played = self.shared.played();
            let expected = format!(
                "no more clients: the tape has {played} {}, all played",
                plural(played, "session", "sessions")
            );
            let received = "a connection".to_string();
            let note =
                format!("diverged from the tape: expected `{expected}`, received `{received}`");
            self.shared
                .divergences
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Divergence {
                    session: self.session,
                    tape_session: 0,
                    expected,
                    received,
                });
            return Response {
                reply: Some(crate::smtp::own::diverged(
                    codes::SERVICE_UNAVAILABLE,
                    &format!(
                        "the tape's {played} {} already played (use --loop to start over)",
                        plural(played, "session was", "sessions were")
                    ),
                )),
                close: true,
                notes: vec![note],
                ..Response::default()
            };
        }
        let mut r = self.next_reply();
        if let Some((n, _)) = &self.script {
            r.notes
                .insert(0, format!("replaying session {n} of {}", self.shared.name));
        }
        r
    }

    async fn command(
        &mut self,
        s: &SessionState,
        raw: &[u8],
        cmd: Result<Command<'_>, ParseError>,
    ) -> Response {
        // TLS belongs to the listener, not to the tape.
        if let Ok(Command::StartTls) = cmd {
            if s.starttls_available
                && matches!(self.peek(), Some(Step::Client(l, _)) if l.eq_ignore_ascii_case("STARTTLS"))
            {
                self.pos += 1;
                if matches!(self.peek(), Some(Step::Reply(..))) {
                    self.pos += 1;
                }
            }
            return self.profile_reply(crate::engine::responder::starttls_reply_name(s));
        }
        if !matches!(cmd, Ok(Command::StartTls)) {
            self.skip_starttls();
        }
        // A recorded silent server answers nothing, whatever is sent.
        if !self.steps().iter().any(|s| matches!(s, Step::Reply(..))) {
            return Response::default();
        }
        let expecting =
            |verb: &str| matches!(self.peek(), Some(Step::Client(l, _)) if is_verb(l, verb));
        // Clients retry a refused AUTH with their next mechanism (Python's
        // smtplib does): the same credentials get the same answer.
        if let Ok(Command::Auth { mechanism, initial }) = &cmd
            && !expecting("AUTH")
            && let Some(failure) = self.last_auth_failure.clone()
        {
            return self.drive_auth(failure, mechanism, *initial);
        }
        // RSET and NOOP change nothing the tape decides; clients send RSET
        // after a refusal. Answered here when the tape did not record them.
        if let Ok(c @ (Command::Rset | Command::Noop)) = &cmd
            && !expecting(c.verb())
        {
            return self.profile_reply(if matches!(c, Command::Rset) {
                ReplyName::Rset
            } else {
                ReplyName::Noop
            });
        }
        // A pipelining client sends RCPT and DATA along with MAIL; when the
        // tape refused that MAIL they were never recorded, and get what any
        // server says to them (503), not a departure.
        if let Ok(c @ (Command::Rcpt { .. } | Command::Data)) = &cmd
            && !expecting(c.verb())
        {
            match (self.transaction, c) {
                (None, _) => return self.profile_reply(ReplyName::NeedMail),
                (Some(false), Command::Data) => return self.profile_reply(ReplyName::NeedRcpt),
                _ => {}
            }
        }
        let received = client_text(raw, &cmd);
        let expected = match self.peek().cloned() {
            Some(Step::Client(line, at)) => {
                self.last_client_at = at.or(self.last_client_at);
                line
            }
            // The session ended on the tape: a QUIT still gets its 221.
            None if matches!(cmd, Ok(Command::Quit)) => return self.profile_reply(ReplyName::Quit),
            None => return self.diverge("(the end of the session)".into(), received),
            Some(Step::DataEnd(_)) => return self.diverge(".".into(), received),
            Some(_) => return Response::default(),
        };
        if let Ok(Command::Auth { mechanism, initial }) = &cmd
            && is_verb(&expected, "AUTH")
        {
            return self.start_auth(mechanism, *initial);
        }
        if let Ok(Command::Ehlo(_)) = cmd
            && !is_verb(&expected, "EHLO")
            && let Some(r) = self.last_ehlo.clone()
        {
            // A second EHLO (after a STARTTLS the tape did not have): same answer.
            return adjust_ehlo(r, s).into();
        }
        if !Replay::matches(&expected, raw, &received, &cmd) {
            if let Ok(Command::Quit) = cmd {
                let mut r = self.diverge(expected, received);
                r.reply = Some(self.shared.profile.reply(ReplyName::Quit, &[]));
                return r;
            }
            return self.diverge(expected, received);
        }
        self.pos += 1;
        let mut r = self.next_reply();
        let ok = r.reply.as_ref().is_some_and(|r| r.code == codes::OK);
        match &cmd {
            Ok(Command::Mail { .. }) => self.transaction = ok.then_some(false),
            Ok(Command::Rcpt { .. }) if ok => self.transaction = self.transaction.map(|_| true),
            Ok(Command::Rset | Command::Ehlo(_) | Command::Helo(_)) => self.transaction = None,
            _ => {}
        }
        if matches!(cmd, Ok(Command::Ehlo(_)))
            && let Some(reply) = r.reply.take()
        {
            self.last_ehlo = Some(reply.clone());
            r.reply = Some(adjust_ehlo(reply, s));
        }
        r
    }

    async fn auth_response(&mut self, _s: &SessionState, line: &[u8]) -> Response {
        let Some((flow, final_reply)) = self.auth.take() else {
            return self.profile_reply(ReplyName::SyntaxError);
        };
        if line == b"*" {
            let r = self.diverge("the credentials".into(), "* (cancelled)".into());
            return Response {
                reply: Some(self.shared.profile.reply(ReplyName::AuthCancelled, &[])),
                notes: r.notes,
                ..Response::default()
            };
        }
        match flow {
            AuthFlow::LoginUser => {
                self.auth = Some((AuthFlow::LoginPassword, final_reply));
                Reply::new(codes::AUTH_CONTINUE, "UGFzc3dvcmQ6").into()
            }
            AuthFlow::Plain | AuthFlow::LoginPassword => final_reply.into(),
        }
    }

    async fn data_end(&mut self, _s: &SessionState, _data: DataOutcome) -> Response {
        match self.peek().cloned() {
            Some(Step::DataEnd(at)) => {
                self.last_client_at = at.or(self.last_client_at);
                self.transaction = None;
                self.pos += 1;
                self.next_reply()
            }
            other => {
                let expected = match other {
                    Some(Step::Client(l, _)) => l,
                    _ => "(the end of the session)".into(),
                };
                self.diverge(expected, ".".into())
            }
        }
    }

    fn tls_started(&mut self, _s: &SessionState) {}

    fn local(&mut self, event: LocalEvent) -> Option<Reply> {
        // A recorded silent server stays silent to the end.
        let silent = !self.steps().iter().any(|s| matches!(s, Step::Reply(..)));
        if silent && matches!(event, LocalEvent::IdleTimeout | LocalEvent::LineTimeout) {
            return None;
        }
        Some(self.shared.profile.reply(event.reply_name(), &[]))
    }

    fn body_limit(&self) -> usize {
        crate::tape::transcript::MAX_KEPT_BODY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("a@b.c", "A@B.C"));
        assert!(glob("*", "anything@at.all"));
        assert!(glob("*@resend.dev", "delivered+x@resend.dev"));
        assert!(glob("delivered*@resend.dev", "delivered+1@resend.dev"));
        assert!(!glob("*@resend.dev", "a@resend.dev.evil"));
        assert!(!glob("a*b*c", "ac"));
        assert!(glob("a*b*c", "a-b-c"));
    }

    #[test]
    fn scripts_group_replies_and_find_data_ends() {
        let tape = Tape::parse(
            "# mailtape tape v1\n\n## session 1\nS: 220 x\nC: EHLO a\nS: 250-x\nS: 250 AUTH PLAIN\nC: DATA\nS: 354 go\nD: hi\nC: .\n*: connection dropped by the server\n*: closed by server\n",
            "t",
        )
        .unwrap();
        let s = script(&tape.sessions[0]);
        assert_eq!(s.steps.len(), 7, "{:?}", s.steps);
        assert!(matches!(&s.steps[2], Step::Reply(r, _) if r.lines.len() == 2));
        assert!(matches!(s.steps[5], Step::DataEnd(_)));
        assert_eq!(s.steps[6], Step::Drop);
        assert!(s.server_closed);
    }
}
