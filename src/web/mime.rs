//! A received message taken apart for the inbox: addresses, subject, text,
//! HTML, attachments, headers and the links in the body. Parsed once, when
//! the message reaches the store, with `mail-parser` (maintained, used by
//! Stalwart), never on the SMTP path.

use std::borrow::Cow;

use mail_parser::{Address, MessageParser, MimeHeaders};
use ring::digest;
use serde::Serialize;

use crate::tape::redact::scrub;

/// A name and an address, as Go's `net/mail.Address` serialises (Mailpit's
/// field names).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Addr {
    /// The display name ("" when none).
    #[serde(rename = "Name")]
    pub name: String,
    /// The address.
    #[serde(rename = "Address")]
    pub address: String,
}

/// One attachment or inline part.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    /// Its number in the message (`1`, `2`, …), used in download URLs.
    #[serde(rename = "PartID")]
    pub part_id: String,
    /// The file name as the sender gave it (shown, never used as a path).
    #[serde(rename = "FileName")]
    pub file_name: String,
    /// The declared content type.
    #[serde(rename = "ContentType")]
    pub content_type: String,
    /// The Content-ID of an inline part.
    #[serde(rename = "ContentID")]
    pub content_id: String,
    /// Decoded size in bytes.
    #[serde(rename = "Size")]
    pub size: u64,
    /// Hashes of the decoded content.
    #[serde(rename = "Checksums")]
    pub checksums: Checksums,
    /// Whether it is inline (referenced from the HTML) rather than attached.
    #[serde(skip)]
    pub inline: bool,
    /// The decoded content.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Mailpit gives MD5, SHA1 and SHA256; `ring` has no MD5, so it is left
/// empty (the field is kept so clients that read it do not fail).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Checksums {
    /// Always empty (see the type's doc).
    #[serde(rename = "MD5")]
    pub md5: String,
    /// SHA-1, hex.
    #[serde(rename = "SHA1")]
    pub sha1: String,
    /// SHA-256, hex.
    #[serde(rename = "SHA256")]
    pub sha256: String,
}

/// Everything the inbox shows of a message.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The Message-ID header, without angle brackets.
    pub message_id: String,
    /// From.
    pub from: Option<Addr>,
    /// To, Cc, Bcc, Reply-To headers.
    pub to: Vec<Addr>,
    /// Cc.
    pub cc: Vec<Addr>,
    /// Bcc.
    pub bcc: Vec<Addr>,
    /// Reply-To.
    pub reply_to: Vec<Addr>,
    /// Return-Path.
    pub return_path: String,
    /// Subject, decoded.
    pub subject: String,
    /// The Date header, RFC 3339, when present and valid.
    pub date: Option<String>,
    /// The text body (the first text part).
    pub text: String,
    /// The HTML body (the first HTML part).
    pub html: String,
    /// Attachments.
    pub attachments: Vec<Part>,
    /// Inline parts (images referenced by `cid:`).
    pub inline: Vec<Part>,
    /// Header names and values in order, values unfolded.
    pub headers: Vec<(String, String)>,
    /// http(s) links in the text and HTML, in order, without repeats.
    pub links: Vec<String>,
    /// The List-Unsubscribe header.
    pub list_unsubscribe: String,
}

