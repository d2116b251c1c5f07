//! `mailtape bench`: a load generator for SMTP servers (mailtape's own, or
//! any other): N connections, M messages, AUTH, TLS; messages per second and
//! latency percentiles per command and per message.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::error::Error;
use crate::net::client::UpstreamTls;
use crate::net::client::{ClientConn, Fault};
use crate::net::tls::client_config;
use crate::smtp::{DataWriter, codes};

/// What to send, how hard.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// TLS mode.
    pub tls: UpstreamTls,
    /// A CA certificate to trust besides the public roots.
    pub ca_file: Option<PathBuf>,
    /// Concurrent connections.
    pub connections: usize,
    /// Messages in all.
    pub messages: usize,
    /// Messages per connection before it is closed and opened again (1: a
    /// new connection per message).
    pub per_connection: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Whether MAIL, RCPT and DATA go in one write (PIPELINING).
    pub pipeline: bool,
    /// `None` for no AUTH; `Some(false)` PLAIN, `Some(true)` LOGIN.
    pub login: Option<bool>,
    /// User name for AUTH.
    pub user: String,
    /// Password for AUTH.
    pub key: String,
    /// Sender and recipient.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Longest wait for any reply.
    pub timeout: Duration,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Slowest.
    pub max_us: u64,
}

