//! The published test vectors of `docs/lock-protocol.md`: the values they are
//! made from, for implementations' tests (the lock firmware checks itself
//! against them), and the check that the hex in the document is what this
//! implementation produces. Run the tests with `KEYWAY_PRINT_VECTORS=1` to
//! print the hex.

use jiff::Timestamp;
use jiff::civil::Time;

use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::{Recurring, Schedule, Weekdays, Window};

use crate::{
    AuditEvent, AuditKind, BaseVersion, Epoch, Job, JobId, LockId, Op, Outcome, Receipt, ReplyTo,
    RootKey, SessionId, SlotEntry, digest_of,
};

/// The vectors' root key: bytes 0, 1, …, 31.
pub fn root() -> RootKey {
    RootKey::from_bytes(std::array::from_fn(|i| i as u8))
}

/// The vectors' lock id.
pub const LOCK: LockId = LockId([0x6b, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]);

/// An instant given in seconds since the Unix epoch.
pub fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

/// The published job (version 3 to 4).
pub fn vector_job() -> Job {
    let recurring = Recurring::new(
        Weekdays::WORKDAYS,
        Time::new(8, 0, 0, 0).unwrap(),
        Time::new(18, 30, 0, 0).unwrap(),
        "America/New_York",
    )
    .unwrap();
    Job {
        job_id: JobId(std::array::from_fn(|i| 0x10 + i as u8)),
        session: SessionId(std::array::from_fn(|i| 0x30 + i as u8)),
        base: BaseVersion::Exact(3),
        target: 4,
        issued_at: ts(1_800_000_000),
        expires_at: ts(1_800_604_800),
        audit_ack: 7,
        ops: vec![
            Op::Put {
                slot: 5,
                entry: SlotEntry {
                    code: Code::parse("4817").unwrap(),
                    kind: CodeKind::Resident,
                    schedule: Schedule::Always,
                    enabled: true,
                    one_time: false,
                },
            },
            Op::Put {
                slot: 6,
                entry: SlotEntry {
                    code: Code::parse("305917").unwrap(),
                    kind: CodeKind::Guest,
                    schedule: Schedule::Recurring(recurring),
                    enabled: true,
                    one_time: false,
                },
            },
            Op::Put {
                slot: 7,
                entry: SlotEntry {
                    code: Code::parse("729104").unwrap(),
                    kind: CodeKind::OneTime,
                    schedule: Schedule::Window(
                        Window::new(ts(1_800_000_000), ts(1_800_086_400)).unwrap(),
                    ),
                    enabled: true,
                    one_time: true,
                },
            },
            Op::Remove { slot: 2 },
        ],
    }
}

/// The published receipt.
pub fn vector_receipt() -> Receipt {
    Receipt {
        lock_id: LOCK,
        epoch: Epoch([0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7]),
        reply_to: ReplyTo::Job(vector_job().job_id),
        session: vector_job().session,
        outcome: Outcome::Applied,
        version: 4,
        digest: slots_digest(),
        lock_time: ts(1_800_000_100),
        events: vec![
            AuditEvent {
                seq: 8,
                at: ts(1_800_000_050),
                kind: AuditKind::WrongCode { count: 1 },
            },
            AuditEvent {
                seq: 9,
                at: ts(1_800_000_100),
                kind: AuditKind::JobApplied { version: 4 },
            },
        ],
        events_pending: false,
    }
}

/// The slot-table digest after the published job.
pub fn slots_digest() -> [u8; 32] {
    let job = vector_job();
    let entries = job.ops.iter().filter_map(|op| match op {
        Op::Put { slot, entry } => Some((*slot, entry)),
        _ => None,
    });
    digest_of(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::split;
    use crate::seal::derive_key_bytes;
    use crate::{Advertisement, LockKeys, Message};

    const DOC: &str = include_str!("../../../docs/lock-protocol.md");
    const ADVERT_NONCE: [u8; 6] = [0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5];
    const NONCE: [u8; 12] = [
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn vectors() -> Vec<(&'static str, String)> {
        let keys = LockKeys::derive(&root(), LOCK);
        let advert = Advertisement {
            lock_id: LOCK,
            version: 4,
            events_pending: true,
            locked_out: false,
        };
        let status = Message::StatusRequest {
            challenge: std::array::from_fn(|i| 0xc0 + i as u8),
            since_seq: 7,
        };
        let frames = split(&status.encode(), 23).unwrap();
        vec![
            ("root_key", root().to_hex()),
            ("job_key", hex(&derive_key_bytes(&root(), LOCK, b"job"))),
            (
                "receipt_key",
                hex(&derive_key_bytes(&root(), LOCK, b"receipt")),
            ),
            (
                "advert_key",
                hex(&derive_key_bytes(&root(), LOCK, b"advert")),
            ),
            (
                "advertisement",
                hex(&keys.advert_key().encode(&advert, ADVERT_NONCE)),
            ),
            ("status_request", hex(&status.encode())),
            ("status_request_frame_0", hex(&frames[0])),
            ("status_request_frame_1", hex(&frames[1])),
            ("job_body", hex(&vector_job().encode())),
            (
                "sealed_job",
                hex(&keys.seal_job_with_nonce(&vector_job(), NONCE)),
            ),
            ("slot_digest", hex(&slots_digest())),
            ("receipt_body", hex(&vector_receipt().encode())),
            (
                "sealed_receipt",
                hex(&keys.seal_receipt_with_nonce(&vector_receipt(), NONCE)),
            ),
        ]
    }

    #[test]
    fn published_vectors_match_the_implementation() {
        if std::env::var_os("KEYWAY_PRINT_VECTORS").is_some() {
            for (name, value) in vectors() {
                println!("{name}: {value}");
            }
        }
        for (name, value) in vectors() {
            let line = format!("{name}: {value}");
            assert!(
                DOC.contains(&line),
                "docs/lock-protocol.md lacks the vector `{line}`"
            );
        }
    }

    #[test]
    fn published_vectors_decode_and_open() {
        let keys = LockKeys::derive(&root(), LOCK);
        let sealed_job = keys.seal_job_with_nonce(&vector_job(), NONCE);
        assert_eq!(keys.open_job(&sealed_job).unwrap(), vector_job());
        let sealed_receipt = keys.seal_receipt_with_nonce(&vector_receipt(), NONCE);
        assert_eq!(
            keys.open_receipt(&sealed_receipt).unwrap(),
            vector_receipt()
        );
        let advert = keys.advert_key().encode(
            &Advertisement {
                lock_id: LOCK,
                version: 4,
                events_pending: true,
                locked_out: false,
            },
            ADVERT_NONCE,
        );
        let read = keys.advert_key().resolve(&advert).unwrap().unwrap();
        assert_eq!((read.lock_id, read.version), (LOCK, 4));
    }
}
