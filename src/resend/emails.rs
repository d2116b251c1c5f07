//! The emails an account has sent, whichever door they came through (SMTP
//! or the REST API): what `GET /emails/{id}` and `GET /emails` read, and
//! where scheduled emails wait until they are due or canceled.

use std::collections::VecDeque;

use serde_json::{Value, json};
use time::OffsetDateTime;

/// Emails kept per account; the oldest go first.
pub const KEEP: usize = 10_000;

/// Attachment contents kept for `download_url`, all emails together; past
/// it the oldest emails' contents go (their metadata stays listed).
pub const ATTACHMENT_BYTES: usize = 64 << 20;

/// One attachment of an email, as `GET /emails/{id}/attachments` lists it.
#[derive(Debug, Clone)]
pub struct AttachmentRecord {
    /// Its id (a UUID).
    pub id: String,
    /// File name, if it had one.
    pub filename: Option<String>,
    /// Content type.
    pub content_type: String,
    /// Content-ID of an inline part.
    pub content_id: Option<String>,
    /// Size in bytes (decoded).
    pub size: usize,
    /// The content, while kept ([`ATTACHMENT_BYTES`]); `None` once dropped
    /// or for a `path` attachment mailtape never fetched.
    pub content: Option<std::sync::Arc<Vec<u8>>>,
    /// A `path` attachment's URL.
    pub url: Option<String>,
}

impl AttachmentRecord {
    /// `inline` for a part with a Content-ID, else `attachment`.
    pub fn disposition(&self) -> &'static str {
        if self.content_id.is_some() {
            "inline"
        } else {
            "attachment"
        }
    }

    /// The attachment as the API gives it; `download_url` is where its
    /// content can be fetched (a `path` attachment: its own URL).
    pub fn to_json(&self, download_url: &str, expires_at: OffsetDateTime) -> Value {
        let mut v = json!({
            "object": "attachment",
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "content_disposition": self.disposition(),
            "download_url": self.url.as_deref().unwrap_or(download_url),
            "expires_at": expires_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "size": self.size,
        });
        if let Some(c) = &self.content_id {
            v["content_id"] = json!(c);
        }
        v
    }
}

/// Where an email stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting for `scheduled_at`; the message is held until then.
    Scheduled {
        /// The message to deliver when due.
        mime: Vec<u8>,
    },
    /// Canceled before it was due.
    Canceled,
    /// Due while the team's quota was spent: not sent (`email.failed`).
    Failed,
    /// Sent; `last_event` says what Resend would report.
    Sent,
}

/// One email of the account.
#[derive(Debug, Clone)]
pub struct EmailRecord {
    /// Resend's id (a UUID).
    pub id: String,
    /// The `From` as given.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Cc.
    pub cc: Vec<String>,
    /// Bcc.
    pub bcc: Vec<String>,
    /// Reply-To.
    pub reply_to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// HTML body (REST only).
    pub html: Option<String>,
    /// Text body (REST only).
    pub text: Option<String>,
    /// Tags (REST only).
    pub tags: Vec<(String, String)>,
    /// When it was accepted.
    pub created_at: OffsetDateTime,
    /// When it is (or was) due, if scheduled.
    pub scheduled_at: Option<OffsetDateTime>,
    /// The event Resend would report once sent: `delivered`, `bounced`,
    /// `complained` for its test addresses, else `sent`.
    pub outcome: &'static str,
    /// Where it stands.
    pub state: State,
    /// The session (SMTP) or exchange (REST) it came in.
    pub session: u64,
    /// The envelope sender used for the mailbox.
    pub envelope_from: String,
    /// The fingerprint of the key it was sent with (`re_…a1f3`).
    pub api_key: Option<String>,
    /// The message's Message-ID.
    pub message_id: String,
    /// Its attachments.
    pub attachments: Vec<AttachmentRecord>,
}

impl EmailRecord {
    /// `last_event` as Resend's API gives it.
    pub fn last_event(&self) -> &'static str {
        match self.state {
            State::Scheduled { .. } => "scheduled",
            State::Canceled => "canceled",
            State::Failed => "failed",
            State::Sent => self.outcome,
        }
    }

    /// The email as `GET /emails/{id}` returns it.
    pub fn to_json(&self) -> Value {
        json!({
            "object": "email",
            "id": self.id,
            "message_id": self.message_id,
            "to": self.to,
            "from": self.from,
            "created_at": api_time(self.created_at),
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "bcc": self.bcc,
            "cc": self.cc,
            "reply_to": self.reply_to,
            "last_event": self.last_event(),
            "scheduled_at": self.scheduled_at.map(api_time),
            "tags": self.tags.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        })
    }
}

