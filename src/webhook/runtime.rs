//! The webhook sender's own threads, each a single-threaded tokio runtime:
//!
//! - `mailtape-webhooks` runs at the lowest CPU priority (the binary makes
//!   it SCHED_IDLE on Linux; a library user gets nice 19), so that building,
//!   signing and posting events takes only CPU the SMTP and REST doors leave
//!   free, and a door's thread that wakes takes the core at once;
//! - `mailtape-catchup` runs at normal priority, and gets the work only
//!   while more than [`super::BACKLOG_HIGH`] pieces of it wait: under a load
//!   that takes every core for long, events would otherwise pile up until
//!   they are dropped. Then the sends share the cores with the events, as
//!   any other work.
//!
//! Both end when [`Background::end`] is called (the sender stopped) or when
//! the runtime that started them shuts down, whichever comes first: a test
//! that builds servers in its own runtime leaves no thread behind.

use std::sync::Mutex;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The nice value a library user's sender thread gets (the binary asks for
/// SCHED_IDLE instead, see [`super::WebhookConfig::lower_priority`]).
pub const NICE: i32 = 19;

/// The running threads of a sender.
pub struct Background {
    idle: Handle,
    catchup: Handle,
    end: Mutex<Vec<oneshot::Sender<()>>>,
}

/// One thread with a single-threaded runtime, ended by `end_rx` or
/// `guard_rx` (either sender dropped or used). `None` if it cannot start.
fn thread(
    name: &str,
    setup: fn(),
    end_rx: oneshot::Receiver<()>,
    guard_rx: oneshot::Receiver<()>,
) -> Option<Handle> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            setup();
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::warn!("webhooks: no runtime of their own ({e}); sharing the server's");
                    let _ = ready_tx.send(None);
                    return;
                }
            };
            let _ = ready_tx.send(Some(rt.handle().clone()));
            rt.block_on(async {
                tokio::select! {
                    _ = end_rx => {}
                    _ = guard_rx => {}
                }
            });
            rt.shutdown_background();
        });
    if let Err(e) = spawned {
        tracing::warn!("webhooks: no thread of their own ({e}); sharing the server's");
        return None;
    }
    ready_rx.recv().ok().flatten()
}

impl Background {
    /// Starts both threads (the first with `lower` called on it); their
    /// end is tied to `caller`'s runtime. `None` if they cannot be made
    /// (the caller then runs the sender itself).
    pub fn start(caller: &Handle, lower: fn()) -> Option<Background> {
        let mut ends = Vec::new();
        let mut guards = Vec::new();
        let mut handles = Vec::new();
        for (name, setup) in [
            ("mailtape-webhooks", lower),
            ("mailtape-catchup", (|| {}) as fn()),
        ] {
            let (end_tx, end_rx) = oneshot::channel::<()>();
            let (guard_tx, guard_rx) = oneshot::channel::<()>();
            handles.push(thread(name, setup, end_rx, guard_rx)?);
            ends.push(end_tx);
            guards.push(guard_tx);
        }
        // Dropped with the caller's runtime, which ends the threads.
        caller.spawn(async move {
            let _guards = guards;
            std::future::pending::<()>().await
        });
        let catchup = handles.pop()?;
        let idle = handles.pop()?;
        Some(Background {
            idle,
            catchup,
            end: Mutex::new(ends),
        })
    }

    /// Where the sender's work runs: the low-priority thread, or the
    /// normal one while too much waits.
    pub fn handle(&self, behind: bool) -> &Handle {
        if behind { &self.catchup } else { &self.idle }
    }

    /// Ends the threads; what still runs there is dropped.
    pub fn end(&self) {
        self.end.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Nice 19 for the calling thread (the default of
/// [`super::WebhookConfig::lower_priority`]).
#[cfg(target_os = "linux")]
pub fn nice() {
    // On Linux the nice value belongs to the thread, not the process: only
    // this thread (and threads it starts) gets it.
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), NICE) {
        tracing::debug!("webhooks: could not lower the sender thread's priority: {e}");
    }
}

/// Elsewhere a process-wide nice would slow the doors too: left alone.
#[cfg(not(target_os = "linux"))]
pub fn nice() {}
