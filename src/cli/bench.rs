//! `mailtape bench`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use mailtape::Error;

use super::{runtime, tls_mode};

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// The server.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// The port.
    #[arg(long, default_value_t = 2525)]
    pub(crate) port: u16,
    /// TLS mode: none, starttls or implicit.
    #[arg(long, value_parser = ["implicit", "starttls", "none"], default_value = "none")]
    pub(crate) tls: String,
    /// Also trust this CA certificate (PEM), e.g. mailtape's certs/ca.pem.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 20)]
    pub(crate) connections: usize,
    /// Messages in all.
    #[arg(long, default_value_t = 2000)]
    pub(crate) messages: usize,
    /// Messages per connection (1: a new connection per message).
    #[arg(long, default_value_t = 1)]
    pub(crate) per_connection: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub(crate) size: usize,
    /// Send MAIL, RCPT and DATA in one write (RFC 2920 PIPELINING), as
    /// Postfix does, instead of waiting for each reply.
    #[arg(long)]
    pub(crate) pipeline: bool,
    /// AUTH mechanism, or none.
    #[arg(long, value_parser = ["plain", "login", "none"], default_value = "plain")]
    pub(crate) auth: String,
    /// User name for AUTH.
    #[arg(long, default_value = "resend")]
    pub(crate) user: String,
    /// Password for AUTH.
    #[arg(long, default_value = "re_bench_0123456789")]
    pub(crate) key: String,
    /// Sender.
    #[arg(long, default_value = "bench@yourcompany.com")]
    pub(crate) from: String,
    /// Recipient.
    #[arg(long, default_value = "delivered@resend.dev")]
    pub(crate) to: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: BenchArgs) -> Result<(), Error> {
    let o = mailtape::tools::bench::BenchOptions {
        host: args.host.clone(),
        port: args.port,
        tls: tls_mode(&args.tls),
        ca_file: args.ca_file.clone(),
        connections: args.connections,
        messages: args.messages,
        per_connection: args.per_connection,
        size: args.size,
        pipeline: args.pipeline,
        login: match args.auth.as_str() {
            "none" => None,
            "login" => Some(true),
            _ => Some(false),
        },
        user: args.user.clone(),
        key: args.key.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        timeout: Duration::from_secs(30),
    };
    let r = runtime()?.block_on(mailtape::tools::bench::run(o))?;
    // A load test whose messages failed has failed: the report still goes
    // to stdout, the reason to stderr, and the status is 1.
    let failed = r.failure(args.messages).map(Error::BenchFailed);
    if args.json {
        out!("{}", serde_json::to_string(&r).unwrap_or_default());
        return failed.map_or(Ok(()), Err);
    }
    out!(
        "{} messages in {:.2}s: {:.0} messages/s, {} errors",
        r.accepted,
        r.elapsed_s,
        r.messages_per_s,
        r.errors
    );
    for (name, l) in [
        ("per command", r.per_command),
        ("per message", r.per_message),
        ("connect", r.connect),
    ] {
        out!(
            "  {name:<12} p50 {:>8} µs   p99 {:>8} µs   max {:>8} µs   ({} samples)",
            l.p50_us,
            l.p99_us,
            l.max_us,
            l.count
        );
    }
    for e in &r.first_errors {
        out!("  error: {e}");
    }
    failed.map_or(Ok(()), Err)
}
