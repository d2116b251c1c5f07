//! Each step as it goes: the lines shown (redacted, with the explanation
//! under a reply), a step passed or failed with the fix, one command and
//! its reply.

use std::borrow::Cow;

use super::{EXIT_TEMPORARY, Run, Status, StepResult, Stop, shown};
use crate::net::client::{ClientConn, Fault};
use crate::smtp::Reply;
use crate::tape::EventKind;

impl Run<'_> {
    pub(super) fn event(&mut self, kind: EventKind) {
        // A server may echo what it was sent (credentials included): its
        // replies are shown redacted, as record shows the same lines.
        let kind = match kind {
            EventKind::Server(t) => EventKind::Server(shown(&t)),
            EventKind::Note(t) => EventKind::Note(shown(&t)),
            other => other,
        };
        let said = self.explainer.observe(&kind);
        (self.on)(&kind, said);
    }

    pub(super) fn pass(&mut self, step: &'static str, detail: String) {
        self.steps.push(StepResult {
            step,
            status: Status::Passed,
            detail: shown(&detail),
            explain: None,
        });
    }

    pub(super) fn fail(
        &mut self,
        step: &'static str,
        detail: String,
        explain: Option<&'static str>,
        exit: u8,
    ) -> Stop {
        self.steps.push(StepResult {
            step,
            status: Status::Failed,
            detail: shown(&detail),
            explain: explain.map(Cow::Borrowed),
        });
        Stop(exit)
    }

    pub(super) fn fault(&mut self, step: &'static str, f: Fault, exit: u8) -> Stop {
        let detail = format!("{}:{} {}", self.o.host, self.o.port, f.0);
        self.event(EventKind::Note(detail.clone()));
        let explain = (f.0.starts_with("did not reply") && step == "connection")
            .then_some(crate::resend::explain::NO_GREETING);
        self.fail(step, detail, explain, exit)
    }

    /// A reply that ends a step in failure: 4xx is temporary whatever the step.
    pub(super) fn refused(&mut self, step: &'static str, reply: &Reply, exit: u8) -> Stop {
        let user = crate::resend::explain::User::of(&self.o.user);
        let last = reply.wire_lines().last().unwrap_or_default();
        let said = crate::resend::explain::explain(
            reply.code,
            last.get(4..).unwrap_or(""),
            user,
            step == "message",
        );
        let exit = if reply.is_error() && reply.code < 500 {
            EXIT_TEMPORARY
        } else {
            exit
        };
        let stop = self.fail(step, last, said.map(|s| s.text), exit);
        // check knows the key: a 535 for a key of the wrong shape says what
        // is wrong with it, where the reply alone could only say "a key".
        if step == "authentication"
            && reply.code == 535
            && user == crate::resend::explain::User::Resend
            && let Some(problem) = crate::resend::account::key_problem(&self.o.key)
            && let Some(s) = self.steps.last_mut()
        {
            s.explain = Some(Cow::Owned(format!(
                "the key is not shaped like a Resend API key: {problem}; copy it again from resend.com/api-keys"
            )));
        }
        stop
    }

    pub(super) async fn cmd(
        &mut self,
        conn: &mut ClientConn,
        line: &str,
        shown: String,
    ) -> Result<Reply, Fault> {
        self.event(EventKind::Client(shown));
        let r = conn.command(line.as_bytes(), self.o.timeout).await?;
        self.reply(&r);
        Ok(r)
    }

    pub(super) fn reply(&mut self, r: &Reply) {
        for l in r.wire_lines() {
            self.event(EventKind::Server(l));
        }
        // Where the built-in profile only guesses this reply's text, say so:
        // against the mock it is unconfirmed, against the relay it is evidence.
        let last = r.lines.last().map(String::as_str).unwrap_or("");
        if let Some((name, spec)) = crate::resend::profile::builtin().reply_matching(r.code, last)
            && spec.source == crate::resend::Source::Guess
        {
            self.event(EventKind::Note(crate::resend::profile::unconfirmed_note(
                r.code, name,
            )));
        }
    }
}
