//! `POST /emails` and `POST /emails/batch`: the request as Resend's API
//! takes it, checked in the API's order (key, idempotency key, body, the
//! account's checks, rate and quotas), sent as a real MIME message into the
//! same inbox and mailbox as SMTP mail, or held until `scheduled_at`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Rest;
use super::exchange::ExchangeId;
use super::mime::{self, AttachmentBody, OutAttachment, Outgoing};
use crate::modes::mock::responder::{MockShared, outcome_of};
use crate::output::sink::{Event as SinkEvent, Message};
use crate::resend::Exceeded;
use crate::resend::account::Day;
use crate::resend::emails::{AttachmentRecord, EmailRecord, State as EmailState};
use crate::resend::idempotency::{self, Seen};
use crate::resend::new_id;
use crate::tape::redact::redact_secret;

/// Emails one batch may hold.
pub const MAX_BATCH: usize = 100;

/// A string or a list of strings, as `to`, `cc`, `bcc` and `reply_to` may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct AttachmentIn {
    content: Option<String>,
    filename: Option<String>,
    path: Option<String>,
    content_type: Option<String>,
    content_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct TagIn {
    name: String,
    #[serde(default)]
    value: String,
}

/// `SendEmailRequest` of Resend's OpenAPI document (fields mailtape does not
/// play, such as `template` and `topic_id`, are accepted and ignored).
#[derive(Debug, Clone, Deserialize)]
struct SendRequest {
    from: Option<String>,
    to: Option<OneOrMany>,
    subject: Option<String>,
    cc: Option<OneOrMany>,
    bcc: Option<OneOrMany>,
    reply_to: Option<OneOrMany>,
    html: Option<String>,
    text: Option<String>,
    headers: Option<BTreeMap<String, Value>>,
    attachments: Option<Vec<AttachmentIn>>,
    tags: Option<Vec<TagIn>>,
    scheduled_at: Option<String>,
}

/// A request that passed validation.
struct Valid {
    out: Outgoing,
    envelope_from: String,
    /// The address the message's From header shows: a custom `From` in
    /// `headers` if there is one, else `from`. The account's checks judge
    /// this one, as the SMTP door judges the header From (issue 25: a
    /// custom From sent mail as an unverified domain).
    shown_from: String,
    tags: Vec<(String, String)>,
    scheduled_at: Option<OffsetDateTime>,
}

impl Valid {
    fn recipients(&self) -> Vec<String> {
        self.out
            .to
            .iter()
            .chain(&self.out.cc)
            .chain(&self.out.bcc)
            .filter_map(|a| mime::mailbox(a).map(|m| m.email.to_string()))
            .collect()
    }
}

/// A REST error by name with its placeholders, before it becomes a response.
type Invalid = (&'static str, Vec<(&'static str, String)>);

fn invalid(name: &'static str, vars: &[(&'static str, &str)]) -> Invalid {
    (
        name,
        vars.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    )
}

