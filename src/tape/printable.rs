//! Text as a transcript holds it: one line, no control characters. Below
//! everything else in `tape/`, so redaction and the transcript both use it.

/// A line as transcripts show it: control characters (a bare CR, NUL, ESC)
/// become U+FFFD, so a tape line is always one line of text.
pub fn printable(text: &str) -> String {
    if is_printable(text) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// [`printable`] for a line already owned: no copy when nothing changes.
pub fn into_printable(text: String) -> String {
    if is_printable(&text) {
        text
    } else {
        printable(&text)
    }
}

/// Whether `text` has no control character to replace. Printable ASCII, the
/// common case, is settled a byte at a time; other text by characters (C1
/// controls are two bytes in UTF-8).
fn is_printable(text: &str) -> bool {
    // Counted rather than searched: a loop without an early exit vectorizes.
    let unprintable = text
        .bytes()
        .filter(|&b| (b < b' ' && b != b'\t') || b >= 0x7f)
        .count();
    unprintable == 0 || (!text.is_ascii() && !text.chars().any(|c| c.is_control() && c != '\t'))
}
