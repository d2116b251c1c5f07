//! The subcommands, one file each (arguments → options, printing), and what
//! they share.

use std::path::PathBuf;

use mailtape::{Error, UpstreamTls};

/// Prints a line to stdout; a closed pipe (`mailtape profile | head`) is
/// not an error worth a panic.
macro_rules! out {
    () => {{
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod help;
pub(crate) mod listen;
pub(crate) mod mock;
pub(crate) mod process;
pub(crate) mod profile;
pub(crate) mod record;
pub(crate) mod replay;
pub(crate) mod serve;
pub(crate) mod show;
pub(crate) mod wait;
pub(crate) mod webhook;

/// Prints an error once. Errors can carry what a user typed (a flag's
/// value, a line of a file), so the text is scrubbed of keys first.
pub(crate) fn report(e: &Error) {
    use std::io::Write as _;
    let text = e.to_string();
    let _ = writeln!(
        std::io::stderr(),
        "mailtape: {}",
        mailtape::tape::redact::scrub(&text)
    );
}

pub(crate) fn make_dir(dir: &Option<PathBuf>, what: &str) -> Result<(), Error> {
    if let Some(d) = dir {
        std::fs::create_dir_all(d).map_err(|e| Error::Io {
            action: format!("create the {what} folder {}", d.display()),
            source: e,
        })?;
    }
    Ok(())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            action: "start the async runtime".into(),
            source: e,
        })
}

/// A `--tls`/`--upstream-tls` value (clap allows only these three).
pub(crate) fn tls_mode(value: &str) -> UpstreamTls {
    match value {
        "implicit" => UpstreamTls::Implicit,
        "starttls" => UpstreamTls::Starttls,
        _ => UpstreamTls::None,
    }
}
