//! `mailtape profile`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use mailtape::Error;
use mailtape::resend::{Profile, Source};
use mailtape::tape::redact::scrub;

#[derive(Args, Debug)]
pub(crate) struct ProfileArgs {
    /// The variant to show.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub(crate) variant: String,
    /// A profile file to apply on top of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: Option<PathBuf>,
    /// List only the replies from this source: seen (pasted from a real
    /// session), docs, library (the default of the SMTP library every seen
    /// text matches), brief, guess (what is still not known), or local
    /// (mailtape's own replies, for limits Resend does not have).
    #[arg(long, value_name = "SOURCE", value_parser = ["seen", "docs", "library", "brief", "guess", "local"])]
    pub(crate) source: Option<String>,
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
    let only = args.source.as_deref().and_then(Source::parse);
    let keep = |src: Source| only.is_none_or(|o| src == o);
    let shown: Vec<_> = profile
        .replies
        .iter()
        .filter(|(_, spec)| keep(spec.source))
        .collect();
    let rest: Vec<_> = profile
        .rest
        .iter()
        .filter(|(_, spec)| keep(spec.source))
        .collect();
    let counts = profile.counts_by_source();
    let rest_counts = profile.rest_counts_by_source();
    let by_name = |c: &[(Source, usize)]| -> serde_json::Map<String, serde_json::Value> {
        c.iter()
            .map(|(src, n)| (src.name().to_string(), serde_json::json!(n)))
            .collect()
    };
    if args.json {
        let replies: serde_json::Map<String, serde_json::Value> = shown
            .iter()
            .map(|(name, spec)| (name.to_string(), serde_json::json!(spec)))
            .collect();
        let rest_json: serde_json::Map<String, serde_json::Value> = rest
            .iter()
            .map(|(name, spec)| (name.to_string(), serde_json::json!(spec)))
            .collect();
        let v = serde_json::json!({
            "evidence": evidence(&counts, &rest_counts),
            "hostname": profile.hostname,
            "variant": profile.variant,
            "ehlo": profile.ehlo,
            "replies": replies,
            "counts": by_name(&counts),
            "rest": rest_json,
            "rest_counts": by_name(&rest_counts),
        });
        // A profile is the user's file: a key pasted into a reply text is
        // still not printed.
        out!("{}", scrub(&format!("{v:#}")));
        return Ok(());
    }
    out!(
        "Resend profile · host {} · variant {}",
        scrub(&profile.hostname),
        profile.variant
    );
    out!("EHLO: {}", scrub(&profile.ehlo.join(", ")));
    for (name, spec) in &shown {
        out!(
            "{name:<28} {:<7} {} {}",
            spec.source.name(),
            spec.code,
            scrub(&spec.text)
        );
    }
    let summary = |c: &[(Source, usize)]| {
        let total: usize = c.iter().map(|(_, n)| n).sum();
        let per: Vec<String> = c
            .iter()
            .map(|(src, n)| format!("{n} {}", src.name()))
            .collect();
        format!("{total} replies: {}", per.join(", "))
    };
    out!();
    out!("{}", summary(&counts));
    if only.is_some() {
        out!("(listed: {} of them)", shown.len());
    }
    out!();
    out!("REST API (POST /emails and friends): status, error name, message");
    for (name, spec) in &rest {
        out!(
            "{name:<28} {:<7} {} {} {}",
            spec.source.name(),
            spec.status,
            spec.name,
            spec.message
        );
    }
    out!();
    out!("REST {}", summary(&rest_counts));
    if only.is_some() {
        out!("(listed: {} of them)", rest.len());
    }
    let e = evidence(&counts, &rest_counts);
    out!();
    out!(
        "Together: {} of {} replies rest on evidence (seen, docs or library), {}% of the {} that claim something about Resend; {} are mailtape's own (local)",
        e["evidence"],
        e["total"],
        e["percent"],
        e["claims"],
        e["local"]
    );
    out!();
    for (name, desc) in Profile::builtin_variants() {
        out!("--variant {name:<8} {desc}");
    }
    Ok(())
}

/// How many SMTP and REST replies together rest on evidence about Resend,
/// and what share of the replies that make a claim about it that is
/// (`local` replies are mailtape's own and claim nothing).
fn evidence(smtp: &[(Source, usize)], rest: &[(Source, usize)]) -> serde_json::Value {
    let sum = |keep: &dyn Fn(Source) -> bool| -> usize {
        smtp.iter()
            .chain(rest)
            .filter(|(s, _)| keep(*s))
            .map(|(_, n)| n)
            .sum()
    };
    let total = sum(&|_| true);
    let local = sum(&|s| s == Source::Local);
    let evidence = sum(&|s| s.is_evidence());
    let claims = total - local;
    let percent = (evidence * 100).checked_div(claims).unwrap_or(0);
    serde_json::json!({
        "total": total,
        "local": local,
        "claims": claims,
        "evidence": evidence,
        "percent": percent,
    })
}
