//! The tape reader: any text either fails with an error or gives a tape
//! that, written back and read again, is equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtape::tape::Tape;

// Found by this target and fixed (regression tests in tests/hostile.rs,
// inputs in corpus/tape_parse/seed-crash-*): offsets finer than a
// millisecond, a CR inside a session header, CRs ending a line, a CR after
// `·` making a field separator, a `·` at the edge of a header value.
fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tape) = Tape::parse(text, "fuzz") else {
        return;
    };
    let written = tape.to_text();
    let again = Tape::parse(&written, "fuzz (written back)")
        .unwrap_or_else(|e| panic!("written back, the tape no longer reads: {e}\n{written}"));
    assert_eq!(again, tape, "written back:\n{written}");
    // and it is stable from then on, byte for byte
    assert_eq!(again.to_text(), written);
});
