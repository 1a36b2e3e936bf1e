//! The frame reassembler on arbitrary frames, and splitting then
//! reassembling arbitrary messages at arbitrary MTUs: no panic, no message
//! made of frames that do not belong together, and a message split whole
//! comes back byte for byte.

#![no_main]

use arbitrary::Arbitrary;
use keyway_protocol::Reassembler;
use keyway_protocol::frame::split;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Frames fed as they come, as a lock receives writes.
    frames: Vec<Vec<u8>>,
    /// A message to split and put back together.
    message: Vec<u8>,
    mtu: u8,
}

fuzz_target!(|input: Input| {
    let mut reassembler = Reassembler::new();
    for frame in input.frames.iter().take(64) {
        if let Ok(Some(message)) = reassembler.push(frame) {
            assert!(!reassembler.is_mid_message());
            let _ = message;
        }
    }
    reassembler.reset();
    assert!(!reassembler.is_mid_message());
    if let Ok(frames) = split(&input.message, usize::from(input.mtu)) {
        let mut whole = None;
        for (i, frame) in frames.iter().enumerate() {
            assert!(
                frame.len() + 3 <= usize::from(input.mtu),
                "a frame overflows the MTU"
            );
            match reassembler.push(frame) {
                Ok(Some(message)) => {
                    assert_eq!(i, frames.len() - 1, "a message completed early");
                    whole = Some(message);
                }
                Ok(None) => {}
                Err(e) => panic!("frames from split do not reassemble: {e:?}"),
            }
        }
        assert_eq!(whole.as_deref(), Some(input.message.as_slice()));
    }
});
