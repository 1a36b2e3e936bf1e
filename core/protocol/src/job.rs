//! Jobs: the ordered slot changes the server seals for one lock, and their
//! plaintext encoding (see `docs/lock-protocol.md`, "Job body").

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::entry::{decode_entry, encode_entry};
use super::offline::OfflineCodeId;
use super::wire::{DecodeError, Reader, Writer};

pub use super::entry::SlotEntry;

/// Most operations one job may carry (a full table of 250 slots plus a clear).
pub const MAX_OPS: usize = 1024;

/// A lock's identity: 8 bytes, written as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockId(pub [u8; 8]);

impl LockId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl fmt::Display for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockId({self})")
    }
}

/// Text that is not 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a lock id is 16 hex digits")]
pub struct InvalidLockId;

impl FromStr for LockId {
    type Err = InvalidLockId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(InvalidLockId);
        }
        let mut out = [0u8; 8];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = s
                .get(2 * i..2 * i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(InvalidLockId)?;
        }
        Ok(Self(out))
    }
}

impl Serialize for LockId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LockId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A job's identity: 16 random bytes chosen by the server.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobId(pub [u8; 16]);

impl JobId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// A lock's session: 16 random bytes the lock draws when it answers a status
/// request and keeps until the link drops or [`SESSION_LIFETIME_SECS`] pass.
/// A job applies only in the session it was sealed for, so a job the server
/// sealed for one visit is worthless on any other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SessionId(pub [u8; 16]);

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// How long a lock keeps a session after the status that opened it, on its
/// own clock.
pub const SESSION_LIFETIME_SECS: i64 = 120;

/// A lock's life: 8 random bytes drawn when its state starts empty (new, or
/// after it lost its storage). Audit sequence numbers restart with each life,
/// so the server keys events by life and number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Epoch(pub [u8; 8]);

impl Epoch {
    /// A fresh random life, never all zero (zero marks "not drawn yet").
    pub fn random() -> Self {
        loop {
            let bytes: [u8; 8] = rand::random();
            if bytes != [0; 8] {
                return Self(bytes);
            }
        }
    }

    /// Whether this is the all-zero placeholder of a state stored before lives existed.
    pub fn is_unset(&self) -> bool {
        self.0 == [0; 8]
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Epoch({self})")
    }
}

impl FromStr for Epoch {
    type Err = InvalidLockId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<LockId>().map(|id| Self(id.0))
    }
}

/// The version a job expects the lock to be at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseVersion {
    /// The lock must be at exactly this version.
    Exact(u32),
    /// Any version below the target: a recovery job, which must start by clearing
    /// the table.
    Any,
}

const BASE_ANY: u32 = u32::MAX;

/// One change to a lock's slot table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Write `entry` into `slot`, replacing what was there.
    Put {
        /// The slot.
        slot: u16,
        /// What to store.
        entry: SlotEntry,
    },
    /// Empty `slot` (a no-op if it is already empty).
    Remove {
        /// The slot.
        slot: u16,
    },
    /// Let the code in `slot` open the door again.
    Enable {
        /// The slot.
        slot: u16,
    },
    /// Keep the code in `slot` but refuse it at the keypad.
    Disable {
        /// The slot.
        slot: u16,
    },
    /// Empty every slot (revoked and spent offline codes stay so).
    ClearAll,
    /// Refuse the offline code `0` until its window ends.
    RevokeOffline(OfflineCodeId),
}

impl Op {
    /// The slot the operation touches, if one.
    pub fn slot(&self) -> Option<u16> {
        match self {
            Self::Put { slot, .. }
            | Self::Remove { slot }
            | Self::Enable { slot }
            | Self::Disable { slot } => Some(*slot),
            Self::ClearAll | Self::RevokeOffline(_) => None,
        }
    }
}

