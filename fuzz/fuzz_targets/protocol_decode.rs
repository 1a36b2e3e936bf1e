//! Every lock-protocol decoder on arbitrary bytes: `Message`, `Job`,
//! `Receipt`, `Advertisement` and the envelope header. None may panic, and
//! whatever decodes encodes back to a value that decodes to itself.

#![no_main]

use keyway_core::protocol::seal::envelope_lock_id;
use keyway_core::protocol::{Advertisement, Job, Message, Receipt};
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
    if let Ok(advert) = Advertisement::decode(data) {
        assert_eq!(
            Advertisement::decode(&advert.encode()).as_ref(),
            Ok(&advert)
        );
    }
    let _ = envelope_lock_id(data);
});
