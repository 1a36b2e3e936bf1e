//! Any bytes into any decoder or opener: an answer, never a panic.

use keyway_protocol::frame::{Reassembler, split};
use keyway_protocol::{Job, LockId, LockKeys, Message, RawAdvertisement, Receipt, RootKey};
use proptest::prelude::*;

fn lock_id() -> LockId {
    LockId([0x6b, 0x77, 0, 0, 0, 0, 0, 1])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoders_take_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Message::decode(&bytes);
        let _ = Job::decode(&bytes);
        let _ = Receipt::decode(&bytes);
        let _ = RawAdvertisement::decode(&bytes);
        let keys = LockKeys::derive(&RootKey::from_bytes([1; 32]), lock_id());
        let _ = keys.advert_key().resolve(&bytes);
        prop_assert!(keys.open_job(&bytes).is_err());
        prop_assert!(keys.open_receipt(&bytes).is_err());
    }

    #[test]
    fn envelopes_with_the_right_header_still_fail_cleanly(tail in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = vec![b'J'];
        bytes.extend_from_slice(&lock_id().0);
        bytes.extend_from_slice(&tail);
        let keys = LockKeys::derive(&RootKey::from_bytes([1; 32]), lock_id());
        let err = keys.open_job(&bytes).unwrap_err();
        prop_assert!(matches!(err.code(), "truncated" | "bad_seal"), "{}", err.code());
    }

    #[test]
    fn the_reassembler_survives_shuffled_frames(msg in prop::collection::vec(any::<u8>(), 0..500), order in prop::collection::vec(any::<prop::sample::Index>(), 0..30)) {
        let frames = split(&msg, 23).unwrap();
        let mut r = Reassembler::new();
        for index in order {
            let _ = r.push(&frames[index.index(frames.len())]);
        }
        r.reset();
        let mut out = None;
        for f in &frames {
            out = r.push(f).unwrap();
        }
        prop_assert_eq!(out.unwrap(), msg);
    }
}
