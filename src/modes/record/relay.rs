//! The upstream responder (record mode): every command goes to the real
//! relay and its reply comes back unchanged, but for what only the local leg
//! can answer (STARTTLS on the client's side, the EHLO keyword for it).

use std::sync::Arc;
use std::time::Duration;

use crate::engine::responder::{DataOutcome, LocalEvent, Responder, Response, SessionState};
use crate::net::client::{ClientConn, Fault, UpstreamTls};
use crate::resend::Profile;
use crate::resend::ReplyName;
use crate::smtp::{Command, DataWriter, ParseError, Reply, codes};

/// Where and how to reach the upstream relay.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// Host name (or IP) to connect to and to verify the certificate for.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode of the upstream leg.
    pub tls: UpstreamTls,
    /// TLS client configuration (roots).
    pub client: Arc<rustls::ClientConfig>,
    /// Longest wait for the TCP connection and the TLS handshake.
    pub connect_timeout: Duration,
    /// Longest wait for any one reply.
    pub reply_timeout: Duration,
    /// The name in the EHLO mailtape sends before the upstream STARTTLS.
    pub ehlo_name: String,
    /// Where the replies mailtape makes itself come from.
    pub profile: Profile,
}

impl UpstreamConfig {
    /// `host:port (mode)`, as transcripts show the upstream.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.tls.describe())
    }
}

/// One session's upstream leg.
pub struct Upstream {
    cfg: Arc<UpstreamConfig>,
    conn: Option<ClientConn>,
    in_transaction: bool,
    /// Set after a fault: the upstream is gone for this session.
    dead: bool,
    data: Option<DataWriter>,
    data_fault: Option<String>,
    /// Message content encoded for the wire, not yet sent.
    pending: Vec<u8>,
    /// Whether the upstream's EHLO offered PIPELINING.
    pipelining: bool,
    /// Pipelined lines the client sent after the current command, as the
    /// engine showed them (see [`Responder::ahead`]).
    ahead: Vec<Vec<u8>>,
    /// Lines already sent upstream ahead of their turn, whose replies are
    /// still to be read, oldest first.
    sent_ahead: std::collections::VecDeque<Vec<u8>>,
}

/// The most encoded content held back to go with the end marker.
const SEND_AT: usize = 64 * 1024;

impl Upstream {
    /// A session that will connect when the client does.
    pub fn new(cfg: Arc<UpstreamConfig>) -> Upstream {
        Upstream {
            cfg,
            conn: None,
            in_transaction: false,
            dead: false,
            data: None,
            data_fault: None,
            pending: Vec::new(),
            pipelining: false,
            ahead: Vec::new(),
            sent_ahead: std::collections::VecDeque::new(),
        }
    }

    fn own(&self, name: ReplyName) -> Response {
        Response::named(self.cfg.profile.reply(name, &[]), name)
    }

    /// The client's reply to an upstream fault: 421 and close, or 451
    /// mid-transaction (the next command then gets the 421).
    fn fault(&mut self, Fault(what): Fault) -> Response {
        self.dead = true;
        self.conn = None;
        let reply = |code| crate::smtp::own::upstream(code, &self.cfg.host, self.cfg.port, &what);
        let note = format!("upstream fault: {what}");
        if std::mem::take(&mut self.in_transaction) {
            Response {
                reply: Some(reply(codes::LOCAL_ERROR)),
                notes: vec![note],
                ..Response::default()
            }
        } else {
            Response {
                reply: Some(reply(codes::SERVICE_UNAVAILABLE)),
                close: true,
                notes: vec![note],
                ..Response::default()
            }
        }
    }

    fn gone(&self) -> Response {
        Response {
            reply: Some(crate::smtp::own::upstream(
                codes::SERVICE_UNAVAILABLE,
                &self.cfg.host,
                self.cfg.port,
                "is gone for this session",
            )),
            close: true,
            ..Response::default()
        }
    }

    async fn connect(&self, notes: &mut Vec<String>) -> Result<(ClientConn, Reply), Fault> {
        let cfg = &self.cfg;
        let mut conn = ClientConn::connect(&cfg.host, cfg.port, cfg.connect_timeout).await?;
        if cfg.tls == UpstreamTls::Implicit {
            conn = self.handshake(conn, notes).await?;
        }
        let greeting = conn.reply(cfg.reply_timeout).await.map_err(|Fault(f)| {
            // A TLS port spoken to in plain text stays silent: say what to try.
            let silent = f.starts_with("did not reply") || f.starts_with("closed the connection");
            if cfg.tls == UpstreamTls::Implicit || !silent {
                Fault(f)
            } else {
                Fault(format!(
                    "{f} (a port that expects TLS first stays silent: try --upstream-tls implicit)"
                ))
            }
        })?;
        if cfg.tls == UpstreamTls::Starttls && greeting.code == codes::SERVICE_READY {
            let ehlo = conn
                .command(
                    format!("EHLO {}", cfg.ehlo_name).as_bytes(),
                    cfg.reply_timeout,
                )
                .await?;
            if !ehlo
                .lines
                .iter()
                .any(|l| l.eq_ignore_ascii_case("STARTTLS"))
            {
                return Err(Fault(
                    "does not offer STARTTLS; use --upstream-tls implicit or none".into(),
                ));
            }
            let ready = conn.command(b"STARTTLS", cfg.reply_timeout).await?;
            if ready.code != codes::SERVICE_READY {
                return Err(Fault(format!("refused STARTTLS: {ready}")));
            }
            conn = self.handshake(conn, notes).await?;
        }
        Ok((conn, greeting))
    }

