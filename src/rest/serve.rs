//! The REST API on a listener of its own (`mock --rest ADDR`), for when the
//! inbox's listener is off or the API should sit on another port. With the
//! inbox on, the same routes are also served there.

use std::net::SocketAddr;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::Error;

/// A running HTTP listener for the REST API.
pub struct RestListener {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RestListener {
    /// Binds `addr` (loopback only, as every listener of mailtape) and serves
    /// `router` on it.
    pub async fn start(addr: SocketAddr, router: Router) -> Result<RestListener, Error> {
        if !addr.ip().is_loopback() {
            return Err(Error::Usage(format!(
                "--rest {addr} is not a loopback address; the REST API takes real keys, so it listens on 127.0.0.1 or ::1"
            )));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Bind {
                listener: "rest",
                addr,
                source: e,
            })?;
        let addr = listener.local_addr().map_err(|e| Error::Io {
            action: "read the REST listener's bound address".into(),
            source: e,
        })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!("REST listener stopped: {e}");
            }
        });
        Ok(RestListener {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops taking requests and waits for those in flight.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RestListener {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
