//! What the process does for itself: signals, and handing freed memory
//! back to the system (the one `unsafe` block).

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
