//! The published test vectors of `docs/lock-protocol.md`: the values they are
//! made from, for implementations' tests (the lock firmware checks itself
//! against them), and the check that the hex in the document is what this
//! implementation produces. Run the tests with `KEYWAY_PRINT_VECTORS=1` to
//! print the hex.

use jiff::Timestamp;
use jiff::civil::Time;

use keyway_codes::code::{Code, CodeKind};

use crate::credential::{CardKey, Credential};
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

fn code(digits: &str) -> Credential {
    Credential::Code(Code::parse(digits).unwrap())
}

/// The key card of the published card job.
pub const CARD_ID: &str = "card-0042";

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
                    credential: code("4817"),
                    kind: CodeKind::Resident,
                    schedule: Schedule::Always,
                    enabled: true,
                    one_time: false,
                },
            },
            Op::Put {
                slot: 6,
                entry: SlotEntry {
                    credential: code("305917"),
                    kind: CodeKind::Guest,
                    schedule: Schedule::Recurring(recurring),
                    enabled: true,
                    one_time: false,
                },
            },
            Op::Put {
                slot: 7,
                entry: SlotEntry {
                    credential: code("729104"),
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

/// The published job that puts a key card (version 4 to 5): the card
/// [`CARD_ID`] in slot 8, a courier's, always, enabled.
pub fn vector_card_job() -> Job {
    Job {
        job_id: JobId(std::array::from_fn(|i| 0x50 + i as u8)),
        base: BaseVersion::Exact(4),
        target: 5,
        audit_ack: 9,
        ops: vec![Op::Put {
            slot: 8,
            entry: SlotEntry {
                credential: Credential::Card(CardKey::of(CARD_ID).unwrap()),
                kind: CodeKind::Courier,
                schedule: Schedule::Always,
                enabled: true,
                one_time: false,
            },
        }],
        ..vector_job()
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
    digest_after(&[vector_job()])
}

/// The slot-table digest after the published job, then the card job.
pub fn card_slots_digest() -> [u8; 32] {
    digest_after(&[vector_job(), vector_card_job()])
}

/// The digest of the slots `jobs` put (the published jobs only put and
/// remove slots an empty table never held).
fn digest_after(jobs: &[Job]) -> [u8; 32] {
    let mut entries: Vec<(u16, &SlotEntry)> = jobs
        .iter()
        .flat_map(|job| &job.ops)
        .filter_map(|op| match op {
            Op::Put { slot, entry } => Some((*slot, entry)),
            _ => None,
        })
        .collect();
    entries.sort_by_key(|(slot, _)| *slot);
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
    /// The card job's nonce: never one nonce twice under a key, even here.
    const CARD_NONCE: [u8; 12] = [
        0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb,
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
            ("card_key", CardKey::of(CARD_ID).unwrap().to_hex()),
            ("card_job_body", hex(&vector_card_job().encode())),
            (
                "sealed_card_job",
                hex(&keys.seal_job_with_nonce(&vector_card_job(), CARD_NONCE)),
            ),
            ("card_slot_digest", hex(&card_slots_digest())),
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
        for (job, nonce) in [(vector_job(), NONCE), (vector_card_job(), CARD_NONCE)] {
            let sealed_job = keys.seal_job_with_nonce(&job, nonce);
            assert_eq!(keys.open_job(&sealed_job).unwrap(), job);
        }
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
