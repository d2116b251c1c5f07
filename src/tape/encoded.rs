//! The one detector of keys, in the clear or hidden in an encoding: base64
//! (an attachment wrapped at 76 columns, an AUTH payload out of turn, one
//! split by a space, a run inside JSON, a path or an address, at any
//! alignment), quoted-printable (`re=5F…`, a soft line break inside the key)
//! RFC 2047 encoded words (`=?utf-8?B?…?=`, `=?utf-8?Q?…?=`, a key
//! split across the words of a folded header), and RFC 2231 parameters (a
//! file name cut into continuations, or percent-encoded: `tape/params.rs`),
//! and HTML character references that spell a key (`re&#95;…`:
//! `tape/references.rs`).
//!
//! One pass (issue 25, item 12): every form is looked for in the text as it
//! came, each hit becomes an edit (a span and its clean replacement), and
//! the text is rewritten once. No search ever runs over another's output,
//! so none can miss what another changed (a quoted-printable line followed
//! by a base64 line used to hide the second from the second pass). What a
//! hit decodes to goes through this same detector (a base64 key inside a
//! quoted-printable line, say), a few levels deep at most.
//!
//! Every line and body goes through here, so nothing is decoded on spec:
//! each encoding is searched (memchr's SIMD search) for what `re_` becomes
//! in it, and only the text around a hit is decoded. Text without a hit
//! costs a handful of searches and no allocation.
//!
//! A hit that decodes to a key is rewritten so the result still decodes:
//! a wrapped base64 block is re-encoded from its redacted content at the
//! same width, a quoted-printable line re-encoded, encoded words replaced
//! by one encoded word of the redacted text. Base64 that does not decode as
//! a whole (a fragment in a reply, a payload split by a space) becomes
//! `<redacted base64 key=re_…>`.

use std::borrow::Cow;
use std::sync::LazyLock;

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use memchr::memmem::Finder;

use super::keys::{find_keys, key_end, redact_secret, stand_in};

/// Decodes what a mail client would: padding optional, stray bits ignored.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// `re_` in base64 at each byte alignment: the characters that depend on
/// those three bytes only, and how many characters of the same 4-character
/// group come before them (`cmVf` is a whole group; `JlX` starts at the
/// group's third character, `yZV` at its fourth).
const PATTERNS: [(&[u8], usize); 3] = [(b"cmVf", 0), (b"JlX", 2), (b"yZV", 3)];

static FINDERS: LazyLock<[Finder<'static>; 3]> =
    LazyLock::new(|| PATTERNS.map(|(p, _)| Finder::new(p)));

/// How many base64 characters after `re_` are decoded to look for a key:
/// a Resend key is about 36 characters; this allows 140.
const WINDOW: usize = 192;

/// One replacement: bytes `start..end` of the input become `with`.
struct Edit {
    start: usize,
    end: usize,
    with: Vec<u8>,
}

/// How many times decoded content is looked into again (base64 inside
/// quoted-printable inside an encoded word…); deeper, only clear keys.
const MAX_DEPTH: usize = 3;

/// Redacts every key in `text`, encoded or in the clear, in one pass. `text`
/// may be one line or a whole message (line breaks join wrapped base64,
/// soft breaks and folded headers).
pub(super) fn scrub_all(text: &[u8]) -> Cow<'_, [u8]> {
    scrub_at(text, 0)
}

fn scrub_at(text: &[u8], depth: usize) -> Cow<'_, [u8]> {
    let mut edits = Vec::new();
    if depth < MAX_DEPTH {
        let look = worth_a_look(text);
        // Spans of every encoded word: quoted-printable hits inside one
        // (`=5F` in a Q word, the `?=` before a fold) are the word's.
        let mut words = Vec::new();
        if look.equals {
            encoded_word_edits(text, depth, &mut edits, &mut words);
            quoted_printable_edits(text, depth, &words, &mut edits);
            if look.star {
                parameter_edits(text, depth, &mut edits);
            }
        }
        if look.amp {
            reference_edits(text, depth, &mut edits);
        }
        if look.base64 {
            base64_edits(text, depth, &mut edits);
        }
    }
    for (start, end) in find_keys(text) {
        edits.push(Edit {
            start,
            end,
            with: stand_in(&text[start..end]).into_bytes(),
        });
    }
    if edits.is_empty() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(apply(text, edits))
}

