//! Receipts: what a lock answers to a job or a status request, sealed with its
//! key so the server can trust it, and the audit events they carry.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::job::{Epoch, JobId, LockId, SessionId};
use super::offline::OfflineCodeId;
use super::wire::{DecodeError, Reader, Writer};

/// Most audit events one receipt carries; the rest follow in later receipts.
pub const MAX_EVENTS_PER_RECEIPT: usize = 32;

/// What the receipt answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyTo {
    /// A job, by id.
    Job(JobId),
    /// A status request, echoing the phone's challenge.
    Status([u8; 16]),
}

/// Why a lock refused a job. The lock applied none of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The job's expiry passed on the lock's clock.
    Expired,
    /// A slot number is not below the lock's capacity.
    SlotOutOfRange,
    /// Enable or disable of an empty slot.
    SlotEmpty,
    /// After the job two slots would hold the same code.
    DuplicateCode,
    /// After the job one code would be a prefix of another on a keypad without
    /// an enter key.
    PrefixConflict,
    /// The job is malformed: target not above base, a recovery job that does not
    /// start by clearing, too many operations.
    InvalidJob,
    /// After the job the lock would keep more revoked and spent offline
    /// codes whose windows have not ended than it has room for.
    OfflineListFull,
}

impl RefusalReason {
    const ALL: [RefusalReason; 7] = [
        Self::Expired,
        Self::SlotOutOfRange,
        Self::SlotEmpty,
        Self::DuplicateCode,
        Self::PrefixConflict,
        Self::InvalidJob,
        Self::OfflineListFull,
    ];

    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Expired => 1,
            Self::SlotOutOfRange => 2,
            Self::SlotEmpty => 3,
            Self::DuplicateCode => 4,
            Self::PrefixConflict => 5,
            Self::InvalidJob => 6,
            Self::OfflineListFull => 7,
        }
    }

    /// The reason for a wire byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.byte() == b)
    }

    /// The stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Expired => "job_expired",
            Self::SlotOutOfRange => "slot_out_of_range",
            Self::SlotEmpty => "slot_empty",
            Self::DuplicateCode => "duplicate_code",
            Self::PrefixConflict => "prefix_conflict",
            Self::InvalidJob => "invalid_job",
            Self::OfflineListFull => "offline_list_full",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    /// The job was applied; `version` is its target.
    Applied,
    /// The lock is not at the job's base version; `version` and `digest` say
    /// where it is.
    VersionMismatch,
    /// The lock refused the job and changed nothing.
    Refused(RefusalReason),
    /// An answer to a status request.
    Status,
}

/// Why an audit event was recorded. Codes and cards never appear in events,
/// only slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditKind {
    /// The code in `slot` opened the door.
    CodeUsed {
        /// The slot.
        slot: u16,
    },
    /// The one-time code in `slot` opened the door and is now spent.
    OneTimeConsumed {
        /// The slot.
        slot: u16,
    },
    /// A code that matches no slot; `count` wrong entries so far toward the
    /// next lockout (successes in between do not reset it).
    WrongCode {
        /// Wrong entries since the last lockout.
        count: u32,
    },
    /// The code in `slot` is disabled, outside its schedule or already used.
    Denied {
        /// The slot.
        slot: u16,
    },
    /// The keypad locked for `seconds` after too many wrong codes.
    LockoutStarted {
        /// Length of the lockout.
        seconds: u32,
    },
    /// The keypad accepts codes again.
    LockoutEnded,
    /// The lock's clock was set; `previous` is what it read before.
    ClockSet {
        /// The previous reading, Unix seconds.
        previous: i64,
    },
    /// A job moved the lock to `version`.
    JobApplied {
        /// The new version.
        version: u32,
    },
    /// A job was refused.
    JobRefused {
        /// The reason.
        reason: RefusalReason,
    },
    /// Power came back; the state is what the last complete write left.
    PowerRestored,
    /// The key card in `slot` opened the door (a one-time card records
    /// [`AuditKind::OneTimeConsumed`] instead).
    CardUsed {
        /// The slot.
        slot: u16,
    },
    /// A key card that matches no slot; `count` wrong entries so far toward
    /// the next lockout (the keypad and the card reader share the budget).
    WrongCard {
        /// Wrong entries since the last lockout.
        count: u32,
    },
    /// The offline code `code` opened the door (a one-time one is now spent
    /// until its window ends).
    OfflineCodeUsed {
        /// Which offline code (never its digits).
        code: OfflineCodeId,
    },
    /// The offline code `code` was typed inside its window but is revoked or
    /// (one-time) spent; it counts as a wrong entry.
    OfflineCodeDenied {
        /// Which offline code.
        code: OfflineCodeId,
    },
    /// A type this implementation does not know (from a newer lock).
    Unknown {
        /// The wire type.
        code: u8,
        /// The slot field.
        slot: u16,
        /// The value field.
        value: i64,
    },
}

