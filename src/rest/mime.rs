//! An email sent over the REST API as a real MIME message, built with
//! lettre's message builder: text and HTML as multipart/alternative,
//! attachments as multipart/mixed (inline ones with their Content-ID),
//! custom headers passed through. Bcc is left out of the headers, as a real
//! message has it; it is in the envelope.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

/// An attachment's body.
#[derive(Debug, Clone)]
pub enum AttachmentBody {
    /// The decoded `content`.
    Bytes(Vec<u8>),
    /// A `path` (a URL Resend would fetch). mailtape fetches nothing: the
    /// part says where the file is (RFC 2017 `message/external-body`).
    Url(String),
}

/// One attachment.
#[derive(Debug, Clone)]
pub struct OutAttachment {
    /// File name.
    pub filename: String,
    /// Content type; from the file name when not given.
    pub content_type: Option<String>,
    /// Content-ID for inline images (`cid:` references).
    pub content_id: Option<String>,
    /// The body.
    pub body: AttachmentBody,
}

/// What the message is made of, validated.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// The email's id (in the Message-ID).
    pub id: String,
    /// `From`, as given (`Name <a@b.c>` or `a@b.c`).
    pub from: String,
    /// `To`.
    pub to: Vec<String>,
    /// `Cc`.
    pub cc: Vec<String>,
    /// `Bcc` (envelope only).
    pub bcc: Vec<String>,
    /// `Reply-To`.
    pub reply_to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Text body.
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
    /// Custom headers.
    pub headers: Vec<(String, String)>,
    /// Attachments.
    pub attachments: Vec<OutAttachment>,
}

/// Parses an address as the API takes it: `a@b.c` or `Name <a@b.c>`.
pub fn mailbox(text: &str) -> Option<Mailbox> {
    text.trim().parse::<Mailbox>().ok()
}

/// The message's bytes, or what is wrong with it (a header name, a content type).
pub fn build(o: &Outgoing) -> Result<Vec<u8>, String> {
    let parse = |a: &str| mailbox(a).ok_or_else(|| format!("invalid address {a:?}"));
    let mut b = lettre::Message::builder()
        .from(parse(&o.from)?)
        .subject(o.subject.clone())
        .message_id(Some(format!("<{}@resend.dev>", o.id)))
        .date_now();
    for a in &o.to {
        b = b.to(parse(a)?);
    }
    for a in &o.cc {
        b = b.cc(parse(a)?);
    }
    for a in &o.bcc {
        b = b.bcc(parse(a)?);
    }
    for a in &o.reply_to {
        b = b.reply_to(parse(a)?);
    }
    for (name, value) in &o.headers {
        // RFC 5322 field names are printable ASCII but `:`; lettre lets CR
        // and LF through, which would end the header and start another.
        let printable = name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
        let name = HeaderName::new_from_ascii(name.clone())
            .ok()
            .filter(|_| printable)
            .ok_or_else(|| format!("invalid header name {name:?}"))?;
        b = b.raw_header(HeaderValue::new(name, value.clone()));
    }
    let text = o.text.clone();
    let html = o.html.clone();
    let body = match (text, html) {
        (Some(t), Some(h)) => MultiPart::alternative_plain_html(t, h),
        (None, Some(h)) => MultiPart::alternative().singlepart(SinglePart::html(h)),
        (t, None) => MultiPart::alternative().singlepart(SinglePart::plain(t.unwrap_or_default())),
    };
    let message = if o.attachments.is_empty() {
        b.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in &o.attachments {
            mixed = mixed.singlepart(attachment(a)?);
        }
        b.multipart(mixed)
    }
    .map_err(|e| e.to_string())?;
    Ok(message.formatted())
}

fn attachment(a: &OutAttachment) -> Result<SinglePart, String> {
    match &a.body {
        AttachmentBody::Bytes(bytes) => {
            let ct = a
                .content_type
                .clone()
                .unwrap_or_else(|| type_of(&a.filename).to_string());
            let ct = ContentType::parse(&ct).map_err(|_| format!("invalid content type {ct:?}"))?;
            let att = match &a.content_id {
                Some(cid) => Attachment::new_inline_with_name(cid.clone(), a.filename.clone()),
                None => Attachment::new(a.filename.clone()),
            };
            Ok(att.body(bytes.clone(), ct))
        }
        AttachmentBody::Url(url) => {
            let ct = format!(
                "message/external-body; access-type=URL; URL=\"{}\"",
                url.replace(['"', '\\', '\r', '\n'], "")
            );
            let ct =
                ContentType::parse(&ct).map_err(|_| format!("invalid attachment path {url:?}"))?;
            Ok(SinglePart::builder()
                .header(ct)
                .body(format!("Content-Type: {}\r\n", type_of(&a.filename))))
        }
    }
}

/// A content type from a file name's extension.
pub fn type_of(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "ics" => "text/calendar",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_email_is_a_well_formed_message() {
        let o = Outgoing {
            id: "4ef9a417-02e9-4d39-ad75-9611e0fcc33c".into(),
            from: "Acme <billing@acme.com>".into(),
            to: vec!["delivered@resend.dev".into()],
            cc: vec!["cc@acme.com".into()],
            bcc: vec!["hidden@acme.com".into()],
            reply_to: vec!["support@acme.com".into()],
            subject: "Your invoice".into(),
            text: Some("Hi".into()),
            html: Some("<p>Hi</p>".into()),
            headers: vec![("X-Entity-Ref-ID".into(), "inv-7".into())],
            attachments: vec![
                OutAttachment {
                    filename: "invoice.pdf".into(),
                    content_type: None,
                    content_id: None,
                    body: AttachmentBody::Bytes(b"%PDF-1.4".to_vec()),
                },
                OutAttachment {
                    filename: "logo.png".into(),
                    content_type: None,
                    content_id: None,
                    body: AttachmentBody::Url("https://acme.com/logo.png".into()),
                },
            ],
        };
        let m = String::from_utf8(build(&o).unwrap()).unwrap();
        for want in [
            "From: Acme <billing@acme.com>\r\n",
            "To: delivered@resend.dev\r\n",
            "Cc: cc@acme.com\r\n",
            "Reply-To: support@acme.com\r\n",
            "Subject: Your invoice\r\n",
            "Message-ID: <4ef9a417-02e9-4d39-ad75-9611e0fcc33c@resend.dev>\r\n",
            "X-Entity-Ref-ID: inv-7\r\n",
            "multipart/mixed",
            "multipart/alternative",
            "Content-Type: application/pdf",
            "filename=\"invoice.pdf\"",
            "message/external-body; access-type=URL",
        ] {
            assert!(m.contains(want), "{want} in\n{m}");
        }
        assert!(!m.contains("hidden@acme.com"), "Bcc in the headers:\n{m}");
        let bad = Outgoing {
            headers: vec![("Bad Name".into(), "x".into())],
            ..o
        };
        assert!(build(&bad).unwrap_err().contains("header name"));
    }
}
