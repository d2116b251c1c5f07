//! `mailtape wait`: a shell test's one call — wait (server-side) for the
//! message or session it expects in a running mailtape's inbox, and print
//! it, its code or its link. Exit status 0 found, 124 timed out (as
//! `timeout(1)`), 3 found but without the code or link asked for, 1 any
//! other error.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use axum::body::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use mailtape::Error;
use serde_json::Value;

/// Exit status of a wait that timed out (as `timeout(1)`'s).
const TIMED_OUT: u8 = 124;
/// Exit status when the message has no code or no matching link.
const NOT_IN_IT: u8 = 3;

#[derive(Args, Debug)]
pub(crate) struct WaitArgs {
    /// The inbox: a URL or an address (MAILTAPE_UI, as the server takes it).
    #[arg(long, value_name = "URL|ADDR", env = "MAILTAPE_UI", default_value = mailtape::web::DEFAULT_ADDR)]
    pub(crate) ui: String,
    /// A Mailpit-style query (`to:bob@x.org subject:"Reset" tag:signup`,
    /// free words); the flags below add terms to it.
    #[arg(long, short = 'q', value_name = "QUERY")]
    pub(crate) query: Option<String>,
    /// A recipient (to:).
    #[arg(long, value_name = "ADDR")]
    pub(crate) to: Option<String>,
    /// The sender (from:).
    #[arg(long, value_name = "ADDR")]
    pub(crate) from: Option<String>,
    /// Words of the subject (subject:).
    #[arg(long, value_name = "TEXT")]
    pub(crate) subject: Option<String>,
    /// A tag (tag:): X-Tags, or a Resend tag's name or name=value.
    #[arg(long, value_name = "TAG")]
    pub(crate) tag: Option<String>,
    /// The app's API key or its fingerprint (key:): only its mail. A key is
    /// turned into its fingerprint here and never sent.
    #[arg(long, value_name = "KEY|FINGERPRINT")]
    pub(crate) key: Option<String>,
    /// A pattern for the link to print (`/reset`, `https://app/*/confirm`):
    /// the first link of the message that matches, `*` for any run.
    #[arg(long, value_name = "PATTERN")]
    pub(crate) link: Option<String>,
    /// Count from here: a cursor (from an earlier `--json` answer's
    /// "cursor"), `now`, or an RFC 3339 time. Without it the newest kept
    /// match answers at once.
    #[arg(long, value_name = "CURSOR|now|TIME")]
    pub(crate) since: Option<String>,
    /// How long to wait: 10s, 500ms, 2m (at most 5m).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub(crate) timeout: String,
    /// Wait for a session instead (queries: outcome:refused, code:550, …).
    #[arg(long)]
    pub(crate) session: bool,
    /// Print only this: code, link, id, url, subject or cursor.
    #[arg(long, value_name = "FIELD", value_parser = ["code", "link", "id", "url", "subject", "cursor"])]
    pub(crate) print: Option<String>,
    /// Print the whole answer as JSON (on a timeout too, to stdout).
    #[arg(long)]
    pub(crate) json: bool,
}