/// One entry of a lock's audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Position in the lock's log, from 1, never reused.
    pub seq: u32,
    /// The lock's clock when it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: AuditKind,
}

const NO_SLOT: u16 = u16::MAX;

impl AuditEvent {
    /// The fixed 23-byte wire form: seq u32, at i64, type u8, slot u16, value i64.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let (code, slot, value): (u8, u16, i64) = match self.kind {
            AuditKind::CodeUsed { slot } => (1, slot, 0),
            AuditKind::OneTimeConsumed { slot } => (2, slot, 0),
            AuditKind::WrongCode { count } => (3, NO_SLOT, i64::from(count)),
            AuditKind::Denied { slot } => (4, slot, 0),
            AuditKind::LockoutStarted { seconds } => (5, NO_SLOT, i64::from(seconds)),
            AuditKind::LockoutEnded => (6, NO_SLOT, 0),
            AuditKind::ClockSet { previous } => (7, NO_SLOT, previous),
            AuditKind::JobApplied { version } => (8, NO_SLOT, i64::from(version)),
            AuditKind::JobRefused { reason } => (9, NO_SLOT, i64::from(reason.byte())),
            AuditKind::PowerRestored => (10, NO_SLOT, 0),
            AuditKind::CardUsed { slot } => (11, slot, 0),
            AuditKind::WrongCard { count } => (12, NO_SLOT, i64::from(count)),
            AuditKind::OfflineCodeUsed { code } => (13, NO_SLOT, code.event_value()),
            AuditKind::OfflineCodeDenied { code } => (14, NO_SLOT, code.event_value()),
            AuditKind::Unknown { code, slot, value } => (code, slot, value),
        };
        out.put_u32(self.seq);
        out.put_i64(self.at.as_second());
        out.put_u8(code);
        out.put_u16(slot);
        out.put_i64(value);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let seq = r.u32("event_seq")?;
        let at = Timestamp::from_second(r.i64("event_time")?)
            .map_err(|_| DecodeError::invalid("event_time", "out of range"))?;
        let code = r.u8("event_type")?;
        let slot = r.u16("event_slot")?;
        let value = r.i64("event_value")?;
        let as_u32 = |v: i64| {
            u32::try_from(v).map_err(|_| DecodeError::invalid("event_value", "out of range"))
        };
        let kind = match code {
            1 => AuditKind::CodeUsed { slot },
            2 => AuditKind::OneTimeConsumed { slot },
            3 => AuditKind::WrongCode {
                count: as_u32(value)?,
            },
            4 => AuditKind::Denied { slot },
            5 => AuditKind::LockoutStarted {
                seconds: as_u32(value)?,
            },
            6 => AuditKind::LockoutEnded,
            7 => AuditKind::ClockSet { previous: value },
            8 => AuditKind::JobApplied {
                version: as_u32(value)?,
            },
            9 => AuditKind::JobRefused {
                reason: u8::try_from(value)
                    .ok()
                    .and_then(RefusalReason::from_byte)
                    .ok_or_else(|| DecodeError::invalid("event_value", "unknown refusal reason"))?,
            },
            10 => AuditKind::PowerRestored,
            11 => AuditKind::CardUsed { slot },
            12 => AuditKind::WrongCard {
                count: as_u32(value)?,
            },
            13 | 14 => {
                let id = OfflineCodeId::from_event_value(value)
                    .ok_or_else(|| DecodeError::invalid("event_value", "not an offline code"))?;
                if code == 13 {
                    AuditKind::OfflineCodeUsed { code: id }
                } else {
                    AuditKind::OfflineCodeDenied { code: id }
                }
            }
            code => AuditKind::Unknown { code, slot, value },
        };
        Ok(Self { seq, at, kind })
    }
}

