//! How a server tells its listeners and sessions to stop: one flag they all
//! watch, set once.

use tokio::sync::watch;

/// The flag a server sets to stop; listeners and sessions hold receivers.
pub(crate) fn flag() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

/// Resolves once a stop has been asked for (or the sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
