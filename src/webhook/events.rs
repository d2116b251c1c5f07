//! Which events an accepted email implies, and their payloads in the shapes
//! of Resend's webhooks (`{"type","created_at","data"}`, tags as a map,
//! headers as a list). No I/O.

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::resend::{Source, TestOutcome};

/// Resend's webhook events (its OpenAPI document's `webhooks`): the email
/// events, `domain.*` for the domains the REST door creates, changes and
/// deletes, and those mailtape never sends ([`EventType::sent`]):
/// `email.received` (mailtape has no inbound mail) and `contact.*` (it has
/// no contacts API). An endpoint may still subscribe to those, as in Resend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventType {
    /// `email.sent`
    #[serde(rename = "email.sent")]
    Sent,
    /// `email.delivered`
    #[serde(rename = "email.delivered")]
    Delivered,
    /// `email.delivery_delayed`
    #[serde(rename = "email.delivery_delayed")]
    DeliveryDelayed,
    /// `email.bounced`
    #[serde(rename = "email.bounced")]
    Bounced,
    /// `email.complained`
    #[serde(rename = "email.complained")]
    Complained,
    /// `email.opened`
    #[serde(rename = "email.opened")]
    Opened,
    /// `email.clicked`
    #[serde(rename = "email.clicked")]
    Clicked,
    /// `email.failed`
    #[serde(rename = "email.failed")]
    Failed,
    /// `email.scheduled`
    #[serde(rename = "email.scheduled")]
    Scheduled,
    /// `email.suppressed`
    #[serde(rename = "email.suppressed")]
    Suppressed,
    /// `email.received` (never sent: no inbound mail)
    #[serde(rename = "email.received")]
    Received,
    /// `contact.created` (never sent: no contacts API)
    #[serde(rename = "contact.created")]
    ContactCreated,
    /// `contact.updated` (never sent)
    #[serde(rename = "contact.updated")]
    ContactUpdated,
    /// `contact.deleted` (never sent)
    #[serde(rename = "contact.deleted")]
    ContactDeleted,
    /// `domain.created`
    #[serde(rename = "domain.created")]
    DomainCreated,
    /// `domain.updated`
    #[serde(rename = "domain.updated")]
    DomainUpdated,
    /// `domain.deleted`
    #[serde(rename = "domain.deleted")]
    DomainDeleted,
}

impl EventType {
    /// Every event type, in the order Resend's docs list them.
    pub const ALL: [EventType; 17] = [
        EventType::Sent,
        EventType::Delivered,
        EventType::DeliveryDelayed,
        EventType::Bounced,
        EventType::Complained,
        EventType::Opened,
        EventType::Clicked,
        EventType::Failed,
        EventType::Scheduled,
        EventType::Suppressed,
        EventType::Received,
        EventType::ContactCreated,
        EventType::ContactUpdated,
        EventType::ContactDeleted,
        EventType::DomainCreated,
        EventType::DomainUpdated,
        EventType::DomainDeleted,
    ];

    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Sent => "email.sent",
            EventType::Delivered => "email.delivered",
            EventType::DeliveryDelayed => "email.delivery_delayed",
            EventType::Bounced => "email.bounced",
            EventType::Complained => "email.complained",
            EventType::Opened => "email.opened",
            EventType::Clicked => "email.clicked",
            EventType::Failed => "email.failed",
            EventType::Scheduled => "email.scheduled",
            EventType::Suppressed => "email.suppressed",
            EventType::Received => "email.received",
            EventType::ContactCreated => "contact.created",
            EventType::ContactUpdated => "contact.updated",
            EventType::ContactDeleted => "contact.deleted",
            EventType::DomainCreated => "domain.created",
            EventType::DomainUpdated => "domain.updated",
            EventType::DomainDeleted => "domain.deleted",
        }
    }

    /// Whether mailtape ever sends it (see [`EventType::cause`] for why not).
    pub fn sent(self) -> bool {
        !matches!(
            self,
            EventType::Received
                | EventType::ContactCreated
                | EventType::ContactUpdated
                | EventType::ContactDeleted
        )
    }

    /// Whether it is about an email (its `data` has `email_id`), rather
    /// than the account (a domain, a contact).
    pub fn is_email(self) -> bool {
        self.name().starts_with("email.")
    }

    /// The event type named `name`.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Where its name and payload shape come from.
    pub fn source(self) -> Source {
        Source::Docs
    }

    /// Where the mock's sequence for it comes from: Resend documents the
    /// events, but which test address produces which sequence is inferred.
    pub fn sequence_source(self) -> Source {
        match self {
            EventType::Sent
            | EventType::Failed
            | EventType::Scheduled
            | EventType::DomainCreated
            | EventType::DomainDeleted => Source::Docs,
            _ => Source::Guess,
        }
    }

    /// What makes mailtape send it.
    pub fn cause(self) -> &'static str {
        match self {
            EventType::Sent => {
                "every accepted email (SMTP or REST) but one to suppressed@resend.dev only"
            }
            EventType::Delivered => {
                "delivered@, complained@ and any address that is not a test address"
            }
            EventType::DeliveryDelayed => {
                "delayed@resend.dev (a mailtape test address), or a scenario's [webhooks] delivery_delayed (built-in: delivery-delayed), before email.delivered"
            }
            EventType::Bounced => "bounced@resend.dev (Permanent, General)",
            EventType::Complained => "complained@resend.dev, after email.delivered",
            EventType::Opened => "POST /api/webhooks/emails/{id}/open, or opening it in the inbox",
            EventType::Clicked => {
                "POST /api/webhooks/emails/{id}/click, or a link clicked in the inbox"
            }
            EventType::Failed => {
                "a scheduled email due while the daily or monthly quota is spent (reached_daily_quota)"
            }
            EventType::Scheduled => "REST email with scheduled_at, then the rest when it is due",
            EventType::Suppressed => {
                "suppressed@resend.dev (OnAccountSuppressionList, previous_bounce)"
            }
            EventType::Received => {
                "not sent: mailtape takes no inbound mail (Resend's receiving), and a made-up one would test nothing"
            }
            EventType::ContactCreated | EventType::ContactUpdated | EventType::ContactDeleted => {
                "not sent: mailtape's REST door has no contacts API (/contacts), so nothing causes it"
            }
            EventType::DomainCreated => "POST /domains on the REST door",
            EventType::DomainUpdated => {
                "PATCH /domains/{id}; POST /domains/{id}/verify when the status changes, and again when a slow verification comes through"
            }
            EventType::DomainDeleted => "DELETE /domains/{id}",
        }
    }
}

