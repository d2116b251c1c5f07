//! The command line: parse arguments, call the library, print errors once.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Mock, record and replay SMTP sessions with Resend's relay, every transcript redacted.
#[derive(Parser, Debug)]
#[command(name = "mailtape", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a local SMTP server that answers exactly as smtp.resend.com would.
    ///
    /// Point your app at 127.0.0.1:2465 (implicit TLS), :2587 (STARTTLS) or
    /// :2525 (plain), user `resend`, password a key shaped like Resend's:
    /// re_ then at least 8 of A-Z a-z 0-9 _ (re_12345678 will do; others get
    /// 535 as from Resend). Every session is shown live with the key redacted.
    #[command(after_help = cli::help::MOCK)]
    Mock(Box<cli::mock::MockArgs>),
    /// Stand in front of the real relay, pass every command and reply through
    /// unchanged, and keep each session, redacted, in a tape.
    ///
    /// Point your app at mailtape as for `mock`, with your real key; mailtape
    /// forwards it to the upstream (default smtp.resend.com:465) and writes
    /// only the redacted form.
    #[command(after_help = cli::help::RECORD)]
    Record(Box<cli::record::RecordArgs>),
    /// Answer clients from a recorded tape: each connection plays the next session.
    ///
    /// A client that departs from the tape gets 451 saying what was expected;
    /// the run then ends with a non-zero exit status.
    #[command(after_help = cli::help::REPLAY)]
    Replay(Box<cli::replay::ReplayArgs>),
    /// Print the transcripts of a tape, a folder of tapes, or stdin, redacted,
    /// with a plain-language explanation and fix under every failure.
    #[command(after_help = cli::help::SHOW)]
    Show(cli::show::ShowArgs),
    /// Test SMTP settings against a relay (smtp.resend.com by default), the way an
    /// app would send: connection, TLS, login, sender, recipient, message.
    ///
    /// The key comes from RESEND_API_KEY, or a prompt that does not echo.
    /// Exit status: 0 accepted, 10 connection, 11 TLS, 12 authentication,
    /// 13 sender or recipient refused, 14 message refused, 15 temporary failure.
    #[command(after_help = cli::help::CHECK)]
    Check(cli::check::CheckArgs),
    /// Load-test an SMTP server: N connections send M messages; messages per
    /// second and latency percentiles (p50, p99, max) per command and per message.
    #[command(after_help = cli::help::BENCH)]
    Bench(cli::bench::BenchArgs),
    /// Print the replies of the Resend profile: code, text, and where each comes from.
    #[command(after_help = cli::help::PROFILE)]
    Profile(cli::profile::ProfileArgs),
    /// List the webhook events mailtape sends (signed as Resend signs them),
    /// what sends each, and where that comes from (docs or guess).
    ///
    /// Endpoints are given to `mock` or `replay` with --webhook URL, in the
    /// account file's [[webhooks]], or over Resend's API (POST /webhooks).
    #[command(after_help = cli::help::WEBHOOKS)]
    Webhooks(cli::webhook::WebhooksArgs),
    /// Wait for a message (or session) in a running mailtape's inbox, server-side,
    /// and print it, its one-time code or its link.
    ///
    /// For shell tests: no polling, no sleep. The query is Mailpit's
    /// (to:, from:, subject:, tag:, key:, is:unread, free words).
    #[command(after_help = cli::help::WAIT)]
    Wait(cli::wait::WaitArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Colours only for a person at a terminal (issue 16, finding 19).
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MAILTAPE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = match cli.command {
        Cmd::Mock(args) => cli::mock::run(*args),
        Cmd::Record(args) => cli::record::run(*args),
        Cmd::Replay(args) => cli::replay::run(*args),
        Cmd::Show(args) => cli::show::run(args),
        Cmd::Check(args) => return cli::check::run(args),
        Cmd::Bench(args) => cli::bench::run(args),
        Cmd::Profile(args) => cli::profile::run(args),
        Cmd::Webhooks(args) => cli::webhook::run(args),
        Cmd::Wait(args) => return cli::wait::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cli::report(&e);
            ExitCode::FAILURE
        }
    }
}
