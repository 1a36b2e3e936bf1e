//! The job opener: `LockKeys::open_job` and the lock firmware's `apply` on
//! arbitrary bytes, and on the published test-vector job (docs/lock-protocol.md)
//! altered at fuzzer-chosen places. Nothing panics; an envelope that is not the
//! sealed one byte for byte never opens, and the lock it is sent to is left
//! exactly as it was. Seed with `fuzz/seeds/open_job` (the vector itself).

#![no_main]

use std::sync::OnceLock;

use jiff::Timestamp;
use keyway_core::lock::{Lock, LockConfig};
use keyway_core::protocol::{LockId, LockKeys, RootKey};
use libfuzzer_sys::fuzz_target;

/// The test-vector lock and its sealed job (hex, as published).
const LOCK: LockId = LockId([0x6b, 0x77, 0, 0, 0, 0, 0, 0x01]);
const SEALED_JOB: &str = "4a6b77000000000001a0a1a2a3a4a5a6a7a8a9aaab7c78a69d855074d2324e8eb800e0940ad42e77690847789985296345e2fe1305e5f03422651b50780d33d87b5a5aa9fb75b53cd4a84aa9dcbabc91af6f5a9516deafab9aec39df09410b72f0a9a695ee7d7dba81be583646ad334b6e99eead17f8539a73ffe4817d1997aa5cb2e0bf6a6508b6f54b4a9f698111691d7397cc384d51c8124bd9f048e3b19111";

fn root() -> RootKey {
    RootKey::from_bytes(std::array::from_fn(|i| i as u8))
}

fn sealed_job() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        (0..SEALED_JOB.len() / 2)
            .map(|i| u8::from_str_radix(&SEALED_JOB[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    })
}

fn check(keys: &LockKeys, envelope: &[u8]) {
    let opened = keys.open_job(envelope);
    assert!(
        opened.is_err() || envelope == sealed_job(),
        "an altered or forged envelope opened"
    );
    let mut lock = Lock::new(LockConfig::new(LOCK), &root());
    let before = lock.state().clone();
    let now = Timestamp::from_second(1_800_000_100).unwrap();
    if lock.apply(envelope, now).is_err() {
        assert_eq!(lock.state(), &before, "a refused envelope changed the lock");
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = LockKeys::derive(&root(), LOCK);
    // The bytes as an envelope.
    check(&keys, data);
    // The valid envelope with bytes XORed in at chosen places
    // (pairs: position, value), possibly cut short.
    let mut altered = sealed_job().to_vec();
    let mut pairs = data.chunks_exact(2);
    for pair in pairs.by_ref() {
        let at = usize::from(pair[0]) * altered.len() / 256;
        altered[at] ^= pair[1];
    }
    if let [cut] = pairs.remainder() {
        altered.truncate(usize::from(*cut) * altered.len() / 255);
    }
    check(&keys, &altered);
});
