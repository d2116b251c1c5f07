//! Reading tape text with bounds (issue 16): a tape is lines of text, so a
//! line longer than [`MAX_LINE`] or a file larger than [`MAX_SIZE`] is not
//! one, and is refused at once with the line where it went wrong — not read
//! until memory runs out (`mailtape show /dev/zero`).

use std::io::{BufRead, BufReader, Read};

use crate::error::Error;

/// The longest tape line: far above any line mailtape writes (a body line is
/// at most what a transcript keeps, 64 KiB).
pub const MAX_LINE: usize = 1 << 20;

/// The largest tape: a tape is read whole, into memory.
pub const MAX_SIZE: usize = 1 << 30;

/// Reads all of `input` as tape text; `origin` names it in errors.
pub fn text(input: impl Read, origin: &str) -> Result<String, Error> {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut out = Vec::new();
    let (mut line, mut line_len) = (1usize, 0usize);
    loop {
        let buf = match reader.fill_buf() {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Io {
                    action: format!("read the tape {origin}"),
                    source: e,
                });
            }
        };
        let n = buf.len();
        let mut rest = buf;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            check_line(line_len + i, line, origin)?;
            line += 1;
            line_len = 0;
            rest = &rest[i + 1..];
        }
        line_len += rest.len();
        check_line(line_len, line, origin)?;
        if out.len() + n > MAX_SIZE {
            return Err(Error::Config {
                origin: origin.to_string(),
                reason: format!(
                    "larger than {} MiB: not a tape mailtape can read (split it into several)",
                    MAX_SIZE >> 20
                ),
            });
        }
        out.extend_from_slice(buf);
        reader.consume(n);
    }
    String::from_utf8(out).map_err(|e| Error::Config {
        origin: origin.to_string(),
        reason: format!(
            "not UTF-8 text (invalid byte at offset {}): not a mailtape tape",
            e.utf8_error().valid_up_to()
        ),
    })
}

fn check_line(len: usize, line: usize, origin: &str) -> Result<(), Error> {
    if len <= MAX_LINE {
        return Ok(());
    }
    Err(Error::Config {
        origin: format!("{origin}:{line}"),
        reason: format!(
            "line longer than {} MiB: not a mailtape tape (a tape is lines of text; check the path)",
            MAX_LINE >> 20
        ),
    })
}

/// Reads the tape file at `path`.
pub fn file(path: &std::path::Path) -> Result<String, Error> {
    let origin = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| Error::Io {
        action: format!("read the tape {origin}"),
        source: e,
    })?;
    text(f, &origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_size_are_bounded() {
        let ok = "# mailtape tape v1\n\n## session 1\nS: 220 x\n";
        assert_eq!(text(ok.as_bytes(), "t").unwrap(), ok);
        // an endless line fails after MAX_LINE, not at the end of input
        let zeros = std::io::repeat(0).take(u64::MAX);
        let err = text(zeros, "/dev/zero").unwrap_err().to_string();
        assert_eq!(
            err,
            "/dev/zero:1: line longer than 1 MiB: not a mailtape tape (a tape is lines of text; check the path)"
        );
        // the line number counts the lines before
        let long = format!("a\nb\n{}\n", "x".repeat(MAX_LINE + 1));
        let err = text(long.as_bytes(), "t").unwrap_err().to_string();
        assert!(err.starts_with("t:3: line longer"), "{err}");
        // exactly MAX_LINE is fine, split over reads or not
        let edge = format!("{}\nend", "y".repeat(MAX_LINE));
        assert_eq!(text(edge.as_bytes(), "t").unwrap(), edge);
        let err = text(&b"ok\n\xff\n"[..], "t").unwrap_err().to_string();
        assert_eq!(
            err,
            "t: not UTF-8 text (invalid byte at offset 3): not a mailtape tape"
        );
    }
}
