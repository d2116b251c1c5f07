//! The SMTP conversation a check holds, as an app would: greeting, EHLO,
//! TLS, AUTH, MAIL, RCPT, DATA and QUIT, stopping at the first step that
//! fails with the exit status of its class.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::tls::{HINT_NO_STARTTLS, HINT_TLS_FIRST, WARN_NO_TLS};
use super::{
    AuthChoice, EXIT_ADDRESS, EXIT_AUTH, EXIT_CONNECTION, EXIT_MESSAGE, EXIT_TEMPORARY, EXIT_TLS,
    Run, Status, StepResult, Stop,
};
use crate::net::client::{ClientConn, UpstreamTls};
use crate::smtp::{DataWriter, codes};
use crate::tape::EventKind;
use crate::tape::redact::{AuthPart, redact_auth};

impl Run<'_> {
    pub(super) async fn run(&mut self) -> Result<(), Stop> {
        let o = self.o;
        let t = o.timeout;
        let (mut conn, found_plain) = self.open().await?;
        let greeting = match conn.reply(t).await {
            Ok(g) => g,
            Err(f) => {
                if self.mode != Some(UpstreamTls::Implicit)
                    && f.0.starts_with("did not reply")
                    && self.speaks_tls_first().await
                {
                    let detail = format!("{}:{} {}", o.host, o.port, f.0);
                    self.event(EventKind::Note(detail.clone()));
                    return Err(self.fail(
                        "connection",
                        detail,
                        Some(HINT_TLS_FIRST),
                        EXIT_CONNECTION,
                    ));
                }
                return Err(self.fault("connection", f, EXIT_CONNECTION));
            }
        };
        self.reply(&greeting);
        if greeting.code != codes::SERVICE_READY {
            return Err(self.refused("connection", &greeting, EXIT_CONNECTION));
        }
        self.pass(
            "connection",
            format!("{}:{} {}", o.host, o.port, greeting.lines[0]),
        );
        let ehlo_line = "EHLO mailtape.check";
        let mut ehlo = self
            .cmd(&mut conn, ehlo_line, ehlo_line.into())
            .await
            .map_err(|f| self.fault("connection", f, EXIT_CONNECTION))?;
        let offers_starttls = ehlo
            .lines
            .iter()
            .any(|l| l.eq_ignore_ascii_case("STARTTLS"));
        if found_plain && !offers_starttls {
            self.mode = Some(UpstreamTls::None);
            self.warnings.push(WARN_NO_TLS.into());
            self.event(EventKind::Note(WARN_NO_TLS.into()));
        }
        match self.mode.unwrap_or(UpstreamTls::None) {
            UpstreamTls::Starttls => {
                if !offers_starttls {
                    return Err(self.fail(
                        "TLS",
                        "the server does not offer STARTTLS".into(),
                        Some(HINT_NO_STARTTLS),
                        EXIT_TLS,
                    ));
                }
                let ready = self
                    .cmd(&mut conn, "STARTTLS", "STARTTLS".into())
                    .await
                    .map_err(|f| self.fault("TLS", f, EXIT_TLS))?;
                if ready.code != codes::SERVICE_READY {
                    return Err(self.refused("TLS", &ready, EXIT_TLS));
                }
                conn = self.tls(conn).await?;
                ehlo = self
                    .cmd(&mut conn, ehlo_line, ehlo_line.into())
                    .await
                    .map_err(|f| self.fault("connection", f, EXIT_CONNECTION))?;
            }
            UpstreamTls::None => self.steps.push(StepResult {
                step: "TLS",
                status: Status::Skipped,
                detail: if found_plain {
                    "the server offers no TLS".into()
                } else {
                    "no TLS asked for (--tls none)".into()
                },
                explain: None,
            }),
            UpstreamTls::Implicit => {}
        }
        let offers = |m: &str| {
            ehlo.lines.iter().any(|l| {
                let u = l.to_ascii_uppercase();
                u.starts_with("AUTH") && u.split([' ', '=']).any(|w| w == m)
            })
        };
        let login = match o.auth {
            AuthChoice::Login => true,
            AuthChoice::Plain => false,
            AuthChoice::Auto => !offers("PLAIN") && offers("LOGIN"),
        };
        let reply = if login {
            let r = self
                .cmd(&mut conn, "AUTH LOGIN", "AUTH LOGIN".into())
                .await
                .map_err(|f| self.fault("authentication", f, EXIT_AUTH))?;
            if r.code == codes::AUTH_CONTINUE {
                let user = STANDARD.encode(&o.user);
                let r = self
                    .cmd(&mut conn, &user, redact_auth(AuthPart::LoginUser, &user))
                    .await
                    .map_err(|f| self.fault("authentication", f, EXIT_AUTH))?;
                if r.code == codes::AUTH_CONTINUE {
                    let key = STANDARD.encode(&o.key);
                    self.cmd(&mut conn, &key, redact_auth(AuthPart::Secret, &key))
                        .await
                        .map_err(|f| self.fault("authentication", f, EXIT_AUTH))?
                } else {
                    r
                }
            } else {
                r
            }
        } else {
            let payload = STANDARD.encode(format!("\0{}\0{}", o.user, o.key));
            let line = format!("AUTH PLAIN {payload}");
            let shown = format!("AUTH PLAIN {}", redact_auth(AuthPart::Plain, &payload));
            self.cmd(&mut conn, &line, shown)
                .await
                .map_err(|f| self.fault("authentication", f, EXIT_AUTH))?
        };
        if reply.code != codes::AUTH_OK {
            {
                let stop = self.refused("authentication", &reply, EXIT_AUTH);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        self.pass("authentication", reply.to_string());
        if !o.send {
            self.quit(&mut conn).await;
            return Ok(());
        }
        let mail = format!("MAIL FROM:<{}>", o.from);
        let r = self
            .cmd(&mut conn, &mail, mail.clone())
            .await
            .map_err(|f| self.fault("sender", f, EXIT_ADDRESS))?;
        if r.code != codes::OK {
            {
                let stop = self.refused("sender", &r, EXIT_ADDRESS);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        self.pass("sender", r.to_string());
        let rcpt = format!("RCPT TO:<{}>", o.to);
        let r = self
            .cmd(&mut conn, &rcpt, rcpt.clone())
            .await
            .map_err(|f| self.fault("recipient", f, EXIT_ADDRESS))?;
        if r.code != codes::OK {
            {
                let stop = self.refused("recipient", &r, EXIT_ADDRESS);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        self.pass("recipient", r.to_string());
        let r = self
            .cmd(&mut conn, "DATA", "DATA".into())
            .await
            .map_err(|f| self.fault("message", f, EXIT_MESSAGE))?;
        if r.code != codes::START_DATA {
            {
                let stop = self.refused("message", &r, EXIT_MESSAGE);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        let body = format!(
            "From: {}\r\nTo: {}\r\nSubject: mailtape check\r\nDate: {}\r\nMessage-ID: <{}@mailtape.check>\r\n\r\nThis message was sent by `mailtape check` to test SMTP settings.\r\n",
            o.from,
            o.to,
            rfc2822_now(),
            crate::resend::new_id()
        );
        for line in body.trim_end().split("\r\n") {
            self.event(EventKind::Data(line.to_string()));
        }
        let mut wire = Vec::new();
        let mut w = DataWriter::new();
        w.encode(body.as_bytes(), &mut wire);
        w.finish(&mut wire);
        self.event(EventKind::Client(".".into()));
        let r = match conn.send(&wire, t).await {
            Ok(()) => conn.reply(t).await,
            Err(f) => Err(f),
        }
        .map_err(|f| self.fault("message", f, EXIT_MESSAGE))?;
        self.reply(&r);
        if r.code != codes::OK {
            {
                let stop = self.refused("message", &r, EXIT_MESSAGE);
                return Err(self.give_up(&mut conn, stop).await);
            }
        }
        self.pass("message", r.to_string());
        self.quit(&mut conn).await;
        Ok(())
    }

    /// Says goodbye after a refusal, as a polite client does.
    pub(super) async fn give_up(&mut self, conn: &mut ClientConn, stop: Stop) -> Stop {
        if stop.0 != EXIT_TEMPORARY {
            self.quit(conn).await;
        }
        stop
    }

    pub(super) async fn quit(&mut self, conn: &mut ClientConn) {
        let _ = self.cmd(conn, "QUIT", "QUIT".into()).await;
    }
}

fn rfc2822_now() -> String {
    let fmt = time::format_description::well_known::Rfc2822;
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}
