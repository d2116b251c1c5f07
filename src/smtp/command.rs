//! Parsing one SMTP command line (without its line ending) into a [`Command`].
//!
//! Pure and borrowing: the command refers into the line it came from.

use std::fmt;

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `EHLO domain`
    Ehlo(&'a str),
    /// `HELO domain`
    Helo(&'a str),
    /// `MAIL FROM:<path> [params]`; `from` is the address without brackets
    /// (empty for the null reverse-path `<>`).
    Mail {
        /// The reverse-path without angle brackets.
        from: &'a str,
        /// The raw ESMTP parameters after the path; see [`params`].
        params: &'a str,
    },
    /// `RCPT TO:<path> [params]`
    Rcpt {
        /// The forward-path without angle brackets.
        to: &'a str,
        /// The raw ESMTP parameters after the path; see [`params`].
        params: &'a str,
    },
    /// `DATA`
    Data,
    /// `BDAT size [LAST]` (parsed so that it can be refused precisely).
    Bdat,
    /// `RSET`
    Rset,
    /// `NOOP [string]`
    Noop,
    /// `VRFY string`
    Vrfy(&'a str),
    /// `HELP [topic]`
    Help(&'a str),
    /// `QUIT`
    Quit,
    /// `STARTTLS`
    StartTls,
    /// `AUTH mechanism [initial-response]`
    Auth {
        /// The SASL mechanism, as sent (compare case-insensitively).
        mechanism: &'a str,
        /// The initial response, if any (`=` stands for an empty one).
        initial: Option<&'a str>,
    },
    /// A verb this server does not know. Not an error: the reply is 502.
    Unknown(&'a str),
}

impl Command<'_> {
    /// The verb in upper case, for transcripts and matching.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Vrfy(_) => "VRFY",
            Command::Help(_) => "HELP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Unknown(_) => "UNKNOWN",
        }
    }
}

/// Why a line is not a well-formed command. Each maps to one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The line is not UTF-8 or holds control characters (500).
    BadCharacters,
    /// The line is empty (500).
    Empty,
    /// A known verb with arguments it cannot take (501); names the verb.
    BadArguments(&'static str),
    /// The `<path>` of MAIL or RCPT is malformed (501); names the verb.
    BadPath(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::BadCharacters => f.write_str("line holds invalid characters"),
            ParseError::Empty => f.write_str("empty line"),
            ParseError::BadArguments(v) => write!(f, "bad arguments to {v}"),
            ParseError::BadPath(v) => write!(f, "bad address syntax in {v}"),
        }
    }
}

