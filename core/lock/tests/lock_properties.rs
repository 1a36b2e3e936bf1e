//! Any frames into the lock firmware: an answer that decodes, never a panic,
//! and nothing changed.

use jiff::Timestamp;
use keyway_lock::{Lock, LockConfig};
use keyway_protocol::{LockId, Message, RootKey};
use proptest::prelude::*;

fn lock_id() -> LockId {
    LockId([0x6b, 0x77, 0, 0, 0, 0, 0, 1])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_lock_answers_any_frames(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..20)) {
        let mut lock = Lock::new(LockConfig::new(lock_id()), &RootKey::from_bytes([1; 32]));
        let before = lock.state().clone();
        for frame in &frames {
            if let Some(response) = lock.receive_frame(frame, Timestamp::UNIX_EPOCH) {
                prop_assert!(Message::decode(&response).is_ok());
            }
        }
        prop_assert_eq!(lock.state().version, before.version);
        prop_assert_eq!(lock.state().slots.len(), 0);
    }
}