/// What happens to one recipient, as the mock plays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered (every address that is not a test address too).
    Delivered,
    /// Delayed, then delivered.
    Delayed,
    /// A hard bounce.
    Bounced,
    /// Delivered, then marked as spam.
    Complained,
    /// On the account's suppression list: not sent.
    Suppressed,
}

impl Fate {
    /// The fate of mail to `addr`: Resend's test addresses at
    /// `resend.dev` (`+label` allowed), mailtape's own `suppressed@` and
    /// `delayed@` there, else delivered.
    pub fn of(addr: &str, test: Option<TestOutcome>) -> Fate {
        match test {
            Some(TestOutcome::Bounced) => return Fate::Bounced,
            Some(TestOutcome::Complained) => return Fate::Complained,
            Some(TestOutcome::Delivered) => return Fate::Delivered,
            Some(TestOutcome::Suppressed) => return Fate::Suppressed,
            None => {}
        }
        let Some((local, domain)) = addr.rsplit_once('@') else {
            return Fate::Delivered;
        };
        if !domain.eq_ignore_ascii_case("resend.dev") {
            return Fate::Delivered;
        }
        let base = local.split_once('+').map_or(local, |(b, _)| b);
        if base.eq_ignore_ascii_case("suppressed") {
            Fate::Suppressed
        } else if base.eq_ignore_ascii_case("delayed") {
            Fate::Delayed
        } else {
            Fate::Delivered
        }
    }
}

/// What the events say about an email.
#[derive(Debug, Clone, Default)]
pub struct EmailFacts {
    /// Resend's id of the email.
    pub email_id: String,
    /// When it was accepted.
    pub created_at: Option<OffsetDateTime>,
    /// `From` as written (`Name <a@b>`).
    pub from: String,
    /// Subject.
    pub subject: String,
    /// Tags given with a REST send.
    pub tags: Vec<(String, String)>,
    /// Custom headers (not the ones every message has).
    pub headers: Vec<(String, String)>,
    /// Its `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// The SMTP session or REST exchange it came in.
    pub session: u64,
}

/// One event to send: its type, whom it concerns, and what it adds to the
/// email's data (`bounce`, `click`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The event type.
    pub kind: EventType,
    /// The recipients it concerns.
    pub to: Vec<String>,
    /// Extra fields of `data`.
    pub extra: Map<String, Value>,
    /// Whether it waits for the configured delay (what comes after `sent`).
    pub later: bool,
}

