//! DATA framing both ways, as resumable state machines (RFC 5321 4.5.2):
//! the reader finds the end of the data and removes dot-stuffing; the writer
//! stuffs content again for a server, with canonical line endings.
//!
//! Only `CR LF . CR LF` ends the data: a bare LF before or after the dot does
//! not (the "SMTP smuggling" class of bugs comes from accepting it). The
//! writer turns every bare CR or LF into CR LF before stuffing, so what one
//! server read as content can never end the data at the next one.

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

/// Reads one message body from a DATA stream. It keeps nothing: content
/// goes to the caller's buffer, which decides what to keep.
#[derive(Debug)]
pub struct DataReader {
    state: State,
    size: usize,
}

/// What one [`DataReader::feed`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// Input octets used; the rest (after the end marker) belongs to the next command.
    pub consumed: usize,
    /// Whether the end marker was seen.
    pub done: bool,
}

impl Default for DataReader {
    fn default() -> Self {
        DataReader::new()
    }
}

impl DataReader {
    /// A reader at the start of the data.
    pub fn new() -> DataReader {
        DataReader {
            state: State::LineStart,
            size: 0,
        }
    }

    /// Total content octets produced so far (after unstuffing).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Feeds input, appending content to `out`; stops right after the end marker.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Fed {
        let before = out.len();
        let fed = self.feed_inner(input, out);
        self.size += out.len() - before;
        fed
    }

    fn feed_inner(&mut self, input: &[u8], out: &mut Vec<u8>) -> Fed {
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
                        out.extend_from_slice(&input[i..i + run]);
                        i += run;
                        continue;
                    }
                    self.state = State::Cr;
                }
                State::LineStart => match b {
                    b'.' => self.state = State::Dot,
                    b'\r' => self.state = State::Cr,
                    _ => {
                        out.push(b);
                        self.state = State::Mid;
                    }
                },
                State::Dot => match b {
                    b'\r' => self.state = State::DotCr,
                    // The leading dot is dropped (unstuffing); this byte stays.
                    _ => {
                        out.push(b);
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
                        out.extend_from_slice(b"\r\n");
                        self.state = State::LineStart;
                    }
                    b'\r' => {
                        out.push(b'\r');
                        self.state = State::Cr;
                    }
                    _ => {
                        out.extend_from_slice(&[b'\r', b]);
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

/// Encodes content for the DATA phase of a server: canonical CR LF line
/// endings, dot-stuffing, and the end marker.
#[derive(Debug)]
pub struct DataWriter {
    line_start: bool,
    pending_cr: bool,
}

impl Default for DataWriter {
    fn default() -> Self {
        DataWriter::new()
    }
}

impl DataWriter {
    /// A writer at the start of the data.
    pub fn new() -> DataWriter {
        DataWriter {
            line_start: true,
            pending_cr: false,
        }
    }

    /// Appends the encoded form of `content` to `out`. Text between line
    /// breaks is copied a run at a time (this is on the proxy's path for
    /// every message).
    pub fn encode(&mut self, content: &[u8], out: &mut Vec<u8>) {
        out.reserve(content.len() + content.len() / 32 + 4);
        let mut rest = content;
        while let Some(&first) = rest.first() {
            if std::mem::take(&mut self.pending_cr) {
                out.extend_from_slice(b"\r\n");
                self.line_start = true;
                if first == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            if self.line_start && first == b'.' {
                out.push(b'.'); // the dot itself goes out with the run below
            }
            let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
                out.extend_from_slice(rest);
                self.line_start = false;
                return;
            };
            out.extend_from_slice(&rest[..i]);
            if i > 0 {
                self.line_start = false;
            }
            if rest[i] == b'\r' {
                self.pending_cr = true;
            } else {
                out.extend_from_slice(b"\r\n");
                self.line_start = true;
            }
            rest = &rest[i + 1..];
        }
    }

    /// Ends the data: a last line ending if needed, then `.` CR LF.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) || !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.line_start = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(input: &[u8]) -> (Vec<u8>, usize) {
        let mut r = DataReader::new();
        let mut out = Vec::new();
        let f = r.feed(input, &mut out);
        assert!(f.done, "no end in {:?}", String::from_utf8_lossy(input));
        assert_eq!(r.size(), out.len());
        (out, f.consumed)
    }

    fn bytewise(input: &[u8]) -> (Vec<u8>, usize) {
        let mut r = DataReader::new();
        let mut out = Vec::new();
        for (i, b) in input.iter().enumerate() {
            if r.feed(std::slice::from_ref(b), &mut out).done {
                return (out, i + 1);
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
    fn partial_input() {
        let mut r = DataReader::new();
        let mut out = Vec::new();
        assert_eq!(
            r.feed(b"0123", &mut out),
            Fed {
                consumed: 4,
                done: false
            }
        );
        assert_eq!(
            r.feed(b"456789\r\n.\r", &mut out),
            Fed {
                consumed: 10,
                done: false
            }
        );
        assert_eq!(
            r.feed(b"\nNOOP", &mut out),
            Fed {
                consumed: 1,
                done: true
            }
        );
        assert_eq!((r.size(), &out[..]), (12, &b"0123456789\r\n"[..]));
    }

    #[test]
    fn writer_stuffs_and_canonicalises() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b".x\r\n.\r\n", b"..x\r\n..\r\n.\r\n"),
            // bare LF and bare CR become CR LF, so "\n.\n" cannot end the data upstream
            (
                b"a\n.\nMAIL FROM:<x>\n",
                b"a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n",
            ),
            (b"a\rb\r", b"a\r\nb\r\n.\r\n"),
        ];
        for (content, wire) in cases {
            let mut w = DataWriter::new();
            let mut out = Vec::new();
            w.encode(content, &mut out);
            w.finish(&mut out);
            assert_eq!(out, *wire, "{:?}", String::from_utf8_lossy(content));
            // byte by byte gives the same
            let mut w = DataWriter::new();
            let mut out2 = Vec::new();
            for b in content.iter() {
                w.encode(std::slice::from_ref(b), &mut out2);
            }
            w.finish(&mut out2);
            assert_eq!(out, out2);
            // and reading it back gives canonical content
            let (back, _) = whole(&out);
            assert!(!back.windows(2).any(|p| p[1] == b'\n' && p[0] != b'\r'));
        }
    }
}
