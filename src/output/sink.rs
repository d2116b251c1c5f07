//! Where sessions report to. The sink keeps what must not be lost — tape
//! files and the mailbox (the file writer's thread), the in-memory record the
//! test API reads — and fans every event out to any number of subscribers
//! (the live view, later the web inbox), each with its own bounded queue.
//!
//! A subscriber that falls behind never slows a session: when its queue is
//! full the event is dropped for it and counted, and it can say how many it
//! missed ([`Subscription::take_dropped`]). Code that is not the SMTP engine
//! (an HTTP mock, say) publishes its own sessions the same way, with
//! [`Sink::session_started`], [`Sink::session_finished`] and
//! [`Sink::deliver`], or builds them line by line with a
//! [`crate::tape::capture::Capture`].
//!
//! Everything that reaches the sink is already redacted.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

pub use super::event::{Event, LiveView, Message, Subscription};
pub use super::files::SaveError;
use super::files::{Ack, Job, Writer};
use super::live::LiveThread;
use crate::resend::explain::Said;
use crate::tape::capture::{Capture, Watch};
use crate::tape::redact::{scrub, scrub_message};
use crate::tape::{Closer, Meta, Transcript};

/// Settings of the outputs.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// The live view.
    pub view: LiveView,
    /// Write each finished session as a tape file here.
    pub tapes: Option<PathBuf>,
    /// Append each finished session to this tape file, atomically.
    pub tape_file: Option<PathBuf>,
    /// Comment lines for a new tape file (how it was made).
    pub tape_comments: Vec<String>,
    /// Write each accepted message as an `.eml` file here.
    pub mailbox: Option<PathBuf>,
    /// Keep transcripts and messages in memory (the test API).
    pub keep: bool,
    /// The inbox page's URL (`http://127.0.0.1:8025/`), when it is on: the
    /// live view's lines and JSON events then carry deep links to it.
    pub inbox: Option<String>,
    /// Events the live view may hold while stdout is not being read (each a
    /// step: a command, a reply, a body); more are dropped (and their lines
    /// counted) rather than slow a session down.
    pub view_queue: usize,
}

impl Default for OutputConfig {
    fn default() -> OutputConfig {
        OutputConfig {
            view: LiveView::Quiet,
            tapes: None,
            tape_file: None,
            tape_comments: Vec::new(),
            mailbox: None,
            keep: false,
            inbox: None,
            view_queue: 16 * 1024,
        }
    }
}

struct Subscriber {
    tx: mpsc::Sender<Arc<Event>>,
    /// Wants every line (the live view), not only sessions and messages
    /// (the inbox).
    lines: bool,
    dropped: Arc<AtomicU64>,
    confirms: Option<Confirms>,
}

/// A subscriber that confirms what it has handled: events queued (counted
/// under the lock, so that the count is each event's place in the queue)
/// and events handled, as it says.
struct Confirms {
    queued: Mutex<u64>,
    handled: watch::Receiver<u64>,
}

/// An event's place in a confirmed subscriber's queue: handled once the
/// subscriber has handled that many.
struct Receipt {
    handled: watch::Receiver<u64>,
    place: u64,
}

#[derive(Default)]
struct Kept {
    transcripts: Vec<Transcript>,
    messages: Vec<Arc<Message>>,
}

/// The outputs of one server.
pub struct Sink {
    config: OutputConfig,
    kept: Mutex<Kept>,
    /// Writes tapes and the mailbox off the sessions' threads.
    writer: Option<Writer>,
    /// Writes the tapes of what is not a session (webhook attempts) to
    /// `--tapes`, on a thread of its own: a flood of them never delays a
    /// session's files, which its replies wait for.
    side: Option<Writer>,
    done: Arc<watch::Sender<usize>>,
    subscribers: RwLock<Vec<Subscriber>>,
    /// How many subscribers there are, read without the lock: with none, no
    /// event is even built.
    watchers: AtomicUsize,
    /// How many of them want every line: with none, no line event is built.
    line_watchers: AtomicUsize,
    live: Mutex<Option<LiveThread>>,
}

