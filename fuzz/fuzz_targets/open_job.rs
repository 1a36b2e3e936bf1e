//! The job opener: `LockKeys::open_job` and the lock firmware's `apply` on
//! arbitrary bytes, and on the published test-vector job (docs/lock-protocol.md)
//! sealed for the session a lock opened, altered at fuzzer-chosen places.
//! Nothing panics; an envelope that is not the sealed one byte for byte never
//! opens, and the lock it is sent to is left exactly as it was. Seed with
//! `fuzz/seeds/open_job` (the vector itself).

#![no_main]

use std::sync::OnceLock;

use jiff::Timestamp;
use keyway_lock::{Lock, LockConfig};
use keyway_protocol::{Job, LockId, LockKeys, RootKey};
use libfuzzer_sys::fuzz_target;

/// The test-vector lock and its sealed job (hex, as published).
const LOCK: LockId = LockId([0x6b, 0x77, 0, 0, 0, 0, 0, 0x01]);
/// The published nonce.
const NONCE: [u8; 12] = [
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
];
const SEALED_JOB: &str = "4a6b77000000000001a0a1a2a3a4a5a6a7a8a9aaab7c78a69d855074d2324e8eb800e0940ae71f455a38724eaebdc21015dec32d3a66fc6749611b50780ae191105e5aa8fef5bd5b87997da8ddbdbd97af6d69a426e79aa8a0dc0cc1e8405c70e0eef8c0a92d2fecacf13f5ef9f50a3d15d984c863a602c26d81b5f02141f80a7ed8e7bf6c52baac8f107e996a8013b95438db4b7525846fcd4cc7bee71a44efb08f406e15a43485477d87ce5b91fffeda";

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

/// The envelope opens only if it is `genuine` byte for byte, and a lock that
/// refuses it is left exactly as it was.
fn check(keys: &LockKeys, lock: &mut Lock, genuine: &[u8], envelope: &[u8], now: Timestamp) {
    let opened = keys.open_job(envelope);
    assert!(
        opened.is_err() || envelope == genuine || envelope == sealed_job(),
        "an altered or forged envelope opened"
    );
    let before = lock.state().clone();
    if lock.apply(envelope, now).is_err() {
        assert_eq!(lock.state(), &before, "a refused envelope changed the lock");
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = LockKeys::derive(&root(), LOCK);
    let now = Timestamp::from_second(1_800_000_100).unwrap();
    // A lock with a session open, and the published job sealed for it (with
    // the published nonce), as a visit has them.
    let mut lock = Lock::new(LockConfig::new(LOCK), &root());
    let status = lock.status([0xc0; 16], 0, now).unwrap();
    let session = keys.open_status(&status, [0xc0; 16]).unwrap().session;
    let job = Job {
        session,
        ..keys.open_job(sealed_job()).unwrap()
    };
    let genuine = keys.seal_job_with_nonce(&job, NONCE);
    // The bytes as an envelope.
    check(&keys, &mut lock, &genuine, data, now);
    // The genuine envelope with bytes XORed in at chosen places
    // (pairs: position, value), possibly cut short.
    let mut altered = genuine.clone();
    let mut pairs = data.chunks_exact(2);
    for pair in pairs.by_ref() {
        let at = usize::from(pair[0]) * altered.len() / 256;
        altered[at] ^= pair[1];
    }
    if let [cut] = pairs.remainder() {
        altered.truncate(usize::from(*cut) * altered.len() / 255);
    }
    check(&keys, &mut lock, &genuine, &altered, now);
});
