//! The upstream responder (record mode): every command goes to the real
//! relay and its reply comes back unchanged, but for what only the local leg
//! can answer (STARTTLS on the client's side, the EHLO keyword for it).

use std::sync::Arc;
use std::time::Duration;

use super::{DataOutcome, LocalEvent, Responder, Response, SessionState};
use crate::net::client::{ClientConn, Fault};
use crate::resend::Profile;
use crate::smtp::{Command, DataWriter, ParseError, Reply, codes};

/// How the upstream leg is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamTls {
    /// TLS from the first byte (465, 2465).
    Implicit,
    /// Plain, then STARTTLS before anything else is sent (587, 2587, 25).
    Starttls,
    /// No TLS (a local test server).
    None,
}

impl UpstreamTls {
    /// The mode a port implies: implicit TLS for 465 and 2465, else STARTTLS.
    pub fn for_port(port: u16) -> UpstreamTls {
        match port {
            465 | 2465 => UpstreamTls::Implicit,
            _ => UpstreamTls::Starttls,
        }
    }

    /// For transcripts: `implicit TLS`, `STARTTLS`, `no TLS`.
    pub fn describe(self) -> &'static str {
        match self {
            UpstreamTls::Implicit => "implicit TLS",
            UpstreamTls::Starttls => "STARTTLS",
            UpstreamTls::None => "no TLS",
        }
    }
}

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
}

/// How much encoded content is held before it is sent on.
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
        }
    }

    fn own(&self, name: &str) -> Response {
        self.cfg.profile.reply(name, &[]).into()
    }

    /// The client's reply to an upstream fault: 421 and close, or 451
    /// mid-transaction (the next command then gets the 421).
    fn fault(&mut self, Fault(what): Fault) -> Response {
        self.dead = true;
        self.conn = None;
        let text = format!(
            "mailtape: upstream {}:{} {what}",
            self.cfg.host, self.cfg.port
        );
        let note = format!("upstream fault: {what}");
        if std::mem::take(&mut self.in_transaction) {
            Response {
                reply: Some(Reply::new(codes::LOCAL_ERROR, text)),
                notes: vec![note],
                ..Response::default()
            }
        } else {
            Response {
                reply: Some(Reply::new(codes::SERVICE_UNAVAILABLE, text)),
                close: true,
                notes: vec![note],
                ..Response::default()
            }
        }
    }

    fn gone(&self) -> Response {
        Response {
            reply: Some(Reply::new(
                codes::SERVICE_UNAVAILABLE,
                format!(
                    "mailtape: upstream {}:{} is gone for this session",
                    self.cfg.host, self.cfg.port
                ),
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
        // What only the client's leg can answer.
        match &cmd {
            Ok(Command::StartTls) => return self.own(super::starttls_reply_name(s)),
            Ok(Command::Bdat) => return self.own("unknown_command"),
            Ok(Command::Quit) if self.dead => return self.own("quit"),
            _ => {}
        }
        if self.dead {
            return self.gone();
        }
        let reply = match self.forward(raw).await {
            Ok(r) => r,
            Err(f) => return self.fault(f),
        };
        match &cmd {
            Ok(Command::Ehlo(_)) => {
                self.in_transaction = false;
                return super::adjust_ehlo(reply, s).into();
            }
            Ok(Command::Helo(_) | Command::Rset) => self.in_transaction = false,
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

    async fn data_chunk(&mut self, content: &[u8]) {
        if self.data_fault.is_some() {
            return;
        }
        let (Some(writer), Some(conn)) = (self.data.as_mut(), self.conn.as_mut()) else {
            return;
        };
        writer.encode(content, &mut self.pending);
        // Held back until there is a good amount: a message of ordinary
        // size then goes upstream in one write together with its end marker.
        if self.pending.len() >= SEND_AT {
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