    async fn handshake(
        &self,
        conn: ClientConn,
        notes: &mut Vec<String>,
    ) -> Result<ClientConn, Fault> {
        let cfg = &self.cfg;
        let (conn, tls) = conn
            .start_tls(cfg.client.clone(), &cfg.host, cfg.connect_timeout)
            .await?;
        notes.push(format!(
            "upstream {}:{} {} {}",
            cfg.host,
            cfg.port,
            cfg.tls.describe(),
            tls.summary()
        ));
        Ok(conn)
    }

    /// Forwards one line and relays the reply.
    async fn forward(&mut self, line: &[u8]) -> Result<Reply, Fault> {
        let timeout = self.cfg.reply_timeout;
        match self.conn.as_mut() {
            Some(c) => c.command(line, timeout).await,
            None => Err(Fault("is not connected".into())),
        }
    }

    /// Forwards a command. When it leads a pipelined group (RFC 2920) and
    /// the client sent more of the group behind it (`ahead`, shown only for
    /// such a command), they go upstream in the same write, as the client
    /// sent them, and each later gets its reply read in its turn. A line sent
    /// ahead only has its reply read.
    async fn forward_grouped(&mut self, line: &[u8], ahead: Vec<Vec<u8>>) -> Result<Reply, Fault> {
        let timeout = self.cfg.reply_timeout;
        let Some(conn) = self.conn.as_mut() else {
            return Err(Fault("is not connected".into()));
        };
        if let Some(front) = self.sent_ahead.front() {
            if front.as_slice() != line {
                // The engine shows each line it then answers, in order.
                return Err(Fault(
                    "was sent a pipelined command out of turn (a mailtape bug)".into(),
                ));
            }
            self.sent_ahead.pop_front();
            return conn.reply(timeout).await;
        }
        let group = pipelined_group(&ahead);
        if group == 0 {
            return conn.command(line, timeout).await;
        }
        let mut out = Vec::with_capacity(
            ahead[..group].iter().map(|l| l.len() + 2).sum::<usize>() + line.len() + 2,
        );
        for l in std::iter::once(line).chain(ahead[..group].iter().map(Vec::as_slice)) {
            out.extend_from_slice(l);
            out.extend_from_slice(b"\r\n");
        }
        conn.send(&out, timeout).await?;
        self.sent_ahead.extend(ahead.into_iter().take(group));
        conn.reply(timeout).await
    }
}

impl Responder for Upstream {
    async fn greeting(&mut self, _s: &SessionState) -> Response {
        let mut notes = Vec::new();
        match self.connect(&mut notes).await {
            Ok((conn, greeting)) => {
                self.conn = Some(conn);
                let close = greeting.code == codes::SERVICE_UNAVAILABLE || greeting.code >= 500;
                Response {
                    reply: Some(greeting),
                    close,
                    notes,
                    ..Response::default()
                }
            }
            Err(f) => {
                let mut r = self.fault(f);
                notes.append(&mut r.notes);
                r.notes = notes;
                r
            }
        }
    }

    async fn command(
        &mut self,
        s: &SessionState,
        raw: &[u8],
        cmd: Result<Command<'_>, ParseError>,
    ) -> Response {
        // Shown for this command only, whatever it turns out to be.
        let ahead = std::mem::take(&mut self.ahead);
        // What only the client's leg can answer.
        match &cmd {
            Ok(Command::StartTls) => {
                return self.own(crate::engine::responder::starttls_reply_name(s));
            }
            Ok(Command::Bdat) => return self.own(ReplyName::UnknownCommand),
            Ok(Command::Quit) if self.dead => return self.own(ReplyName::Quit),
            _ => {}
        }
        if self.dead {
            return self.gone();
        }
        let reply = match self.forward_grouped(raw, ahead).await {
            Ok(r) => r,
            Err(f) => {
                self.sent_ahead.clear();
                return self.fault(f);
            }
        };
        match &cmd {
            Ok(Command::Ehlo(_)) => {
                self.in_transaction = false;
                self.pipelining = reply.code == codes::OK
                    && reply
                        .lines
                        .iter()
                        .skip(1)
                        .any(|l| l.eq_ignore_ascii_case("PIPELINING"));
                return crate::engine::responder::adjust_ehlo(reply, s).into();
            }
            Ok(Command::Helo(_)) => {
                // No extensions after HELO: no pipelining either (RFC 2920 3.1).
                self.in_transaction = false;
                self.pipelining = false;
            }
            Ok(Command::Rset) => self.in_transaction = false,
            Ok(Command::Mail { .. }) if reply.code == codes::OK => self.in_transaction = true,
            Ok(Command::Data) if reply.code == codes::START_DATA => {
                self.data = Some(DataWriter::new());
                self.data_fault = None;
            }
            _ => {}
        }
        let close = reply.code == codes::SERVICE_UNAVAILABLE;
        Response {
            reply: Some(reply),
            close,
            ..Response::default()
        }
    }

