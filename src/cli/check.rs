//! `mailtape check`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use mailtape::{Error, UpstreamTls};

use super::{runtime, tls_mode};

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// The server.
    #[arg(long, default_value = "smtp.resend.com")]
    pub(crate) host: String,
    /// The port: 465 or 2465 implicit TLS, 587 or 2587 STARTTLS.
    #[arg(long, default_value_t = 465)]
    pub(crate) port: u16,
    /// TLS mode. Left out, check finds it: a TLS handshake first (implicit
    /// TLS), else plain SMTP with STARTTLS if the server offers it, else none.
    #[arg(long, value_parser = ["implicit", "starttls", "none"])]
    pub(crate) tls: Option<String>,
    /// The user name (Resend's is the literal `resend`).
    #[arg(long, default_value = "resend")]
    pub(crate) user: String,
    /// The sender (envelope and From header).
    #[arg(long, value_name = "ADDR", default_value = "onboarding@resend.dev")]
    pub(crate) from: String,
    /// The recipient.
    #[arg(long, value_name = "ADDR", default_value = "delivered@resend.dev")]
    pub(crate) to: String,
    /// Also trust this CA certificate (PEM), e.g. mailtape's own certs/ca.pem.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// The AUTH mechanism.
    #[arg(long, value_parser = ["plain", "login", "auto"], default_value = "auto")]
    pub(crate) auth: String,
    /// Stop after logging in; send nothing.
    #[arg(long)]
    pub(crate) no_send: bool,
    /// The API key. Prefer RESEND_API_KEY: an argument lands in shell history.
    #[arg(long, value_name = "KEY")]
    pub(crate) key: Option<String>,
    /// Longest wait for any step, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    pub(crate) timeout: u64,
    /// Print one JSON object with the verdict instead of the live transcript.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: CheckArgs) -> ExitCode {
    match check(args) {
        Ok(code) => ExitCode::from(code),
        // 2 is clap's, for a command line it cannot parse; any other error
        // is 1, as for every subcommand (10 to 15 are the verdicts).
        Err(e) => {
            crate::cli::report(&e);
            ExitCode::FAILURE
        }
    }
}

/// Where the key comes from: the environment, the flag (warned), a prompt.
pub(crate) fn check_key(args: &CheckArgs) -> Result<String, Error> {
    if let Some(k) = std::env::var("RESEND_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
    {
        return Ok(k);
    }
    if let Some(k) = &args.key {
        let _ = writeln!(
            std::io::stderr(),
            "mailtape: warning: a key given as an argument lands in your shell history; prefer RESEND_API_KEY"
        );
        return Ok(k.clone());
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("API key (input hidden): ").map_err(|e| Error::Io {
            action: "read the key from the terminal".into(),
            source: e,
        });
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::Io {
            action: "read the key from stdin".into(),
            source: e,
        })?;
    let key = line.trim().to_string();
    if key.is_empty() {
        return Err(Error::Usage(
            "no key: set RESEND_API_KEY, or type it at the prompt".into(),
        ));
    }
    Ok(key)
}

pub(crate) fn check(args: CheckArgs) -> Result<u8, Error> {
    use mailtape::tools::check::{AuthChoice, CheckOptions, Status};
    let key = check_key(&args)?;
    let tls = args.tls.as_deref().map(tls_mode);
    let o = CheckOptions {
        host: args.host.clone(),
        port: args.port,
        tls,
        user: args.user.clone(),
        key,
        from: args.from.clone(),
        to: args.to.clone(),
        ca_file: args.ca_file.clone(),
        auth: match args.auth.as_str() {
            "plain" => AuthChoice::Plain,
            "login" => AuthChoice::Login,
            _ => AuthChoice::Auto,
        },
        send: !args.no_send,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = std::io::stdout().is_terminal() && !no_color && !args.json;
    let warnings = mailtape::tools::check::warnings(&o);
    if !args.json {
        out!(
            "mailtape check · {}:{} · {} · user {}",
            o.host,
            o.port,
            tls.map_or("TLS mode to be found", UpstreamTls::describe),
            o.user
        );
        for w in &warnings {
            out!("warning: {w}");
        }
    }
    let json = args.json;
    let mut on = move |kind: &mailtape::tape::EventKind,
                       said: Option<mailtape::resend::explain::Said>| {
        if json {
            return;
        }
        out!("{}", mailtape::tools::show::line(kind, color));
        if let Some(s) = said {
            out!("{}", mailtape::tools::show::explanation(s, color));
        }
    };
    let verdict = runtime()?.block_on(mailtape::tools::check::run(&o, &mut on))?;
    let mut warnings = warnings;
    warnings.extend(verdict.warnings.iter().cloned());
    if json {
        let v = serde_json::json!({
            "host": o.host, "port": o.port, "tls_mode": verdict.tls_mode, "user": o.user,
            "warnings": warnings, "verdict": verdict,
        });
        out!("{v}");
        return Ok(verdict.exit);
    }
    out!();
    for w in &verdict.warnings {
        out!("warning: {w}");
    }
    out!("verdict:");
    for s in &verdict.steps {
        let mark = match s.status {
            Status::Passed => "✓",
            Status::Failed => "✗",
            Status::Skipped => "-",
        };
        out!("  {mark} {:<15} {}", s.step, s.detail);
        if let Some(e) = &s.explain {
            out!("    {:<15} ↳ {e}", "");
        }
    }
    Ok(verdict.exit)
}
