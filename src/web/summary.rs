//! What the session list shows of a transcript: who, how, the envelope and
//! the outcome, read from the redacted lines (the same lines `show` prints).

use serde::Serialize;

use crate::tape::{Closer, EventKind, Transcript};

/// How a session ended, for the list and its filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// At least one message accepted, and no refusal after the last one.
    Accepted,
    /// Refused before any command (the greeting was a 4xx/5xx).
    RefusedConnect,
    /// AUTH refused.
    RefusedAuth,
    /// MAIL FROM refused.
    RefusedMail,
    /// RCPT TO refused.
    RefusedRcpt,
    /// The message was refused after its final dot (or DATA itself).
    RefusedData,
    /// The client left without sending a message and without a refusal.
    ClientLeft,
    /// Something broke: a relay fault, a replay divergence, a timeout, a
    /// TLS failure, or the server hung up.
    Fault,
}

impl Outcome {
    /// Every outcome's name, for the filter.
    pub const ALL: [&'static str; 8] = [
        "accepted",
        "refused_connect",
        "refused_auth",
        "refused_mail",
        "refused_rcpt",
        "refused_data",
        "client_left",
        "fault",
    ];

    /// Its name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::RefusedConnect => "refused_connect",
            Outcome::RefusedAuth => "refused_auth",
            Outcome::RefusedMail => "refused_mail",
            Outcome::RefusedRcpt => "refused_rcpt",
            Outcome::RefusedData => "refused_data",
            Outcome::ClientLeft => "client_left",
            Outcome::Fault => "fault",
        }
    }

    /// Whether a filter value selects it: an exact name, or `refused` for
    /// every refusal.
    pub fn matches(self, filter: &str) -> bool {
        filter == self.name() || (filter == "refused" && self.name().starts_with("refused"))
    }
}

/// One row of the session list.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    /// The inbox's own number for it (unique in this run, also across tapes
    /// loaded from disk).
    pub key: u64,
    /// The session's number in its server run or tape.
    pub session: u64,
    /// `smtp`, or `http` for a message sent through the REST API.
    pub protocol: &'static str,
    /// `mock`, `record` or `replay`.
    pub mode: String,
    /// The scenario, tape or upstream that answered.
    pub source: String,
    /// When it started, RFC 3339 UTC.
    pub started: String,
    /// The client's address.
    pub client: String,
    /// The listener: `smtps`, `starttls`, `plain` (or `http`).
    pub listener: String,
    /// The negotiated TLS version and suite, when the client used TLS.
    pub tls: Option<String>,
    /// The user name of the last AUTH (never a key).
    pub user: Option<String>,
    /// The fingerprint of the API key it logged in with (`re_…a1f3`): which
    /// app it was. From the AUTH line or the REST request's Authorization.
    pub api_key: Option<String>,
    /// Envelope sender of the first transaction.
    pub from: Option<String>,
    /// Envelope recipients, in order, each once.
    pub to: Vec<String>,
    /// The Subject headers of the messages sent.
    pub subjects: Vec<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The reply code that decided the outcome (the refusal, or the 250).
    pub code: Option<u16>,
    /// That reply's text.
    pub reply: Option<String>,
    /// Messages accepted in the session.
    pub accepted: usize,
    /// Whether a replay client departed from the tape.
    pub diverged: bool,
    /// Seconds from connect to close.
    pub duration: f64,
    /// Who closed it.
    pub closed_by: Option<Closer>,
    /// Ids of the messages this session delivered to the inbox.
    pub messages: Vec<String>,
    /// Where it came from: `live`, or the tape file it was read from.
    pub origin: String,
}

/// Whether a transcript is of a message sent over HTTP (the REST API)
/// rather than SMTP: such transcripts are captured on the `http` listener.
pub fn protocol_of(t: &Transcript) -> &'static str {
    let l = t.meta.listener.to_ascii_lowercase();
    if l == "http" || l == "https" || l.starts_with("http ") || l == "rest" {
        "http"
    } else {
        "smtp"
    }
}