    async fn auth_response(&mut self, _s: &SessionState, line: &[u8]) -> Response {
        if self.dead {
            return self.gone();
        }
        match self.forward(line).await {
            Ok(r) => r.into(),
            Err(f) => self.fault(f),
        }
    }

    async fn data_chunk(&mut self, content: &[u8], end_follows: bool) {
        if self.data_fault.is_some() {
            return;
        }
        let (Some(writer), Some(conn)) = (self.data.as_mut(), self.conn.as_mut()) else {
            return;
        };
        writer.encode(content, &mut self.pending);
        // Held back only when the end marker is already here (then an
        // ordinary message goes upstream in one write with it), and never
        // past SEND_AT; a body still arriving is passed on as it comes.
        if !end_follows || self.pending.len() >= SEND_AT {
            if let Err(Fault(f)) = conn.send(&self.pending, self.cfg.reply_timeout).await {
                self.data_fault = Some(f);
            }
            self.pending.clear();
        }
    }

    async fn data_end(&mut self, _s: &SessionState, _data: DataOutcome) -> Response {
        let mut out = std::mem::take(&mut self.pending);
        if let Some(f) = self.data_fault.take() {
            return self.fault(Fault(f));
        }
        let (Some(mut writer), Some(conn)) = (self.data.take(), self.conn.as_mut()) else {
            return self.gone();
        };
        writer.finish(&mut out);
        let timeout = self.cfg.reply_timeout;
        let result = match conn.send(&out, timeout).await {
            Ok(()) => conn.reply(timeout).await,
            Err(f) => Err(f),
        };
        out.clear();
        self.pending = out;
        match result {
            Ok(reply) => {
                self.in_transaction = false;
                let close = reply.code == codes::SERVICE_UNAVAILABLE;
                Response {
                    reply: Some(reply),
                    close,
                    ..Response::default()
                }
            }
            Err(f) => self.fault(f),
        }
    }

    fn wants_ahead(&self, cmd: &Command<'_>) -> bool {
        self.pipelining
            && self.sent_ahead.is_empty()
            && !self.dead
            && matches!(
                cmd,
                Command::Mail { .. } | Command::Rcpt { .. } | Command::Rset
            )
    }

    fn ahead(&mut self, lines: &[&[u8]]) {
        self.ahead = lines.iter().map(|l| l.to_vec()).collect();
    }

    fn tls_started(&mut self, _s: &SessionState) {
        // The client starts over with EHLO, which goes upstream as usual.
        self.in_transaction = false;
    }

    fn local(&mut self, event: LocalEvent) -> Option<Reply> {
        Some(self.cfg.profile.reply(event.reply_name(), &[]))
    }

    fn body_limit(&self) -> usize {
        // The upstream has the whole body; keep what a transcript shows.
        crate::tape::transcript::MAX_KEPT_BODY
    }
}

/// How many of `lines` can go upstream together behind a MAIL, RCPT or RSET
/// (RFC 2920 3.1): any run of MAIL, RCPT and RSET, then at most one DATA or
/// NOOP, which ends a group because the client waits for its reply.
fn pipelined_group(lines: &[Vec<u8>]) -> usize {
    let mut n = 0;
    for line in lines {
        match crate::smtp::parse_command(line) {
            Ok(Command::Mail { .. } | Command::Rcpt { .. } | Command::Rset) => n += 1,
            Ok(Command::Data | Command::Noop) => return n + 1,
            _ => return n,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::pipelined_group;

    fn lines(ls: &[&str]) -> Vec<Vec<u8>> {
        ls.iter().map(|l| l.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_group_is_mail_rcpt_rset_then_at_most_one_data_or_noop() {
        let g = |ls: &[&str]| pipelined_group(&lines(ls));
        assert_eq!(
            g(&[
                "RCPT TO:<a@b.c>",
                "RCPT TO:<d@b.c>",
                "DATA",
                "RCPT TO:<e@b.c>"
            ]),
            3
        );
        assert_eq!(g(&["RSET", "MAIL FROM:<a@b.c>", "NOOP", "QUIT"]), 3);
        assert_eq!(g(&["RCPT TO:<a@b.c>", "EHLO x"]), 1);
        assert_eq!(g(&["AUTH PLAIN AGEAYg=="]), 0);
        assert_eq!(g(&["STARTTLS", "MAIL FROM:<a@b.c>"]), 0);
        assert_eq!(g(&["\u{1}garbage"]), 0);
        assert_eq!(g(&[]), 0);
    }
}