fn validate(r: SendRequest, max_rcpts: u64) -> Result<Valid, Invalid> {
    let from = r
        .from
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| invalid("missing_required_field", &[("field", "from")]))?;
    let to =
        r.to.map(OneOrMany::into_vec)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("missing_required_field", &[("field", "to")]))?;
    let subject = r
        .subject
        .ok_or_else(|| invalid("missing_required_field", &[("field", "subject")]))?;
    let Some(from_box) = mime::mailbox(&from) else {
        return Err(invalid("invalid_from", &[]));
    };
    let cc = r.cc.map(OneOrMany::into_vec).unwrap_or_default();
    let bcc = r.bcc.map(OneOrMany::into_vec).unwrap_or_default();
    let reply_to = r.reply_to.map(OneOrMany::into_vec).unwrap_or_default();
    for (field, list) in [
        ("to", &to),
        ("cc", &cc),
        ("bcc", &bcc),
        ("reply_to", &reply_to),
    ] {
        if list.iter().any(|a| mime::mailbox(a).is_none()) {
            return Err(invalid("invalid_address", &[("field", field)]));
        }
    }
    if max_rcpts > 0 && to.len() as u64 > max_rcpts {
        return Err(invalid(
            "too_many_recipients",
            &[("max", &max_rcpts.to_string())],
        ));
    }
    let mut attachments = Vec::new();
    for a in r.attachments.unwrap_or_default() {
        let body = match (&a.content, &a.path) {
            (Some(c), _) => AttachmentBody::Bytes(
                STANDARD
                    .decode(c.trim())
                    .map_err(|_| invalid("invalid_attachment", &[]))?,
            ),
            (None, Some(p)) => AttachmentBody::Url(p.clone()),
            (None, None) => return Err(invalid("invalid_attachment", &[])),
        };
        let filename = a
            .filename
            .clone()
            .or_else(|| {
                a.path
                    .as_ref()
                    .and_then(|p| p.rsplit('/').next().map(String::from))
            })
            .unwrap_or_else(|| "attachment".into());
        // The MIME builder cuts a long name into RFC 2231 continuations, and
        // a key cut in two is no longer seen as one: scrubbed while whole.
        let filename = crate::tape::redact::scrub(&filename).into_owned();
        attachments.push(OutAttachment {
            filename,
            content_type: a.content_type,
            content_id: a.content_id,
            body,
        });
    }
    let headers: Vec<(String, String)> = r
        .headers
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect();
    let shown_from = match headers_named(&headers, "from") {
        Some(custom) => match mime::mailbox(custom) {
            Some(m) => m.email.to_string(),
            None => return Err(invalid("invalid_from", &[])),
        },
        None => from_box.email.to_string(),
    };
    let scheduled_at = match r.scheduled_at {
        None => None,
        Some(s) => Some(
            crate::resend::when::parse(&s, OffsetDateTime::now_utc())
                .ok_or_else(|| invalid("invalid_scheduled_at", &[]))?,
        ),
    };
    let tags: Vec<(String, String)> = r
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.name, t.value))
        .collect();
    for (name, value) in &tags {
        check_tag(name, value)?;
    }
    Ok(Valid {
        envelope_from: from_box.email.to_string(),
        shown_from,
        out: Outgoing {
            id: String::new(),
            from,
            to,
            cc,
            bcc,
            reply_to,
            subject,
            text: r.text,
            html: r.html,
            headers,
            attachments,
        },
        tags,
        scheduled_at,
    })
}

/// The value of the custom header `name` (any case), if given.
fn headers_named<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The longest tag name or value Resend takes.
pub const MAX_TAG: usize = 256;

/// A tag as Resend takes it: a name and a value of ASCII letters, numbers,
/// underscores or dashes (a name may not be empty), each at most 256.
fn check_tag(name: &str, value: &str) -> Result<(), Invalid> {
    let ok = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if name.is_empty() || !ok(name) || !ok(value) {
        return Err(invalid("invalid_tag", &[]));
    }
    if name.len() > MAX_TAG || value.len() > MAX_TAG {
        return Err(invalid(
            "invalid_body",
            &[("detail", "a tag name or value is at most 256 characters")],
        ));
    }
    Ok(())
}

/// The idempotency key of a request, if any; a bad one is refused.
#[allow(clippy::result_large_err)]
fn idempotency_key(rest: &Rest, headers: &HeaderMap) -> Result<Option<String>, Response> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if idempotency::valid_key(k) => Ok(Some(k.to_string())),
        _ => Err(rest.error("invalid_idempotency_key", &[])),
    }
}

/// What the idempotency store says about this request; `Err` is the answer.
#[allow(clippy::result_large_err)]
fn replayed(rest: &Rest, key: Option<&str>, fp: &idempotency::Fingerprint) -> Result<(), Response> {
    let Some(key) = key else { return Ok(()) };
    let seen = rest.shared.idempotency().check(key, fp, Instant::now());
    match seen {
        Seen::New => Ok(()),
        // The first answer's body as it was sent (issue 25: guessing it back
        // from the ids gave a batch's retry another shape).
        Seen::Replay(stored) => Err((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            stored,
        )
            .into_response()),
        Seen::InProgress => Err(rest.error("idempotency_in_progress", &[])),
        Seen::Conflict => Err(rest.error("idempotency_conflict", &[])),
    }
}

/// The request body as JSON, or the API's 422.
#[allow(clippy::result_large_err)]
fn parse_json(rest: &Rest, body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(body)
        .map_err(|e| rest.error("invalid_body", &[("detail", &e.to_string())]))
}

/// What both sending endpoints check first, in the API's order: the key,
/// the idempotency key, the JSON, and whether the key was seen before.
struct Opening {
    grant: crate::resend::Grant,
    key: Option<String>,
    json: Value,
    fp: idempotency::Fingerprint,
}

