//! The cost of redaction per byte, for callgrind (issue 25, item 12): builds
//! an input and, unless told `build`, scrubs it. Run each case twice under
//! callgrind, with and without `build`, and subtract: what is left is the
//! scrubbing alone.
//!
//! ```text
//! cargo build --release --example scrub_cost
//! for case in base64 text qp lines keys; do
//!   for what in build scrub; do
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!       target/release/examples/scrub_cost $case $what 2>&1 | grep refs
//!   done
//! done
//! ```
//!
//! Cases (1 MiB each): `base64` a 76-column attachment without a key, `text`
//! plain prose lines, `qp` quoted-printable HTML with a soft break on every
//! line, `keys` text with a key (clear, base64 or QP) every 64 lines, and
//! `lines` 25,000 command and reply lines of about 40 bytes scrubbed one by
//! one (as capture does).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mailtape::tape::redact::{scrub, scrub_message};

const SIZE: usize = 1 << 20;
const KEY: &str = "re_Rt3amK3y_ZZ9yy8xx7ww6";

fn base64_body() -> Vec<u8> {
    let raw: Vec<u8> = (0..SIZE * 3 / 4).map(|i| (i * 7 % 251) as u8).collect();
    let enc = STANDARD.encode(raw);
    let mut out = Vec::with_capacity(SIZE + SIZE / 38);
    for line in enc.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

const PROSE: &str = "Your order has shipped and is on its way; track it from your account page.";

fn text_body() -> Vec<u8> {
    let mut out = Vec::with_capacity(SIZE + 100);
    while out.len() < SIZE {
        out.extend_from_slice(PROSE.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn qp_body() -> Vec<u8> {
    let line = "<p style=3D\"margin:0;font-family:Helvetica,Arial,sans-serif;color:#333\">Your =";
    let mut out = Vec::with_capacity(SIZE + 100);
    while out.len() < SIZE {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn keys_body() -> Vec<u8> {
    let forms = [
        format!("the key is {KEY} here"),
        STANDARD.encode(format!("key {KEY}")),
        format!("k=3D{}", KEY.replace('_', "=5F")),
    ];
    let mut out = Vec::with_capacity(SIZE + 100);
    let mut n = 0;
    while out.len() < SIZE {
        if n % 64 == 63 {
            out.extend_from_slice(forms[n / 64 % 3].as_bytes());
        } else {
            out.extend_from_slice(PROSE.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        n += 1;
    }
    out
}

fn lines() -> Vec<String> {
    let kinds = [
        "MAIL FROM:<billing@acme.com> SIZE=2048",
        "RCPT TO:<someone@example.com>",
        "250 2.0.0 OK 0b8e6f3c-1f2a-4c1e-9a7b",
        "250-smtp.resend.com Hello [127.0.0.1]",
        "354 Start mail input; end with <CRLF>.<CRLF>",
        "EHLO client.example.org",
    ];
    (0..25_000)
        .map(|i| kinds[i % kinds.len()].to_string())
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_default();
    let build_only = args.next().as_deref() == Some("build");
    let mut changed = 0usize;
    if case == "lines" {
        let lines = lines();
        if !build_only {
            for l in &lines {
                changed += usize::from(matches!(scrub(l), std::borrow::Cow::Owned(_)));
            }
        }
        println!("{} lines, {changed} changed", lines.len());
        return;
    }
    let body = match case.as_str() {
        "base64" => base64_body(),
        "text" => text_body(),
        "qp" => qp_body(),
        "keys" => keys_body(),
        other => {
            eprintln!("usage: scrub_cost base64|text|qp|keys|lines [build] (not {other:?})");
            std::process::exit(2);
        }
    };
    // The same checks either way, so that subtracting `build` leaves the
    // scrubbing alone.
    let out = if build_only {
        body.clone()
    } else {
        scrub_message(&body)
    };
    changed = usize::from(out != body);
    assert!(!String::from_utf8_lossy(&out).contains("Rt3amK3y") || build_only);
    println!("{} bytes, changed: {changed}", body.len());
}
