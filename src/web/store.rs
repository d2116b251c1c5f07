//! The inbox's memory: the last N sessions and messages (oldest dropped
//! first, counted), and the event stream the page listens to.
//!
//! The store is a subscriber of the sink with its own bounded queue, drained
//! by a thread of its own, so taking a message apart or a browser reading
//! slowly never holds up an SMTP session. A full queue drops the event and
//! counts it (`dropped_queue`). The subscription is a confirmed one: a
//! session's `250` (a REST `200`) waits until the message is listed here,
//! so an app's test that sends and then reads the inbox finds it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::json;
use tokio::sync::{Notify, broadcast};

use super::extract::{self, Code};
use super::mime::{self, Parsed};
use super::summary::{SessionSummary, accepted_messages, summarise};
use crate::output::sink::{Event as SinkEvent, Message, Subscription};
use crate::tape::Transcript;

/// Sessions and messages the inbox's queue holds before new ones are
/// dropped (it subscribes to whole sessions, not lines).
pub const QUEUE: usize = 16 * 1024;
/// Events an SSE client may fall behind by before it is told to reload.
const EVENTS: usize = 1024;

/// A live event for the page: its kind and its JSON text.
pub type Event = (&'static str, Arc<str>);

/// A session kept by the inbox.
pub struct SessionRec {
    /// Its place in the inbox's order of arrival (see [`Store::cursor`]).
    pub seq: u64,
    /// Its row in the list.
    pub summary: SessionSummary,
    /// The redacted transcript (shared with the sink's other readers).
    pub transcript: Arc<Transcript>,
}

/// A message kept by the inbox.
pub struct MessageRec {
    /// The id given in the 250 reply (or the .eml file's name).
    pub id: String,
    /// The key of the session it came in, once that session has ended.
    pub session: OnceLock<u64>,
    /// The session number in its server run.
    pub session_number: u64,
    /// The envelope sender.
    pub env_from: String,
    /// The envelope recipients.
    pub env_to: Vec<String>,
    /// When it reached the inbox, RFC 3339 UTC.
    pub created: String,
    /// The message as received, any key scrubbed.
    pub raw: Vec<u8>,
    /// Taken apart.
    pub parsed: Parsed,
    /// Read (Mailpit's flag; set with `PUT /api/v1/messages`).
    pub read: AtomicBool,
    /// What a search reads (see [`MessageRec::matches`]).
    haystack: String,
    /// `http` when its session was a REST API call (known once the
    /// session ends); `smtp` otherwise.
    pub protocol: OnceLock<&'static str>,
    /// Its place in the inbox's order of arrival (see [`Store::cursor`]).
    pub seq: u64,
    /// When it reached the inbox.
    pub received: SystemTime,
    /// The fingerprint of the API key it was sent with (which app).
    pub key: Option<String>,
    /// The SMTP user of its session.
    pub user: Option<String>,
    /// One-time codes in its subject and text.
    pub codes: Vec<Code>,
    /// Its tags: `X-Tags`, Resend's `tags` (`name=value`), and those set
    /// through Mailpit's tag API. Sorted, each once.
    tags: RwLock<Vec<String>>,
}

impl MessageRec {
    /// Whether it was marked read.
    pub fn is_read(&self) -> bool {
        self.read.load(Ordering::Relaxed)
    }

    /// `smtp` or `http`.
    pub fn protocol(&self) -> &'static str {
        self.protocol.get().copied().unwrap_or("smtp")
    }

    /// Its tags, sorted.
    pub fn tags(&self) -> RwLockReadGuard<'_, Vec<String>> {
        self.tags.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces its tags (cleaned, sorted, each once).
    pub fn set_tags(&self, tags: Vec<String>) {
        *self.tags.write().unwrap_or_else(|p| p.into_inner()) = clean_tags(tags);
    }

    /// The page's link to it.
    pub fn url(&self) -> String {
        format!("/#/message/{}", self.id)
    }

    /// The first text of the body, for lists.
    pub fn snippet(&self) -> String {
        let text = if self.parsed.text.is_empty() {
            &self.parsed.html
        } else {
            &self.parsed.text
        };
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        flat.chars().take(250).collect()
    }

    /// Whether a search (lower case) is found in its addresses, subject or text.
    pub fn matches(&self, q: &str) -> bool {
        self.haystack.contains(q)
    }

    /// What a search reads, lower case, made once when the message arrives
    /// (lowering 10,000 texts per search was most of a search's time).
    fn haystack(id: &str, env_from: &str, env_to: &[String], p: &Parsed) -> String {
        let mut fields: Vec<&str> = vec![id, env_from, &p.subject, &p.text];
        fields.extend(env_to.iter().map(String::as_str));
        fields.extend(p.from.iter().map(|a| a.address.as_str()));
        fields.extend(p.to.iter().chain(&p.cc).map(|a| a.address.as_str()));
        // A separator no search text holds keeps fields from running together.
        fields.join("\u{0}").to_lowercase()
    }

    /// The row of mailtape's own message list.
    pub fn row(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "session": self.session.get(),
            "session_number": self.session_number,
            "protocol": self.protocol.get().copied().unwrap_or("smtp"),
            "from": self.env_from,
            "to": self.env_to,
            "header_from": self.parsed.from,
            "subject": self.parsed.subject,
            "created": self.created,
            "size": self.raw.len(),
            "attachments": self.parsed.attachments.len(),
            "snippet": self.snippet(),
            "read": self.read.load(Ordering::Relaxed),
            "tags": *self.tags(),
            "key": self.key,
            "user": self.user,
            "codes": self.codes.iter().map(|c| &c.code).collect::<Vec<_>>(),
            "cursor": self.seq,
            "url": self.url(),
        })
    }

    fn new(
        id: String,
        session_number: u64,
        from: String,
        to: Vec<String>,
        raw: Vec<u8>,
    ) -> MessageRec {
        let parsed = mime::parse(&raw);
        let tags = header_tags(&parsed);
        MessageRec {
            haystack: MessageRec::haystack(&id, &from, &to, &parsed),
            codes: extract::codes(&parsed.subject, &parsed.text),
            id,
            session: OnceLock::new(),
            session_number,
            env_from: from,
            env_to: to,
            created: now_rfc3339(),
            parsed,
            raw,
            read: AtomicBool::new(false),
            protocol: OnceLock::new(),
            seq: 0,
            received: SystemTime::now(),
            key: None,
            user: None,
            tags: RwLock::new(clean_tags(tags)),
        }
    }
}