#[allow(clippy::result_large_err)]
fn opening(
    rest: &Rest,
    headers: &HeaderMap,
    body: &[u8],
    what: &[u8],
) -> Result<Opening, Response> {
    let grant = rest.authorize(headers, true)?;
    let key = idempotency_key(rest, headers)?;
    let json = parse_json(rest, body)?;
    // serde_json sorts object keys: the same request gives the same bytes.
    let fp = idempotency::fingerprint(&[what, json.to_string().as_bytes()]);
    replayed(rest, key.as_deref(), &fp)?;
    Ok(Opening {
        grant,
        key,
        json,
        fp,
    })
}

/// `POST /emails`.
pub async fn one(
    State(rest): State<Arc<Rest>>,
    Extension(ExchangeId(exchange)): Extension<ExchangeId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Opening {
        grant,
        key,
        json,
        fp,
    } = match opening(&rest, &headers, &body, b"rest /emails") {
        Ok(o) => o,
        Err(r) => return r,
    };
    let sender = Sender::of(&headers, exchange);
    let resp = send_one(&rest, &grant, json, &sender, key.as_deref(), fp).await;
    release(&rest, key.as_deref(), &resp);
    resp
}

/// A refused request lets go of its idempotency key: the retry is new.
fn release(rest: &Rest, key: Option<&str>, resp: &Response) {
    if let Some(k) = key
        && !resp.status().is_success()
    {
        rest.shared.idempotency().forget(k);
    }
}

async fn send_one(
    rest: &Rest,
    grant: &crate::resend::Grant,
    json: Value,
    sender: &Sender,
    key: Option<&str>,
    fp: idempotency::Fingerprint,
) -> Response {
    let req: SendRequest = match serde_json::from_value(json) {
        Ok(r) => r,
        Err(e) => return rest.error("invalid_body", &[("detail", &e.to_string())]),
    };
    let st = rest.shared.settings();
    let valid = match validate(req, st.limits.recipients) {
        Ok(v) => v,
        Err((name, vars)) => return rest.error(name, &vars_of(&vars)),
    };
    if rest.shared.take_temporary_failure() {
        return rest.error("temporary_failure", &[]);
    }
    let rcpts = valid.recipients();
    if let Err(r) = rest.shared.judge(Some(grant), &valid.shown_from, &rcpts) {
        return rest.refusal(&r);
    }
    match accept(&rest.shared, valid, sender).await {
        Ok(id) => {
            let body = json!({"id": id});
            if let Some(k) = key {
                rest.shared
                    .idempotency()
                    .remember(k, fp, &body.to_string(), Instant::now());
            }
            axum::Json(body).into_response()
        }
        Err(NotAccepted::Invalid(detail)) => rest.error("invalid_body", &[("detail", &detail)]),
        Err(NotAccepted::NotSaved) => rest.error("temporary_failure", &[]),
    }
}

/// `POST /emails/batch`: up to 100 emails in one request (one request for
/// the rate limit, every recipient for the quotas). With
/// `x-batch-validation: permissive` the valid ones are sent and the others
/// listed in `errors`; by default (`strict`) one bad email refuses the batch.
pub async fn batch(
    State(rest): State<Arc<Rest>>,
    Extension(ExchangeId(exchange)): Extension<ExchangeId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Opening {
        grant,
        key,
        json,
        fp,
    } = match opening(&rest, &headers, &body, b"rest /emails/batch") {
        Ok(o) => o,
        Err(r) => return r,
    };
    let sender = Sender::of(&headers, exchange);
    let resp = send_batch(&rest, &headers, &grant, json, &sender, key.as_deref(), fp).await;
    release(&rest, key.as_deref(), &resp);
    resp
}