/// A JSON list of addresses as a line (`a@x.org, b@y.org`).
fn joined(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

fn quoted(field: &str, v: &str) -> String {
    if v.contains(char::is_whitespace) {
        format!("{field}:\"{v}\"")
    } else {
        format!("{field}:{v}")
    }
}

/// The query the flags make.
fn query_of(a: &WaitArgs) -> String {
    let mut terms: Vec<String> = a.query.iter().cloned().collect();
    for (field, v) in [
        ("to", &a.to),
        ("from", &a.from),
        ("subject", &a.subject),
        ("tag", &a.tag),
    ] {
        if let Some(v) = v {
            terms.push(quoted(field, v));
        }
    }
    if let Some(k) = &a.key {
        terms.push(format!("key:{}", mailtape::web::query::key_fingerprint(k)));
    }
    terms.join(" ")
}

/// Percent-encodes a query-string value.
fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inbox's base URL from `--ui`.
fn base(ui: &str) -> Result<String, Error> {
    if ui == "off" {
        return Err(Error::Usage(
            "--ui is off (MAILTAPE_UI=off?): mailtape wait needs the inbox's address".into(),
        ));
    }
    let url = if ui.contains("://") {
        ui.to_string()
    } else {
        format!("http://{ui}")
    };
    Ok(url.trim_end_matches('/').to_string())
}

pub(crate) fn run(args: WaitArgs) -> ExitCode {
    match wait(&args) {
        Ok(code) => code,
        Err(e) => {
            super::report(&e);
            ExitCode::FAILURE
        }
    }
}

fn wait(a: &WaitArgs) -> Result<ExitCode, Error> {
    let base = base(&a.ui)?;
    let kind = if a.session { "session" } else { "message" };
    let mut url = format!(
        "{base}/api/wait/{kind}?query={}&timeout={}",
        encode(&query_of(a)),
        encode(&a.timeout)
    );
    if let Some(s) = &a.since {
        url.push_str(&format!("&since={}", encode(s)));
    }
    if let Some(l) = &a.link {
        url.push_str(&format!("&link={}", encode(l)));
    }
    let (status, body) = super::runtime()?.block_on(get(&url))?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        Error::Usage(format!(
            "{base} answered {status} with something that is not mailtape's JSON ({e}); is --ui the inbox of a mailtape?"
        ))
    })?;
    match status {
        200 => {}
        408 => {
            if a.json {
                out!("{v}");
            }
            let _ = writeln!(
                std::io::stderr(),
                "mailtape wait: {}",
                v["error"].as_str().unwrap_or("timed out")
            );
            for m in v["arrived"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    std::io::stderr(),
                    "  arrived: {} to {} subject {:?}",
                    m["id"].as_str().unwrap_or("session"),
                    joined(&m["to"]),
                    m["subject"].as_str().unwrap_or_default()
                );
            }
            return Ok(ExitCode::from(TIMED_OUT));
        }
        _ => {
            return Err(Error::Usage(format!(
                "{base} refused the wait ({status}): {}",
                v["error"].as_str().unwrap_or("no reason given")
            )));
        }
    }
    if a.json {
        out!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    let page = |path: &str| format!("{base}{path}");
    let Some(field) = &a.print else {
        if a.session {
            out!(
                "session {} {} {} {}",
                v["session"],
                v["outcome"].as_str().unwrap_or_default(),
                v["code"],
                v["reply"].as_str().unwrap_or_default()
            );
        } else {
            out!(
                "message {} to {} subject {:?}",
                v["id"].as_str().unwrap_or_default(),
                joined(&v["to"]),
                v["subject"].as_str().unwrap_or_default()
            );
            if let Some(c) = v["code"].as_str() {
                out!("code {c}");
            }
            if let Some(l) = v["link"].as_str() {
                out!("link {l}");
            }
        }
        out!("look {}", page(v["url"].as_str().unwrap_or("/")));
        return Ok(ExitCode::SUCCESS);
    };
    let shown = match field.as_str() {
        "url" => v["url"].as_str().map(page),
        "cursor" => v["cursor"].as_u64().map(|c| c.to_string()),
        other => v[other].as_str().map(str::to_string),
    };
    match shown {
        Some(s) => {
            out!("{s}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let _ = writeln!(
                std::io::stderr(),
                "mailtape wait: {kind} {} has no {field}{}; look {}",
                v["id"].as_str().unwrap_or_default(),
                match (field.as_str(), &a.link) {
                    ("link", Some(p)) => format!(" matching {p:?}"),
                    _ => String::new(),
                },
                page(v["url"].as_str().unwrap_or("/"))
            );
            Ok(ExitCode::from(NOT_IN_IT))
        }
    }
}

/// One GET; the answer's status and body.
async fn get(url: &str) -> Result<(u16, Bytes), Error> {
    let client = mailtape::http_client(None, Duration::from_secs(5), false)?;
    let uri: axum::http::Uri = url
        .parse()
        .map_err(|e| Error::Usage(format!("--ui gives a URL that is not one ({url}): {e}")))?;
    let req = axum::http::Request::get(uri)
        .body(Full::new(Bytes::new()))
        .map_err(|e| Error::Usage(format!("cannot build the request: {e}")))?;
    let io = |what: &str, e: &dyn std::fmt::Display| Error::Io {
        action: format!("{what} {url}"),
        source: std::io::Error::other(e.to_string()),
    };
    let res = client
        .request(req)
        .await
        .map_err(|e| io("reach the inbox at", &e))?;
    let status = res.status().as_u16();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| io("read the answer of", &e))?
        .to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_make_a_query_and_a_key_never_leaves() {
        let a = WaitArgs {
            ui: "127.0.0.1:8025".into(),
            query: Some("is:unread".into()),
            to: Some("bob@x.org".into()),
            from: None,
            subject: Some("Reset your password".into()),
            tag: None,
            key: Some("re_AbCdEf12_345678".into()),
            link: None,
            since: None,
            timeout: "10s".into(),
            session: false,
            print: None,
            json: false,
        };
        let q = query_of(&a);
        assert!(
            q.starts_with("is:unread to:bob@x.org subject:\"Reset your password\" key:"),
            "{q}"
        );
        assert!(!q.contains("re_AbCdEf12_345678"));
        assert_eq!(encode("to:a b\"é"), "to%3Aa%20b%22%C3%A9");
        assert_eq!(
            base("127.0.0.1:8025").ok().as_deref(),
            Some("http://127.0.0.1:8025")
        );
        assert_eq!(
            base("http://localhost:9/").ok().as_deref(),
            Some("http://localhost:9")
        );
        assert!(base("off").is_err());
    }
}