/// The events an accepted email implies, in the order Resend sends them:
/// `email.sent` for everyone not suppressed, then `delivery_delayed`,
/// `delivered`, `bounced`, `complained` (each once, for the recipients it
/// concerns), and `suppressed` for suppressed recipients.
pub fn plan(recipients: &[(String, Fate)]) -> Vec<Planned> {
    let who = |f: &dyn Fn(Fate) -> bool| -> Vec<String> {
        recipients
            .iter()
            .filter(|(_, fate)| f(*fate))
            .map(|(a, _)| a.clone())
            .collect()
    };
    let mut out = Vec::new();
    let mut push = |kind, to: Vec<String>, extra: Map<String, Value>, later| {
        if !to.is_empty() {
            out.push(Planned {
                kind,
                to,
                extra,
                later,
            });
        }
    };
    push(
        EventType::Sent,
        who(&|f| f != Fate::Suppressed),
        Map::new(),
        false,
    );
    // Said at once: the delay is what comes between it and `delivered`.
    push(
        EventType::DeliveryDelayed,
        who(&|f| f == Fate::Delayed),
        Map::new(),
        false,
    );
    push(
        EventType::Delivered,
        who(&|f| matches!(f, Fate::Delivered | Fate::Delayed | Fate::Complained)),
        Map::new(),
        true,
    );
    let bounced = who(&|f| f == Fate::Bounced);
    let bounce = json!({
        "diagnosticCode": bounced
            .iter()
            .map(|a| format!("smtp; 550 5.1.1 <{a}>: Recipient address rejected: User unknown in virtual mailbox table"))
            .collect::<Vec<_>>(),
        "message": "The recipient's email provider sent a hard bounce message, but didn't specify the reason for the hard bounce. We recommend removing the recipient's email address from your mailing list. Sending messages to addresses that produce hard bounces can have a negative impact on your reputation as a sender.",
        "subType": "General",
        "type": "Permanent",
    });
    push(EventType::Bounced, bounced, obj("bounce", bounce), true);
    push(
        EventType::Complained,
        who(&|f| f == Fate::Complained),
        Map::new(),
        true,
    );
    let suppressed = who(&|f| f == Fate::Suppressed);
    let why = json!({
        "diagnosticCode": suppressed.iter().map(|_| "smtp; 550 5.1.1 suppressed".to_string()).collect::<Vec<_>>(),
        "message": "This email was not sent because the recipient is on your account's suppression list (a previous bounce).",
        "reason": "previous_bounce",
        "type": "OnAccountSuppressionList",
    });
    push(
        EventType::Suppressed,
        suppressed,
        obj("suppressed", why),
        false,
    );
    out
}

/// `{name: value}`.
pub fn obj(name: &str, value: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(name.into(), value);
    m
}

/// The `click` of an `email.clicked` event.
pub fn click(link: &str, ip: &str, user_agent: &str, at: OffsetDateTime) -> Map<String, Value> {
    obj(
        "click",
        json!({"ipAddress": ip, "link": link, "timestamp": timestamp(at), "userAgent": user_agent}),
    )
}

/// The `failed` of an `email.failed` event.
pub fn failed(reason: &str) -> Map<String, Value> {
    obj("failed", json!({"reason": reason}))
}

/// A timestamp as Resend's webhooks write them: `2024-02-22T23:41:12.126Z`.
pub fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The body of an account event (`domain.created`, …): `{"type",
/// "created_at", "data"}` with the `data` given.
pub fn account_body(kind: EventType, data: Value, now: OffsetDateTime) -> String {
    #[derive(Serialize)]
    struct AccountBody {
        r#type: &'static str,
        created_at: String,
        data: Value,
    }
    serde_json::to_string(&AccountBody {
        r#type: kind.name(),
        created_at: timestamp(now),
        data,
    })
    .unwrap_or_default()
}

/// Field order as Resend writes it: `type`, `created_at`, `data`.
#[derive(Serialize)]
struct Body {
    r#type: &'static str,
    created_at: String,
    data: Map<String, Value>,
}

/// The body of one event, as sent: `{"type","created_at","data"}` with
/// `data` holding `email_id`, `created_at`, `from`, `to`, `subject`, then
/// `tags` (a map) and `headers` (a list) when there are any, `message_id`,
/// and the event's own fields.
pub fn body(facts: &EmailFacts, p: &Planned, now: OffsetDateTime) -> String {
    let mut data = Map::new();
    data.insert("email_id".into(), json!(facts.email_id));
    data.insert(
        "created_at".into(),
        json!(timestamp(facts.created_at.unwrap_or(now))),
    );
    data.insert("from".into(), json!(facts.from));
    data.insert("to".into(), json!(p.to));
    data.insert("subject".into(), json!(facts.subject));
    if !facts.tags.is_empty() {
        let tags: Map<String, Value> = facts
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        data.insert("tags".into(), Value::Object(tags));
    }
    if !facts.headers.is_empty() {
        let h: Vec<Value> = facts
            .headers
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        data.insert("headers".into(), json!(h));
    }
    if let Some(id) = &facts.message_id {
        data.insert("message_id".into(), json!(format!("<{id}>")));
    }
    for (k, v) in &p.extra {
        data.insert(k.clone(), v.clone());
    }
    let b = Body {
        r#type: p.kind.name(),
        created_at: timestamp(now),
        data,
    };
    serde_json::to_string(&b).unwrap_or_default()
}

