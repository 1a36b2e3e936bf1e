//! Every lock-protocol decoder on arbitrary bytes: `Message`, `Job`,
//! `Receipt`, the advertisement (raw, and read with a key) and the envelope
//! header. None may panic, and whatever decodes encodes back to a value that
//! decodes to itself.

#![no_main]

use keyway_protocol::seal::envelope_lock_id;
use keyway_protocol::{AdvertKey, Job, LockId, Message, RawAdvertisement, Receipt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        assert_eq!(Message::decode(&message.encode()).as_ref(), Ok(&message));
    }
    if let Ok(job) = Job::decode(data) {
        assert_eq!(Job::decode(&job.encode()).as_ref(), Ok(&job));
    }
    if let Ok(receipt) = Receipt::decode(data) {
        assert_eq!(Receipt::decode(&receipt.encode()).as_ref(), Ok(&receipt));
    }
    let _ = RawAdvertisement::decode(data);
    // The test-vector lock's advertising key (docs/lock-protocol.md): what it
    // reads back, written under the same nonce, reads the same again.
    let key = AdvertKey::new(LockId([0x6b, 0x77, 0, 0, 0, 0, 0, 0x01]), [0x42; 32]);
    if let (Ok(Some(advert)), Ok(raw)) = (key.resolve(data), RawAdvertisement::decode(data)) {
        let again = key.encode(&advert, raw.nonce);
        assert_eq!(key.resolve(&again), Ok(Some(advert)));
    }
    let _ = envelope_lock_id(data);
});