async fn send_batch(
    rest: &Rest,
    headers: &HeaderMap,
    grant: &crate::resend::Grant,
    json: Value,
    sender: &Sender,
    key: Option<&str>,
    fp: idempotency::Fingerprint,
) -> Response {
    let Value::Array(items) = json else {
        return rest.error(
            "invalid_body",
            &[("detail", "a batch is a JSON array of emails")],
        );
    };
    if items.len() > MAX_BATCH {
        return rest.error("batch_too_large", &[]);
    }
    let permissive = headers
        .get("x-batch-validation")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"permissive"));
    let st = rest.shared.settings();
    let mut good = Vec::new();
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let checked = serde_json::from_value::<SendRequest>(item)
            .map_err(|e| {
                rest.shared
                    .settings()
                    .profile
                    .rest_error("invalid_body", &[("detail", &e.to_string())])
            })
            .and_then(|r| {
                validate(r, st.limits.recipients)
                    .map_err(|(name, vars)| st.profile.rest_error(name, &vars_of(&vars)))
            })
            .and_then(|v| {
                rest.shared
                    .check(Some(grant), &v.shown_from, &v.recipients())
                    .map(|()| v)
                    .map_err(|r| st.profile.rest_error(super::rest_name(r.name), &r.vars()))
            });
        match checked {
            Ok(v) => good.push(v),
            Err(e) if permissive => errors.push(json!({"index": index, "message": e.message})),
            Err(e) => {
                let e = crate::resend::profile::RestError {
                    message: format!("emails[{index}]: {}", e.message),
                    ..e
                };
                return super::error_response(e);
            }
        }
    }
    if rest.shared.take_temporary_failure() {
        return rest.error("temporary_failure", &[]);
    }
    let total: usize = good.iter().map(|v| v.recipients().len()).sum();
    if let Err(r) = rest.shared.admit(total as u64) {
        return rest.refusal(&r);
    }
    let mut ids = Vec::new();
    for v in good {
        match accept(&rest.shared, v, sender).await {
            Ok(id) => ids.push(id),
            Err(NotAccepted::Invalid(detail)) => {
                errors.push(json!({"index": ids.len(), "message": detail}))
            }
            Err(NotAccepted::NotSaved) => errors.push(
                json!({"index": ids.len(), "message": "the message could not be saved; try again later"}),
            ),
        }
    }
    let data: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    let body = if permissive {
        json!({"data": data, "errors": errors})
    } else {
        json!({"data": data})
    };
    if let Some(k) = key {
        rest.shared
            .idempotency()
            .remember(k, fp, &body.to_string(), Instant::now());
    }
    axum::Json(body).into_response()
}

fn vars_of<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Why an email valid so far was not accepted.
enum NotAccepted {
    /// The MIME message could not be built from it (a 422).
    Invalid(String),
    /// The mailbox could not keep it (a 500, as a 451/452 over SMTP).
    NotSaved,
}

/// Who sent a request: its exchange, and the key's fingerprint (which app
/// sent it; never the key).
struct Sender {
    exchange: u64,
    key: Option<String>,
}

impl Sender {
    fn of(headers: &HeaderMap, exchange: u64) -> Sender {
        Sender {
            exchange,
            key: super::bearer(headers).map(|k| redact_secret(k.as_bytes())),
        }
    }
}

/// Resend's tags as the inbox keeps them: `name=value`.
fn tag_texts(tags: &[(String, String)]) -> Vec<String> {
    tags.iter().map(|(n, v)| format!("{n}={v}")).collect()
}

