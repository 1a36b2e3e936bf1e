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

use crate::offline::{OfflineClass, OfflineCodeId, OfflineKind};
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

/// The published offline codes: the lock's clock at 1 800 000 000 is hour
/// 500 000, which each of these windows contains.
pub fn vector_offline_codes() -> Vec<(&'static str, OfflineCodeId)> {
    let id = |kind, class, start, index| OfflineCodeId::new(kind, class, start, index).unwrap();
    vec![
        (
            "window_hour_500000_0",
            id(OfflineKind::Window, OfflineClass::Hour, 500_000, 0),
        ),
        (
            "window_hour_500000_1",
            id(OfflineKind::Window, OfflineClass::Hour, 500_000, 1),
        ),
        (
            "one_time_four_hours_499998_0",
            id(OfflineKind::OneTime, OfflineClass::FourHours, 499_998, 0),
        ),
        (
            "window_day_499990_0",
            id(OfflineKind::Window, OfflineClass::Day, 499_990, 0),
        ),
        (
            "one_time_week_499992_1",
            id(OfflineKind::OneTime, OfflineClass::Week, 499_992, 1),
        ),
    ]
}

/// The published job that revokes an offline code (version 5 to 6): the
/// last of [`vector_offline_codes`].
pub fn vector_revoke_job() -> Job {
    Job {
        job_id: JobId(std::array::from_fn(|i| 0x60 + i as u8)),
        base: BaseVersion::Exact(5),
        target: 6,
        audit_ack: 10,
        ops: vec![Op::RevokeOffline(vector_offline_codes()[4].1)],
        ..vector_job()
    }
}

/// The published audit event of an offline code's use: seq 10, at
/// 1 800 000 200, the first of [`vector_offline_codes`].
pub fn vector_offline_event() -> AuditEvent {
    AuditEvent {
        seq: 10,
        at: ts(1_800_000_200),
        kind: AuditKind::OfflineCodeUsed {
            code: vector_offline_codes()[0].1,
        },
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
    use crate::{Advertisement, LockKeys, Message, OfflineKey};

    const DOC: &str = include_str!("../../../docs/lock-protocol.md");
    const ADVERT_NONCE: [u8; 6] = [0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5];
    const NONCE: [u8; 12] = [
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
    ];
    /// The card job's nonce: never one nonce twice under a key, even here.
    const CARD_NONCE: [u8; 12] = [
        0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb,
    ];
    /// The revocation job's nonce.
    const REVOKE_NONCE: [u8; 12] = [
        0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb,
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn vectors() -> Vec<(String, String)> {
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
        let mut out = vec![
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
            (
                "offline_key",
                hex(&derive_key_bytes(&root(), LOCK, b"offline")),
            ),
        ];
        let mut event = Vec::new();
        vector_offline_event().encode(&mut event);
        out.extend([
            ("revoke_job_body", hex(&vector_revoke_job().encode())),
            (
                "sealed_revoke_job",
                hex(&keys.seal_job_with_nonce(&vector_revoke_job(), REVOKE_NONCE)),
            ),
            ("offline_event", hex(&event)),
            ("receipt_body", hex(&vector_receipt().encode())),
            (
                "sealed_receipt",
                hex(&keys.seal_receipt_with_nonce(&vector_receipt(), NONCE)),
            ),
        ]);
        let offline = OfflineKey::derive(&root(), LOCK);
        let codes = vector_offline_codes().into_iter().map(|(name, id)| {
            let code = offline.code(&id);
            (
                format!("offline_code_{name}"),
                String::from_utf8_lossy(code.as_bytes()).into_owned(),
            )
        });
        out.into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .chain(codes)
            .collect()
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
        for (job, nonce) in [
            (vector_job(), NONCE),
            (vector_card_job(), CARD_NONCE),
            (vector_revoke_job(), REVOKE_NONCE),
        ] {
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
        // Every published offline code is one the lock accepts at 1 800 000 000.
        let offline = OfflineKey::derive(&root(), LOCK);
        for (_, id) in vector_offline_codes() {
            let code = offline.code(&id);
            assert_eq!(
                offline.matching(code.as_bytes(), ts(1_800_000_000)),
                Some(id)
            );
        }
        let mut event = Vec::new();
        vector_offline_event().encode(&mut event);
        assert_eq!(
            AuditEvent::decode(&mut crate::wire::Reader::new(&event)).unwrap(),
            vector_offline_event()
        );
    }
}