/// A lock's answer: where it is now and what happened since the last receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The lock that wrote it.
    pub lock_id: LockId,
    /// The lock's life: audit sequence numbers count within it.
    pub epoch: Epoch,
    /// What it answers.
    pub reply_to: ReplyTo,
    /// A status: the session it opens (jobs for this visit are sealed for
    /// it). A job's receipt: the session the job was applied in.
    pub session: SessionId,
    /// What happened.
    pub outcome: Outcome,
    /// The lock's version after the job (or now).
    pub version: u32,
    /// SHA-256 of the lock's slot table (`docs/lock-protocol.md`, "Digest").
    pub digest: [u8; 32],
    /// The lock's clock.
    pub lock_time: Timestamp,
    /// Audit events the server has not acknowledged, oldest first.
    pub events: Vec<AuditEvent>,
    /// More unacknowledged events remain on the lock.
    pub events_pending: bool,
}

const RECEIPT_FORMAT: u8 = 2;
const REPLY_JOB: u8 = 1;
const REPLY_STATUS: u8 = 2;
const OUTCOME_APPLIED: u8 = 0;
const OUTCOME_MISMATCH: u8 = 1;
const OUTCOME_REFUSED: u8 = 2;
const OUTCOME_STATUS: u8 = 3;

impl Receipt {
    /// Encodes the receipt body (the AEAD plaintext).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(104 + self.events.len() * 23);
        out.put_u8(RECEIPT_FORMAT);
        out.extend_from_slice(&self.lock_id.0);
        out.extend_from_slice(&self.epoch.0);
        match self.reply_to {
            ReplyTo::Job(id) => {
                out.put_u8(REPLY_JOB);
                out.extend_from_slice(&id.0);
            }
            ReplyTo::Status(challenge) => {
                out.put_u8(REPLY_STATUS);
                out.extend_from_slice(&challenge);
            }
        }
        out.extend_from_slice(&self.session.0);
        let (outcome, reason) = match self.outcome {
            Outcome::Applied => (OUTCOME_APPLIED, 0),
            Outcome::VersionMismatch => (OUTCOME_MISMATCH, 0),
            Outcome::Refused(reason) => (OUTCOME_REFUSED, reason.byte()),
            Outcome::Status => (OUTCOME_STATUS, 0),
        };
        out.put_u8(outcome);
        out.put_u8(reason);
        out.put_u32(self.version);
        out.extend_from_slice(&self.digest);
        out.put_i64(self.lock_time.as_second());
        out.put_u8(u8::from(self.events_pending));
        out.put_u16(self.events.len() as u16);
        for event in &self.events {
            event.encode(&mut out);
        }
        out
    }

    /// Decodes a receipt body; any bytes give a value or an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let format = r.u8("receipt_format")?;
        if format != RECEIPT_FORMAT {
            return Err(DecodeError::UnsupportedVersion {
                what: "receipt",
                version: format,
            });
        }
        let lock_id = LockId(r.array("lock_id")?);
        let epoch = Epoch(r.array("epoch")?);
        let reply_to = match r.u8("reply_kind")? {
            REPLY_JOB => ReplyTo::Job(JobId(r.array("job_id")?)),
            REPLY_STATUS => ReplyTo::Status(r.array("challenge")?),
            other => {
                return Err(DecodeError::invalid(
                    "reply_kind",
                    format!("unknown {other}"),
                ));
            }
        };
        let session = SessionId(r.array("session")?);
        let outcome_byte = r.u8("outcome")?;
        let reason = r.u8("reason")?;
        let outcome = match (outcome_byte, reason) {
            (OUTCOME_APPLIED, 0) => Outcome::Applied,
            (OUTCOME_MISMATCH, 0) => Outcome::VersionMismatch,
            (OUTCOME_STATUS, 0) => Outcome::Status,
            (OUTCOME_REFUSED, reason) => Outcome::Refused(
                RefusalReason::from_byte(reason)
                    .ok_or_else(|| DecodeError::invalid("reason", format!("unknown {reason}")))?,
            ),
            (o, r) => {
                return Err(DecodeError::invalid(
                    "outcome",
                    format!("outcome {o} with reason {r}"),
                ));
            }
        };
        let version = r.u32("version")?;
        let digest = r.array("digest")?;
        let lock_time = Timestamp::from_second(r.i64("lock_time")?)
            .map_err(|_| DecodeError::invalid("lock_time", "out of range"))?;
        let events_pending = match r.u8("events_pending")? {
            0 => false,
            1 => true,
            other => {
                return Err(DecodeError::invalid(
                    "events_pending",
                    format!("{other} is not 0 or 1"),
                ));
            }
        };
        let count = usize::from(r.u16("event_count")?);
        if count > MAX_EVENTS_PER_RECEIPT {
            return Err(DecodeError::invalid(
                "event_count",
                format!("{count} exceeds {MAX_EVENTS_PER_RECEIPT}"),
            ));
        }
        let events = (0..count)
            .map(|_| AuditEvent::decode(&mut r))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Self {
            lock_id,
            epoch,
            reply_to,
            session,
            outcome,
            version,
            digest,
            lock_time,
            events,
            events_pending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_receipt() -> Receipt {
        let at = Timestamp::from_second(1_790_000_100).unwrap();
        Receipt {
            lock_id: LockId([1, 2, 3, 4, 5, 6, 7, 8]),
            epoch: Epoch([0xe0; 8]),
            reply_to: ReplyTo::Job(JobId([7; 16])),
            session: SessionId([5; 16]),
            outcome: Outcome::Applied,
            version: 4,
            digest: [0xab; 32],
            lock_time: at,
            events: vec![
                AuditEvent {
                    seq: 13,
                    at,
                    kind: AuditKind::CodeUsed { slot: 2 },
                },
                AuditEvent {
                    seq: 14,
                    at,
                    kind: AuditKind::WrongCode { count: 3 },
                },
                AuditEvent {
                    seq: 15,
                    at,
                    kind: AuditKind::JobRefused {
                        reason: RefusalReason::Expired,
                    },
                },
                AuditEvent {
                    seq: 16,
                    at,
                    kind: AuditKind::CardUsed { slot: 8 },
                },
                AuditEvent {
                    seq: 17,
                    at,
                    kind: AuditKind::WrongCard { count: 4 },
                },
                AuditEvent {
                    seq: 18,
                    at,
                    kind: AuditKind::OfflineCodeUsed {
                        code: OfflineCodeId::new(
                            crate::OfflineKind::Window,
                            crate::OfflineClass::FourHours,
                            500_003,
                            0,
                        )
                        .unwrap(),
                    },
                },
                AuditEvent {
                    seq: 19,
                    at,
                    kind: AuditKind::OfflineCodeDenied {
                        code: OfflineCodeId::new(
                            crate::OfflineKind::OneTime,
                            crate::OfflineClass::Week,
                            500_016,
                            1,
                        )
                        .unwrap(),
                    },
                },
            ],
            events_pending: true,
        }
    }

    #[test]
    fn receipts_round_trip() {
        let receipt = sample_receipt();
        assert_eq!(Receipt::decode(&receipt.encode()).unwrap(), receipt);
        for outcome in [
            Outcome::VersionMismatch,
            Outcome::Status,
            Outcome::Refused(RefusalReason::DuplicateCode),
            Outcome::Refused(RefusalReason::OfflineListFull),
        ] {
            let r = Receipt {
                outcome,
                reply_to: ReplyTo::Status([9; 16]),
                ..sample_receipt()
            };
            assert_eq!(Receipt::decode(&r.encode()).unwrap(), r);
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample_receipt().encode();
        for len in 0..bytes.len() {
            assert!(Receipt::decode(&bytes[..len]).is_err(), "at {len}");
        }
    }

    #[test]
    fn unknown_event_types_survive_a_round_trip() {
        let event = AuditEvent {
            seq: 1,
            at: Timestamp::UNIX_EPOCH,
            kind: AuditKind::Unknown {
                code: 200,
                slot: 3,
                value: -5,
            },
        };
        let mut bytes = Vec::new();
        event.encode(&mut bytes);
        assert_eq!(bytes.len(), 23);
        assert_eq!(AuditEvent::decode(&mut Reader::new(&bytes)).unwrap(), event);
    }
}
