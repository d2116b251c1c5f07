//! SMTP replies: the value, its wire form, and a parser for replies read from
//! an upstream server.

use std::fmt;

/// Longest reply line accepted from a server, CR LF included. RFC 5321
/// 4.5.3.1.5 sets 512 octets.
pub const MAX_REPLY_LINE: usize = 512;
/// Most lines one multi-line reply may have before it is refused.
pub const MAX_REPLY_LINES: usize = 100;

/// One reply: a three-digit code and one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The text of each line, without code or separator; never empty.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply; an empty list gives one empty line.
    pub fn multi(code: u16, lines: Vec<String>) -> Reply {
        let lines = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        };
        Reply { code, lines }
    }

    /// Whether the reply is a failure (4xx or 5xx).
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// Appends the wire form (`250-a\r\n250 b\r\n`) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}{}\r\n", self.code, sep, line).as_bytes());
        }
    }

    /// The wire lines without CR LF, as they appear in transcripts.
    pub fn wire_lines(&self) -> impl Iterator<Item = String> + '_ {
        let last = self.lines.len().saturating_sub(1);
        self.lines.iter().enumerate().map(move |(i, line)| {
            let sep = if i == last { ' ' } else { '-' };
            format!("{}{}{}", self.code, sep, line)
        })
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.wire_lines().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&line)?;
        }
        Ok(())
    }
}

/// Why a server's reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// A line longer than [`MAX_REPLY_LINE`].
    LineTooLong,
    /// More than [`MAX_REPLY_LINES`] lines in one reply.
    TooManyLines,
    /// A line that does not start with three digits and a separator; holds
    /// the offending line (lossy UTF-8, truncated).
    Malformed(String),
    /// The lines of a multi-line reply disagree on the code.
    CodeMismatch,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::LineTooLong => write!(f, "reply line longer than {MAX_REPLY_LINE} octets"),
            ReplyError::TooManyLines => write!(f, "reply with more than {MAX_REPLY_LINES} lines"),
            ReplyError::Malformed(l) => write!(f, "malformed reply line {l:?}"),
            ReplyError::CodeMismatch => f.write_str("reply lines with different codes"),
        }
    }
}

impl std::error::Error for ReplyError {}

/// Text from bytes where each octet that is not UTF-8 becomes one `?`, so
/// a line never grows (a relayed reply stays within the 512-octet cap).
fn lossy_one_for_one(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    out
}

/// Parses one complete reply from the start of `buf`. `Ok(None)` means more
/// bytes are needed; `Ok(Some((reply, n)))` used `n` bytes.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut pos = 0;
    let mut code = None;
    let mut lines = Vec::new();
    loop {
        let rest = &buf[pos..];
        let Some(lf) = rest.iter().take(MAX_REPLY_LINE).position(|&b| b == b'\n') else {
            if rest.len() >= MAX_REPLY_LINE {
                return Err(ReplyError::LineTooLong);
            }
            return Ok(None);
        };
        let raw = &rest[..lf];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        // Written back with CR LF, the line must still fit the cap.
        if raw.len() + 2 > MAX_REPLY_LINE {
            return Err(ReplyError::LineTooLong);
        }
        let malformed = || {
            ReplyError::Malformed(String::from_utf8_lossy(&raw[..raw.len().min(80)]).into_owned())
        };
        if raw.len() < 3
            || !raw[..3].iter().all(u8::is_ascii_digit)
            || !(b'2'..=b'5').contains(&raw[0])
        {
            return Err(malformed());
        }
        let this_code = u16::from(raw[0] - b'0') * 100
            + u16::from(raw[1] - b'0') * 10
            + u16::from(raw[2] - b'0');
        let (more, text) = match raw.get(3) {
            None => (false, &raw[3..]),
            Some(b' ') => (false, &raw[4..]),
            Some(b'-') => (true, &raw[4..]),
            Some(_) => return Err(malformed()),
        };
        if *code.get_or_insert(this_code) != this_code {
            return Err(ReplyError::CodeMismatch);
        }
        lines.push(lossy_one_for_one(text));
        pos += lf + 1;
        if !more {
            return Ok(Some((
                Reply {
                    code: this_code,
                    lines,
                },
                pos,
            )));
        }
        if lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form() {
        let r = Reply::multi(
            250,
            vec!["smtp.resend.com".into(), "AUTH PLAIN LOGIN".into()],
        );
        let mut out = Vec::new();
        r.write_to(&mut out);
        assert_eq!(out, b"250-smtp.resend.com\r\n250 AUTH PLAIN LOGIN\r\n");
        assert_eq!(r.to_string(), "250-smtp.resend.com\n250 AUTH PLAIN LOGIN");
    }

    #[test]
    fn parse_round_trip_and_partial() {
        let wire = b"250-a\r\n250-b\r\n250 c\r\n221 x\r\n";
        for cut in 0..21 {
            assert_eq!(parse_reply(&wire[..cut]), Ok(None), "cut {cut}");
        }
        let (r, n) = parse_reply(wire).unwrap().unwrap();
        assert_eq!((r.code, r.lines.len(), n), (250, 3, 21));
        let mut out = Vec::new();
        r.write_to(&mut out);
        assert_eq!(&out[..], &wire[..21]);
        assert_eq!(
            parse_reply(b"220\r\n").unwrap().unwrap().0,
            Reply::new(220, "")
        );
    }

    #[test]
    fn parse_errors() {
        assert_eq!(parse_reply(&[b'2'; 600]), Err(ReplyError::LineTooLong));
        assert!(matches!(
            parse_reply(b"hello\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"250x\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert_eq!(
            parse_reply(b"250-a\r\n251 b\r\n"),
            Err(ReplyError::CodeMismatch)
        );
        let many = "250-x\r\n".repeat(150);
        assert_eq!(parse_reply(many.as_bytes()), Err(ReplyError::TooManyLines));
    }
}