impl Sink {
    /// A sink with these settings. An existing `tape_file` must be a tape:
    /// sessions are appended to it, never written over something else (a
    /// last session torn by a crash is cut back first). Reads and writes
    /// files: call it off the async runtime (`spawn_blocking`).
    pub fn new(config: OutputConfig) -> Result<Arc<Sink>, crate::Error> {
        if let Some(path) = &config.tape_file {
            match super::files::repair(path) {
                Ok(true) => tracing::warn!(
                    "{}: cut back a last session torn by a crash",
                    path.display()
                ),
                Ok(false) => {}
                Err(e) => {
                    return Err(crate::Error::Config {
                        origin: path.display().to_string(),
                        reason: format!(
                            "sessions would be appended to it, but it is not a readable tape ({e}); choose another --tape"
                        ),
                    });
                }
            }
        }
        check_folders(&config)?;
        for dir in [&config.tapes, &config.mailbox].into_iter().flatten() {
            crate::fsutil::remove_stale_temps(dir);
        }
        if let Some(dir) = config.tape_file.as_ref().and_then(|p| p.parent()) {
            crate::fsutil::remove_stale_temps(if dir.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                dir
            });
        }
        let done = Arc::new(watch::channel(0).0);
        let files =
            config.tapes.is_some() || config.tape_file.is_some() || config.mailbox.is_some();
        let writer = if files {
            let counter = done.clone();
            let on_written: super::files::OnWritten =
                Arc::new(move |n| counter.send_modify(|d| *d += n));
            Some(
                Writer::start(config.tape_comments.clone(), on_written).map_err(|e| {
                    crate::Error::Io {
                        action: "start the file writer".into(),
                        source: e,
                    }
                })?,
            )
        } else {
            None
        };
        let side =
            match &config.tapes {
                Some(_) => Some(Writer::start(Vec::new(), Arc::new(|_| {})).map_err(|e| {
                    crate::Error::Io {
                        action: "start the side tape writer".into(),
                        source: e,
                    }
                })?),
                None => None,
            };
        let sink = Arc::new(Sink {
            config,
            kept: Mutex::new(Kept::default()),
            writer,
            side,
            done,
            subscribers: RwLock::new(Vec::new()),
            watchers: AtomicUsize::new(0),
            line_watchers: AtomicUsize::new(0),
            live: Mutex::new(None),
        });
        if sink.config.view != LiveView::Quiet {
            let sub = sink.subscribe(sink.config.view_queue);
            let thread = LiveThread::start(sub, sink.config.view, sink.config.inbox.clone())
                .map_err(|e| crate::Error::Io {
                    action: "start the live view".into(),
                    source: e,
                })?;
            *sink.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
        }
        Ok(sink)
    }

    /// A new subscriber with room for `capacity` events: it gets every event
    /// published from now on that fits.
    pub fn subscribe(&self, capacity: usize) -> Subscription {
        self.add_subscriber(capacity, true, false)
    }

    /// A subscriber of whole sessions and messages only (`SessionStarted`,
    /// `SessionFinished`, `MessageAccepted`): the per-line events of a busy
    /// server cannot crowd them out of its queue, and are not even built
    /// when no subscriber wants them (the web inbox with `--quiet`).
    pub fn subscribe_sessions(&self, capacity: usize) -> Subscription {
        self.add_subscriber(capacity, false, false)
    }

    /// As [`Sink::subscribe_sessions`], for a subscriber that keeps messages
    /// and must have each before its `250` (or REST `200`) is sent: it calls
    /// [`Subscription::handled`] after each event, and [`Sink::accept`]
    /// waits for it (the inbox: a test that sends and then reads must find
    /// the message, as it finds the mailbox's file).
    pub fn subscribe_confirmed(&self, capacity: usize) -> Subscription {
        self.add_subscriber(capacity, false, true)
    }

    fn add_subscriber(&self, capacity: usize, lines: bool, confirms: bool) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let (handled, confirms) = if confirms {
            let (h, r) = watch::channel(0);
            (
                Some(h),
                Some(Confirms {
                    queued: Mutex::new(0),
                    handled: r,
                }),
            )
        } else {
            (None, None)
        };
        let mut subs = self.subscribers.write().unwrap_or_else(|p| p.into_inner());
        subs.push(Subscriber {
            tx,
            lines,
            dropped: dropped.clone(),
            confirms,
        });
        self.count(&subs);
        Subscription {
            rx,
            dropped,
            handled,
        }
    }

    fn count(&self, subs: &[Subscriber]) {
        self.watchers.store(subs.len(), Ordering::Release);
        self.line_watchers
            .store(subs.iter().filter(|s| s.lines).count(), Ordering::Release);
    }

    /// Whether anyone subscribes: events need not be built when nobody does.
    pub fn watched(&self) -> bool {
        self.watchers.load(Ordering::Acquire) > 0
    }

    /// Whether anyone wants every line (`Lines`, `Explained`, `Said`).
    pub fn watches_lines(&self) -> bool {
        self.line_watchers.load(Ordering::Acquire) > 0
    }

    /// Hands an event to every subscriber that has room; never waits.
    pub fn publish(&self, event: Event) {
        self.publish_receipted(event);
    }

    /// As [`Sink::publish`]; the places of the event in the queues of the
    /// confirmed subscribers that took it.
    fn publish_receipted(&self, event: Event) -> Vec<Receipt> {
        let mut receipts = Vec::new();
        if !self.watched() {
            return receipts;
        }
        // A drop is counted in lines, as the live view would have shown them.
        let lines = match &event {
            Event::Lines { events, .. } => events.len() as u64,
            _ => 1,
        };
        let event = Arc::new(event);
        let mut gone = false;
        {
            let subs = self.subscribers.read().unwrap_or_else(|p| p.into_inner());
            // Webhook events go to whole-session subscribers too: the
            // inbox records them, so a test can wait for one.
            let per_line = matches!(
                *event,
                Event::Lines { .. } | Event::Explained { .. } | Event::Said(_)
            );
            for s in subs.iter().filter(|s| s.lines || !per_line) {
                let sent = match &s.confirms {
                    Some(c) => {
                        let mut queued = c.queued.lock().unwrap_or_else(|p| p.into_inner());
                        let sent = s.tx.try_send(event.clone());
                        if sent.is_ok() {
                            *queued += 1;
                            receipts.push(Receipt {
                                handled: c.handled.clone(),
                                place: *queued,
                            });
                        }
                        sent
                    }
                    None => s.tx.try_send(event.clone()),
                };
                match sent {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        s.dropped.fetch_add(lines, Ordering::Relaxed);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => gone = true,
                }
            }
        }
        if gone {
            let mut subs = self.subscribers.write().unwrap_or_else(|p| p.into_inner());
            subs.retain(|s| !s.tx.is_closed());
            self.count(&subs);
        }
        receipts
    }

    /// Waits (at most `timeout`) until the live view has written everything
    /// queued, then stops it and every other subscription (their `recv`
    /// returns `None`). Tapes and the mailbox are flushed too.
    pub fn close(&self, timeout: Duration) {
        {
            let mut subs = self.subscribers.write().unwrap_or_else(|p| p.into_inner());
            subs.clear();
            self.count(&subs);
        }
        if let Some(live) = self.live.lock().unwrap_or_else(|p| p.into_inner()).take() {
            // A reader that stopped reading must not keep mailtape from exiting.
            live.join(timeout);
        }
        self.flush();
    }

    /// Blocks until every finished session and message is on disk.
    pub fn flush(&self) {
        if let Some(w) = &self.writer {
            w.flush();
        }
        if let Some(w) = &self.side {
            w.flush();
        }
    }

    /// The live view in use.
    pub fn view(&self) -> LiveView {
        self.config.view
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A line of the server's own for people (the banner, the stopping
    /// line): written to stderr as it is said, whatever the view but
    /// `--quiet` — stdout is the live view's, and with `--json` it carries
    /// JSON only (issue 15). Published too, for subscribers that show such
    /// lines; the live view does not, stdout being for sessions.
    pub fn say(&self, line: &str) {
        if self.config.view != LiveView::Quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
            self.publish(Event::Said(line.to_string()));
        }
    }

    /// A session began: says so, and returns the capture that builds its
    /// transcript, handing its steps to this sink as they happen. End it
    /// with [`Sink::finish`] or [`Sink::finish_written`].
    pub fn capture(self: &Arc<Self>, meta: Meta, start: std::time::Instant) -> Capture {
        self.session_started(&meta);
        Capture::new(self.clone(), meta, start)
    }

    /// Ends a capture started with [`Sink::capture`]: its transcript is
    /// kept, queued for the tape files and published.
    pub fn finish(&self, capture: Capture, closer: Closer) {
        let (t, lasted) = capture.finish(closer);
        self.session_finished(t, lasted);
    }

    /// As [`Sink::finish`], and returns once the session's tapes are on
    /// disk (see [`Sink::session_finished_written`]).
    pub async fn finish_written(&self, capture: Capture, closer: Closer) {
        let (t, lasted) = capture.finish(closer);
        self.session_finished_written(t, lasted).await;
    }

    /// A session began.
    pub fn session_started(&self, meta: &Meta) {
        if self.watched() {
            self.publish(Event::SessionStarted(meta.clone()));
        }
    }

    /// A session ended: kept for the test API, queued for the tape files,
    /// counted, and published.
    pub fn session_finished(&self, t: Transcript, lasted: Duration) {
        self.finish_session(t, lasted, None);
    }

    /// As [`Sink::session_finished`], and returns once the session's tapes
    /// are on disk (at once without tape files): the engine sends the reply
    /// that ends a session (`221`) after this, so that it means the tape is
    /// written. A failure is said live and on stderr.
    pub async fn session_finished_written(&self, t: Transcript, lasted: Duration) {
        let session = t.meta.id;
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.finish_session(t, lasted, Some(ack))
            && let Ok(Err(error)) = done.await
        {
            self.publish(Event::WriteFailed { session, error });
        }
    }

    /// Queues a finished session; whether it went to the writer (which
    /// then tells `ack`).
    fn finish_session(&self, t: Transcript, lasted: Duration, ack: Option<Ack>) -> bool {
        let t = Arc::new(t);
        if self.config.keep {
            self.kept().transcripts.push(Transcript::clone(&t));
        }
        // With files to write, the session counts as finished once it (and
        // any message it sent, queued before it) is on disk, so a test that
        // waited for it can read the tape and the mailbox.
        let queued = self.writer.as_ref().is_some_and(|w| {
            w.send(Job::Session {
                dir: self.config.tapes.clone(),
                file: self.config.tape_file.clone(),
                transcript: t.clone(),
                ack,
            })
        });
        if self.watched() {
            self.publish(Event::SessionFinished {
                transcript: t,
                lasted,
            });
        }
        if !queued {
            self.done.send_modify(|n| *n += 1);
        }
        queued
    }

    /// Writes `tape` as a file of its own in `--tapes` (`stem.tape`, or the
    /// next free name), created whole, on the side writer's thread; `done`
    /// is told whether it was written. False (and `done` not called) when
    /// there is no `--tapes`. For what is not a session of this server: a
    /// webhook attempt.
    pub fn write_side_tape(
        &self,
        stem: String,
        tape: crate::tape::Tape,
        done: Box<dyn FnOnce(bool) + Send>,
    ) -> bool {
        match (&self.side, &self.config.tapes) {
            (Some(w), Some(dir)) => w.send(Job::Tape {
                dir: dir.clone(),
                stem,
                tape,
                done: Some(done),
            }),
            _ => false,
        }
    }

    /// Whether [`Sink::write_side_tape`] writes anything (`--tapes` is on).
    pub fn writes_tapes(&self) -> bool {
        self.side.is_some()
    }

    /// Records an accepted message: the mailbox file, subscribers, the test
    /// API. Does not wait for the file: see [`Sink::accept`].
    pub fn deliver(&self, msg: Message) {
        let msg = self.queue_message(msg, None);
        let _ = self.delivered(msg);
    }

    /// Records a message as [`Sink::deliver`] does, and returns once it is
    /// on disk (at once without a mailbox), so that a `250` sent after it
    /// means written. When it cannot be written it is not recorded, the
    /// failure is said live and on stderr, and the error says whether the
    /// disk is full (`452`) or it failed otherwise (`451`).
    pub async fn accept(&self, msg: Message) -> Result<(), SaveError> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let mut msg = self.queue_message(msg, Some(ack));
        if self.config.mailbox.is_some() {
            match done.await {
                Ok(Ok(path)) => msg.path = path,
                Ok(Err(error)) => {
                    self.publish(Event::WriteFailed {
                        session: msg.session,
                        error: error.clone(),
                    });
                    return Err(error);
                }
                // The writer is gone (shutting down): not written.
                Err(_) => {
                    return Err(SaveError {
                        what: format!("message {}", msg.id),
                        kind: std::io::ErrorKind::Interrupted,
                        error: "mailtape is stopping".into(),
                    });
                }
            }
        }
        let receipts = self.delivered(msg);
        // The inbox has it before the reply goes: a subscriber that stopped
        // (or a message so large it takes long to take apart) does not hold
        // the reply beyond a few seconds.
        let handled = receipts.into_iter().map(|mut r| async move {
            let _ = r.handled.wait_for(|n| *n >= r.place).await;
        });
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::future::join_all(handled),
        )
        .await;
        Ok(())
    }

    /// Scrubs a message and queues its mailbox file (telling `ack`).
    fn queue_message(&self, mut msg: Message, ack: Option<Ack>) -> Message {
        msg.data = scrub_message(&msg.data);
        // The envelope too: a key can be an address's local part, and the
        // addresses go into the mailbox headers and the message event.
        for addr in std::iter::once(&mut msg.from).chain(msg.to.iter_mut()) {
            if let std::borrow::Cow::Owned(clean) = scrub(addr) {
                *addr = clean;
            }
        }
        if let Some(dir) = &self.config.mailbox {
            let mut file = format!(
                "X-Mailtape-Envelope-From: <{}>\r\nX-Mailtape-Envelope-To: {}\r\n",
                msg.from,
                msg.to
                    .iter()
                    .map(|t| format!("<{t}>"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into_bytes();
            file.extend_from_slice(&msg.data);
            let queued = self.writer.as_ref().is_some_and(|w| {
                w.send(Job::Eml {
                    dir: dir.clone(),
                    stem: msg.id.clone(),
                    bytes: file,
                    ack,
                })
            });
            if queued {
                // The name it will most likely get (the writer picks the
                // next free one if taken; `accept` reports the real one).
                msg.path = Some(dir.join(format!("{}.eml", msg.id)));
            }
        }
        msg
    }

    /// Keeps and publishes a message that was accepted; the receipts of
    /// the confirmed subscribers that took it.
    fn delivered(&self, msg: Message) -> Vec<Receipt> {
        let msg = Arc::new(msg);
        if self.config.keep {
            self.kept().messages.push(msg.clone());
        }
        self.publish_receipted(Event::MessageAccepted(msg))
    }

    /// Sessions finished so far.
    pub fn finished(&self) -> usize {
        *self.done.borrow()
    }

    /// Waits until at least `n` sessions have finished, or the timeout passes.
    /// Returns whether they did.
    pub async fn wait_for_sessions(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.done.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|done| *done >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The transcripts of finished sessions (with `keep`).
    pub fn transcripts(&self) -> Vec<Transcript> {
        self.kept().transcripts.clone()
    }

    /// The accepted messages (with `keep`).
    pub fn messages(&self) -> Vec<Message> {
        self.kept()
            .messages
            .iter()
            .map(|m| Message::clone(m))
            .collect()
    }
}

/// A capture hands its steps to the sink, which publishes them.
impl Watch for Sink {
    fn watches_lines(&self) -> bool {
        Sink::watches_lines(self)
    }

    fn lines(&self, session: u64, events: Vec<crate::tape::Event>) {
        self.publish(Event::Lines { session, events });
    }

    fn explained(&self, session: u64, said: Said) {
        self.publish(Event::Explained { session, said });
    }
}

/// Refuses to start on a mailbox or tapes folder, or a tape file's folder,
/// that nothing can be written in (read-only, not a folder, `/proc`):
/// otherwise every message would be answered `451` at the first try.
fn check_folders(config: &OutputConfig) -> Result<(), crate::Error> {
    let tape_dir = config.tape_file.as_ref().map(|p| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    });
    let folders = [
        (&config.mailbox, "mailbox", "--mailbox"),
        (&config.tapes, "tapes", "--tapes"),
        (&tape_dir, "tape file's", "--tape"),
    ];
    for (dir, what, flag) in folders {
        if let Some(dir) = dir
            && let Err(e) = crate::fsutil::check_writable(dir)
        {
            return Err(crate::Error::Usage(format!(
                "cannot write to the {what} folder {}: {e}; choose another {flag}, or make it writable",
                dir.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: u64) -> Meta {
        Meta {
            id,
            mode: "mock".into(),
            source: "default".into(),
            listener: "plain".into(),
            client: "127.0.0.1:1".into(),
            local: "127.0.0.1:2".into(),
            started: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_full_subscriber_drops_and_counts_and_others_still_get_everything() {
        let sink = Sink::new(OutputConfig::default()).unwrap();
        assert!(!sink.watched());
        let mut slow = sink.subscribe(2);
        let mut fast = sink.subscribe(100);
        for id in 1..=5 {
            sink.session_started(&meta(id));
        }
        let mut got = 0;
        while fast.try_recv().is_some() {
            got += 1;
        }
        assert_eq!(got, 5);
        assert_eq!(slow.take_dropped(), 3);
        assert_eq!(slow.take_dropped(), 0);
        match slow.try_recv().as_deref() {
            Some(Event::SessionStarted(m)) => assert_eq!(m.id, 1),
            other => panic!("expected session 1, got {other:?}"),
        }
        drop(slow);
        sink.session_started(&meta(6));
        assert!(sink.watched());
        sink.close(Duration::from_secs(1));
        assert!(fast.try_recv().is_some());
        assert!(fast.try_recv().is_none());
        assert!(!sink.watched());
    }

    #[test]
    fn a_sessions_subscriber_gets_no_lines_and_lines_are_not_built_for_it() {
        let sink = Sink::new(OutputConfig::default()).unwrap();
        let mut sessions = sink.subscribe_sessions(10);
        assert!(sink.watched() && !sink.watches_lines());
        let mut c = sink.capture(meta(1), std::time::Instant::now());
        c.client("EHLO a".into());
        sink.finish(c, crate::tape::Closer::Client);
        let kinds: Vec<_> = std::iter::from_fn(|| sessions.try_recv())
            .map(|e| match &*e {
                Event::SessionStarted(_) => "started",
                Event::SessionFinished { .. } => "finished",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["started", "finished"]);
        let _all = sink.subscribe(10);
        assert!(sink.watches_lines());
    }

    #[test]
    fn code_other_than_the_engine_publishes_a_session() {
        let sink = Sink::new(OutputConfig {
            keep: true,
            ..OutputConfig::default()
        })
        .unwrap();
        let mut sub = sink.subscribe(10);
        let t = Transcript {
            meta: meta(1),
            events: vec![],
            closed_by: Some(crate::tape::Closer::Client),
        };
        sink.session_started(&t.meta);
        sink.session_finished(t.clone(), Duration::from_millis(3));
        assert!(matches!(
            sub.try_recv().as_deref(),
            Some(Event::SessionStarted(_))
        ));
        match sub.try_recv().as_deref() {
            Some(Event::SessionFinished { transcript, .. }) => assert_eq!(**transcript, t),
            other => panic!("expected the finished session, got {other:?}"),
        }
        assert_eq!(sink.finished(), 1);
        assert_eq!(sink.transcripts(), vec![t]);
    }
}
