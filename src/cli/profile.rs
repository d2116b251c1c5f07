//! `mailtape profile`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use mailtape::Error;
use mailtape::resend::Profile;

#[derive(Args, Debug)]
pub(crate) struct ProfileArgs {
    /// The variant to show.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub(crate) variant: String,
    /// A profile file to apply on top of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: ProfileArgs) -> Result<(), Error> {
    let overlay = match &args.profile {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::Io {
                action: format!("read the profile file {}", p.display()),
                source: e,
            })?;
            Some(mailtape::resend::ProfileFile::parse(
                &text,
                &p.display().to_string(),
            )?)
        }
        None => None,
    };
    let profile = Profile::build(overlay.as_ref(), &args.variant)?;
    if args.json {
        let v = serde_json::json!({
            "hostname": profile.hostname,
            "variant": profile.variant,
            "ehlo": profile.ehlo,
            "replies": profile.replies,
        });
        out!("{v:#}");
        return Ok(());
    }
    out!(
        "Resend profile · host {} · variant {}",
        profile.hostname,
        profile.variant
    );
    out!("EHLO: {}", profile.ehlo.join(", "));
    for (name, spec) in &profile.replies {
        out!(
            "{name:<28} {:<6} {} {}",
            format!("{:?}", spec.source).to_lowercase(),
            spec.code,
            spec.text
        );
    }
    out!();
    for (name, desc) in Profile::builtin_variants() {
        out!("--variant {name:<8} {desc}");
    }
    Ok(())
}
