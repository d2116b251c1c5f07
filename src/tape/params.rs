//! RFC 2231 parameters of a MIME header, as a mail reader joins them:
//! continuations (`filename*0="re_Ab"; filename*1="cd…"`) and extended
//! values (`filename*=utf-8''re%5FAb…`, `filename*0*=…`). A key cut across
//! the pieces, or percent-encoded, is whole only once they are joined and
//! decoded; the key detector (`tape/encoded.rs`) looks at the joined value.
//! No I/O.

/// Pieces at most in one group (RFC 2231 sets no limit; real names take a
/// handful).
const MAX_PIECES: usize = 100;
/// How far a header is searched for the pieces of a group, either side.
const MAX_HEADER: usize = 16 * 1024;

/// One piece of a parameter: `name*N[*]=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    /// Where `name` starts.
    pub start: usize,
    /// Where the value starts (after `=`).
    pub value_start: usize,
    /// Where the value ends (after a closing quote).
    pub end: usize,
    /// `*N*=` or `*=`: percent-encoded (and, first, `charset'lang'`).
    pub extended: bool,
}

/// A parameter as a reader sees it: its pieces in order, and the value they
/// make together (percent-decoded; without the charset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Group {
    /// The parameter's name (`filename`).
    pub name: Vec<u8>,
    /// Piece 0 first (a lone `name*=` is a group of one).
    pub pieces: Vec<Piece>,
    /// The `charset'lang'` of an extended first piece, as written.
    pub charset: Vec<u8>,
    /// The joined, decoded value.
    pub value: Vec<u8>,
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// Every group in `text` that starts at a `*0=`, `*0*=` or lone `*=`
/// piece. Cheap when there is none: one search for `*`.
pub(super) fn groups(text: &[u8]) -> Vec<Group> {
    let mut out = Vec::new();
    for star in memchr::memchr_iter(b'*', text) {
        let Some((name, piece, index)) = piece_at(text, star) else {
            continue;
        };
        match index {
            None => {
                let (charset, value) = decode(&text[piece.value_start..piece.end], true, true);
                out.push(Group {
                    name: name.to_vec(),
                    pieces: vec![piece],
                    charset,
                    value,
                });
            }
            Some(0) => out.push(group_from(text, name, piece)),
            Some(_) => {}
        }
    }
    out
}

