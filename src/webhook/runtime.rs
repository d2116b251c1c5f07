//! The webhook sender's own thread: a single-threaded tokio runtime at the
//! lowest CPU priority (nice 19, on Linux), so that building, signing and
//! posting events only ever takes CPU the SMTP and REST doors leave free.
//! Under a load that takes every core, events lag behind the sends and
//! catch up when it eases; the sends never wait for them.
//!
//! The thread ends when [`Background::end`] is called (the sender stopped)
//! or when the runtime that started it shuts down, whichever comes first:
//! a test that builds servers in its own runtime leaves no thread behind.

use std::sync::Mutex;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The nice value of the sender's thread: the lowest priority there is.
pub const NICE: i32 = 19;

/// A running sender thread.
pub struct Background {
    handle: Handle,
    end: Mutex<Option<oneshot::Sender<()>>>,
}

impl Background {
    /// Starts the thread; its end is tied to `caller`'s runtime. `None` if
    /// the thread or its runtime cannot be made (the caller then runs the
    /// sender itself).
    pub fn start(caller: &Handle) -> Option<Background> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (end_tx, end_rx) = oneshot::channel::<()>();
        let (guard_tx, guard_rx) = oneshot::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("mailtape-webhooks".into())
            .spawn(move || {
                lower_priority();
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::warn!(
                            "webhooks: no runtime of their own ({e}); sharing the server's"
                        );
                        let _ = ready_tx.send(None);
                        return;
                    }
                };
                let _ = ready_tx.send(Some(rt.handle().clone()));
                rt.block_on(async {
                    // Either sender dropped or sent: time to go.
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
        let handle = ready_rx.recv().ok().flatten()?;
        // Dropped with the caller's runtime, which ends the thread.
        caller.spawn(async move {
            let _guard = guard_tx;
            std::future::pending::<()>().await
        });
        Some(Background {
            handle,
            end: Mutex::new(Some(end_tx)),
        })
    }

    /// Where the sender's tasks run.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Ends the thread; what still runs there is dropped.
    pub fn end(&self) {
        self.end.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the nice value belongs to the thread, not the process: only
    // this thread (and threads it starts) gets it.
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), NICE) {
        tracing::debug!("webhooks: could not lower the sender thread's priority: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {
    // Elsewhere a process-wide nice would slow the doors too: leave it.
}
