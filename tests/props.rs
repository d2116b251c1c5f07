//! Property tests: tapes round-trip, and no parser panics on any input.

use std::time::Duration;

use mailtape::smtp::{DataReader, DataWriter, parse_command, parse_reply, split_line};
use mailtape::tape::{Closer, Event, EventKind, Meta, Tape, Transcript};
use proptest::prelude::*;

/// Text as transcripts hold it: printable, no control characters.
fn text() -> impl Strategy<Value = String> {
    "[ -~äöü€…<>·]{0,40}"
}

fn field() -> impl Strategy<Value = String> {
    "[a-z0-9.:()<>\\[\\] -]{0,20}".prop_map(|s| s.trim().replace(" · ", " "))
}

fn event() -> impl Strategy<Value = Event> {
    let kind = prop_oneof![
        text().prop_map(EventKind::Client),
        (200u16..600, prop::bool::ANY, text()).prop_map(|(c, more, t)| EventKind::Server(format!(
            "{c}{}{t}",
            if more { '-' } else { ' ' }
        ))),
        text().prop_map(EventKind::Data),
        text()
            .prop_filter("not a close line", |t| !t.starts_with("closed by "))
            .prop_map(EventKind::Note),
        text().prop_map(EventKind::Comment),
    ];
    (prop::option::of(0u64..100_000), kind).prop_map(|(ms, kind)| Event {
        at: ms.map(Duration::from_millis),
        kind,
    })
}

fn transcript() -> impl Strategy<Value = Transcript> {
    (
        1u64..1000,
        (field(), field(), field(), field(), field(), field()),
        prop::collection::vec(event(), 0..20),
        prop::option::of(prop::bool::ANY),
    )
        .prop_map(
            |(id, (mode, source, listener, local, client, started), events, closed)| Transcript {
                meta: Meta {
                    id,
                    mode,
                    source,
                    listener,
                    local,
                    client,
                    started,
                },
                events,
                closed_by: closed.map(|c| if c { Closer::Client } else { Closer::Server }),
            },
        )
}

fn tape() -> impl Strategy<Value = Tape> {
    (
        prop::collection::vec(text(), 0..3),
        prop::collection::vec(transcript(), 0..4),
    )
        .prop_map(|(comments, sessions)| Tape { comments, sessions })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_tape_written_and_read_back_is_equal(t in tape()) {
        let text = t.to_text();
        let back = Tape::parse(&text, "prop").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &t);
        // and read then written again, byte for byte
        prop_assert_eq!(back.to_text(), text);
    }

    #[test]
    fn the_tape_reader_never_panics(s in "(# mailtape tape v1\n)?([#+CSD*0-9. :\\-a-z]{0,30}\n){0,10}") {
        let _ = Tape::parse(&s, "fuzz");
    }

    #[test]
    fn command_and_reply_parsers_never_panic(b in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_command(&b);
        let _ = parse_reply(&b);
        let _ = split_line(&b, 1000);
    }

    #[test]
    fn data_framing_is_the_same_whatever_the_chunks(content in prop::collection::vec(any::<u8>(), 0..400), cuts in prop::collection::vec(1usize..50, 0..20)) {
        // what the writer encodes, the reader decodes to canonical content,
        // fed whole or in any chunks
        let mut wire = Vec::new();
        let mut w = DataWriter::new();
        w.encode(&content, &mut wire);
        w.finish(&mut wire);
        let mut whole = Vec::new();
        let fed = DataReader::new().feed(&wire, &mut whole);
        prop_assert!(fed.done);
        prop_assert_eq!(fed.consumed, wire.len());
        let mut pieces = Vec::new();
        let mut r = DataReader::new();
        let mut pos = 0;
        let mut done = false;
        for c in cuts.iter().chain(std::iter::repeat(&7)) {
            let end = (pos + c).min(wire.len());
            let f = r.feed(&wire[pos..end], &mut pieces);
            pos += f.consumed;
            if f.done { done = true; break; }
            if pos >= wire.len() { break; }
        }
        prop_assert!(done);
        prop_assert_eq!(&pieces, &whole);
        // canonical: every LF has its CR, and no bare CR is left
        let canonical = content_canonical(&content);
        prop_assert_eq!(whole, canonical);
    }
}

proptest! {
    #[test]
    fn the_data_writer_encodes_the_same_whatever_the_chunks(content in prop::collection::vec(prop::sample::select(b"ab.\r\n".to_vec()), 0..300), cuts in prop::collection::vec(1usize..20, 0..30)) {
        // the proxy encodes content as it arrives: a CR at the end of one
        // piece and a dot at the start of the next must come out the same
        let mut whole = Vec::new();
        let mut w = DataWriter::new();
        w.encode(&content, &mut whole);
        w.finish(&mut whole);
        let mut pieces = Vec::new();
        let mut w = DataWriter::new();
        let mut pos = 0;
        for c in &cuts {
            let end = (pos + c).min(content.len());
            w.encode(&content[pos..end], &mut pieces);
            pos = end;
        }
        w.encode(&content[pos..], &mut pieces);
        w.finish(&mut pieces);
        prop_assert_eq!(pieces, whole);
    }
}

/// Content with every bare CR or LF turned into CR LF, ending in CR LF
/// unless empty: what a receiver gets after the writer.
fn content_canonical(c: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            b'\r' if c.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn every_shipped_tape_round_trips_byte_for_byte() {
    for (name, text) in mailtape::BUILTIN_TAPES {
        let t = Tape::parse(text, name).unwrap();
        assert_eq!(t.to_text(), *text, "{name}");
    }
}
