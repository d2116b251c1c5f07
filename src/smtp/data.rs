//! The DATA reader: end-of-data detection and dot-unstuffing as a resumable
//! state machine (RFC 5321 4.5.2), with a size cap.
//!
//! Only `CR LF . CR LF` ends the data: a bare LF before or after the dot does
//! not (the "SMTP smuggling" class of bugs comes from accepting it).

/// Where the reader stands between two calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (also the start of the data).
    LineStart,
    /// Saw `.` at the start of a line.
    Dot,
    /// Saw `.` CR at the start of a line.
    DotCr,
    /// Inside a line.
    Mid,
    /// Saw CR inside a line, not yet written out.
    Cr,
}

/// Collects one message body from a DATA stream.
#[derive(Debug)]
pub struct DataReader {
    state: State,
    limit: usize,
    size: usize,
    body: Vec<u8>,
}

/// What one [`DataReader::feed`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// Input octets used; the rest (after the end marker) belongs to the next command.
    pub consumed: usize,
    /// Whether the end marker was seen.
    pub done: bool,
}

impl DataReader {
    /// A reader that keeps at most `limit` octets of body; more is counted but
    /// dropped, and [`DataReader::overflowed`] says so.
    pub fn new(limit: usize) -> DataReader {
        DataReader {
            state: State::LineStart,
            limit,
            size: 0,
            body: Vec::new(),
        }
    }

    /// Total body octets seen so far (after unstuffing), kept or not.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the body grew past the limit.
    pub fn overflowed(&self) -> bool {
        self.size > self.limit
    }

    /// The body collected, without the end marker; empty after an overflow.
    pub fn into_body(self) -> Vec<u8> {
        if self.size > self.limit {
            Vec::new()
        } else {
            self.body
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.size += bytes.len();
        if self.size <= self.limit {
            self.body.extend_from_slice(bytes);
        } else if !self.body.is_empty() {
            self.body = Vec::new();
        }
    }

    /// Feeds input; stops right after the end marker.
    pub fn feed(&mut self, input: &[u8]) -> Fed {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Mid => {
                    // Fast path: copy up to the next CR in one go.
                    let run = input[i..]
                        .iter()
                        .position(|&c| c == b'\r')
                        .unwrap_or(input.len() - i);
                    if run > 0 {
                        self.emit(&input[i..i + run]);
                        i += run;
                        continue;
                    }
                    self.state = State::Cr;
                }
                State::LineStart => match b {
                    b'.' => self.state = State::Dot,
                    b'\r' => self.state = State::Cr,
                    _ => {
                        self.emit(&[b]);
                        self.state = State::Mid;
                    }
                },
                State::Dot => match b {
                    b'\r' => self.state = State::DotCr,
                    // The leading dot is dropped (unstuffing); this byte stays.
                    _ => {
                        self.emit(&[b]);
                        self.state = State::Mid;
                    }
                },
                State::DotCr | State::Cr if b == b'\n' && self.state == State::DotCr => {
                    self.state = State::LineStart;
                    return Fed {
                        consumed: i + 1,
                        done: true,
                    };
                }
                State::DotCr | State::Cr => match b {
                    b'\n' => {
                        self.emit(b"\r\n");
                        self.state = State::LineStart;
                    }
                    b'\r' => {
                        self.emit(b"\r");
                        self.state = State::Cr;
                    }
                    _ => {
                        self.emit(&[b'\r', b]);
                        self.state = State::Mid;
                    }
                },
            }
            i += 1;
        }
        Fed {
            consumed: input.len(),
            done: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(input: &[u8]) -> (Vec<u8>, usize) {
        let mut r = DataReader::new(usize::MAX);
        let f = r.feed(input);
        assert!(f.done, "no end in {:?}", String::from_utf8_lossy(input));
        (r.into_body(), f.consumed)
    }

    fn bytewise(input: &[u8]) -> (Vec<u8>, usize) {
        let mut r = DataReader::new(usize::MAX);
        for (i, b) in input.iter().enumerate() {
            if r.feed(std::slice::from_ref(b)).done {
                return (r.into_body(), i + 1);
            }
        }
        panic!("no end");
    }

    #[test]
    fn table_whole_and_bytewise() {
        let cases: &[(&[u8], &[u8], usize)] = &[
            (b".\r\n", b"", 3),
            (b"a\r\n.\r\n", b"a\r\n", 6),
            (b"..x\r\n.\r\nQUIT\r\n", b".x\r\n", 8),
            (b"a\r\n..\r\n.\r\n", b"a\r\n.\r\n", 10),
            // bare LF never ends the data
            (b"a\n.\nb\r\n.\r\n", b"a\n.\nb\r\n", 10),
            (b"a\r\n.\nb\r\n.\r\n", b"a\r\n\nb\r\n", 11),
            (b"x\r\r\n.\r\n", b"x\r\r\n", 7),
            (b".\rx\r\n.\r\n", b"\rx\r\n", 8),
            (b"line.\r\n.\r\n", b"line.\r\n", 10),
        ];
        for (input, body, used) in cases {
            assert_eq!(
                whole(input),
                (body.to_vec(), *used),
                "{:?}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(
                bytewise(input),
                (body.to_vec(), *used),
                "bytewise {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn partial_and_overflow() {
        let mut r = DataReader::new(5);
        assert_eq!(
            r.feed(b"0123"),
            Fed {
                consumed: 4,
                done: false
            }
        );
        assert!(!r.overflowed());
        assert_eq!(
            r.feed(b"456789\r\n.\r"),
            Fed {
                consumed: 10,
                done: false
            }
        );
        assert!(r.overflowed());
        assert_eq!(
            r.feed(b"\nNOOP"),
            Fed {
                consumed: 1,
                done: true
            }
        );
        assert_eq!(r.size(), 12);
        assert!(r.into_body().is_empty());
    }
}
