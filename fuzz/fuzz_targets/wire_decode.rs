//! Fuzz every wire decoder with arbitrary bytes (`cargo fuzz run wire_decode`).
//! A panic or an allocation beyond the limits is a bug; errors are fine.
#![no_main]

use arbour::wire::{decode_reject, Envelope, FrameDecoder, Hello, Limits, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_frame: 64 * 1024,
        ..Limits::default()
    };
    // the first byte picks a chunk size, so chunked reassembly is fuzzed too
    let (chunk, rest) = match data.split_first() {
        Some((c, rest)) => (usize::from(*c).max(1), rest),
        None => (1, data),
    };
    let mut d = FrameDecoder::new(limits);
    for part in rest.chunks(chunk) {
        d.push(part);
        while let Ok(Some(frame)) = d.next_frame() {
            let _ = Envelope::decode(&frame.body, &limits);
            let _ = Reply::decode(&frame.body, &limits);
            let _ = Hello::decode(&frame.body, &limits);
        }
    }
    let _ = Envelope::decode(rest, &limits);
    let _ = Reply::decode(rest, &limits);
    let _ = Hello::decode(rest, &limits);
    let _ = decode_reject(rest);
});