/// Rewrites `text` with `edits`. Every replacement is clean, so an edit
/// inside one already made is dropped; where two overlap only in part
/// (a base64 run ending where a clear key begins), the span they cover
/// together gets both replacements: nothing of either survives.
fn apply(text: &[u8], mut edits: Vec<Edit>) -> Vec<u8> {
    edits.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out = Vec::with_capacity(text.len());
    let mut last = 0;
    for e in edits {
        if e.end <= last {
            continue;
        }
        if e.start >= last {
            out.extend_from_slice(&text[last..e.start]);
        }
        out.extend_from_slice(&e.with);
        last = e.end;
    }
    out.extend_from_slice(&text[last..]);
    out
}

/// Texts up to this long (command lines, replies) are looked at in one
/// scalar pass: for them the set-up of several SIMD searches costs more
/// than the search.
const SHORT: usize = 256;

/// Which forms `text` may hold.
#[derive(Default)]
struct Look {
    /// An `=`: quoted-printable, encoded words, parameters.
    equals: bool,
    /// Base64 of `re_` (one of [`PATTERNS`]), or a line break.
    base64: bool,
    /// A `*`: RFC 2231 parameters (with an `=`).
    star: bool,
    /// An `&`: HTML character references.
    amp: bool,
}

/// Whether `text` may hold quoted-printable or encoded words (it has an
/// `=`) and base64 of `re_` (one of [`PATTERNS`]). A short text is settled
/// in one pass; a long one has its `=` looked for, and its base64 searched
/// by [`base64_edits`].
fn worth_a_look(text: &[u8]) -> Look {
    if text.len() > SHORT {
        return Look {
            equals: memchr::memchr(b'=', text).is_some(),
            base64: true,
            star: memchr::memchr(b'*', text).is_some(),
            amp: memchr::memchr(b'&', text).is_some(),
        };
    }
    let mut look = Look::default();
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'=' => look.equals = true,
            b'*' => look.star = true,
            b'&' => look.amp = true,
            b'c' | b'J' | b'y' | b'\n' => {
                look.base64 |= b == b'\n' || PATTERNS.iter().any(|(p, _)| text[i..].starts_with(p));
            }
            _ => {}
        }
    }
    look
}

fn is_b64(b: u8) -> bool {
    BASE64_CHARS[usize::from(b)]
}

/// Which bytes are base64 characters (padding excluded), as a table: whole
/// lines are checked against it.
static BASE64_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
        b += 1;
    }
    t
};

/// The length of a line break at `i` inside a wrapped base64 block (so a
/// run goes on across it): 1 for LF, 2 for CR LF. Both lines must be base64
/// and nothing else (the second may end in padding): a line of other text
/// that happens to end in letters (`k=re=5F…`) is not part of the block
/// below it.
fn break_at(text: &[u8], i: usize) -> Option<usize> {
    let len = match text.get(i..)? {
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] => 1,
        _ => return None,
    };
    let before = i.checked_sub(1).map(|j| text[j]);
    let after = text.get(i + len).copied();
    if !(before.is_some_and(is_b64) && after.is_some_and(is_b64)) {
        return None;
    }
    let line_start = memchr::memrchr(b'\n', &text[..i]).map_or(0, |n| n + 1);
    let next = &text[i + len..];
    let next = &next[..memchr::memchr(b'\n', next).unwrap_or(next.len())];
    let next = next.strip_suffix(b"\r").unwrap_or(next);
    let padding = next.iter().rev().take_while(|&&b| b == b'=').count().min(2);
    let pure = text[line_start..i].iter().all(|&b| is_b64(b))
        && next[..next.len() - padding].iter().all(|&b| is_b64(b));
    pure.then_some(len)
}

/// Whether the line break at `at` (its `\n` at `nl`) has base64 characters
/// either side: a wrapped block's break may be there ([`break_at`] says).
fn between_b64(text: &[u8], at: usize, nl: usize) -> bool {
    at >= 1 && is_b64(text[at - 1]) && text.get(nl + 1).copied().is_some_and(is_b64)
}

/// The position of the base64 character before `i` in the same run
/// (across a line break), if any.
fn prev_b64(text: &[u8], i: usize) -> Option<usize> {
    let j = i.checked_sub(1)?;
    if is_b64(text[j]) {
        return Some(j);
    }
    if text[j] == b'\n' {
        let nl = if j >= 1 && text[j - 1] == b'\r' {
            j - 1
        } else {
            j
        };
        if break_at(text, nl).is_some() && nl >= 1 && is_b64(text[nl - 1]) {
            return Some(nl - 1);
        }
    }
    None
}