/// The tags a message names itself: `X-Tags: a, b` (Mailpit's header).
fn header_tags(p: &Parsed) -> Vec<String> {
    p.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-tags"))
        .flat_map(|(_, v)| v.split(',').map(str::to_string))
        .collect()
}

/// Tags as Mailpit keeps them: letters, digits, `-`, `_`, `.`, spaces (and
/// `=` for Resend's `name=value`), trimmed, sorted, each once.
pub fn clean_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = tags
        .into_iter()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | '='))
                .collect::<String>()
                .trim()
                .to_string()
        })
        .filter(|t| !t.is_empty())
        .collect();
    out.sort_by_key(|t| t.to_lowercase());
    out.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    out
}

/// An item of the generic feed (see [`Store::record`]): what other parts
/// (webhook deliveries) let tests wait for.
pub struct FeedItem {
    /// Its place in the inbox's order of arrival.
    pub seq: u64,
    /// Its kind (`webhook`, …).
    pub kind: &'static str,
    /// What it says, as JSON.
    pub data: serde_json::Value,
    /// `data` as text, lower case, for free-text queries.
    pub text: String,
    /// When it was recorded.
    pub received: SystemTime,
}

#[derive(Default)]
struct Inner {
    sessions: VecDeque<Arc<SessionRec>>,
    messages: VecDeque<Arc<MessageRec>>,
    next_key: u64,
    dropped_sessions: u64,
    dropped_messages: u64,
    deleted: u64,
    /// Messages of live sessions that have not ended yet, by session number.
    waiting: HashMap<u64, Vec<Arc<MessageRec>>>,
    /// The last place given (messages, sessions and feed items share it).
    cursor: u64,
    /// The generic feed, oldest first.
    feed: VecDeque<Arc<FeedItem>>,
}