/// Everything one sealed job carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The job's identity (a repeat returns the same receipt).
    pub job_id: JobId,
    /// The lock session the job was sealed for; any other session refuses it.
    pub session: SessionId,
    /// The version the lock must be at.
    pub base: BaseVersion,
    /// The version the lock is at once the job is applied. Equal to an exact
    /// base only for a job without operations, which just acknowledges audit
    /// events.
    pub target: u32,
    /// When the server issued the job.
    pub issued_at: Timestamp,
    /// After this instant the lock refuses the job.
    pub expires_at: Timestamp,
    /// The highest audit sequence number the server has stored; the lock may
    /// forget events up to it.
    pub audit_ack: u32,
    /// The changes, applied in order, all or none.
    pub ops: Vec<Op>,
}

const OP_PUT: u8 = 1;
const OP_REMOVE: u8 = 2;
const OP_ENABLE: u8 = 3;
const OP_DISABLE: u8 = 4;
const OP_CLEAR_ALL: u8 = 5;
const OP_REVOKE_OFFLINE: u8 = 6;

impl Job {
    /// Encodes the job body (the AEAD plaintext).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(62 + self.ops.len() * 24);
        out.extend_from_slice(&self.job_id.0);
        out.extend_from_slice(&self.session.0);
        out.put_u32(match self.base {
            BaseVersion::Exact(v) => v,
            BaseVersion::Any => BASE_ANY,
        });
        out.put_u32(self.target);
        out.put_i64(self.issued_at.as_second());
        out.put_i64(self.expires_at.as_second());
        out.put_u32(self.audit_ack);
        out.put_u16(self.ops.len() as u16);
        for op in &self.ops {
            encode_op(op, &mut out);
        }
        out
    }

    /// Decodes a job body; any bytes give a value or an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let job_id = JobId(r.array("job_id")?);
        let session = SessionId(r.array("session")?);
        let base = match r.u32("base_version")? {
            BASE_ANY => BaseVersion::Any,
            v => BaseVersion::Exact(v),
        };
        let target = r.u32("target_version")?;
        let issued_at = timestamp(r.i64("issued_at")?, "issued_at")?;
        let expires_at = timestamp(r.i64("expires_at")?, "expires_at")?;
        let audit_ack = r.u32("audit_ack")?;
        let count = usize::from(r.u16("op_count")?);
        if count > MAX_OPS {
            return Err(DecodeError::invalid(
                "op_count",
                format!("{count} exceeds {MAX_OPS}"),
            ));
        }
        let ops = (0..count)
            .map(|_| decode_op(&mut r))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Self {
            job_id,
            session,
            base,
            target,
            issued_at,
            expires_at,
            audit_ack,
            ops,
        })
    }
}

pub(crate) fn timestamp(seconds: i64, field: &'static str) -> Result<Timestamp, DecodeError> {
    Timestamp::from_second(seconds).map_err(|_| DecodeError::invalid(field, "out of range"))
}

fn encode_op(op: &Op, out: &mut Vec<u8>) {
    match op {
        Op::Put { slot, entry } => {
            out.put_u8(OP_PUT);
            out.put_u16(*slot);
            encode_entry(entry, out);
        }
        Op::Remove { slot } => {
            out.put_u8(OP_REMOVE);
            out.put_u16(*slot);
        }
        Op::Enable { slot } => {
            out.put_u8(OP_ENABLE);
            out.put_u16(*slot);
        }
        Op::Disable { slot } => {
            out.put_u8(OP_DISABLE);
            out.put_u16(*slot);
        }
        Op::ClearAll => out.put_u8(OP_CLEAR_ALL),
        Op::RevokeOffline(id) => {
            out.put_u8(OP_REVOKE_OFFLINE);
            id.encode(out);
        }
    }
}