fn verb(line: &str) -> String {
    line.split([' ', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

fn angle(line: &str) -> Option<String> {
    let start = line.find('<')?;
    let end = line[start..].find('>')? + start;
    Some(line[start + 1..end].to_string())
}

/// The key's fingerprint in a redacted line: `key=re_…a1f3`.
fn key_in(line: &str) -> Option<String> {
    let i = line.find("key=")?;
    let rest = &line[i + 4..];
    let end = rest.find([' ', '>']).unwrap_or(rest.len());
    let key = &rest[..end];
    key.contains('…').then(|| key.to_string())
}

fn user_in(line: &str) -> Option<String> {
    let i = line.find("user=")?;
    let rest = &line[i + 5..];
    let end = rest.find([' ', '>']).unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// Summarises a finished (or taped) session.
pub fn summarise(key: u64, origin: &str, t: &Transcript) -> SessionSummary {
    let mut s = SessionSummary {
        key,
        session: t.meta.id,
        protocol: protocol_of(t),
        mode: t.meta.mode.clone(),
        source: t.meta.source.clone(),
        started: t.meta.started.clone(),
        client: t.meta.client.clone(),
        listener: t.meta.listener.clone(),
        tls: None,
        user: None,
        api_key: None,
        from: None,
        to: Vec::new(),
        subjects: Vec::new(),
        outcome: Outcome::ClientLeft,
        code: None,
        reply: None,
        accepted: 0,
        diverged: false,
        duration: t
            .events
            .iter()
            .rev()
            .find_map(|e| e.at)
            .map_or(0.0, |d| (d.as_secs_f64() * 1000.0).round() / 1000.0),
        closed_by: t.closed_by,
        messages: Vec::new(),
        origin: origin.to_string(),
    };
    if s.protocol == "http" {
        return summarise_http(s, t);
    }
    // What the next final reply answers: a command verb, `greeting`, or
    // `end` (the final dot of DATA).
    let mut answering = "GREETING".to_string();
    let mut in_headers = false;
    let mut in_body = false;
    let mut refusal: Option<(Outcome, u16, String)> = None;
    let mut last_accept: Option<(u16, String)> = None;
    let mut fault = false;
    for e in &t.events {
        match &e.kind {
            EventKind::Client(line) => {
                let v = verb(line);
                if v == "AUTH" || line.starts_with('<') {
                    if let Some(u) = user_in(line) {
                        s.user = Some(u);
                    }
                    if let Some(k) = key_in(line) {
                        s.api_key = Some(k);
                    }
                } else if v == "MAIL" && s.from.is_none() {
                    s.from = angle(line);
                } else if v == "RCPT"
                    && let Some(to) = angle(line)
                    && !s.to.contains(&to)
                {
                    s.to.push(to);
                }
                if line == "." {
                    answering = "END".into();
                    in_body = false;
                } else if !line.starts_with('<') {
                    answering = v;
                    in_body = false;
                }
            }
            EventKind::Data(line) => {
                if !in_body {
                    in_body = true;
                    in_headers = true;
                }
                if in_headers {
                    if line.is_empty() {
                        in_headers = false;
                    } else if line.len() > 8 && line[..8].eq_ignore_ascii_case("subject:") {
                        s.subjects.push(line[8..].trim().to_string());
                    }
                }
            }
            EventKind::Server(line) => {
                if line.as_bytes().get(3) == Some(&b'-') {
                    continue;
                }
                let Some(code) = line.get(..3).and_then(|c| c.parse::<u16>().ok()) else {
                    continue;
                };
                let text = line.get(4..).unwrap_or_default().to_string();
                if code >= 400 {
                    let stage = match answering.as_str() {
                        "GREETING" => Some(Outcome::RefusedConnect),
                        "AUTH" => Some(Outcome::RefusedAuth),
                        "MAIL" => Some(Outcome::RefusedMail),
                        "RCPT" => Some(Outcome::RefusedRcpt),
                        "DATA" | "END" | "BDAT" => Some(Outcome::RefusedData),
                        _ => None,
                    };
                    if let Some(stage) = stage {
                        refusal = Some((stage, code, text));
                    }
                } else if answering == "END" && code == 250 {
                    s.accepted += 1;
                    last_accept = Some((code, text));
                    refusal = None;
                }
                if answering == "END" {
                    answering = "AFTER".into();
                }
            }
            EventKind::Note(n) => {
                if let Some(tls) = n.strip_prefix("TLS ")
                    && !tls.starts_with("handshake")
                {
                    s.tls = Some(tls.to_string());
                }
                let lower = n.to_ascii_lowercase();
                if lower.starts_with("diverged") || lower.contains(" diverged") {
                    s.diverged = true;
                    fault = true;
                }
                if lower.contains("fault")
                    || lower.contains("timed out")
                    || lower.contains("timeout")
                    || lower.contains("handshake failed")
                    || lower == "connection dropped by the server"
                {
                    fault = true;
                }
            }
            EventKind::Comment(_) => {}
        }
    }
    if let Some((o, code, text)) = refusal {
        s.outcome = o;
        s.code = Some(code);
        s.reply = Some(text);
    } else if fault {
        s.outcome = Outcome::Fault;
    } else if let Some((code, text)) = last_accept {
        s.outcome = Outcome::Accepted;
        s.code = Some(code);
        s.reply = Some(text);
    }
    if fault && s.diverged {
        s.outcome = Outcome::Fault;
    }
    s
}

/// A REST exchange (Resend's API played by the mock): the request line, the
/// request JSON, the status line and the response JSON. A 2xx is accepted
/// (a send counts its ids), a key the API refuses is refused at
/// authentication, any other error refuses the message, with its text.
fn summarise_http(mut s: SessionSummary, t: &Transcript) -> SessionSummary {
    let mut status: Option<u16> = None;
    let mut error_name = String::new();
    let mut request = String::new();
    for e in &t.events {
        match &e.kind {
            EventKind::Client(line) if request.is_empty() => request = line.clone(),
            EventKind::Client(line) if line.starts_with("authorization:") => {
                s.api_key = key_in(line);
            }
            EventKind::Client(line) if line.starts_with('{') || line.starts_with('[') => {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let emails = match &v {
                    serde_json::Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                for m in emails {
                    if s.from.is_none() {
                        s.from = m["from"].as_str().map(String::from);
                    }
                    let to = match &m["to"] {
                        serde_json::Value::String(t) => vec![t.clone()],
                        serde_json::Value::Array(a) => a
                            .iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect(),
                        _ => Vec::new(),
                    };
                    for t in to {
                        if !s.to.contains(&t) {
                            s.to.push(t);
                        }
                    }
                    if let Some(subject) = m["subject"].as_str() {
                        s.subjects.push(subject.to_string());
                    }
                }
            }
            EventKind::Client(line) => {
                if let Some(key) = line
                    .strip_prefix("authorization: ")
                    .and_then(|a| a.split("key=").nth(1))
                {
                    s.user = Some(format!("API key {}", key.trim_end_matches('>')));
                }
            }
            EventKind::Server(line) if status.is_none() => {
                status = line.get(..3).and_then(|c| c.parse().ok());
                s.code = status;
            }
            EventKind::Server(line) if line.starts_with('{') => {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if let Some(m) = v["message"].as_str() {
                    s.reply = Some(m.to_string());
                    error_name = v["name"].as_str().unwrap_or_default().to_string();
                } else if v["id"].is_string() && request.starts_with("POST /emails") {
                    s.accepted += 1;
                } else if let Some(d) = v["data"].as_array()
                    && request.starts_with("POST /emails/batch")
                {
                    s.accepted += d.len();
                }
            }
            _ => {}
        }
    }
    // The key's errors are the API's AUTH; the rest refuse the message.
    let key_error = matches!(
        error_name.as_str(),
        "missing_api_key" | "invalid_api_key" | "restricted_api_key"
    );
    s.outcome = match status {
        Some(c) if c < 400 => Outcome::Accepted,
        Some(_) if key_error => Outcome::RefusedAuth,
        Some(_) => Outcome::RefusedData,
        None => Outcome::Fault,
    };
    if s.reply.is_none() {
        s.reply = Some(request);
    }
    s
}

/// A message as a transcript holds it: envelope and body lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapedMessage {
    /// MAIL FROM of its transaction.
    pub from: String,
    /// RCPT TO of its transaction.
    pub to: Vec<String>,
    /// The body, lines joined with CR LF.
    pub data: Vec<u8>,
    /// The reply that accepted it (`250 OK <id>`).
    pub reply: String,
}

impl TapedMessage {
    /// The email id the accepting reply gave, if it ends with one (a UUID).
    pub fn email_id(&self) -> Option<&str> {
        let last = self.reply.split_whitespace().last()?;
        (last.len() == 36 && last.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
            .then_some(last)
    }
}

/// The messages a transcript shows accepted (250 after the final dot),
/// rebuilt from its `D:` lines: how the inbox shows what `record` relayed
/// and what a `replay` client sent. A body too large to keep in a
/// transcript (a size and hash line) is left out.
pub fn accepted_messages(t: &Transcript) -> Vec<TapedMessage> {
    let mut out = Vec::new();
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut body: Option<Vec<&str>> = None;
    let mut ended = false;
    for e in &t.events {
        match &e.kind {
            EventKind::Client(line) => {
                let v = verb(line);
                if v == "MAIL" {
                    from = angle(line).unwrap_or_default();
                    to.clear();
                } else if v == "RCPT" {
                    to.extend(angle(line));
                } else if v == "RSET" {
                    from.clear();
                    to.clear();
                } else if line == "." {
                    ended = true;
                    continue;
                }
                if line != "." && v != "DATA" {
                    body = None;
                }
                if v == "DATA" {
                    body = Some(Vec::new());
                    ended = false;
                }
            }
            EventKind::Data(line) => {
                if let Some(b) = body.as_mut() {
                    b.push(line);
                }
            }
            EventKind::Server(line) if ended && line.as_bytes().get(3) != Some(&b'-') => {
                if line.starts_with("250")
                    && let Some(lines) = body.take()
                    && !(lines.len() == 1 && lines[0].starts_with("<body of "))
                {
                    let mut data = lines.join("\r\n").into_bytes();
                    data.extend_from_slice(b"\r\n");
                    out.push(TapedMessage {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                        reply: line.to_string(),
                    });
                }
                body = None;
                ended = false;
            }
            _ => {}
        }
    }
    out
}

impl SessionSummary {
    /// Whether a search text (lower case) is found in its addresses,
    /// subjects, user, client or reply.
    pub fn matches(&self, q: &str) -> bool {
        let fields = [
            self.from.as_deref(),
            self.user.as_deref(),
            self.reply.as_deref(),
            Some(self.client.as_str()),
            Some(self.source.as_str()),
        ];
        fields
            .into_iter()
            .flatten()
            .chain(self.to.iter().map(String::as_str))
            .chain(self.subjects.iter().map(String::as_str))
            .any(|f| f.to_lowercase().contains(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::Tape;

    fn one(text: &str) -> SessionSummary {
        let tape = Tape::parse(text, "test").expect("tape");
        summarise(1, "test", &tape.sessions[0])
    }

    #[test]
    fn a_refused_login_is_refused_at_auth() {
        let s = one(
            "# mailtape tape v1\n## session 1 · mode mock · source default · listener plain · local 127.0.0.1:2525 · client 127.0.0.1:5000 · started 2026-01-01T00:00:00Z\nS: 220 smtp.resend.com ESMTP\nC: EHLO a\nS: 250-smtp.resend.com\nS: 250 AUTH PLAIN LOGIN\nC: AUTH PLAIN <redacted user=resend key=re_…a1f3>\nS: 535 Authentication credentials invalid\nC: QUIT\nS: 221 Bye\n*: closed by client\n",
        );
        assert_eq!(s.outcome, Outcome::RefusedAuth);
        assert_eq!(s.code, Some(535));
        assert_eq!(s.user.as_deref(), Some("resend"));
        assert!(Outcome::RefusedAuth.matches("refused"));
    }

    #[test]
    fn accepted_messages_are_rebuilt_from_the_transcript() {
        let tape = Tape::parse(
            "# mailtape tape v1\n## session 2 · mode record · source up · listener plain · local 127.0.0.1:2525 · client 127.0.0.1:5000 · started 2026-01-01T00:00:00Z\nS: 220 hi\nC: MAIL FROM:<a@acme.com>\nS: 250 OK\nC: RCPT TO:<b@x.org>\nS: 250 OK\nC: DATA\nS: 354 go\nD: Subject: One\nD: \nD: Body\nC: .\nS: 250 OK abc\nC: MAIL FROM:<a@acme.com>\nS: 250 OK\nC: RCPT TO:<c@x.org>\nS: 250 OK\nC: DATA\nS: 354 go\nD: Subject: Two\nC: .\nS: 550 no\n*: closed by client\n",
            "test",
        )
        .expect("tape");
        let m = accepted_messages(&tape.sessions[0]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].from, "a@acme.com");
        assert_eq!(m[0].to, vec!["b@x.org"]);
        assert_eq!(m[0].data, b"Subject: One\r\n\r\nBody\r\n");
    }

    #[test]
    fn an_accepted_message_has_its_envelope_and_subject() {
        let s = one(
            "# mailtape tape v1\n## session 2 · mode mock · source default · listener plain · local 127.0.0.1:2525 · client 127.0.0.1:5000 · started 2026-01-01T00:00:00Z\nS: 220 smtp.resend.com ESMTP\nC: EHLO a\nS: 250 OK\nC: MAIL FROM:<a@acme.com>\nS: 250 OK\nC: RCPT TO:<b@x.org>\nS: 250 OK\nC: DATA\nS: 354 go\nD: Subject: Hello there\nD: \nD: Body\nC: .\nS: 250 OK abc\nC: QUIT\nS: 221 Bye\n*: closed by client\n",
        );
        assert_eq!(s.outcome, Outcome::Accepted);
        assert_eq!(s.from.as_deref(), Some("a@acme.com"));
        assert_eq!(s.to, vec!["b@x.org"]);
        assert_eq!(s.subjects, vec!["Hello there"]);
        assert!(s.matches("hello"));
        assert!(s.matches("b@x.org"));
        assert_eq!(s.protocol, "smtp");
    }
}