/// Resend's timestamp form: `2023-04-03 22:13:42.674981+00`.
pub fn api_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The account's emails, newest last.
#[derive(Debug, Default)]
pub struct Emails {
    list: VecDeque<EmailRecord>,
}

impl Emails {
    /// Keeps an email, dropping the oldest past [`KEEP`] — never one still
    /// scheduled: it is held until it is due, whatever came after it (issue
    /// 25: the 10,000th newer email made a pending one vanish unsent).
    pub fn push(&mut self, e: EmailRecord) {
        if self.list.len() >= KEEP
            && let Some(oldest) = self
                .list
                .iter()
                .position(|e| !matches!(e.state, State::Scheduled { .. }))
        {
            self.list.remove(oldest);
        }
        self.list.push_back(e);
        // Newest first, the contents that fit stay; older ones go.
        let mut kept = 0usize;
        for e in self.list.iter_mut().rev() {
            for a in &mut e.attachments {
                if let Some(c) = &a.content {
                    kept += c.len();
                    if kept > ATTACHMENT_BYTES {
                        a.content = None;
                    }
                }
            }
        }
    }

    /// The email with this id.
    pub fn get(&self, id: &str) -> Option<&EmailRecord> {
        self.list.iter().find(|e| e.id == id)
    }

    /// The email with this id, to change.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut EmailRecord> {
        self.list.iter_mut().find(|e| e.id == id)
    }

    /// One page, newest first, as Resend pages: `after` gives the emails
    /// older than that id, `before` the newer ones. Returns the page and
    /// whether more lie beyond it; `None` when the cursor id is unknown.
    pub fn page(
        &self,
        limit: usize,
        after: Option<&str>,
        before: Option<&str>,
    ) -> Option<(Vec<&EmailRecord>, bool)> {
        let newest_first: Vec<&EmailRecord> = self.list.iter().rev().collect();
        let (slice, from_end) = match (after, before) {
            (Some(a), _) => {
                let i = newest_first.iter().position(|e| e.id == a)?;
                (&newest_first[i + 1..], false)
            }
            (None, Some(b)) => {
                let i = newest_first.iter().position(|e| e.id == b)?;
                (&newest_first[..i], true)
            }
            (None, None) => (&newest_first[..], false),
        };
        let has_more = slice.len() > limit;
        let page = if from_end {
            // The page just before the cursor: the last `limit` of the newer ones.
            slice[slice.len().saturating_sub(limit)..].to_vec()
        } else {
            slice[..slice.len().min(limit)].to_vec()
        };
        Some((page, has_more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> EmailRecord {
        EmailRecord {
            id: id.into(),
            from: "a@acme.com".into(),
            to: vec!["delivered@resend.dev".into()],
            cc: vec![],
            bcc: vec![],
            reply_to: vec![],
            subject: "s".into(),
            html: None,
            text: None,
            tags: vec![],
            created_at: OffsetDateTime::UNIX_EPOCH,
            scheduled_at: None,
            outcome: "delivered",
            state: State::Sent,
            session: 1,
            envelope_from: "a@acme.com".into(),
            api_key: None,
            message_id: format!("<{id}@resend.dev>"),
            attachments: vec![],
        }
    }

    #[test]
    fn pages_newest_first_with_cursors() {
        let mut e = Emails::default();
        for id in ["1", "2", "3", "4", "5"] {
            e.push(rec(id));
        }
        let ids = |p: Vec<&EmailRecord>| p.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let (p, more) = e.page(2, None, None).unwrap();
        assert_eq!((ids(p), more), (vec!["5".into(), "4".into()], true));
        let (p, more) = e.page(2, Some("4"), None).unwrap();
        assert_eq!((ids(p), more), (vec!["3".into(), "2".into()], true));
        let (p, more) = e.page(2, Some("2"), None).unwrap();
        assert_eq!((ids(p), more), (vec!["1".into()], false));
        let (p, more) = e.page(2, None, Some("2")).unwrap();
        assert_eq!((ids(p), more), (vec!["4".into(), "3".into()], true));
        assert!(e.page(2, Some("nope"), None).is_none());
        assert_eq!(
            api_time(OffsetDateTime::UNIX_EPOCH),
            "1970-01-01 00:00:00.000000+00"
        );
    }
}