/// Builds the message, keeps the email for `GET /emails`, and delivers it
/// now (on disk before this returns, with a mailbox) or when it is due.
/// Returns its id, or why it was not accepted.
async fn accept(
    shared: &Arc<MockShared>,
    mut v: Valid,
    sender: &Sender,
) -> Result<String, NotAccepted> {
    let exchange = sender.exchange;
    let id = new_id();
    v.out.id = id.clone();
    let mime = mime::build(&v.out).map_err(NotAccepted::Invalid)?;
    let attachments = v
        .out
        .attachments
        .iter()
        .map(|a| {
            let (content, url, size) = match &a.body {
                AttachmentBody::Bytes(b) => (Some(Arc::new(b.clone())), None, b.len()),
                AttachmentBody::Url(u) => (None, Some(u.clone()), 0),
            };
            AttachmentRecord {
                id: new_id(),
                filename: Some(a.filename.clone()),
                content_type: a
                    .content_type
                    .clone()
                    .unwrap_or_else(|| mime::type_of(&a.filename).to_string()),
                content_id: a.content_id.clone(),
                size,
                content,
                url,
            }
        })
        .collect();
    let now = OffsetDateTime::now_utc();
    let due = v.scheduled_at.filter(|t| *t > now);
    let rcpts = v.recipients();
    let record = EmailRecord {
        id: id.clone(),
        from: v.out.from.clone(),
        to: v.out.to.clone(),
        cc: v.out.cc.clone(),
        bcc: v.out.bcc.clone(),
        reply_to: v.out.reply_to.clone(),
        subject: v.out.subject.clone(),
        html: v.out.html.clone(),
        text: v.out.text.clone(),
        tags: v.tags.clone(),
        created_at: now,
        scheduled_at: v.scheduled_at,
        outcome: outcome_of(&shared.settings().profile, &rcpts),
        state: match due {
            Some(_) => EmailState::Scheduled { mime: mime.clone() },
            None => EmailState::Sent,
        },
        session: exchange,
        envelope_from: v.envelope_from.clone(),
        api_key: sender.key.clone(),
        message_id: format!("<{id}@resend.dev>"),
        attachments,
    };
    let tags = tag_texts(&record.tags);
    match due {
        Some(_) => {
            shared.emails().push(record);
            // Webhooks send email.scheduled now, the rest when it is due.
            shared
                .sink()
                .publish(SinkEvent::MessageScheduled(Arc::new(Message {
                    id: id.clone(),
                    session: exchange,
                    from: v.envelope_from.clone(),
                    to: rcpts,
                    data: mime,
                    path: None,
                    key: sender.key.clone(),
                    user: None,
                    tags: tags.clone(),
                })));
            schedule(shared.clone(), id.clone());
        }
        None => {
            // With a mailbox, a 200 means the message is on disk, as a 250
            // does over SMTP; the account learns only of a message kept.
            let sink = shared.sink().clone();
            let saved = sink
                .accept(Message {
                    id: id.clone(),
                    session: exchange,
                    from: v.envelope_from,
                    to: rcpts,
                    data: mime,
                    path: None,
                    key: sender.key.clone(),
                    user: None,
                    tags,
                })
                .await;
            if saved.is_err() {
                return Err(NotAccepted::NotSaved);
            }
            shared.emails().push(record);
        }
    }
    Ok(id)
}

/// Delivers a scheduled email when it is due, unless it is canceled first;
/// a `PATCH` that moves it is seen when the timer wakes.
pub fn schedule(shared: Arc<MockShared>, id: String) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        loop {
            let due = {
                let emails = shared.emails();
                match emails.get(&id) {
                    Some(e) if matches!(e.state, EmailState::Scheduled { .. }) => e.scheduled_at,
                    _ => return,
                }
            };
            let wait = due
                .map(|t| t - OffsetDateTime::now_utc())
                .and_then(|d| std::time::Duration::try_from(d).ok())
                .unwrap_or_default();
            if !wait.is_zero() {
                // Wake at least once a minute to see a PATCH or a cancel.
                tokio::time::sleep(wait.min(std::time::Duration::from_secs(60))).await;
                continue;
            }
            let sent = {
                let mut emails = shared.emails();
                let Some(e) = emails.get_mut(&id) else { return };
                match std::mem::replace(&mut e.state, EmailState::Sent) {
                    EmailState::Scheduled { mime } => {
                        let to: Vec<String> =
                            e.to.iter().chain(&e.cc).chain(&e.bcc).cloned().collect();
                        let tags = tag_texts(&e.tags);
                        let key = e.api_key.clone();
                        Some((mime, e.session, e.envelope_from.clone(), to, key, tags))
                    }
                    other => {
                        e.state = other;
                        None
                    }
                }
            };
            if let Some((mime, session, from, to, key, tags)) = sent {
                let to = to
                    .iter()
                    .filter_map(|a| mime::mailbox(a).map(|m| m.email.to_string()))
                    .collect();
                let message = Message {
                    id: id.clone(),
                    session,
                    from,
                    to,
                    data: mime,
                    path: None,
                    key,
                    user: None,
                    tags,
                };
                // Due while the team's quota is spent: Resend does not send
                // it, and says so with email.failed.
                let spent = {
                    let limits = shared.settings().limits;
                    shared.usage().exhausted(&limits, Day::today())
                };
                match spent {
                    Some(quota) => {
                        let reason = match quota {
                            Exceeded::Monthly => "reached_monthly_quota",
                            _ => "reached_daily_quota",
                        };
                        if let Some(e) = shared.emails().get_mut(&id) {
                            e.state = EmailState::Failed;
                        }
                        shared.sink().publish(SinkEvent::MessageFailed {
                            message: Arc::new(message),
                            reason: reason.into(),
                        });
                    }
                    None => shared.sink().deliver(message),
                }
            }
            return;
        }
    });
}
