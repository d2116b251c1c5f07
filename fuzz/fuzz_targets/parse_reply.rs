//! Replies from an upstream: `parse_reply` on any bytes; what parses is
//! written back and parsed again to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtape::smtp::parse_reply;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((reply, used))) = parse_reply(rest) {
        assert!(used > 0 && used <= rest.len());
        assert!((200..600).contains(&reply.code) && !reply.lines.is_empty());
        // Lines holding CR or LF cannot be written back as one line each.
        // (Found here and fixed: invalid UTF-8 read as U+FFFD grew a line
        // past the 512-octet cap; a 512-octet line with a bare LF came back
        // as 513 octets; corpus/parse_reply/seed-crash-*.)
        if reply.lines.iter().all(|l| !l.contains(['\r', '\n'])) {
            let mut wire = Vec::new();
            reply.write_to(&mut wire);
            // Written back, a reply grows by at most two octets a line (a
            // bare LF becomes CR LF; `220` alone becomes `220 `).
            assert!(
                wire.len() <= used + 2 * reply.lines.len(),
                "{reply:?} read from {used} octets, written as {}",
                wire.len()
            );
            match parse_reply(&wire) {
                Ok(Some((again, n))) => {
                    assert_eq!(n, wire.len());
                    assert_eq!(again, reply);
                }
                other => panic!("{reply:?} written as {wire:?} reads back as {other:?}"),
            }
        }
        rest = &rest[used..];
    }
});
