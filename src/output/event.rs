//! What the sink hands its subscribers: the events, and a subscriber's end
//! of its queue. Apart from the sink so that a subscriber (the live view,
//! the inbox) needs only these, never the sink that feeds them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::resend::explain::Said;
use crate::tape::{Meta, Transcript};

use super::files::SaveError;

/// How sessions are shown as they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveView {
    /// Nothing on stdout, and no lines for people on stderr.
    Quiet,
    /// `C:`/`S:` lines for people; `color` adds ANSI colours.
    Human {
        /// Whether to colour the output.
        color: bool,
    },
    /// One JSON object per line.
    Json,
}

/// A message accepted by the mock.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Message {
    /// The id given in the 250 reply.
    pub id: String,
    /// The session it came in.
    pub session: u64,
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as received (headers and body), any API key scrubbed.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Where it was written, with `--mailbox`.
    pub path: Option<PathBuf>,
    /// The API key it was sent with, as its fingerprint (`re_…a1f3`):
    /// which app sent it. Never the key.
    pub key: Option<String>,
    /// The SMTP user of the session (`resend`), when it logged in.
    pub user: Option<String>,
    /// Tags given with it: Resend's `tags` of a REST send as `name=value`
    /// (a header such as `X-Tags` is read by the inbox itself).
    pub tags: Vec<String>,
}

/// What subscribers receive. Lines come in the order a session produced
/// them; events of different sessions interleave.
#[derive(Debug, Clone)]
pub enum Event {
    /// A session began (a connection was accepted).
    SessionStarted(Meta),
    /// Lines as the live view shows them, in order: every line of the
    /// transcript except long bodies past their first lines (summarised by
    /// one note). A capture hands them over a few at a time — a command, a
    /// whole reply, a body — so that watching costs a session one event per
    /// step rather than per line.
    Lines {
        /// The session.
        session: u64,
        /// The lines.
        events: Vec<crate::tape::Event>,
    },
    /// What a reply means, said under it.
    Explained {
        /// The session.
        session: u64,
        /// The explanation.
        said: Said,
    },
    /// A message was accepted.
    MessageAccepted(Arc<Message>),
    /// A session ended; its whole transcript.
    SessionFinished {
        /// The transcript, redacted (shared with the tape writer: never copied).
        transcript: Arc<Transcript>,
        /// How long the session lasted.
        lasted: Duration,
    },
    /// A line of the server's own for people (the banner, "stopping").
    Said(String),
    /// An email accepted to be sent later (REST `scheduled_at`): not
    /// delivered yet; [`Event::MessageAccepted`] follows when it is due.
    MessageScheduled(Arc<Message>),
    /// An accepted email that Resend would not send after all (a scheduled
    /// email due while the quota is spent): `reason` as Resend's
    /// `email.failed` gives it.
    MessageFailed {
        /// The email.
        message: Arc<Message>,
        /// `reached_daily_quota`, …
        reason: String,
    },
    /// A webhook event was emitted or an attempt made: for the live view.
    Webhook {
        /// The session or REST exchange of the email.
        session: u64,
        /// One line for people.
        text: String,
        /// The same as one JSON object (`--json`).
        json: serde_json::Value,
    },
    /// A tape or a message could not be written (the client was told `451`
    /// or `452` for a message; a session's tape failing is said only here
    /// and on stderr).
    WriteFailed {
        /// The session it belonged to.
        session: u64,
        /// What failed.
        error: SaveError,
    },
}

/// A subscriber's end: events in order, and how many did not fit its queue.
pub struct Subscription {
    pub(super) rx: mpsc::Receiver<Arc<Event>>,
    pub(super) dropped: Arc<AtomicU64>,
    /// Events handled, for a subscription that confirms them
    /// (`Sink::subscribe_confirmed`).
    pub(super) handled: Option<watch::Sender<u64>>,
}

impl Subscription {
    /// The next event; `None` once the sink is closed.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        self.rx.recv().await
    }

    /// The next event, from a thread outside the async runtime.
    pub fn blocking_recv(&mut self) -> Option<Arc<Event>> {
        self.rx.blocking_recv()
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        self.rx.try_recv().ok()
    }

    /// Lines dropped because the queue was full, since the last call (an
    /// event of several lines counts each).
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    /// Says the event last received is handled (a confirmed subscription:
    /// `Sink::accept` waits for it on a message). Nothing otherwise.
    pub fn handled(&self) {
        if let Some(h) = &self.handled {
            h.send_modify(|n| *n += 1);
        }
    }
}
