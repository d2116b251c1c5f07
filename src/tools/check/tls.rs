//! The TLS step: the client configuration (built on first use, so a bad
//! `--ca-file` fails this step and not the run), implicit TLS or STARTTLS,
//! finding the mode of a port when none was given, and a hint naming the
//! fix for each way a handshake fails.

use std::time::Duration;

use super::{EXIT_CONNECTION, EXIT_TLS, Run, Stop};
use crate::net::client::{ClientConn, Fault, TlsFailure, UpstreamTls};
use crate::net::tls::client_config;
use crate::tape::EventKind;

/// Hints for TLS failures, each naming the fix for its cause.
pub(super) const HINT_UNKNOWN_ISSUER: &str = "the server's certificate is signed by a CA this check does not trust: for mailtape's own, add --ca-file certs/ca.pem (made on its first run, in the folder it was started from); for another server, --ca-file with that server's CA";
pub(super) const HINT_WRONG_NAME: &str = "the server's certificate is not for the host name given: connect by a name it was issued for (mailtape's own: localhost, 127.0.0.1, ::1, smtp.resend.com)";
pub(super) const HINT_EXPIRED: &str =
    "the server's certificate has expired or is not valid yet (or this machine's clock is wrong)";
pub(super) const HINT_PLAIN_FIRST: &str = "the server spoke plain SMTP first, not TLS: this port expects STARTTLS or no TLS: use --tls starttls, or leave --tls out and check finds the mode";
pub(super) const HINT_TLS_FIRST: &str = "the server stayed silent, and a TLS handshake on this port works: this port speaks implicit TLS: use --tls implicit, or leave --tls out and check finds the mode";
pub(super) const HINT_NO_STARTTLS: &str = "the server does not offer STARTTLS on this port: leave --tls out and check finds what it speaks (--tls none sends the key in the clear)";
pub(super) const WARN_NO_TLS: &str = "the server offers no TLS: the key crosses the network in the clear (mailtape's plain listener is for apps that cannot do TLS)";

/// The longest wait for the probe that finds whether a silent port speaks TLS.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

impl Run<'_> {
    pub(super) fn config(&mut self) -> Result<std::sync::Arc<rustls::ClientConfig>, Stop> {
        if let Some(c) = &self.config {
            return Ok(c.clone());
        }
        match client_config(self.o.ca_file.as_deref()) {
            Ok(c) => {
                self.config = Some(c.clone());
                Ok(c)
            }
            Err(e) => Err(self.fail("TLS", e.to_string(), None, EXIT_TLS)),
        }
    }

    /// The TLS handshake; on success the TLS step has passed. A failure is
    /// handed back with what it says about the server.
    pub(super) async fn handshake(
        &mut self,
        conn: ClientConn,
    ) -> Result<Result<ClientConn, (Fault, TlsFailure)>, Stop> {
        let config = self.config()?;
        match conn.handshake(config, &self.o.host, self.o.timeout).await {
            Ok((conn, details)) => {
                self.event(EventKind::Note(format!("TLS {}", details.summary())));
                let mut detail = details.summary();
                if let Some(s) = &details.subject {
                    detail.push_str(&format!(" · {s}"));
                }
                if let Some(t) = &details.not_after {
                    detail.push_str(&format!(" · expires {t}"));
                }
                self.tls = Some(details);
                self.pass("TLS", detail);
                Ok(Ok(conn))
            }
            Err(failed) => Ok(Err(failed)),
        }
    }

    /// The TLS handshake, a failure ending the check.
    pub(super) async fn tls(&mut self, conn: ClientConn) -> Result<ClientConn, Stop> {
        match self.handshake(conn).await? {
            Ok(conn) => Ok(conn),
            Err((f, kind)) => Err(self.tls_failed(f, kind)),
        }
    }

    pub(super) fn tls_failed(&mut self, f: Fault, kind: TlsFailure) -> Stop {
        let hint = match kind {
            TlsFailure::UnknownIssuer => Some(HINT_UNKNOWN_ISSUER),
            TlsFailure::WrongName => Some(HINT_WRONG_NAME),
            TlsFailure::Expired => Some(HINT_EXPIRED),
            // Only for implicit TLS is a plain answer a mode mix-up; after
            // STARTTLS it is a broken server.
            TlsFailure::NotTls if self.mode == Some(UpstreamTls::Implicit) => {
                Some(HINT_PLAIN_FIRST)
            }
            _ => None,
        };
        if self.mode == Some(UpstreamTls::Implicit) {
            // The connection itself was made: the greeting comes after TLS.
            let made = format!(
                "{}:{} connected; the greeting comes after TLS",
                self.o.host, self.o.port
            );
            self.pass("connection", made);
        }
        let detail = format!("{}:{} {}", self.o.host, self.o.port, f.0);
        self.event(EventKind::Note(detail.clone()));
        self.fail("TLS", detail, hint, EXIT_TLS)
    }

    /// Whether the port answers a TLS handshake on a fresh connection: asked
    /// when a server said nothing, to tell a TLS-first port from a silent one.
    pub(super) async fn speaks_tls_first(&mut self) -> bool {
        let t = self.o.timeout.min(PROBE_TIMEOUT);
        let Ok(conn) = ClientConn::connect(&self.o.host, self.o.port, t).await else {
            return false;
        };
        let Some(config) = self
            .config
            .clone()
            .or_else(|| client_config(self.o.ca_file.as_deref()).ok())
        else {
            return false;
        };
        match conn.handshake(config, &self.o.host, t).await {
            Ok(_) => true,
            Err((_, kind)) => kind.speaks_tls(),
        }
    }

    /// Connects, and for implicit TLS (given or found) runs the handshake.
    pub(super) async fn open(&mut self) -> Result<(ClientConn, bool), Stop> {
        let o = self.o;
        let conn = match ClientConn::connect(&o.host, o.port, o.timeout).await {
            Ok(c) => c,
            Err(f) => return Err(self.fault("connection", f, EXIT_CONNECTION)),
        };
        match o.tls {
            Some(UpstreamTls::Implicit) => {
                self.mode = Some(UpstreamTls::Implicit);
                Ok((self.tls(conn).await?, false))
            }
            Some(mode) => {
                self.mode = Some(mode);
                Ok((conn, false))
            }
            None => {
                self.event(EventKind::Note(
                    "no --tls: finding the mode, a TLS handshake first".into(),
                ));
                match self.handshake(conn).await? {
                    Ok(conn) => {
                        self.mode = Some(UpstreamTls::Implicit);
                        Ok((conn, false))
                    }
                    Err((f, TlsFailure::NotTls)) => {
                        self.event(EventKind::Note(format!(
                            "not TLS ({}): plain SMTP, with STARTTLS if the server offers it",
                            f.0
                        )));
                        self.mode = Some(UpstreamTls::Starttls);
                        match ClientConn::connect(&o.host, o.port, o.timeout).await {
                            Ok(c) => Ok((c, true)),
                            Err(f) => Err(self.fault("connection", f, EXIT_CONNECTION)),
                        }
                    }
                    Err((f, TlsFailure::Silent)) => {
                        let detail = format!("{}:{} {}, and sent no greeting", o.host, o.port, f.0);
                        self.event(EventKind::Note(detail.clone()));
                        Err(self.fail(
                            "connection",
                            detail,
                            Some(crate::resend::explain::NO_GREETING),
                            EXIT_CONNECTION,
                        ))
                    }
                    Err((f, kind)) => {
                        self.mode = Some(UpstreamTls::Implicit);
                        Err(self.tls_failed(f, kind))
                    }
                }
            }
        }
    }
}