fn addrs(a: Option<&Address>) -> Vec<Addr> {
    a.map(|a| {
        a.iter()
            .map(|x| Addr {
                name: x.name().unwrap_or_default().to_string(),
                address: x.address().unwrap_or_default().to_string(),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Takes a message apart. Never fails: a message mail-parser cannot read
/// shows its raw bytes as text.
pub fn parse(raw: &[u8]) -> Parsed {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Parsed {
            text: String::from_utf8_lossy(raw).into_owned(),
            ..Parsed::default()
        };
    };
    let mut p = Parsed {
        message_id: m.message_id().unwrap_or_default().to_string(),
        from: addrs(m.from()).into_iter().next(),
        to: addrs(m.to()),
        cc: addrs(m.cc()),
        bcc: addrs(m.bcc()),
        reply_to: addrs(m.reply_to()),
        return_path: m.return_address().unwrap_or_default().to_string(),
        subject: m.subject().unwrap_or_default().to_string(),
        date: m.date().map(|d| d.to_rfc3339()),
        text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
        ..Parsed::default()
    };
    // mail-parser converts an HTML-only message to text for body_text; keep
    // that (it is what a text view should show), but a text-only message
    // converted to HTML is not an HTML body: its "HTML body" is the text
    // part itself (issue 25: the page showed an HTML tab for plain mail).
    if !m.html_part(0).is_some_and(|part| part.is_text_html()) {
        p.html.clear();
    }
    p.headers = m
        .headers_raw()
        .map(|(name, value)| (name.to_string(), unfold(value)))
        .collect();
    // The decoded subject (RFC 2047) replaces the raw one.
    if let Some((_, v)) = p
        .headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case("subject"))
    {
        v.clone_from(&p.subject);
    }
    p.list_unsubscribe = p
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("list-unsubscribe"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    for (i, part) in m.attachments().enumerate() {
        let bytes = part.contents().to_vec();
        let content_type = part
            .content_type()
            .map(|c| match &c.c_subtype {
                Some(sub) => format!("{}/{}", c.c_type, sub),
                None => c.c_type.to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let inline = part
            .content_disposition()
            .is_some_and(|d| d.c_type.eq_ignore_ascii_case("inline"))
            && part.content_id().is_some();
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &bytes);
        let sha256 = digest::digest(&digest::SHA256, &bytes);
        let item = Part {
            part_id: (i + 1).to_string(),
            file_name: part.attachment_name().unwrap_or_default().to_string(),
            content_type,
            content_id: part.content_id().unwrap_or_default().to_string(),
            size: bytes.len() as u64,
            checksums: Checksums {
                md5: String::new(),
                sha1: hex(sha1.as_ref()),
                sha256: hex(sha256.as_ref()),
            },
            inline,
            bytes,
        };
        if inline {
            p.inline.push(item);
        } else {
            p.attachments.push(item);
        }
    }
    redact_decoded(&mut p);
    p.links = links(&p.html, &p.text);
    p
}

/// Scrubs what the inbox shows *after* decoding it (issue 25): the raw
/// message was scrubbed when captured, but decoding can join what no pass
/// over the raw bytes saw as a key — a file name cut into RFC 2231
/// continuations (`filename*0*=…re_Ab; filename*1*=cd…`), a percent-encoded
/// one (`filename*=utf-8''re%5F…`), a key written with HTML character
/// references (`re&#95;…`), which a browser shows as the key.
fn redact_decoded(p: &mut Parsed) {
    let clean = |s: &mut String| {
        if let Cow::Owned(c) = scrub(s) {
            *s = c;
        }
    };
    clean(&mut p.subject);
    clean(&mut p.text);
    clean(&mut p.message_id);
    clean(&mut p.return_path);
    clean(&mut p.list_unsubscribe);
    if let Cow::Owned(revealed) = crate::tape::references::reveal_key_references(&p.html) {
        p.html = revealed;
    }
    clean(&mut p.html);
    for a in p
        .from
        .iter_mut()
        .chain(&mut p.to)
        .chain(&mut p.cc)
        .chain(&mut p.bcc)
        .chain(&mut p.reply_to)
    {
        clean(&mut a.name);
        clean(&mut a.address);
    }
    for (_, v) in &mut p.headers {
        clean(v);
    }
    for part in p.attachments.iter_mut().chain(&mut p.inline) {
        clean(&mut part.file_name);
        clean(&mut part.content_type);
        clean(&mut part.content_id);
    }
}

fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The links a test looks for (reset and sign-up links): the http(s)
/// `href`s of the HTML, then the http(s) URLs of the text, in order, each
/// once. Image sources are not links. `&amp;` becomes `&` (an href's real value).
pub fn links(html: &str, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |url: &str| {
        let mut url = url.replace("&amp;", "&");
        // Trailing punctuation of the sentence is not part of the link.
        while url.ends_with(['.', ',', ')', ';', ':', '!', '?', ']']) {
            url.pop();
        }
        let lower = url.to_ascii_lowercase();
        if (lower.starts_with("http://") || lower.starts_with("https://"))
            && url.len() > "https://".len()
            && !out.contains(&url)
        {
            out.push(url);
        }
    };
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower[at..].find("href=") {
        let start = at + i + "href=".len();
        let rest = &html[start..];
        let (value, used) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let v = &rest[1..];
                let end = v.find(q).unwrap_or(v.len());
                (&v[..end], end + 1)
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(rest.len());
                (&rest[..end], end)
            }
        };
        add(value.trim());
        at = start + used.min(rest.len());
    }
    let mut rest = text;
    while let Some(i) = find_scheme(rest) {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '{' | '}')
            })
            .unwrap_or(tail.len());
        add(&tail[..end]);
        rest = &tail[end..];
    }
    out
}