/// Counts shown in the page's header and in `/api/info`.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Sessions kept.
    pub sessions: usize,
    /// Messages kept.
    pub messages: usize,
    /// Unread messages.
    pub unread: usize,
    /// Sessions dropped because more than `keep` arrived.
    pub dropped_sessions: u64,
    /// Messages dropped because more than `keep` arrived.
    pub dropped_messages: u64,
    /// Sessions and messages the sink could not queue for the inbox (it fell behind).
    pub dropped_queue: u64,
    /// SSE events not delivered to a browser that fell behind.
    pub dropped_events: u64,
    /// Messages deleted through the API.
    pub deleted: u64,
    /// How many of each the store keeps.
    pub keep: usize,
    /// Waits (`/api/wait/…`) in progress.
    pub waiters: usize,
}

/// The inbox's store.
pub struct Store {
    keep: usize,
    inner: RwLock<Inner>,
    events: broadcast::Sender<Event>,
    queue_dropped: Arc<AtomicU64>,
    events_dropped: AtomicU64,
    started: Instant,
    /// What the waits in progress want, checked on the inbox's thread as
    /// each item arrives: only a wait whose query matches is woken.
    interests: std::sync::Mutex<Vec<std::sync::Weak<Interest>>>,
    waiters: AtomicUsize,
}

