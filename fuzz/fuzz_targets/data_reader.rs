//! The DATA reader: any input, cut in any chunks, gives the same content,
//! the same end and the same size as the whole buffer fed at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtape::smtp::DataReader;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the chunk sizes; the rest is the stream.
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let mut whole_out = Vec::new();
    let mut whole = DataReader::new();
    let fed = whole.feed(input, &mut whole_out);
    assert!(fed.consumed <= input.len());
    assert!(fed.done || fed.consumed == input.len());
    assert_eq!(whole.size(), whole_out.len());
    if fed.done {
        assert!(
            input[..fed.consumed].ends_with(b"\r\n.\r\n") || input[..fed.consumed] == *b".\r\n"
        );
    }

    let mut chunked_out = Vec::new();
    let mut chunked = DataReader::new();
    let mut pos = 0;
    let mut step = usize::from(seed % 17) + 1;
    let mut done = false;
    while pos < input.len() {
        let end = (pos + step).min(input.len());
        let f = chunked.feed(&input[pos..end], &mut chunked_out);
        assert!(f.consumed <= end - pos);
        // A chunk is used whole unless the end marker is inside it.
        assert!(f.done || f.consumed == end - pos);
        pos += f.consumed;
        if f.done {
            done = true;
            break;
        }
        step = (step * 7 + usize::from(seed)) % 23 + 1;
    }
    assert_eq!(done, fed.done);
    assert_eq!(pos, fed.consumed);
    assert_eq!(chunked_out, whole_out);
    assert_eq!(chunked.size(), whole.size());
});