/// The position of the base64 character after `i` in the same run.
fn next_b64(text: &[u8], i: usize) -> Option<usize> {
    let j = i + 1;
    match text.get(j) {
        Some(&b) if is_b64(b) => Some(j),
        Some(_) => break_at(text, j).map(|len| j + len),
        None => None,
    }
}

fn base64_edits(text: &[u8], depth: usize, edits: &mut Vec<Edit>) {
    // Where the group holding `re_` starts, for each hit.
    let mut hits = Vec::new();
    for (finder, (_, back)) in FINDERS.iter().zip(PATTERNS) {
        hits.extend(finder.find_iter(text).map(|p| (p, back)));
    }
    // A hit split by a line break of a wrapped block: look at the three
    // characters either side of every break.
    for nl in memchr::memchr_iter(b'\n', text) {
        let at = if nl >= 1 && text[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        // A pattern across the break starts in the last three characters
        // before it: most lines end without one of their first letters.
        let tail = &text[at.saturating_sub(3)..at];
        if !tail.iter().any(|b| matches!(b, b'c' | b'J' | b'y')) || !between_b64(text, at, nl) {
            continue;
        }
        // Up to three characters before the break and three after (no
        // allocation: this runs at every line break of every body).
        let mut near = [0usize; 6];
        let mut before = 0;
        let mut i = at;
        while before < 3
            && let Some(j) = prev_b64(text, i)
        {
            near[2 - before] = j;
            before += 1;
            i = j;
        }
        near.copy_within(3 - before..3, 0);
        let mut len = before;
        let mut i = nl;
        while len < before + 3
            && let Some(j) = next_b64(text, i)
        {
            near[len] = j;
            len += 1;
            i = j;
        }
        let mut bytes = [0u8; 6];
        for (b, &j) in bytes.iter_mut().zip(&near[..len]) {
            *b = text[j];
        }
        for (p, back) in PATTERNS {
            // only a match that spans the break: the others were found above
            for k in before.saturating_sub(p.len() - 1)..before {
                // the break must be inside a wrapped block (checked last:
                // it reads both lines whole)
                if k + p.len() <= len && &bytes[k..k + p.len()] == p && break_at(text, at).is_some()
                {
                    hits.push((near[k], back));
                }
            }
        }
    }
    if hits.is_empty() {
        return;
    }
    hits.sort_unstable();
    let mut covered = 0;
    for (at, back) in hits {
        if at < covered {
            continue;
        }
        let Some(key) = key_at(text, at, back) else {
            continue;
        };
        let (start, end) = run_around(text, at);
        edits.push(Edit {
            start,
            end,
            with: redacted_run(&text[start..end], &key, depth),
        });
        covered = end;
    }
}

/// The key the base64 around a hit at `at` decodes to, if it is one: the
/// group holding `re_` (missing characters of a run cut mid-group read as
/// zero bits, which only touch the bytes before `re_`) and [`WINDOW`] more,
/// decoded to its last whole byte (so a key cut mid-group at the run's end
/// gets the fingerprint of its clear form).
fn key_at(text: &[u8], at: usize, back: usize) -> Option<Vec<u8>> {
    let mut before = Vec::with_capacity(back);
    let mut i = at;
    while before.len() < back {
        match prev_b64(text, i) {
            Some(j) => {
                before.push(text[j]);
                i = j;
            }
            None => break,
        }
    }
    let mut window: Vec<u8> = vec![b'A'; back - before.len()];
    window.extend(before.iter().rev());
    window.push(text[at]);
    let mut i = at;
    while window.len() < WINDOW
        && let Some(j) = next_b64(text, i)
    {
        window.push(text[j]);
        i = j;
    }
    // A lone last character holds no whole byte; two or three do.
    window.truncate(window.len() - usize::from(window.len() % 4 == 1));
    let decoded = LENIENT.decode(&window).ok()?;
    // `re_` is in the first group; what comes before it is an artefact of
    // the alignment, so the key is judged from `re_` on.
    let s = memchr::memmem::find(&decoded, b"re_")?;
    let e = key_end(&decoded, s)?;
    Some(super::keys::unfolded(&decoded[s..e]).into_owned())
}

/// The whole base64 run (across line breaks) holding position `at`, with
/// its padding.
fn run_around(text: &[u8], at: usize) -> (usize, usize) {
    let mut start = at;
    while let Some(j) = prev_b64(text, start) {
        start = j;
    }
    let mut end = at;
    while let Some(j) = next_b64(text, end) {
        end = j;
    }
    end += 1;
    for _ in 0..2 {
        if text.get(end) == Some(&b'=') {
            end += 1;
        }
    }
    (start, end)
}

/// The replacement for a base64 run holding `key`: re-encoded from its
/// redacted content at the same line width when it is a wrapped block that
/// decodes as a whole, else a marker naming the key.
fn redacted_run(run: &[u8], key: &[u8], depth: usize) -> Vec<u8> {
    let width = memchr::memchr2(b'\r', b'\n', run).unwrap_or(run.len());
    let eol: &[u8] = if memchr::memmem::find(run, b"\r\n").is_some() {
        b"\r\n"
    } else {
        b"\n"
    };
    let squeezed: Vec<u8> = run
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    // A wrapped block is mail content (an attachment): it stays base64 of
    // what it held. A single run is shown as a marker.
    let wrapped = width < run.len();
    if wrapped
        && let Ok(decoded) = STANDARD.decode(&squeezed)
        && let Cow::Owned(clean) = scrub_at(&decoded, depth + 1)
    {
        {
            let enc = STANDARD.encode(&clean);
            let mut out = Vec::with_capacity(enc.len() + enc.len() / width.max(1) * 2);
            for (i, line) in enc.as_bytes().chunks(width.max(4)).enumerate() {
                if i > 0 {
                    out.extend_from_slice(eol);
                }
                out.extend_from_slice(line);
            }
            return out;
        }
    }
    // A single run, or not whole base64: name the key found at the hit.
    format!("<redacted base64 key={}>", redact_secret(key)).into_bytes()
}

/// Quoted-printable: a line with `=5F` (an encoded `_`) or a soft line
/// break is decoded, joined with the lines its soft breaks continue into,
/// looked into by this same detector (a key in the clear once decoded, or
/// base64 of one), and re-encoded clean if it held a key. A hit inside an
/// encoded word (`words`) is the word's, not quoted-printable's.
fn quoted_printable_edits(
    text: &[u8],
    depth: usize,
    words: &[(usize, usize)],
    edits: &mut Vec<Edit>,
) {
    // `=5F`, `=5f`, or `=` before a line break (a soft break).
    let hits = memchr::memchr_iter(b'=', text).filter(|&i| match text.get(i + 1..) {
        Some([b'5', b'F' | b'f', ..]) => true,
        Some([b'\n', ..] | [b'\r', b'\n', ..]) => !base64_padding(text, i),
        _ => false,
    });
    let mut covered = 0;
    for at in hits {
        if at < covered || words.iter().any(|&(s, e)| (s..e).contains(&at)) {
            continue;
        }
        let (start, end, cut) = soft_line(text, at);
        covered = end.max(at + 1);
        let line = &text[start..end];
        // Decoding can only show a key with an `_` however encoded (for
        // `re_`), or base64 of `re_` cut by a soft break (whole, it is
        // found in the raw text by `base64_edits`). Most quoted-printable
        // lines (HTML with a soft break on each) have neither.
        let underscore = memchr::memchr(b'_', line).is_some()
            || memchr::memmem::find(line, b"=5F").is_some()
            || memchr::memmem::find(line, b"=5f").is_some();
        if !underscore && !cut {
            continue;
        }
        let Cow::Owned(clean) = scrub_at(&qp_decode(line), depth + 1) else {
            continue;
        };
        let eol: &[u8] = if memchr::memmem::find(line, b"\r\n").is_some() {
            b"\r\n"
        } else {
            b"\n"
        };
        edits.push(Edit {
            start,
            end,
            with: qp_encode(&clean, eol),
        });
    }
}

/// Whether the `=` at `i`, at the end of a line, is the padding of a base64
/// line (its line is base64 characters then one or two `=`, a whole number
/// of 4-character groups) rather than a quoted-printable soft break.
fn base64_padding(text: &[u8], i: usize) -> bool {
    // Most soft breaks follow a space or punctuation: settled at once.
    if i == 0 || !(is_b64(text[i - 1]) || text[i - 1] == b'=') {
        return false;
    }
    let start = memchr::memrchr(b'\n', &text[..i]).map_or(0, |n| n + 1);
    let line = &text[start..=i];
    let padding = line.iter().rev().take_while(|&&b| b == b'=').count();
    (1..=2).contains(&padding)
        && line.len() >= 4
        && line.len().is_multiple_of(4)
        && line[..line.len() - padding].iter().all(|&b| is_b64(b))
}

fn ends_soft(line: &[u8]) -> bool {
    line.strip_suffix(b"\r").unwrap_or(line).ends_with(b"=")
}

/// The lines joined by soft breaks around `at`, without the final line
/// break.
/// Also says whether a soft break in them follows one of the letters base64
/// of `re_` starts with (the pattern may go on past the break): found on
/// the way, so that lines of HTML with a soft break on each are not read
/// again.
fn soft_line(text: &[u8], at: usize) -> (usize, usize, bool) {
    let line_start = |i: usize| memchr::memrchr(b'\n', &text[..i]).map_or(0, |n| n + 1);
    let mut cut = false;
    let mut start = line_start(at.min(text.len()));
    while start > 0 {
        let line = &text[line_start(start - 1)..start - 1];
        if !ends_soft(line) {
            break;
        }
        cut |= cut_before_soft_break(line);
        start = line_start(start - 1);
    }
    let mut end = at;
    loop {
        let nl = memchr::memchr(b'\n', &text[end..]).map_or(text.len(), |n| end + n);
        if nl < text.len() && ends_soft(&text[line_start(nl)..nl]) {
            cut |= cut_before_soft_break(&text[line_start(nl)..nl]);
            end = nl + 1;
        } else {
            end = if nl > 0 && text.get(nl - 1) == Some(&b'\r') && nl < text.len() {
                nl - 1
            } else {
                nl
            };
            break;
        }
    }
    (start, end.max(start), cut)
}

/// Whether one of `c`, `J`, `y` is among the three characters before the
/// soft break that ends `line`.
fn cut_before_soft_break(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"=").unwrap_or(line);
    line[line.len().saturating_sub(3)..]
        .iter()
        .any(|b| matches!(b, b'c' | b'J' | b'y'))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Quoted-printable decoding, lenient: `=XX` is a byte, `=` before a line
/// break is nothing, anything else stays.
fn qp_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'=' {
            match &text[i + 1..] {
                [a, b, ..] if hex(*a).is_some() && hex(*b).is_some() => {
                    out.push(hex(*a).unwrap_or(0) * 16 + hex(*b).unwrap_or(0));
                    i += 3;
                    continue;
                }
                [b'\r', b'\n', ..] => {
                    i += 3;
                    continue;
                }
                [b'\n', ..] => {
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Quoted-printable encoding (RFC 2045 6.7): lines of at most 76
/// characters with soft breaks.
fn qp_encode(bytes: &[u8], eol: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 3 / 2);
    let mut col = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let last = i + 1 == bytes.len();
        let plain = (b'!'..=b'~').contains(&b) && b != b'=' || (matches!(b, b' ' | b'\t') && !last);
        let width = if plain { 1 } else { 3 };
        if col + width > 75 {
            out.push(b'=');
            out.extend_from_slice(eol);
            col = 0;
        }
        if plain {
            out.push(b);
        } else {
            out.extend_from_slice(format!("={b:02X}").as_bytes());
        }
        col += width;
    }
    out
}

/// One RFC 2047 encoded word at `at`: its end, charset and decoded text.
fn encoded_word(text: &[u8], at: usize) -> Option<(usize, &[u8], Vec<u8>)> {
    let rest = text.get(at + 2..)?;
    let limit = rest.len().min(1000);
    let q1 = memchr::memchr(b'?', &rest[..limit])?;
    let q2 = q1 + 1 + memchr::memchr(b'?', &rest[q1 + 1..limit])?;
    let q3 = q2 + 1 + memchr::memchr(b'?', &rest[q2 + 1..limit])?;
    if rest.get(q3 + 1) != Some(&b'=') {
        return None;
    }
    let payload = &rest[q2 + 1..q3];
    if payload.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let decoded = match &rest[q1 + 1..q2] {
        b"B" | b"b" => LENIENT.decode(payload).ok()?,
        b"Q" | b"q" => {
            let spaced: Vec<u8> = payload
                .iter()
                .map(|&b| if b == b'_' { b' ' } else { b })
                .collect();
            qp_decode(&spaced)
        }
        _ => return None,
    };
    Some((at + 2 + q3 + 2, &rest[..q1], decoded))
}

/// RFC 2047: adjacent encoded words (whitespace and folds between them do
/// not count) are decoded together, as a mail reader shows them; a group
/// that holds a key becomes one encoded word of the redacted text.
fn encoded_word_edits(
    text: &[u8],
    depth: usize,
    edits: &mut Vec<Edit>,
    words: &mut Vec<(usize, usize)>,
) {
    let mut next = 0;
    for at in memchr::memchr_iter(b'=', text) {
        if at < next || text.get(at + 1) != Some(&b'?') {
            continue;
        }
        let Some((mut end, charset, mut decoded)) = encoded_word(text, at) else {
            continue;
        };
        loop {
            let gap = text[end..]
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .count();
            match encoded_word(text, end + gap) {
                Some((e, _, more)) if gap > 0 && text[end + gap..].starts_with(b"=?") => {
                    decoded.extend(more);
                    end = e;
                }
                _ => break,
            }
        }
        next = end;
        words.push((at, end));
        let Cow::Owned(clean) = scrub_at(&decoded, depth + 1) else {
            continue;
        };
        let mut with = b"=?".to_vec();
        with.extend_from_slice(charset);
        with.extend_from_slice(b"?B?");
        with.extend_from_slice(STANDARD.encode(clean).as_bytes());
        with.extend_from_slice(b"?=");
        edits.push(Edit {
            start: at,
            end,
            with,
        });
    }
}

/// HTML character references that spell a key (`re&#95;…`, `&#x5F;`,
/// `&lowbar;`; a browser shows the key): a run that spells one is rewritten
/// as the text it spells, scrubbed — the same HTML to a browser, without
/// the key.
fn reference_edits(text: &[u8], depth: usize, edits: &mut Vec<Edit>) {
    for (start, end, spelled) in super::references::spelled_runs(text) {
        if let Cow::Owned(clean) = scrub_at(&spelled, depth + 1) {
            edits.push(Edit {
                start,
                end,
                with: clean,
            });
        }
    }
}

/// RFC 2231 parameters (`filename*0="re_Ab"; filename*1="cd…"`,
/// `filename*=utf-8''re%5F…`): a key cut across continuations, or
/// percent-encoded, is whole only in the joined value a reader shows. A
/// parameter whose joined value holds a key is rewritten: its first piece
/// carries the whole redacted value (in its own form), the others become
/// empty, so a reader shows the redacted name and no piece keeps a half.
fn parameter_edits(text: &[u8], depth: usize, edits: &mut Vec<Edit>) {
    for g in super::params::groups(text) {
        let Cow::Owned(clean) = scrub_at(&g.value, depth + 1) else {
            continue;
        };
        let first = &g.pieces[0];
        edits.push(Edit {
            start: first.value_start,
            end: first.end,
            with: if first.extended {
                super::params::encode_extended(&g.charset, &clean)
            } else {
                super::params::encode_quoted(&clean)
            },
        });
        for (k, p) in g.pieces.iter().enumerate().skip(1) {
            let mut with = g.name.clone();
            with.extend_from_slice(format!("*{k}=\"\"").as_bytes());
            edits.push(Edit {
                start: p.start,
                end: p.end,
                with,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "re_Rt3amK3y_ZZ9yy8xx7ww6";

    fn scrubbed(text: &str) -> String {
        String::from_utf8(scrub_all(text.as_bytes()).into_owned()).unwrap()
    }

    fn clean(out: &str) -> bool {
        !out.contains("Rt3amK3y") && !out.contains("ZZ9yy8xx7ww6")
    }

    #[test]
    fn a_key_cut_into_rfc_2231_continuations_is_redacted_whole() {
        // Cut 7 characters after `re_`: neither half is a key on its own.
        for (first, second) in [
            (
                "filename*0=\"re_Rt3amK3\"",
                "filename*1=\"y_ZZ9yy8xx7ww6.pdf\"",
            ),
            (
                "filename*0*=utf-8''re%5FRt3amK3",
                "filename*1*=y%5FZZ9yy8xx7ww6.pdf",
            ),
            ("filename*0=re_Rt3amK3", "filename*1=y_ZZ9yy8xx7ww6.pdf"),
        ] {
            let text = format!(
                "Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n {first};\r\n {second}\r\n\r\nJVBERi0=\r\n"
            );
            let out = scrubbed(&text);
            assert!(
                clean(&out) && !out.contains("y_ZZ9") && !out.contains("y%5FZZ9"),
                "{out}"
            );
            // Still one parameter a reader joins: the redacted name, then
            // an empty piece.
            let g = super::super::params::groups(out.as_bytes());
            assert_eq!(g.len(), 1, "{out}");
            let name = String::from_utf8(g[0].value.clone()).unwrap();
            assert!(name.starts_with("re_…") && name.ends_with(".pdf"), "{name}");
            assert!(out.contains("filename*1=\"\""), "{out}");
            assert!(out.ends_with("\r\n\r\nJVBERi0=\r\n"), "{out}");
        }
    }

    #[test]
    fn a_key_spelled_with_html_references_is_redacted_in_the_raw_message() {
        for html in [
            "<p>Key: re&#95;Rt3amK3y_ZZ9yy8xx7ww6</p>",
            "<p>Key: re&#x5F;Rt3amK3y&lowbar;ZZ9yy8xx7ww6</p>",
            "<p>Key: &#114;e&#95Rt3amK3y&UnderBar;ZZ9yy8xx7ww6</p>",
        ] {
            let out = scrubbed(&format!("Content-Type: text/html\r\n\r\n{html}\r\n"));
            assert!(clean(&out), "{out}");
            assert!(
                out.contains("<p>Key: re_…") && out.ends_with("</p>\r\n"),
                "{out}"
            );
        }
        let kept = "a &lt; b &amp; c &#60;x&#62; re&#95;short";
        assert_eq!(scrubbed(kept), kept);
    }

    #[test]
    fn a_percent_encoded_key_in_an_extended_parameter_is_redacted() {
        let text = "Content-Type: text/plain; name*=utf-8''report-re%5FRt3amK3y%5FZZ9yy8xx7ww6.txt\r\n\r\nhi\r\n";
        let out = scrubbed(text);
        assert!(clean(&out) && !out.contains("Rt3amK3y%5FZZ9"), "{out}");
        let g = super::super::params::groups(out.as_bytes());
        assert_eq!(g[0].charset, b"utf-8''");
        assert!(
            String::from_utf8_lossy(&g[0].value).starts_with("report-re_…"),
            "{out}"
        );
        // Parameters without a key are left as they are.
        let plain = "Content-Disposition: attachment; filename*0=\"a\"; filename*1=\"b.pdf\"\r\n";
        assert_eq!(scrubbed(plain), plain);
    }

    #[test]
    fn patterns_are_re_at_each_alignment() {
        for (pad, (p, back)) in PATTERNS.into_iter().enumerate() {
            let enc = STANDARD.encode(format!("{}re_", "x".repeat(pad)));
            let at = memchr::memmem::find(enc.as_bytes(), p).unwrap();
            assert_eq!((at - back) % 4, 0, "{enc}");
        }
    }

    #[test]
    fn wrapped_base64_at_every_alignment_is_re_encoded() {
        for n in 0..80 {
            let content = format!("{}{KEY}\n", "y".repeat(n));
            let enc = STANDARD.encode(&content);
            let wrapped: Vec<&str> = enc
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let text = format!(
                "Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
                wrapped.join("\r\n")
            );
            let out = scrubbed(&text);
            let body = out
                .split("\r\n\r\n")
                .nth(1)
                .unwrap()
                .split("\r\n--b--")
                .next()
                .unwrap();
            if wrapped.len() == 1 {
                assert!(body.starts_with("<redacted base64 key=re_…"), "{n}: {body}");
                continue;
            }
            let decoded = STANDARD.decode(body.replace("\r\n", "")).unwrap();
            let decoded = String::from_utf8(decoded).unwrap();
            assert!(
                clean(&decoded) && decoded.contains("re_…"),
                "{n}: {decoded}"
            );
            assert!(body.split("\r\n").all(|l| l.len() <= 76), "{n}: {body}");
        }
    }

    #[test]
    fn base64_fragments_and_split_payloads_become_markers() {
        let payload = STANDARD.encode(format!("\0resend\0{KEY}"));
        for at in 1..payload.len() {
            let line = format!("AUTH PLAIN {} {}", &payload[..at], &payload[at..]);
            let out = scrubbed(&line);
            assert!(clean(&out), "{at}: {out}");
        }
        let out = scrubbed(&format!("535 rejected \"{payload}\""));
        assert!(
            out.contains("<redacted base64 key=re_…") && clean(&out),
            "{out}"
        );
    }

    #[test]
    fn quoted_printable_with_encoded_underscores_and_soft_breaks() {
        let q = KEY.replace('_', "=5F");
        for text in [
            format!("the key is {q} today"),
            format!("and {}=\r\n{} split", &KEY[..15], &KEY[15..]),
            format!("and {}=\n{}", &KEY[..5], &KEY[5..]),
        ] {
            let out = scrubbed(&text);
            assert!(clean(&out), "{out}");
            let decoded = qp_decode(out.as_bytes());
            assert!(
                memchr::memmem::find(&decoded, "re_…".as_bytes()).is_some(),
                "{out}"
            );
        }
        // an ordinary QP line is left alone
        let plain = "caf=C3=A9 =\r\nau lait";
        assert_eq!(scrubbed(plain), plain);
    }

    #[test]
    fn encoded_words_alone_and_across_a_fold() {
        let b = |s: &str| STANDARD.encode(s);
        for text in [
            format!("Subject: =?utf-8?B?{}?=", b(&format!("key {KEY}"))),
            format!("X: =?utf-8?Q?the_key_{}?=", KEY.replace('_', "=5F")),
            format!(
                "X: =?utf-8?B?{}?=\r\n =?utf-8?B?{}?=",
                b(&KEY[..12]),
                b(&KEY[12..])
            ),
        ] {
            let out = scrubbed(&text);
            assert!(clean(&out), "{text} → {out}");
            let word = out
                .split("=?utf-8?B?")
                .nth(1)
                .unwrap()
                .split("?=")
                .next()
                .unwrap();
            let decoded = String::from_utf8(STANDARD.decode(word).unwrap()).unwrap();
            assert!(decoded.contains("re_…"), "{decoded}");
        }
        let ordinary = "Subject: =?utf-8?Q?caf=C3=A9?= =?utf-8?B?w6k=?=";
        assert_eq!(scrubbed(ordinary), ordinary);
    }

    #[test]
    fn text_without_a_hit_is_borrowed() {
        let text = b"Subject: hello\r\n\r\nJust a line with re_ and =?x and cmV.\r\n";
        assert!(matches!(scrub_all(text), Cow::Borrowed(_)));
    }

    /// Issue 25, item 12: a quoted-printable line with a key, then a line
    /// of base64 of a key. The base64 run used to be taken across the line
    /// break into the quoted-printable line, lose to its edit, and stay in
    /// the clear.
    #[test]
    fn quoted_printable_then_base64_of_a_key() {
        let qp = KEY.replace('_', "=5F");
        let b64 = STANDARD.encode(KEY);
        for eol in ["\r\n", "\n"] {
            for text in [
                format!("k={qp}{eol}{b64}{eol}"),
                format!("k={qp}{eol}{b64}"),
                format!(
                    "Content-Transfer-Encoding: quoted-printable{eol}{eol}k={qp}{eol}{b64}{eol}.{eol}"
                ),
                // a soft break joins them: base64 inside quoted-printable
                format!("k={qp} =\r\n{b64}{eol}"),
                // and the other way round
                format!("{b64}{eol}k={qp}{eol}"),
            ] {
                let out = scrubbed(&text);
                assert!(clean(&out) && !out.contains(&b64), "{text:?} → {out:?}");
                let shown = String::from_utf8_lossy(&qp_decode(out.as_bytes())).into_owned();
                assert!(shown.contains("re_…"), "{out:?}");
            }
        }
    }

    /// Every form of a key gets the fingerprint of its clear form: one key,
    /// one stand-in, however it was written.
    #[test]
    fn one_key_one_fingerprint_in_every_form() {
        let fp = redact_secret(KEY.as_bytes());
        for text in [
            KEY.to_string(),
            STANDARD.encode(KEY),
            format!("\"{}\"", STANDARD.encode(format!("x{KEY}"))),
            format!("/emails/{}", STANDARD.encode(format!("xy{KEY}"))),
        ] {
            let out = scrubbed(&text);
            assert!(clean(&out) && out.contains(&fp), "{text} → {out}");
        }
    }
}