fn find_scheme(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    match (lower.find("http://"), lower.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A file name safe to give a browser: no folders, no control characters,
/// no quotes; `attachment` when nothing is left.
pub fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '\\' | '/'))
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned.chars().take(120).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str = "From: Acme <billing@acme.com>\r\nTo: bob@example.org, \"Ann\" <ann@example.org>\r\nSubject: =?UTF-8?B?UmVzZXQgeW91ciBwYXNzd29yZA==?=\r\nMessage-ID: <abc@acme.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\nReset: https://app.acme.com/reset?t=1&u=2.\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p><a href=\"https://app.acme.com/reset?t=1&amp;u=2\">reset</a><script>alert(1)</script></p>\r\n--b2--\r\n--b1\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"../../x.html\"\r\n\r\n<script>alert(2)</script>\r\n--b1--\r\n";

    #[test]
    fn takes_a_multipart_message_apart() {
        let p = parse(MULTI.as_bytes());
        assert_eq!(p.subject, "Reset your password");
        assert_eq!(
            p.from.as_ref().map(|a| a.address.as_str()),
            Some("billing@acme.com")
        );
        assert_eq!(p.to.len(), 2);
        assert_eq!(p.to[1].name, "Ann");
        assert_eq!(p.message_id, "abc@acme.com");
        assert!(p.text.contains("Reset: https://app.acme.com"));
        assert!(p.html.contains("<script>alert(1)</script>"));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].file_name, "../../x.html");
        assert_eq!(p.links, vec!["https://app.acme.com/reset?t=1&u=2"]);
    }

    #[test]
    fn links_are_hrefs_and_text_urls_not_images() {
        let html = "<a href=\"https://a.example/x?y=1&amp;z=2\">x</a><img src=\"https://t.example/p.gif\"><a href='http://b.example/'>b</a><a href=mailto:x@y>m</a><A HREF=https://c.example/c>c</A>";
        let text = "see https://d.example/d. and https://a.example/x?y=1&z=2";
        assert_eq!(
            links(html, text),
            vec![
                "https://a.example/x?y=1&z=2",
                "http://b.example/",
                "https://c.example/c",
                "https://d.example/d"
            ]
        );
    }

    #[test]
    fn file_names_lose_their_folders() {
        assert_eq!(safe_filename("../../x"), "x");
        assert_eq!(safe_filename("..\\..\\evil.exe"), "evil.exe");
        assert_eq!(safe_filename("a\"b;c\r\n.txt"), "abc.txt");
        assert_eq!(safe_filename(".."), "attachment");
        assert_eq!(safe_filename("résumé.pdf"), "r_sum_.pdf");
    }

    #[test]
    fn unparsable_bytes_are_shown_as_text() {
        let p = parse(b"");
        assert!(p.subject.is_empty());
    }
}
