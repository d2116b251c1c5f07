//! Command lines: framing with `split_line`, then `parse_command` on every
//! line found, the way the session engine reads its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtape::smtp::{Line, MAX_LINE, parse_command, split_line};

fuzz_target!(|data: &[u8]| {
    // A small cap too, so overlong lines are reached often.
    for max in [MAX_LINE, 16] {
        let mut rest = data;
        while !rest.is_empty() {
            match split_line(rest, max) {
                Line::Complete { len, consumed } => {
                    assert!(len <= consumed && consumed <= rest.len() && consumed <= max);
                    assert_eq!(rest[consumed - 1], b'\n');
                    if let Ok(cmd) = parse_command(&rest[..len]) {
                        let _ = cmd.verb();
                    }
                    rest = &rest[consumed..];
                }
                Line::TooLong { consumed, .. } => {
                    assert!(consumed > 0 && consumed <= rest.len());
                    rest = &rest[consumed..];
                }
                Line::Partial => {
                    assert!(rest.len() < max);
                    break;
                }
            }
        }
    }
    let _ = parse_command(data);
});