fn decode_op(r: &mut Reader<'_>) -> Result<Op, DecodeError> {
    let tag = r.u8("op")?;
    if tag == OP_CLEAR_ALL {
        return Ok(Op::ClearAll);
    }
    if tag == OP_REVOKE_OFFLINE {
        return OfflineCodeId::decode(r).map(Op::RevokeOffline);
    }
    let slot = r.u16("slot")?;
    Ok(match tag {
        OP_PUT => Op::Put {
            slot,
            entry: decode_entry(r)?,
        },
        OP_REMOVE => Op::Remove { slot },
        OP_ENABLE => Op::Enable { slot },
        OP_DISABLE => Op::Disable { slot },
        other => {
            return Err(DecodeError::invalid(
                "op",
                format!("unknown operation {other}"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{CardKey, Credential};
    use jiff::civil::Time;
    use keyway_codes::code::{Code, CodeKind};
    use keyway_codes::schedule::{Recurring, Schedule, Weekdays, Window};

    pub(crate) fn sample_job() -> Job {
        let recurring = Recurring::new(
            Weekdays::WORKDAYS,
            Time::new(8, 0, 0, 0).unwrap(),
            Time::new(18, 30, 0, 0).unwrap(),
            "America/New_York",
        )
        .unwrap();
        let window = Window::new(
            Timestamp::from_second(1_790_000_000).unwrap(),
            Timestamp::from_second(1_790_086_400).unwrap(),
        )
        .unwrap();
        Job {
            job_id: JobId([7; 16]),
            session: SessionId([8; 16]),
            base: BaseVersion::Exact(3),
            target: 4,
            issued_at: Timestamp::from_second(1_790_000_000).unwrap(),
            expires_at: Timestamp::from_second(1_790_604_800).unwrap(),
            audit_ack: 12,
            ops: vec![
                Op::Put {
                    slot: 2,
                    entry: SlotEntry {
                        credential: Credential::Code(Code::parse("4817").unwrap()),
                        kind: CodeKind::Resident,
                        schedule: Schedule::Always,
                        enabled: true,
                        one_time: false,
                    },
                },
                Op::Put {
                    slot: 3,
                    entry: SlotEntry {
                        credential: Credential::Code(Code::parse("305917").unwrap()),
                        kind: CodeKind::Guest,
                        schedule: Schedule::Recurring(recurring),
                        enabled: true,
                        one_time: false,
                    },
                },
                Op::Put {
                    slot: 4,
                    entry: SlotEntry {
                        credential: Credential::Code(Code::parse("729104").unwrap()),
                        kind: CodeKind::OneTime,
                        schedule: Schedule::Window(window),
                        enabled: true,
                        one_time: true,
                    },
                },
                Op::Put {
                    slot: 7,
                    entry: SlotEntry {
                        credential: Credential::Card(CardKey::of("card-0042").unwrap()),
                        kind: CodeKind::Courier,
                        schedule: Schedule::Always,
                        enabled: false,
                        one_time: false,
                    },
                },
                Op::Remove { slot: 1 },
                Op::Disable { slot: 5 },
                Op::Enable { slot: 6 },
                Op::RevokeOffline(
                    OfflineCodeId::new(
                        crate::OfflineKind::OneTime,
                        crate::OfflineClass::Day,
                        500_000,
                        1,
                    )
                    .unwrap(),
                ),
            ],
        }
    }

    #[test]
    fn jobs_round_trip() {
        let job = sample_job();
        assert_eq!(Job::decode(&job.encode()).unwrap(), job);
        let recovery = Job {
            base: BaseVersion::Any,
            ops: vec![Op::ClearAll],
            ..sample_job()
        };
        assert_eq!(Job::decode(&recovery.encode()).unwrap(), recovery);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample_job().encode();
        for len in 0..bytes.len() {
            let err = Job::decode(&bytes[..len]).unwrap_err();
            assert_eq!(err.code(), "truncated", "at {len}: {err}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Job::decode(&longer), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn lock_ids_print_and_parse_as_hex() {
        let id = LockId([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        assert_eq!(id.to_string(), "0123456789abcdef");
        assert_eq!("0123456789abcdef".parse::<LockId>().unwrap(), id);
        assert!("0123456789abcdeg".parse::<LockId>().is_err());
        assert!("01234567".parse::<LockId>().is_err());
        assert!("é23456789abcdef".parse::<LockId>().is_err());
        assert!("0é3456789abcdef".parse::<LockId>().is_err());
    }
}