/// Parses one command line. `line` excludes CR LF.
pub fn parse_command(line: &[u8]) -> Result<Command<'_>, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::BadCharacters)?;
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ParseError::BadCharacters);
    }
    let line = line.trim_end_matches([' ', '\t']);
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    let (verb, rest) = match line.find([' ', '\t']) {
        Some(i) => (&line[..i], line[i + 1..].trim_start_matches([' ', '\t'])),
        None => (line, ""),
    };
    let eq = |v: &str| verb.eq_ignore_ascii_case(v);
    let no_args = |c: Command<'static>, v: &'static str| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(ParseError::BadArguments(v))
        }
    };
    if eq("EHLO") || eq("HELO") {
        let is_ehlo = eq("EHLO");
        let name = verb_name(is_ehlo);
        if rest.is_empty() || rest.contains([' ', '\t']) {
            return Err(ParseError::BadArguments(name));
        }
        return Ok(if is_ehlo {
            Command::Ehlo(rest)
        } else {
            Command::Helo(rest)
        });
    }
    if eq("MAIL") {
        let (from, params) = parse_path(rest, "FROM:").ok_or(ParseError::BadPath("MAIL"))?;
        return Ok(Command::Mail { from, params });
    }
    if eq("RCPT") {
        let (to, params) = parse_path(rest, "TO:").ok_or(ParseError::BadPath("RCPT"))?;
        if to.is_empty() {
            return Err(ParseError::BadPath("RCPT"));
        }
        return Ok(Command::Rcpt { to, params });
    }
    if eq("DATA") {
        return no_args(Command::Data, "DATA");
    }
    if eq("BDAT") {
        return Ok(Command::Bdat);
    }
    if eq("RSET") {
        return no_args(Command::Rset, "RSET");
    }
    if eq("NOOP") {
        return Ok(Command::Noop);
    }
    if eq("VRFY") {
        if rest.is_empty() {
            return Err(ParseError::BadArguments("VRFY"));
        }
        return Ok(Command::Vrfy(rest));
    }
    if eq("HELP") {
        return Ok(Command::Help(rest));
    }
    if eq("QUIT") {
        return no_args(Command::Quit, "QUIT");
    }
    if eq("STARTTLS") {
        return no_args(Command::StartTls, "STARTTLS");
    }
    if eq("AUTH") {
        let mut parts = rest.split([' ', '\t']).filter(|s| !s.is_empty());
        let mechanism = parts.next().ok_or(ParseError::BadArguments("AUTH"))?;
        let initial = parts.next();
        if parts.next().is_some() {
            return Err(ParseError::BadArguments("AUTH"));
        }
        return Ok(Command::Auth { mechanism, initial });
    }
    Ok(Command::Unknown(verb))
}

fn verb_name(is_ehlo: bool) -> &'static str {
    if is_ehlo { "EHLO" } else { "HELO" }
}

/// Parses `FROM:<addr> params` (or `TO:`). Tolerates a space after the colon
/// and a missing pair of brackets, as postfix does, because old clients send
/// both. Returns the address without brackets and the rest.
fn parse_path<'a>(rest: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let after = rest[keyword.len()..].trim_start_matches([' ', '\t']);
    let (addr, params) = if let Some(inner) = after.strip_prefix('<') {
        let close = inner.find('>')?;
        (&inner[..close], &inner[close + 1..])
    } else {
        match after.find([' ', '\t']) {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        }
    };
    // A params section must be separated from the path by white space.
    if !params.is_empty() && !params.starts_with([' ', '\t']) {
        return None;
    }
    // Source routes (`@a,@b:user@c`) are obsolete; keep the mailbox only.
    let addr = match addr.rfind(':') {
        Some(i) if addr.starts_with('@') => &addr[i + 1..],
        _ => addr,
    };
    if addr.contains(['<', '>', ' ', '\t']) {
        return None;
    }
    Some((addr, params.trim_matches([' ', '\t'])))
}

/// One ESMTP parameter, `KEY` or `KEY=VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The keyword, as sent (compare case-insensitively).
    pub key: &'a str,
    /// The value after `=`, if any.
    pub value: Option<&'a str>,
}

/// Iterates over the parameters of MAIL or RCPT.
pub fn params(raw: &str) -> impl Iterator<Item = Param<'_>> {
    raw.split([' ', '\t'])
        .filter(|s| !s.is_empty())
        .map(|p| match p.split_once('=') {
            Some((key, value)) => Param {
                key,
                value: Some(value),
            },
            None => Param {
                key: p,
                value: None,
            },
        })
}

