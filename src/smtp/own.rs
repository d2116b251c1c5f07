//! mailtape's own replies, the ones that are not the relay's: replay's when
//! a client departs from the tape, record's when the relay cannot be
//! reached. They are made here (the responders call these) and recognised
//! here (the explanations read them back from a tape, where only the text
//! is left), so the two can never disagree on a prefix.

use super::Reply;
use super::codes;

/// How every reply of replay's about the tape begins (its REST door
/// starts its error messages with it too).
pub(crate) const DIVERGED_PREFIX: &str = "mailtape replay:";

/// How every reply of record's about the relay begins.
const UPSTREAM_PREFIX: &str = "mailtape: upstream ";

/// Which of mailtape's own replies a reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Own {
    /// Replay: the client departed from the tape, or the tape is played out.
    Diverged,
    /// Record: the relay could not be reached or talked to.
    Upstream,
}

/// Replay's reply about the tape: `code` and `mailtape replay: {what}`.
pub(crate) fn diverged(code: u16, what: &str) -> Reply {
    Reply::new(code, format!("{DIVERGED_PREFIX} {what}"))
}

/// Record's reply about the relay at `host:port`:
/// `mailtape: upstream host:port {what}`.
pub(crate) fn upstream(code: u16, host: &str, port: u16, what: &str) -> Reply {
    Reply::new(code, format!("{UPSTREAM_PREFIX}{host}:{port} {what}"))
}

/// Which of mailtape's own replies `code` and `text` are, if any.
pub fn recognise(code: u16, text: &str) -> Option<Own> {
    if code == codes::LOCAL_ERROR && text.starts_with(DIVERGED_PREFIX) {
        return Some(Own::Diverged);
    }
    if code == codes::SERVICE_UNAVAILABLE && text.starts_with(UPSTREAM_PREFIX) {
        return Some(Own::Upstream);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_made_is_recognised() {
        let r = diverged(codes::LOCAL_ERROR, "the tape expected `QUIT` here");
        assert_eq!(recognise(r.code, &r.lines[0]), Some(Own::Diverged));
        let r = upstream(
            codes::SERVICE_UNAVAILABLE,
            "smtp.resend.com",
            465,
            "cannot be reached",
        );
        assert_eq!(
            r.lines[0],
            "mailtape: upstream smtp.resend.com:465 cannot be reached"
        );
        assert_eq!(recognise(r.code, &r.lines[0]), Some(Own::Upstream));
        assert_eq!(recognise(250, "mailtape replay: x"), None);
    }
}
