//! The HTTP doors: the inbox's listener (`--ui`) and the REST API's own
//! (`mock --rest`) are served by the same code, so they carry the same
//! guards and the same limits.
//!
//! - [`guard`]: the Host check (DNS rebinding), the cross-site check, and the
//!   headers every answer carries (`nosniff`, no caching, no framing).
//! - [`answer`]: every error answer scrubbed of keys, whatever route made it.
//! - [`listener`]: accepting under a connection cap, the header and body
//!   deadlines, the client's address for every request, a graceful stop.

pub(crate) mod answer;
pub(crate) mod guard;
pub(crate) mod listener;

use std::time::Duration;

pub(crate) use guard::Guard;
pub(crate) use listener::HttpListener;

/// Limits of an HTTP listener. Both listeners share one connection cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's line and headers must arrive within this, counted from
    /// the first moment the server waits for them (an idle keep-alive
    /// connection counts too); after it the connection is closed.
    pub header_timeout: Duration,
    /// The longest wait for the next piece of a request body; a body must
    /// also average [`HttpLimits::body_min_rate`] after this allowance.
    /// A body that falls behind is answered `408`.
    pub body_timeout: Duration,
    /// Octets a second a request body must average after `body_timeout`.
    pub body_min_rate: u64,
    /// HTTP connections open at once, over both listeners; further ones
    /// wait in the listen queue until one closes. Never more than a quarter
    /// of the process's file descriptors, so HTTP can never leave the SMTP
    /// listeners without one.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            body_min_rate: 1024,
            max_connections: 256,
        }
    }
}

impl HttpLimits {
    /// The cap in force: `max_connections`, but at most a quarter of the
    /// descriptors this process may open (read from `/proc/self/limits`
    /// where there is one), and at least 2: each of the two listeners, while
    /// it waits to accept, holds the slot its next connection will use.
    pub fn connection_cap(&self) -> usize {
        let by_fds = descriptor_limit().map_or(usize::MAX, |n| n / 4);
        self.max_connections.min(by_fds).max(2)
    }
}

/// The soft limit on open files, where the system says it.
fn descriptor_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files(&limits)
}

/// `Max open files  1024  4096  files` → 1024 ("unlimited" → none).
fn parse_open_files(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_is_read_from_proc() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            256                  4096                 files     \n";
        assert_eq!(parse_open_files(text), Some(256));
        assert_eq!(
            parse_open_files("Max open files  unlimited  unlimited  files"),
            None
        );
        assert_eq!(parse_open_files(""), None);
    }
}