/// Whether `addr` is a plausible mailbox: `local@domain`, with a non-empty
/// local part and a dotted or bracketed domain made of sane characters.
pub fn is_valid_mailbox(addr: &str) -> bool {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.is_empty() || domain.len() > 255 {
        return false;
    }
    if local.chars().any(|c| c.is_control() || c == ' ') {
        return false;
    }
    if domain.starts_with('[') && domain.ends_with(']') {
        return true;
    }
    domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let ok: &[(&str, Command<'_>)] = &[
            ("EHLO app.local", Command::Ehlo("app.local")),
            ("ehlo [127.0.0.1]", Command::Ehlo("[127.0.0.1]")),
            ("HELO x", Command::Helo("x")),
            (
                "MAIL FROM:<a@b.c>",
                Command::Mail {
                    from: "a@b.c",
                    params: "",
                },
            ),
            (
                "MAIL FROM: <a@b.c> SIZE=10 BODY=8BITMIME",
                Command::Mail {
                    from: "a@b.c",
                    params: "SIZE=10 BODY=8BITMIME",
                },
            ),
            (
                "mail from:<>",
                Command::Mail {
                    from: "",
                    params: "",
                },
            ),
            (
                "MAIL FROM:a@b.c",
                Command::Mail {
                    from: "a@b.c",
                    params: "",
                },
            ),
            (
                "RCPT TO:<@relay.x,@r2:u@d.e>",
                Command::Rcpt {
                    to: "u@d.e",
                    params: "",
                },
            ),
            (
                "RCPT TO:<postmaster>",
                Command::Rcpt {
                    to: "postmaster",
                    params: "",
                },
            ),
            ("DATA", Command::Data),
            ("RSET", Command::Rset),
            ("NOOP hello", Command::Noop),
            ("VRFY bob", Command::Vrfy("bob")),
            ("HELP", Command::Help("")),
            ("QUIT", Command::Quit),
            ("STARTTLS", Command::StartTls),
            (
                "AUTH PLAIN",
                Command::Auth {
                    mechanism: "PLAIN",
                    initial: None,
                },
            ),
            (
                "AUTH login dXNlcg==",
                Command::Auth {
                    mechanism: "login",
                    initial: Some("dXNlcg=="),
                },
            ),
            ("XCLIENT ADDR=1", Command::Unknown("XCLIENT")),
            ("QUIT  ", Command::Quit),
        ];
        for (line, want) in ok {
            assert_eq!(parse_command(line.as_bytes()).as_ref(), Ok(want), "{line}");
        }
        let bad: &[(&[u8], ParseError)] = &[
            (b"", ParseError::Empty),
            (b"   ", ParseError::Empty),
            (b"EHLO", ParseError::BadArguments("EHLO")),
            (b"MAIL TO:<a@b>", ParseError::BadPath("MAIL")),
            (b"MAIL FROM:<a@b", ParseError::BadPath("MAIL")),
            (b"MAIL FROM:<a@b>SIZE=1", ParseError::BadPath("MAIL")),
            (b"RCPT TO:<>", ParseError::BadPath("RCPT")),
            (b"DATA now", ParseError::BadArguments("DATA")),
            (b"AUTH", ParseError::BadArguments("AUTH")),
            (b"AUTH PLAIN a b", ParseError::BadArguments("AUTH")),
            (b"NO\0OP", ParseError::BadCharacters),
            (b"\xff\xfe", ParseError::BadCharacters),
            (b"NOOP\rX", ParseError::BadCharacters),
        ];
        for (line, want) in bad {
            assert_eq!(
                parse_command(line),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn mail_params() {
        let p: Vec<_> = params("SIZE=10 SMTPUTF8 BODY=8BITMIME").collect();
        assert_eq!(
            p[0],
            Param {
                key: "SIZE",
                value: Some("10")
            }
        );
        assert_eq!(
            p[1],
            Param {
                key: "SMTPUTF8",
                value: None
            }
        );
        assert_eq!(p[2].value, Some("8BITMIME"));
    }

    #[test]
    fn mailboxes() {
        for good in [
            "a@b.c",
            "first.last+tag@sub.example.com",
            "ü@bücher.de",
            "x@[127.0.0.1]",
        ] {
            assert!(is_valid_mailbox(good), "{good}");
        }
        for bad in [
            "", "a", "@b.c", "a@", "a@b..c", "a@-b.c", "a b@c.d", "a@b_c.d",
        ] {
            assert!(!is_valid_mailbox(bad), "{bad}");
        }
    }
}