impl Latency {
    fn of(mut samples: Vec<u64>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Latency {
            count: samples.len(),
            p50_us: at(0.50),
            p99_us: at(0.99),
            max_us: *samples.last().unwrap_or(&0),
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Messages accepted (250 after DATA).
    pub accepted: usize,
    /// Messages that failed (any error or refusal).
    pub errors: usize,
    /// The first few error texts.
    pub first_errors: Vec<String>,
    /// Messages refused as too fast (`Too many requests`, whatever the code:
    /// 421 as Resend's docs say, 550 as seen on the wire).
    pub rate_limited: usize,
    /// Wall time.
    pub elapsed_s: f64,
    /// Accepted messages per second.
    pub messages_per_s: f64,
    /// One command to its reply (EHLO, AUTH, MAIL, RCPT, DATA, the final dot).
    pub per_command: Latency,
    /// MAIL to the reply after the final dot.
    pub per_message: Latency,
    /// Connect to the greeting (TLS handshake included).
    pub connect: Latency,
}

#[derive(Default)]
struct Samples {
    command: Vec<u64>,
    message: Vec<u64>,
    connect: Vec<u64>,
    accepted: usize,
    errors: Vec<String>,
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

struct Worker {
    o: Arc<BenchOptions>,
    tls: Option<Arc<rustls::ClientConfig>>,
    body: Arc<Vec<u8>>,
    s: Samples,
}

impl Worker {
    async fn cmd(&mut self, c: &mut ClientConn, line: &[u8], want: u16) -> Result<(), Fault> {
        let t = Instant::now();
        let r = c.command(line, self.o.timeout).await?;
        self.s.command.push(us(t.elapsed()));
        if r.code == want {
            Ok(())
        } else {
            Err(Fault(r.to_string()))
        }
    }

    async fn open(&mut self) -> Result<ClientConn, Fault> {
        let o = self.o.clone();
        let t = Instant::now();
        let mut c = ClientConn::connect(&o.host, o.port, o.timeout).await?;
        if o.tls == UpstreamTls::Implicit
            && let Some(cfg) = self.tls.clone()
        {
            c = c.start_tls(cfg, &o.host, o.timeout).await?.0;
        }
        let g = c.reply(o.timeout).await?;
        if g.code != codes::SERVICE_READY {
            return Err(Fault(g.to_string()));
        }
        self.s.connect.push(us(t.elapsed()));
        self.cmd(&mut c, b"EHLO bench.local", codes::OK).await?;
        if o.tls == UpstreamTls::Starttls
            && let Some(cfg) = self.tls.clone()
        {
            self.cmd(&mut c, b"STARTTLS", codes::SERVICE_READY).await?;
            c = c.start_tls(cfg, &o.host, o.timeout).await?.0;
            self.cmd(&mut c, b"EHLO bench.local", codes::OK).await?;
        }
        match o.login {
            None => {}
            Some(false) => {
                let line = format!(
                    "AUTH PLAIN {}",
                    STANDARD.encode(format!("\0{}\0{}", o.user, o.key))
                );
                self.cmd(&mut c, line.as_bytes(), codes::AUTH_OK).await?;
            }
            Some(true) => {
                self.cmd(&mut c, b"AUTH LOGIN", codes::AUTH_CONTINUE)
                    .await?;
                self.cmd(
                    &mut c,
                    STANDARD.encode(&o.user).as_bytes(),
                    codes::AUTH_CONTINUE,
                )
                .await?;
                self.cmd(&mut c, STANDARD.encode(&o.key).as_bytes(), codes::AUTH_OK)
                    .await?;
            }
        }
        Ok(c)
    }

    async fn message(&mut self, c: &mut ClientConn) -> Result<(), Fault> {
        let o = self.o.clone();
        let start = Instant::now();
        if o.pipeline {
            // One write, three replies; the group counts as one command.
            let t = Instant::now();
            let group = format!("MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n", o.from, o.to);
            c.send(group.as_bytes(), o.timeout).await?;
            for want in [codes::OK, codes::OK, codes::START_DATA] {
                let r = c.reply(o.timeout).await?;
                if r.code != want {
                    return Err(Fault(r.to_string()));
                }
            }
            self.s.command.push(us(t.elapsed()));
        } else {
            self.cmd(c, format!("MAIL FROM:<{}>", o.from).as_bytes(), codes::OK)
                .await?;
            self.cmd(c, format!("RCPT TO:<{}>", o.to).as_bytes(), codes::OK)
                .await?;
            self.cmd(c, b"DATA", codes::START_DATA).await?;
        }
        let t = Instant::now();
        c.send(&self.body, o.timeout).await?;
        let r = c.reply(o.timeout).await?;
        self.s.command.push(us(t.elapsed()));
        if r.code != codes::OK {
            return Err(Fault(r.to_string()));
        }
        self.s.message.push(us(start.elapsed()));
        Ok(())
    }

    /// Sends messages until the shared budget is spent.
    async fn run(mut self, budget: Arc<AtomicUsize>) -> Samples {
        let take = || {
            budget
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        'conn: while take() {
            let mut c = match self.open().await {
                Ok(c) => c,
                Err(Fault(e)) => {
                    self.s.errors.push(redacted(&e));
                    continue;
                }
            };
            let mut sent = 0;
            loop {
                match self.message(&mut c).await {
                    Ok(()) => self.s.accepted += 1,
                    Err(Fault(e)) => {
                        self.s.errors.push(redacted(&e));
                        continue 'conn;
                    }
                }
                sent += 1;
                if sent >= self.o.per_connection.max(1) || !take() {
                    break;
                }
            }
            let _ = c.command(b"QUIT", self.o.timeout).await;
        }
        self.s
    }
}

/// Runs the load and reports.
pub async fn run(o: BenchOptions) -> Result<BenchReport, Error> {
    let tls = if o.tls == UpstreamTls::None {
        None
    } else {
        Some(client_config(o.ca_file.as_deref())?)
    };
    let mut body = Vec::with_capacity(o.size + 256);
    let mut w = DataWriter::new();
    let mut content = format!(
        "From: <{}>\r\nTo: <{}>\r\nSubject: mailtape bench\r\n\r\n",
        o.from, o.to
    )
    .into_bytes();
    while content.len() < o.size {
        content.extend_from_slice(
            b"The quick brown fox jumps over the lazy dog 0123456789 abcdefghij\r\n",
        );
    }
    content.truncate(o.size.max(64));
    w.encode(&content, &mut body);
    w.finish(&mut body);
    let o = Arc::new(o);
    let body = Arc::new(body);
    let budget = Arc::new(AtomicUsize::new(o.messages));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.connections.max(1) {
        let worker = Worker {
            o: o.clone(),
            tls: tls.clone(),
            body: body.clone(),
            s: Samples::default(),
        };
        tasks.push(tokio::spawn(worker.run(budget.clone())));
    }
    let mut all = Samples::default();
    for t in tasks {
        if let Ok(s) = t.await {
            all.command.extend(s.command);
            all.message.extend(s.message);
            all.connect.extend(s.connect);
            all.accepted += s.accepted;
            all.errors.extend(s.errors);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(BenchReport {
        accepted: all.accepted,
        errors: all.errors.len(),
        first_errors: all.errors.iter().take(5).cloned().collect(),
        rate_limited: all.errors.iter().filter(|e| is_rate_limit(e)).count(),
        elapsed_s: elapsed,
        messages_per_s: if elapsed > 0.0 {
            all.accepted as f64 / elapsed
        } else {
            0.0
        },
        per_command: Latency::of(all.command),
        per_message: Latency::of(all.message),
        connect: Latency::of(all.connect),
    })
}

/// An error as bench reports it: a server may echo what it was sent, and
/// the report must not show the key.
fn redacted(error: &str) -> String {
    crate::tape::redact::scrub(error).into_owned()
}

/// Whether a refusal is a rate limit: Resend's `Too many requests` text, as
/// a 421 (its docs) or a 550 (the wire).
fn is_rate_limit(error: &str) -> bool {
    let code = error.get(..3).unwrap_or("");
    matches!(code, "421" | "450" | "451" | "550")
        && error.to_ascii_lowercase().contains("too many requests")
}

/// The rate a `Too many requests` refusal names: "You can only make N
/// requests per second".
fn per_second_of(error: &str) -> Option<u64> {
    let (_, after) = error.split_once("only make ")?;
    after.split_whitespace().next()?.parse().ok()
}

impl BenchReport {
    /// One line for people when any message failed: how many, and, when
    /// they were refused as too fast, the way out.
    pub fn failure(&self, messages: usize) -> Option<String> {
        if self.errors == 0 {
            return None;
        }
        let mut line = format!("{} of {messages} messages failed", self.errors);
        if self.rate_limited > 0 {
            // The number is the one the refusal names (5 by default, 2 for
            // an older team's `--variant legacy`).
            let per_second = self
                .first_errors
                .iter()
                .find_map(|e| per_second_of(e))
                .map_or_else(|| "only a few".to_string(), |n| n.to_string());
            line.push_str(&format!(
                ", {} refused as too fast (Too many requests): the mock's default account allows {per_second} a second: start it with --scenario unlimited",
                self.rate_limited
            ));
        } else if let Some(first) = self.first_errors.first() {
            line.push_str(&format!(", the first with: {first}"));
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_read_from_the_refusal() {
        assert_eq!(
            per_second_of("550 Too many requests. You can only make 5 requests per second."),
            Some(5)
        );
        assert_eq!(per_second_of("550 Too many requests"), None);
    }

    #[test]
    fn rate_limits_are_told_by_their_text_in_either_code() {
        assert!(is_rate_limit(
            "421 Too many requests. You can only make 2 requests per second. Please retry after a brief pause."
        ));
        assert!(is_rate_limit(
            "550 Too many requests. You can only make 2 requests per second."
        ));
        assert!(!is_rate_limit("535 Authentication credentials invalid"));
        assert!(!is_rate_limit("cannot be reached: too many requests"));
    }
}
