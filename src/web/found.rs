//! What a Rust test gets from [`crate::Service::wait_for_message`]: the
//! message as the inbox took it apart, its links and its one-time codes.

use std::time::Duration;

use super::extract::Code;
use super::query::{self, Target, first_link};
use super::store::{MessageRec, Store};
use super::wait::{MAX_WAIT, Since, Wait, Waited, wait_for};

/// A message a wait found.
#[derive(Debug, Clone)]
pub struct FoundMessage {
    /// Its id (the one in the `250` reply, or Resend's email id).
    pub id: String,
    /// Its place in the inbox's order of arrival: wait again with
    /// [`crate::Service::wait_for_message_after`] this cursor for the next one.
    pub cursor: u64,
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The subject, decoded.
    pub subject: String,
    /// The text body (an HTML-only message's HTML made text).
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// The http(s) links in the body, in order.
    pub links: Vec<String>,
    /// The one-time codes in the subject and text, in order.
    pub codes: Vec<Code>,
    /// Its tags.
    pub tags: Vec<String>,
    /// The fingerprint of the API key it was sent with.
    pub key: Option<String>,
    /// The SMTP user.
    pub user: Option<String>,
    /// The inbox page's path to it (`/#/message/ID`).
    pub url: String,
    /// The raw message.
    pub raw: Vec<u8>,
}

impl FoundMessage {
    fn of(m: &MessageRec) -> FoundMessage {
        FoundMessage {
            id: m.id.clone(),
            cursor: m.seq,
            from: m.env_from.clone(),
            to: m.env_to.clone(),
            subject: m.parsed.subject.clone(),
            text: m.parsed.text.clone(),
            html: m.parsed.html.clone(),
            links: m.parsed.links.clone(),
            codes: m.codes.clone(),
            tags: m.tags().clone(),
            key: m.key.clone(),
            user: m.user.clone(),
            url: m.url(),
            raw: m.raw.clone(),
        }
    }

    /// The first one-time code, if any.
    pub fn code(&self) -> Option<&str> {
        self.codes.first().map(|c| c.code.as_str())
    }

    /// The first link whose URL matches `pattern` (case-insensitive, found
    /// anywhere in the URL, `*` for any run of characters).
    pub fn link_matching(&self, pattern: &str) -> Option<&str> {
        first_link(&self.links, pattern)
    }
}

/// Why a wait found nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// The query cannot mean anything, or the timeout is over the cap.
    Bad(String),
    /// Nothing matched in time.
    TimedOut {
        /// The query.
        query: String,
        /// How long it waited.
        waited: Duration,
        /// What arrived meanwhile: `id to … subject "…"`.
        arrived: Vec<String>,
    },
    /// The server keeps no inbox (neither `--ui` nor the test API's `keep`).
    NoInbox,
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitError::Bad(why) => f.write_str(why),
            WaitError::TimedOut {
                query,
                waited,
                arrived,
            } => {
                write!(
                    f,
                    "no message matched {query:?} within {}",
                    super::wait::human(*waited)
                )?;
                if arrived.is_empty() {
                    f.write_str("; none arrived meanwhile")
                } else {
                    write!(f, "; arrived meanwhile: {}", arrived.join("; "))
                }
            }
            WaitError::NoInbox => f.write_str(
                "this server keeps no inbox: give it one (the inbox, or output.keep as tests have)",
            ),
        }
    }
}

impl std::error::Error for WaitError {}

/// The wait behind the Rust API.
pub async fn wait_message(
    store: &Store,
    query_text: &str,
    since: Since,
    timeout: Duration,
) -> Result<FoundMessage, WaitError> {
    let query = query::parse(query_text, Target::Messages)
        .map_err(|e| WaitError::Bad(format!("bad query: {e}")))?;
    if timeout > MAX_WAIT {
        return Err(WaitError::Bad(format!(
            "a wait of {} is over the cap of 5m",
            super::wait::human(timeout)
        )));
    }
    let w = Wait {
        query,
        since,
        timeout,
    };
    match wait_for::<MessageRec>(store, &w).await {
        Waited::Found(m) => Ok(FoundMessage::of(&m)),
        Waited::TimedOut(arrived) => Err(WaitError::TimedOut {
            query: query_text.to_string(),
            waited: timeout,
            arrived: arrived
                .iter()
                .map(|m| {
                    format!(
                        "{} to {} subject {:?}",
                        m.id,
                        m.env_to.join(", "),
                        m.parsed.subject
                    )
                })
                .collect(),
        }),
    }
}
