//! Command-line framing: find the end of one line in a buffer, with a cap.

/// Longest command line accepted, in octets including CRLF (issue 2: "line over
/// 1000 octets → 500"). RFC 5321 4.5.3.1.4 allows 512 for commands; clients in
/// the wild send longer AUTH and MAIL lines, so the text-line limit is used.
pub const MAX_LINE: usize = 1000;

/// What the buffer holds at its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A whole line: `len` octets of content (without CR LF), `consumed`
    /// octets in all including the line ending.
    Complete {
        /// Octets of content, line ending excluded.
        len: usize,
        /// Octets to drop from the buffer, line ending included.
        consumed: usize,
    },
    /// No line end yet and the buffer is within the cap: read more.
    Partial,
    /// The line is longer than the cap. `consumed` octets (up to and including
    /// the LF, if one was found) should be dropped; `complete` says whether the
    /// end of the overlong line was found or more of it must be skipped.
    TooLong {
        /// Octets to drop from the buffer.
        consumed: usize,
        /// Whether the overlong line ended within the buffer.
        complete: bool,
    },
}

/// Finds the first line in `buf`. A line ends at LF; a CR before it is part of
/// the ending. Bare LF is accepted for commands (many clients send it); DATA
/// framing is stricter (see `data`).
pub fn split_line(buf: &[u8], max: usize) -> Line {
    let window = &buf[..buf.len().min(max.saturating_add(1))];
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) if lf < max => {
            let len = if lf > 0 && buf[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            Line::Complete {
                len,
                consumed: lf + 1,
            }
        }
        Some(lf) => Line::TooLong {
            consumed: lf + 1,
            complete: true,
        },
        None if buf.len() >= max => match buf.iter().position(|&b| b == b'\n') {
            Some(lf) => Line::TooLong {
                consumed: lf + 1,
                complete: true,
            },
            None => Line::TooLong {
                consumed: buf.len(),
                complete: false,
            },
        },
        None => Line::Partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&[u8], usize, Line)] = &[
            (b"", 10, Line::Partial),
            (b"NOOP", 10, Line::Partial),
            (
                b"NOOP\r\n",
                10,
                Line::Complete {
                    len: 4,
                    consumed: 6,
                },
            ),
            (
                b"NOOP\nQUIT\r\n",
                10,
                Line::Complete {
                    len: 4,
                    consumed: 5,
                },
            ),
            (
                b"\r\n",
                10,
                Line::Complete {
                    len: 0,
                    consumed: 2,
                },
            ),
            // exactly at the cap: 8 content + CRLF = 10 octets, accepted
            (
                b"12345678\r\n",
                10,
                Line::Complete {
                    len: 8,
                    consumed: 10,
                },
            ),
            (
                b"123456789\r\n",
                10,
                Line::TooLong {
                    consumed: 11,
                    complete: true,
                },
            ),
            (
                b"1234567890123",
                10,
                Line::TooLong {
                    consumed: 13,
                    complete: false,
                },
            ),
            (
                b"1234567890123\nX",
                10,
                Line::TooLong {
                    consumed: 14,
                    complete: true,
                },
            ),
        ];
        for (input, max, want) in cases {
            assert_eq!(
                split_line(input, *max),
                *want,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
