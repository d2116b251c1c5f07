//! Running a server until a signal: the ready line or banner, then wait.

use std::io::Write;
use std::time::Duration;

use mailtape::webhook::Webhooks;
use mailtape::{LiveView, Service};

use super::process::{signals, trim_heap};

/// Announces the server, then waits for SIGINT, SIGTERM or SIGHUP.
pub(crate) async fn serve_until_signal(
    server: &Service,
    title: &str,
    login: &str,
    rest: Option<&str>,
    hooks: Option<&Webhooks>,
) {
    let stop = signals();
    announce(server, title, login, rest, hooks);
    tokio::select! {
        () = stop => {}
        () = give_back_memory(server) => {}
    }
    server
        .sink()
        .say("mailtape: stopping; open sessions get 421");
}

/// Prints the ready line (JSON) or the banner (people).
pub(crate) fn announce(
    server: &Service,
    title: &str,
    login: &str,
    rest: Option<&str>,
    hooks: Option<&Webhooks>,
) {
    let addrs = server.addrs();
    let ca = server.ca_path().map(|p| p.display().to_string());
    match server.sink().view() {
        LiveView::Json => {
            let mut ready = serde_json::Map::new();
            for (k, v) in [
                ("smtps", addrs.smtps),
                ("starttls", addrs.starttls),
                ("plain", addrs.plain),
            ] {
                if let Some(a) = v {
                    ready.insert(k.into(), a.to_string().into());
                }
            }
            if let Some(ca) = &ca {
                ready.insert("ca".into(), ca.clone().into());
            }
            if let Some(ui) = server.ui_url() {
                ready.insert("ui".into(), ui.into());
            }
            if let Some(from) = server.ui_moved_from() {
                // the default port was in use: where the inbox was meant to be
                ready.insert("ui_moved_from".into(), from.to_string().into());
            }
            if let Some(url) = rest {
                ready.insert("rest".into(), url.into());
            }
            // The secrets are said here and in the banner, nowhere else.
            if let Some(h) = hooks.filter(|h| !h.endpoints().is_empty()) {
                let list: Vec<serde_json::Value> = h
                    .endpoints()
                    .iter()
                    .map(|e| {
                        let mut v = e.to_json();
                        v["secret"] = e.secret().into();
                        v
                    })
                    .collect();
                ready.insert("webhooks".into(), list.into());
            }
            out!("{}", serde_json::Value::Object(ready));
        }
        LiveView::Quiet => {}
        LiveView::Human { .. } => {
            let mut out = format!("{title}\n");
            let rows = [
                (
                    "smtps",
                    addrs.smtps,
                    "implicit TLS, like smtp.resend.com:465",
                ),
                (
                    "starttls",
                    addrs.starttls,
                    "STARTTLS, like smtp.resend.com:587",
                ),
                ("plain", addrs.plain, "no TLS, for apps that cannot do it"),
            ];
            for (name, addr, what) in rows {
                if let Some(a) = addr {
                    out.push_str(&format!("  {name:<9} {:<22} {what}\n", a.to_string()));
                }
            }
            if let Some(ui) = server.ui_url() {
                out.push_str(&format!(
                    "  inbox     {ui:<22} sessions and messages live; Mailpit's API at /api/v1\n"
                ));
            }

            if let Some(url) = rest {
                out.push_str(&format!(
                    "  rest      {url:<22} Resend's REST API: RESEND_BASE_URL={url}\n"
                ));
            }
            if let (Some(from), Some(ui)) = (server.ui_moved_from(), server.ui_url()) {
                let what = match rest {
                    Some(url) if ui.starts_with(url) => "the inbox and the REST API",
                    _ => "the inbox",
                };
                out.push_str(&format!(
                    "            {from} is in use (Mailpit? another mailtape?), so {what} moved to a free port; --ui ADDR picks one\n"
                ));
            }
            if let Some(ca) = &ca {
                out.push_str(&format!("  CA        {ca}\n"));
                out.push_str(&format!(
                    "            trust it once: curl --cacert {ca} · CURL_CA_BUNDLE / SSL_CERT_FILE={ca} · NODE_EXTRA_CA_CERTS={ca}\n"
                ));
            }
            for line in hooks
                .map(mailtape::webhook::banner_lines)
                .unwrap_or_default()
            {
                out.push_str(&format!("  {line}\n"));
            }
            out.push_str(&format!("  login     {login} · Ctrl-C stops"));
            server.sink().say(&out);
        }
    }
}

/// After a wave of connections has closed, hands the freed memory back to
/// the system: glibc's allocator keeps freed heap in its arenas otherwise,
/// and a mock that once held 10,000 connections would stay that big.
pub(crate) async fn give_back_memory(server: &Service) {
    let mut peak = 0usize;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let active = server.active_sessions();
        peak = peak.max(active);
        if peak >= active + 256 {
            trim_heap();
            peak = active;
        }
    }
}