/// Headers every message has, or that a relay adds: not "custom headers".
const STANDARD_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "received",
    "return-path",
    "sender",
    "in-reply-to",
    "references",
    "user-agent",
    "x-mailer",
    "dkim-signature",
    "resend-idempotency-key",
    "x-mailtape-envelope-from",
    "x-mailtape-envelope-to",
];

/// What the events say about a message, read from its headers.
pub fn facts_from_mime(email_id: &str, session: u64, data: &[u8]) -> EmailFacts {
    let mut facts = EmailFacts {
        email_id: email_id.to_string(),
        session,
        ..EmailFacts::default()
    };
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(data) else {
        return facts;
    };
    for h in msg.headers() {
        let name = h.name.as_str();
        let raw = data
            .get(h.offset_start as usize..h.offset_end as usize)
            .map(|b| {
                String::from_utf8_lossy(b)
                    .trim()
                    .replace("\r\n", "")
                    .replace('\n', "")
            })
            .unwrap_or_default();
        match name.to_ascii_lowercase().as_str() {
            "from" => facts.from = raw,
            "subject" => facts.subject = msg.subject().unwrap_or(&raw).to_string(),
            "message-id" => {
                facts.message_id = Some(raw.trim_matches(|c| c == '<' || c == '>').to_string())
            }
            lower if !STANDARD_HEADERS.contains(&lower) && !lower.starts_with("list-") => {
                facts.headers.push((name.to_string(), raw));
            }
            _ => {}
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fates(list: &[(&str, Fate)]) -> Vec<(String, Fate)> {
        list.iter().map(|(a, f)| (a.to_string(), *f)).collect()
    }

    fn at(nanos: i128) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap()
    }

    fn kinds(p: &[Planned]) -> Vec<&'static str> {
        p.iter().map(|e| e.kind.name()).collect()
    }

    #[test]
    fn each_test_address_has_its_sequence() {
        let one = |a: &str| kinds(&plan(&fates(&[(a, Fate::of(a, None))])));
        assert_eq!(one("x@example.com"), ["email.sent", "email.delivered"]);
        assert_eq!(one("suppressed@resend.dev"), ["email.suppressed"]);
        assert_eq!(
            one("delayed+a@resend.dev"),
            ["email.sent", "email.delivery_delayed", "email.delivered"]
        );
        let b = plan(&fates(&[
            ("bounced@resend.dev", Fate::Bounced),
            ("c@x.org", Fate::Delivered),
        ]));
        assert_eq!(
            kinds(&b),
            ["email.sent", "email.delivered", "email.bounced"]
        );
        assert_eq!(b[0].to, ["bounced@resend.dev", "c@x.org"]);
        assert_eq!(b[2].to, ["bounced@resend.dev"]);
        assert_eq!(b[2].extra["bounce"]["type"], "Permanent");
        let c = plan(&fates(&[("complained@resend.dev", Fate::Complained)]));
        assert_eq!(
            kinds(&c),
            ["email.sent", "email.delivered", "email.complained"]
        );
    }

    #[test]
    fn payload_shape() {
        let facts = facts_from_mime(
            "4ef9a417-02e9-4d39-ad75-9611e0fcc33c",
            7,
            b"From: Acme <onboarding@resend.dev>\r\nTo: delivered@resend.dev\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\nMessage-ID: <abc@acme.com>\r\nX-Entity-Ref-ID: 42\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nhi\r\n",
        );
        assert_eq!(facts.subject, "Café");
        assert_eq!(
            facts.headers,
            vec![("X-Entity-Ref-ID".to_string(), "42".to_string())]
        );
        let facts = EmailFacts {
            tags: vec![("category".into(), "confirm".into())],
            created_at: Some(at(1_708_645_271_894_000_000)),
            ..facts
        };
        let p = &plan(&fates(&[("delivered@resend.dev", Fate::Delivered)]))[0];
        let b = body(&facts, p, at(1_708_645_272_126_719_000));
        assert_eq!(
            b,
            r#"{"type":"email.sent","created_at":"2024-02-22T23:41:12.126Z","data":{"created_at":"2024-02-22T23:41:11.894Z","email_id":"4ef9a417-02e9-4d39-ad75-9611e0fcc33c","from":"Acme <onboarding@resend.dev>","headers":[{"name":"X-Entity-Ref-ID","value":"42"}],"message_id":"<abc@acme.com>","subject":"Café","tags":{"category":"confirm"},"to":["delivered@resend.dev"]}}"#
        );
    }
}
