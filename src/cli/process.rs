//! What the process does for itself: signals, handing freed memory back to
//! the system, and the webhook sender's thread priority (the two `unsafe`
//! blocks of mailtape).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn trim_heap() {
    unsafe extern "C" {
        /// glibc: release free memory at the top of each arena (and, since
        /// glibc 2.8, free whole pages inside them) back to the system.
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: malloc_trim takes no pointers and is safe to call at any time
    // from any thread; it only walks glibc's own arena lists under their locks.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn trim_heap() {}

/// Puts the calling thread in Linux's SCHED_IDLE class: it runs only on
/// CPU nothing else wants, and any other thread that wakes takes the core
/// from it at once (nice 19 only weighs it lower, and a woken thread may
/// wait out its time slice). Given to the webhook sender's thread, so that
/// events never slow the sends. Nice 19 if the call is refused.
#[cfg(target_os = "linux")]
pub(crate) fn idle_thread() {
    #[repr(C)]
    struct SchedParam {
        sched_priority: i32,
    }
    unsafe extern "C" {
        /// glibc and musl: `int sched_setscheduler(pid_t, int, const struct sched_param *)`.
        fn sched_setscheduler(pid: i32, policy: i32, param: *const SchedParam) -> i32;
    }
    /// `SCHED_IDLE` in <linux/sched.h>.
    const SCHED_IDLE: i32 = 5;
    let param = SchedParam { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param (one int) that outlives the
    // call, which only reads it; pid 0 is the calling thread on Linux,
    // where the policy belongs to the thread.
    let done = unsafe { sched_setscheduler(0, SCHED_IDLE, &param) } == 0;
    if !done {
        mailtape::webhook::lower_to_nice();
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn idle_thread() {
    mailtape::webhook::lower_to_nice();
}

/// Resolves on SIGINT, SIGTERM or SIGHUP (the terminal closed: a graceful
/// stop like the others, not the default of dying at once with messages
/// accepted and not yet written). The handlers are in place when this
/// returns, before the future is first polled, so a signal sent right after
/// the ready line is never missed.
pub(crate) fn signals() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        let hup = signal(SignalKind::hangup());
        async move {
            match (term, int, hup) {
                (Ok(mut term), Ok(mut int), Ok(mut hup)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                        _ = hup.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