/// The piece whose `*` is at `star`: its name, the piece, its number
/// (`None` for a lone `name*=`).
fn piece_at(text: &[u8], star: usize) -> Option<(&[u8], Piece, Option<usize>)> {
    let start = text[..star]
        .iter()
        .rposition(|&b| !is_token(b) || b == b'*')
        .map_or(0, |i| i + 1);
    if start == star || (start > 0 && !matches!(text[start - 1], b';' | b' ' | b'\t' | b'\n')) {
        return None;
    }
    let mut i = star + 1;
    let digits = text[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let index = if digits == 0 {
        None
    } else {
        let n = std::str::from_utf8(&text[i..i + digits])
            .ok()?
            .parse::<usize>()
            .ok()?;
        i += digits;
        Some(n)
    };
    let extended = match (index, text.get(i)) {
        (None, _) => true,
        (Some(_), Some(b'*')) => {
            i += 1;
            true
        }
        _ => false,
    };
    if text.get(i) != Some(&b'=') {
        return None;
    }
    let value_start = i + 1;
    let end = value_end(text, value_start, extended);
    Some((
        &text[start..star],
        Piece {
            start,
            value_start,
            end,
            extended,
        },
        index,
    ))
}

/// Where a value ends: after its closing quote, or at the first byte that
/// ends a token.
fn value_end(text: &[u8], at: usize, extended: bool) -> usize {
    if !extended && text.get(at) == Some(&b'"') {
        let mut i = at + 1;
        while i < text.len() {
            match text[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                b'\r' | b'\n' => return i,
                _ => i += 1,
            }
        }
        return text.len();
    }
    at + text[at..]
        .iter()
        .take_while(|&&b| !matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n' | b'"'))
        .count()
}

/// The header holding `at`: back to the line that does not start with
/// space or tab, on to the line break not followed by one (folds inside).
fn header_around(text: &[u8], at: usize) -> (usize, usize) {
    let low = at.saturating_sub(MAX_HEADER);
    let mut start = low;
    let mut i = at;
    while i > low {
        if text[i - 1] == b'\n' && !matches!(text.get(i), Some(b' ' | b'\t')) {
            start = i;
            break;
        }
        i -= 1;
    }
    let high = (at + MAX_HEADER).min(text.len());
    let mut end = high;
    for j in at..high {
        if text[j] == b'\n' && !matches!(text.get(j + 1), Some(b' ' | b'\t')) {
            end = j;
            break;
        }
    }
    (start, end)
}

/// Piece 0 and the pieces 1, 2, … of the same name in the same header,
/// wherever they stand in it.
fn group_from(text: &[u8], name: &[u8], first: Piece) -> Group {
    let (h_start, h_end) = header_around(text, first.start);
    let header = &text[h_start..h_end];
    let mut found: Vec<(usize, Piece)> = Vec::new();
    for star in memchr::memchr_iter(b'*', header) {
        if let Some((n, p, Some(k))) = piece_at(header, star)
            && k > 0
            && k < MAX_PIECES
            && n.eq_ignore_ascii_case(name)
            && !found.iter().any(|(j, _)| *j == k)
        {
            found.push((
                k,
                Piece {
                    start: p.start + h_start,
                    value_start: p.value_start + h_start,
                    end: p.end + h_start,
                    extended: p.extended,
                },
            ));
        }
    }
    found.sort_by_key(|(k, _)| *k);
    let (charset, mut value) = decode(&text[first.value_start..first.end], first.extended, true);
    let mut pieces = vec![first];
    // The pieces a reader joins: 1, 2, … without a gap.
    for (want, (k, p)) in (1..).zip(found) {
        if k != want {
            break;
        }
        value.extend(decode(&text[p.value_start..p.end], p.extended, false).1);
        pieces.push(p);
    }
    Group {
        name: name.to_vec(),
        pieces,
        charset,
        value,
    }
}

/// A piece's value as a reader takes it: unquoted (backslash escapes
/// undone), or percent-decoded after `charset'lang'` (first piece only).
fn decode(raw: &[u8], extended: bool, first: bool) -> (Vec<u8>, Vec<u8>) {
    if !extended {
        if raw.len() >= 2 && raw[0] == b'"' && raw[raw.len() - 1] == b'"' {
            let mut out = Vec::with_capacity(raw.len());
            let mut i = 1;
            while i < raw.len() - 1 {
                if raw[i] == b'\\' && i + 2 < raw.len() {
                    i += 1;
                }
                out.push(raw[i]);
                i += 1;
            }
            return (Vec::new(), out);
        }
        return (Vec::new(), raw.to_vec());
    }
    let (charset, rest) = match (first, raw.iter().position(|&b| b == b'\'')) {
        (true, Some(a)) => match raw[a + 1..].iter().position(|&b| b == b'\'') {
            Some(b) => (raw[..a + 2 + b].to_vec(), &raw[a + 2 + b..]),
            None => (Vec::new(), raw),
        },
        _ => (Vec::new(), raw),
    };
    (charset, percent_decode(rest))
}

/// `%XX` decoded, invalid escapes kept as they are (also the HTTP doors'
/// paths and queries, `tape/http.rs`).
pub(super) fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// `value` as an extended value: `charset'lang'` then percent-encoding of
/// every byte that is not an attribute character.
pub(super) fn encode_extended(charset: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = if charset.is_empty() {
        b"utf-8''".to_vec()
    } else {
        charset.to_vec()
    };
    for &b in value {
        if is_token(b) && !matches!(b, b'%' | b'\'' | b'*') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// `value` as a quoted string.
pub(super) fn encode_quoted(value: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in value {
        if matches!(b, b'"' | b'\\') {
            out.push(b'\\');
        }
        if !matches!(b, b'\r' | b'\n') {
            out.push(b);
        }
    }
    out.push(b'"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_are_joined_in_order() {
        let h = b"Content-Disposition: attachment;\r\n filename*1=\"cd \\\"x\\\"\";\r\n filename*0=\"re_Ab\"; size=3\r\n\r\nbody";
        let g = groups(h);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].name, b"filename");
        assert_eq!(g[0].value, b"re_Abcd \"x\"");
        assert_eq!(g[0].pieces.len(), 2);
        assert_eq!(
            &h[g[0].pieces[1].start..g[0].pieces[1].end],
            b"filename*1=\"cd \\\"x\\\"\""
        );
    }

    #[test]
    fn extended_values_are_percent_decoded() {
        let h = b"Content-Type: text/plain; name*=utf-8'en're%5FAb%20c\r\n";
        let g = groups(h);
        assert_eq!(g[0].value, b"re_Ab c");
        assert_eq!(g[0].charset, b"utf-8'en'");
        let h = b"X: a; title*0*=us-ascii''re%5F; title*1*=Ab; title*2=\"cd\"\r\n";
        assert_eq!(groups(h)[0].value, b"re_Abcd");
    }

    #[test]
    fn a_gap_ends_the_group_and_other_headers_do_not_join() {
        let h = b"A: x; n*0=\"a\"; n*2=\"c\"\r\nB: y; n*1=\"b\"\r\n";
        assert_eq!(groups(h)[0].value, b"a");
    }

    #[test]
    fn stars_that_are_not_parameters_are_ignored() {
        assert!(groups(b"2 * 3 = 6; a *0= b; **=").is_empty());
        assert!(groups(b"no stars at all").is_empty());
    }

    #[test]
    fn encodings_round_trip() {
        let v = "re_…ab cd\"%'".as_bytes();
        let e = encode_extended(b"utf-8''", v);
        assert_eq!(decode(&e, true, true).1, v);
        let q = encode_quoted(v);
        assert_eq!(decode(&q, false, true).1, v);
    }
}
