//! HTML character references that spell the characters of a key
//! (`re&#95;…`, `&#x5F;`, `&lowbar;`): a browser shows the key, a search for
//! `re_` does not see it. Used on the raw message (`tape/encoded.rs`) and
//! on the HTML the inbox decodes (`web/mime.rs`). No I/O.

use std::borrow::Cow;

use super::keys::is_key_char;

/// The character a reference at the start of `s` stands for, if it is one
/// a key is made of, and the bytes it takes.
pub(crate) fn key_reference(s: &[u8]) -> Option<(u8, usize)> {
    for name in [&b"&lowbar;"[..], b"&UnderBar;"] {
        if s.starts_with(name) {
            return Some((b'_', name.len()));
        }
    }
    let body = s.strip_prefix(b"&#")?;
    let (digits, radix, skip) = match body.first() {
        Some(b'x' | b'X') => (&body[1..], 16, 3),
        _ => (body, 10, 2),
    };
    let n = digits
        .iter()
        .take_while(|c| (**c as char).is_digit(radix))
        .count();
    if n == 0 || n > 8 {
        return None;
    }
    // A reference needs no `;` before a character that cannot continue it.
    let code = u32::from_str_radix(std::str::from_utf8(&digits[..n]).ok()?, radix).ok()?;
    let c = u8::try_from(code).ok().filter(|c| is_key_char(*c))?;
    let semi = usize::from(digits.get(n) == Some(&b';'));
    Some((c, skip + n + semi))
}

/// `html` with every character reference that stands for a letter, a digit
/// or `_` written as that character: the same HTML to a browser (none of
/// them means anything to HTML), but a key written that way can now be seen
/// and scrubbed.
pub(crate) fn reveal_key_references(html: &str) -> Cow<'_, str> {
    if !html.contains('&') {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut changed = false;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match key_reference(tail.as_bytes()) {
            Some((c, used)) => {
                out.push(char::from(c));
                rest = &tail[used..];
                changed = true;
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(html)
    }
}

/// The runs of key characters and references to them that hold at least
/// one reference (a run without one is plain text, found as it is): each
/// run's span and the text it spells.
pub(crate) fn spelled_runs(text: &[u8]) -> Vec<(usize, usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut next = 0;
    for amp in memchr::memchr_iter(b'&', text) {
        if amp < next || key_reference(&text[amp..]).is_none() {
            continue;
        }
        let start = amp
            - text[next..amp]
                .iter()
                .rev()
                .take_while(|b| is_key_char(**b))
                .count();
        let mut spelled = text[start..amp].to_vec();
        let mut i = amp;
        while i < text.len() {
            if is_key_char(text[i]) {
                spelled.push(text[i]);
                i += 1;
            } else if let Some((c, used)) = key_reference(&text[i..]) {
                spelled.push(c);
                i += used;
            } else {
                break;
            }
        }
        out.push((start, i, spelled));
        next = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_references_are_revealed_and_nothing_else() {
        assert_eq!(reveal_key_references("re&#95;Ab&#x63;&#X64;"), "re_Abcd");
        assert_eq!(reveal_key_references("re&lowbar;x&UnderBar;y"), "re_x_y");
        assert_eq!(reveal_key_references("re&#95x"), "re_x");
        for kept in [
            "a &lt; b &amp; c",
            "&#60;script&#62;",
            "&#;",
            "&#x;",
            "&",
            "&#99999999999;",
        ] {
            assert_eq!(reveal_key_references(kept), kept);
        }
    }

    #[test]
    fn runs_are_what_they_spell() {
        let t = b"<p>Key: re&#95;Ab&#x63;d_e &amp; x&#95;</p>";
        let runs = spelled_runs(t);
        assert_eq!(runs.len(), 2);
        assert_eq!(&t[runs[0].0..runs[0].1], b"re&#95;Ab&#x63;d_e");
        assert_eq!(runs[0].2, b"re_Abcd_e");
        assert_eq!(runs[1].2, b"x_");
        assert!(spelled_runs(b"a &lt; b &amp; c re_plain").is_empty());
    }
}