/// An item as it arrives, for the waits' interests.
pub enum Arrival<'a> {
    /// A message.
    Message(&'a MessageRec),
    /// A session that ended.
    Session(&'a SessionRec),
    /// A feed item.
    Feed(&'a FeedItem),
}

/// What one wait wants, and how it is woken.
pub struct Interest {
    wants: Box<dyn Fn(&Arrival<'_>) -> bool + Send + Sync>,
    /// Woken (a permit kept if it is not waiting yet) when an item it
    /// wants arrives.
    pub woken: Notify,
}

/// Counts a wait in progress while it lives (see [`Store::waiter`]).
pub struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A page of a list, newest first.
pub struct Page<T> {
    /// Items that matched.
    pub matched: usize,
    /// The items of this page.
    pub items: Vec<T>,
}

impl Store {
    /// A store keeping `keep` sessions and `keep` messages, fed by a sink
    /// subscription on a thread of its own.
    pub fn start(keep: usize, mut feed: Subscription) -> Result<Arc<Store>, crate::Error> {
        let dropped = Arc::new(AtomicU64::new(0));
        let store = Arc::new(Store {
            keep: keep.max(1),
            inner: RwLock::new(Inner {
                next_key: 1,
                ..Inner::default()
            }),
            events: broadcast::channel(EVENTS).0,
            queue_dropped: dropped.clone(),
            events_dropped: AtomicU64::new(0),
            started: Instant::now(),
            interests: std::sync::Mutex::new(Vec::new()),
            waiters: AtomicUsize::new(0),
        });
        let s = store.clone();
        std::thread::Builder::new()
            .name("mailtape-inbox".into())
            .spawn(move || {
                // Ends when the sink closes.
                while let Some(event) = feed.blocking_recv() {
                    let listed = match &*event {
                        SinkEvent::SessionFinished { transcript, .. } => {
                            s.add_session(transcript.clone(), "live");
                            None
                        }
                        SinkEvent::MessageAccepted(m) => Some(s.list_message((**m).clone())),
                        // Waitable with `GET /api/wait/event?query=type:webhook_event`.
                        SinkEvent::Webhook { json, .. } => {
                            s.record("webhook", json.clone());
                            None
                        }
                        _ => None,
                    };
                    // The message is listed: its 250 (or 200) may go now,
                    // before the waits and pages hear of it (matching many
                    // parked waits is not on the session's path).
                    feed.handled();
                    if let Some(rec) = listed {
                        s.announce(&rec);
                    }
                    let missed = feed.take_dropped();
                    if missed > 0 {
                        s.queue_dropped.fetch_add(missed, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| crate::Error::Io {
                action: "start the inbox's thread".into(),
                source: e,
            })?;
        Ok(store)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends an event to every page listening (its kind, and a JSON
    /// object `{"type": kind, "data": data}`).
    pub fn publish(&self, kind: &'static str, data: serde_json::Value) {
        let text: Arc<str> = json!({"type": kind, "data": data}).to_string().into();
        // No receiver (no page open) is not an error.
        let _ = self.events.send((kind, text));
    }

    /// A new listener of the event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Counts a listener that fell `n` events behind.
    pub fn events_lagged(&self, n: u64) {
        self.events_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// The place of the last item that arrived: a wait `since` it sees only
    /// what comes after.
    pub fn cursor(&self) -> u64 {
        self.read().cursor
    }

    /// Registers what a wait wants; it is woken when such an item
    /// arrives, for as long as the returned value lives (a wait whose
    /// client went away is dropped, and its interest with it).
    pub fn interest(
        &self,
        wants: impl Fn(&Arrival<'_>) -> bool + Send + Sync + 'static,
    ) -> Arc<Interest> {
        let i = Arc::new(Interest {
            wants: Box::new(wants),
            woken: Notify::new(),
        });
        self.interests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&i));
        i
    }

    /// Counts a wait until the returned value is dropped (a wait whose
    /// client went away is dropped with its request).
    pub fn waiter(&self) -> Waiting<'_> {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        Waiting(&self.waiters)
    }

    /// Waits in progress.
    pub fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Wakes the waits that want this item (and forgets those whose
    /// request is gone). Runs on the thread that added the item, after the
    /// store's lock is released: the cost of many waits is here, never on
    /// a session's path.
    fn offer(&self, item: Arrival<'_>) {
        let mut list = self.interests.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|w| match w.upgrade() {
            Some(i) => {
                if (i.wants)(&item) {
                    i.woken.notify_one();
                }
                true
            }
            None => false,
        });
    }

    /// Messages that arrived after `cursor`, oldest first.
    pub fn messages_after(&self, cursor: u64) -> Vec<Arc<MessageRec>> {
        let inner = self.read();
        let newer = inner
            .messages
            .iter()
            .rev()
            .take_while(|m| m.seq > cursor)
            .count();
        inner
            .messages
            .iter()
            .skip(inner.messages.len() - newer)
            .cloned()
            .collect()
    }

    /// Sessions that ended after `cursor`, oldest first.
    pub fn sessions_after(&self, cursor: u64) -> Vec<Arc<SessionRec>> {
        let inner = self.read();
        let newer = inner
            .sessions
            .iter()
            .rev()
            .take_while(|s| s.seq > cursor)
            .count();
        inner
            .sessions
            .iter()
            .skip(inner.sessions.len() - newer)
            .cloned()
            .collect()
    }

    /// Feed items recorded after `cursor`, oldest first.
    pub fn feed_after(&self, cursor: u64) -> Vec<Arc<FeedItem>> {
        let inner = self.read();
        let newer = inner
            .feed
            .iter()
            .rev()
            .take_while(|s| s.seq > cursor)
            .count();
        inner
            .feed
            .iter()
            .skip(inner.feed.len() - newer)
            .cloned()
            .collect()
    }

    /// Records an item of another part (a webhook delivery, say) that tests
    /// can wait for with `GET /api/wait/event` (the last `keep` are kept);
    /// returns its cursor.
    pub fn record(&self, kind: &'static str, data: serde_json::Value) -> u64 {
        let text = data.to_string().to_lowercase();
        let mut inner = self.write();
        inner.cursor += 1;
        let seq = inner.cursor;
        let item = Arc::new(FeedItem {
            seq,
            kind,
            data,
            text,
            received: SystemTime::now(),
        });
        inner.feed.push_back(item.clone());
        while inner.feed.len() > self.keep {
            inner.feed.pop_front();
        }
        drop(inner);
        self.offer(Arrival::Feed(&item));
        seq
    }

    /// The live session with this number in the server's run (deep links
    /// name live sessions by it).
    pub fn live_session(&self, number: u64) -> Option<Arc<SessionRec>> {
        let inner = self.read();
        inner
            .sessions
            .iter()
            .rev()
            .find(|s| s.summary.origin == "live" && s.summary.session == number)
            .cloned()
    }

    /// Gives each message the tags `change` returns for it (`None`: left
    /// as they are), and tells the pages.
    pub fn update_tags(&self, change: impl Fn(&MessageRec) -> Option<Vec<String>>) {
        let mut changed = Vec::new();
        for m in self.read().messages.iter() {
            if let Some(tags) = change(m) {
                m.set_tags(tags);
                changed.push(m.id.clone());
            }
        }
        if !changed.is_empty() {
            self.publish("tags", json!({"ids": changed}));
        }
    }

    /// Every tag in use and how many messages carry it.
    pub fn tag_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for m in self.read().messages.iter() {
            for t in m.tags().iter() {
                *out.entry(t.clone()).or_insert(0) += 1;
            }
        }
        out
    }

    /// Seconds since the store started.
    pub fn uptime(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Adds a finished session; `origin` is `live` or the tape it came from.
    pub fn add_session(&self, t: Arc<Transcript>, origin: &str) {
        // Record and replay deliver nothing themselves: what they accepted
        // is rebuilt from the transcript, so the inbox shows it too.
        if origin == "live"
            && t.meta.mode != "mock"
            && !self.read().waiting.contains_key(&t.meta.id)
        {
            for (i, m) in accepted_messages(&t).into_iter().enumerate() {
                self.add_message(Message {
                    id: format!("{}-{}-{}", t.meta.mode, t.meta.id, i + 1),
                    session: t.meta.id,
                    from: m.from,
                    to: m.to,
                    data: m.data,
                    ..Message::default()
                });
            }
        }
        let mut inner = self.write();
        let key = inner.next_key;
        inner.next_key += 1;
        let mut summary = summarise(key, origin, &t);
        if origin == "live"
            && let Some(msgs) = inner.waiting.remove(&t.meta.id)
        {
            for m in msgs {
                let _ = m.session.set(key);
                let _ = m.protocol.set(summary.protocol);
                summary.messages.push(m.id.clone());
            }
        }
        let row = serde_json::to_value(&summary).unwrap_or_default();
        inner.cursor += 1;
        let seq = inner.cursor;
        let rec = Arc::new(SessionRec {
            seq,
            summary,
            transcript: t,
        });
        inner.sessions.push_back(rec.clone());
        while inner.sessions.len() > self.keep {
            inner.sessions.pop_front();
            inner.dropped_sessions += 1;
        }
        drop(inner);
        self.offer(Arrival::Session(&rec));
        self.publish("session", row);
    }

    /// Adds an accepted message (listed, then announced).
    pub fn add_message(&self, m: Message) {
        let rec = self.list_message(m);
        self.announce(&rec);
    }

    /// Lists an accepted message, readable from then on; the waits and
    /// pages hear of it with [`Store::announce`].
    fn list_message(&self, m: Message) -> Arc<MessageRec> {
        let mut rec = MessageRec::new(m.id, m.session, m.from, m.to, m.data);
        rec.key = m.key;
        rec.user = m.user;
        if !m.tags.is_empty() {
            let mut tags = rec.tags().clone();
            tags.extend(m.tags);
            rec.set_tags(tags);
        }
        self.list(rec, true)
    }

    /// Wakes the waits that want a listed message and tells the pages.
    fn announce(&self, rec: &MessageRec) {
        self.offer(Arrival::Message(rec));
        self.publish("message", rec.row());
    }

    fn insert_message(&self, rec: MessageRec, live: bool) {
        let rec = self.list(rec, live);
        self.announce(&rec);
    }

    fn list(&self, mut rec: MessageRec, live: bool) -> Arc<MessageRec> {
        let mut inner = self.write();
        inner.cursor += 1;
        rec.seq = inner.cursor;
        let rec = Arc::new(rec);
        if live {
            inner
                .waiting
                .entry(rec.session_number)
                .or_default()
                .push(rec.clone());
        }
        inner.messages.push_back(rec.clone());
        while inner.messages.len() > self.keep {
            inner.messages.pop_front();
            inner.dropped_messages += 1;
        }
        rec
    }

    /// Sessions, newest first, that pass `keep`; `start` and `limit` page them.
    pub fn sessions(
        &self,
        start: usize,
        limit: usize,
        keep: impl Fn(&SessionRec) -> bool,
    ) -> Page<Arc<SessionRec>> {
        let inner = self.read();
        page(inner.sessions.iter().rev(), start, limit, |s| keep(s))
    }

    /// Messages, newest first, that pass `keep`.
    pub fn messages(
        &self,
        start: usize,
        limit: usize,
        keep: impl Fn(&MessageRec) -> bool,
    ) -> Page<Arc<MessageRec>> {
        let inner = self.read();
        page(inner.messages.iter().rev(), start, limit, |m| keep(m))
    }

    /// One session by its key.
    pub fn session(&self, key: u64) -> Option<Arc<SessionRec>> {
        let inner = self.read();
        // Keys grow with the deque, so a binary search finds it.
        let i = inner
            .sessions
            .binary_search_by_key(&key, |s| s.summary.key)
            .ok()?;
        inner.sessions.get(i).cloned()
    }

    /// One message by id; `latest` is the newest.
    pub fn message(&self, id: &str) -> Option<Arc<MessageRec>> {
        let inner = self.read();
        if id == "latest" {
            return inner.messages.back().cloned();
        }
        inner.messages.iter().rev().find(|m| m.id == id).cloned()
    }

    /// Deletes every session and message.
    pub fn clear(&self) {
        let mut inner = self.write();
        inner.deleted += inner.messages.len() as u64;
        inner.sessions.clear();
        inner.messages.clear();
        inner.waiting.clear();
        drop(inner);
        self.publish("clear", json!({}));
    }

    /// Deletes these messages (all when `ids` is empty); returns how many went.
    pub fn delete_messages(&self, ids: &[String]) -> usize {
        let mut inner = self.write();
        let before = inner.messages.len();
        if ids.is_empty() {
            inner.messages.clear();
        } else {
            inner.messages.retain(|m| !ids.contains(&m.id));
        }
        let gone = before - inner.messages.len();
        inner.deleted += gone as u64;
        drop(inner);
        self.publish("deleted", json!({"ids": ids}));
        gone
    }

    /// Sets the read flag of these messages (all when `ids` is empty).
    pub fn set_read(&self, ids: &[String], read: bool) {
        for m in self.read().messages.iter() {
            if ids.is_empty() || ids.contains(&m.id) {
                m.read.store(read, Ordering::Relaxed);
            }
        }
    }

    /// The counts.
    pub fn counts(&self) -> Counts {
        let inner = self.read();
        Counts {
            sessions: inner.sessions.len(),
            messages: inner.messages.len(),
            unread: inner
                .messages
                .iter()
                .filter(|m| !m.read.load(Ordering::Relaxed))
                .count(),
            dropped_sessions: inner.dropped_sessions,
            dropped_messages: inner.dropped_messages,
            dropped_queue: self.queue_dropped.load(Ordering::Relaxed),
            dropped_events: self.events_dropped.load(Ordering::Relaxed),
            deleted: inner.deleted,
            keep: self.keep,
            waiters: self.waiters(),
        }
    }

    /// Loads what is already on disk: every `.tape` in `tapes` (a folder or
    /// one file) and every `.eml` in `mailbox`. Unreadable files are logged
    /// and skipped; they must not stop the server.
    pub fn load_disk(&self, tapes: &[std::path::PathBuf], mailbox: Option<&std::path::Path>) {
        for source in tapes {
            let files = if source.is_dir() {
                files_with(source, "tape")
            } else if source.is_file() {
                vec![source.clone()]
            } else {
                Vec::new()
            };
            for f in files {
                let origin = f.display().to_string();
                match std::fs::read_to_string(&f)
                    .map_err(|e| e.to_string())
                    .and_then(|t| crate::tape::Tape::parse(&t, &origin).map_err(|e| e.to_string()))
                {
                    Ok(tape) => {
                        // A webhook attempt's transcript is mailtape's own
                        // request, not a client's session.
                        for t in tape.sessions {
                            if !crate::tape::http::is_webhook(&t.meta) {
                                self.add_session(Arc::new(t), &origin);
                            }
                        }
                    }
                    Err(e) => tracing::warn!("inbox: skipped {origin}: {e}"),
                }
            }
        }
        if let Some(dir) = mailbox {
            for f in files_with(dir, "eml") {
                match std::fs::read(&f) {
                    // A file on disk may have been put there or edited by
                    // hand: redacted on read, as tapes are.
                    Ok(bytes) => self.insert_message(
                        eml_record(&f, crate::tape::redact::scrub_message(&bytes)),
                        false,
                    ),
                    Err(e) => tracing::warn!("inbox: skipped {}: {e}", f.display()),
                }
            }
        }
    }
}

fn page<'a, T: 'a>(
    items: impl Iterator<Item = &'a Arc<T>>,
    start: usize,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> Page<Arc<T>> {
    let mut matched = 0;
    let mut out = Vec::new();
    for item in items {
        if keep(item) {
            if matched >= start && out.len() < limit {
                out.push(item.clone());
            }
            matched += 1;
        }
    }
    Page {
        matched,
        items: out,
    }
}

fn files_with(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A message from the mailbox folder: its envelope comes from the two
/// `X-Mailtape-Envelope-*` lines the mailbox writer puts first.
fn eml_record(path: &std::path::Path, bytes: Vec<u8>) -> MessageRec {
    let mut from = String::new();
    let mut to = Vec::new();
    let mut rest: &[u8] = &bytes;
    loop {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(rest.len(), |i| i + 2);
        let line = String::from_utf8_lossy(&rest[..end]);
        if let Some(v) = line.strip_prefix("X-Mailtape-Envelope-From:") {
            from = v.trim().trim_matches(['<', '>']).to_string();
        } else if let Some(v) = line.strip_prefix("X-Mailtape-Envelope-To:") {
            to = v
                .split(',')
                .map(|a| a.trim().trim_matches(['<', '>']).to_string())
                .filter(|a| !a.is_empty())
                .collect();
        } else {
            break;
        }
        rest = &rest[end..];
    }
    let raw = rest.to_vec();
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rec = MessageRec::new(id, 0, from, to, raw);
    if let Ok(t) = std::fs::metadata(path).and_then(|m| m.modified()) {
        rec.created = rfc3339(t);
        rec.received = t;
    }
    rec
}

fn rfc3339(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Now, RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}
