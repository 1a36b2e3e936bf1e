//! Offline guest codes: 8-digit codes the server derives for a time window
//! from a key every lock holds since pairing, so the lock accepts them with
//! no job. `docs/lock-protocol.md`, "Offline codes", specifies them.
//!
//! An offline code is named by an [`OfflineCodeId`] (kind, window class,
//! window start, index). Its digits are
//! `u64::from_le_bytes(HMAC-SHA256(offline key, label || id)[..8]) % 10^8`
//! under the lock's [`OfflineKey`], `key("offline")` in the protocol's key
//! schedule. At the keypad the lock derives every candidate whose window
//! contains its clock ([`OfflineCodeId::candidates`], 144 of them) and
//! compares; a job can revoke one before its window ends.

use std::fmt;

use jiff::Timestamp;
use ring::hmac;
use serde::{Deserialize, Serialize};

use keyway_codes::code::Code;

use crate::job::LockId;
use crate::seal::{RootKey, derive_key_bytes};
use crate::wire::{DecodeError, Reader, Writer};

/// The HKDF label of the offline key: `key("offline")`.
pub const OFFLINE_KEY_LABEL: &[u8] = b"offline";
/// Domain separation of the code derivation.
pub const OFFLINE_CODE_LABEL: &[u8] = b"keyway offline code v1";
/// Digits of an offline code.
pub const OFFLINE_CODE_LEN: usize = 8;
/// The highest index: two codes per door, kind and window.
pub const MAX_OFFLINE_INDEX: u8 = 1;
/// How many codes the lock derives and compares for one entry.
pub const CANDIDATES_PER_ENTRY: usize = 144;
/// Revoked and spent offline codes whose windows have not ended that a lock
/// keeps at most; a job that would leave more is refused
/// (`offline_list_full`).
pub const OFFLINE_LIST_CAPACITY: usize = 64;
/// Bytes of an [`OfflineCodeId`] on the wire.
pub const OFFLINE_ID_LEN: usize = 7;

const HOUR: i64 = 3600;
const MODULUS: u64 = 100_000_000;

/// How an offline code lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineKind {
    /// Reusable inside its window (temporary and recurring guests).
    Window,
    /// Consumed by its first use (delivery codes, single-visit guests).
    OneTime,
}

impl OfflineKind {
    /// Both kinds, in wire order.
    pub const ALL: [Self; 2] = [Self::Window, Self::OneTime];

    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Window => 1,
            Self::OneTime => 2,
        }
    }

    /// The kind of a wire byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.byte() == b)
    }
}

/// A window's length and the hours its start is aligned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineClass {
    /// One hour, starting on any hour.
    Hour,
    /// Four hours, starting on any hour.
    FourHours,
    /// 24 hours, starting on any hour.
    Day,
    /// 168 hours (a week), starting at 00:00 UTC.
    Week,
}

impl OfflineClass {
    /// Every class, shortest first.
    pub const ALL: [Self; 4] = [Self::Hour, Self::FourHours, Self::Day, Self::Week];

    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Hour => 1,
            Self::FourHours => 2,
            Self::Day => 3,
            Self::Week => 4,
        }
    }

    /// The class of a wire byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.byte() == b)
    }

    /// The window's length in hours.
    pub fn length_hours(self) -> u32 {
        match self {
            Self::Hour => 1,
            Self::FourHours => 4,
            Self::Day => 24,
            Self::Week => 168,
        }
    }

    /// Window starts are multiples of this many hours since the Unix epoch.
    pub fn alignment_hours(self) -> u32 {
        match self {
            Self::Week => 24,
            _ => 1,
        }
    }
}

/// An offline code's name: everything its digits are derived from besides
/// the lock's key. Audit events and revocations carry it, never the digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "IdForm", into = "IdForm")]
pub struct OfflineCodeId {
    kind: OfflineKind,
    class: OfflineClass,
    start_hour: u32,
    index: u8,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdForm {
    kind: OfflineKind,
    class: OfflineClass,
    start_hour: u32,
    index: u8,
}

impl TryFrom<IdForm> for OfflineCodeId {
    type Error = InvalidOfflineCode;

    fn try_from(form: IdForm) -> Result<Self, Self::Error> {
        Self::new(form.kind, form.class, form.start_hour, form.index)
    }
}

impl From<OfflineCodeId> for IdForm {
    fn from(id: OfflineCodeId) -> Self {
        Self {
            kind: id.kind,
            class: id.class,
            start_hour: id.start_hour,
            index: id.index,
        }
    }
}

/// An offline code id whose start is not aligned to its class or whose
/// index is above [`MAX_OFFLINE_INDEX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an offline code's start is aligned to its class and its index is 0 or 1")]
pub struct InvalidOfflineCode;

impl OfflineCodeId {
    /// An id; the start must be aligned to the class and the index at most
    /// [`MAX_OFFLINE_INDEX`].
    pub fn new(
        kind: OfflineKind,
        class: OfflineClass,
        start_hour: u32,
        index: u8,
    ) -> Result<Self, InvalidOfflineCode> {
        if !start_hour.is_multiple_of(class.alignment_hours()) || index > MAX_OFFLINE_INDEX {
            return Err(InvalidOfflineCode);
        }
        Ok(Self {
            kind,
            class,
            start_hour,
            index,
        })
    }

    /// Window or one-time.
    pub fn kind(&self) -> OfflineKind {
        self.kind
    }

    /// The window's class.
    pub fn class(&self) -> OfflineClass {
        self.class
    }

    /// The window's first hour, in hours since the Unix epoch (UTC).
    pub fn start_hour(&self) -> u32 {
        self.start_hour
    }

    /// 0 or 1: two codes may share a door, kind and window.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// When the window opens.
    pub fn starts_at(&self) -> Timestamp {
        hour_start(i64::from(self.start_hour))
    }

    /// When the window closes (the first instant outside it).
    pub fn ends_at(&self) -> Timestamp {
        hour_start(i64::from(self.start_hour) + i64::from(self.class.length_hours()))
    }

    /// Whether the window contains `now`: `starts_at <= now < ends_at`.
    pub fn contains(&self, now: Timestamp) -> bool {
        self.starts_at() <= now && now < self.ends_at()
    }

    /// Whether the window has closed at `now`.
    pub fn has_ended(&self, now: Timestamp) -> bool {
        now >= self.ends_at()
    }

    /// The same window and kind with another index.
    pub fn with_index(self, index: u8) -> Result<Self, InvalidOfflineCode> {
        Self::new(self.kind, self.class, self.start_hour, index)
    }

    /// The smallest window (shortest class, then latest aligned start) that
    /// covers `[from, until)`, or `None` when no class does (longer than a
    /// week, a week that does not fit its UTC-day alignment, an empty or
    /// inverted span, a time outside `u32` hours).
    pub fn covering(
        kind: OfflineKind,
        from: Timestamp,
        until: Timestamp,
        index: u8,
    ) -> Option<Self> {
        if until <= from || index > MAX_OFFLINE_INDEX {
            return None;
        }
        let from_hour = u32::try_from(from.as_second().div_euclid(HOUR)).ok()?;
        OfflineClass::ALL.into_iter().find_map(|class| {
            let start = from_hour - from_hour % class.alignment_hours();
            let id = Self::new(kind, class, start, index).ok()?;
            (until <= id.ends_at()).then_some(id)
        })
    }

    /// Every code a lock compares an entry with at `now`: each kind, class,
    /// aligned start whose window contains `now`, and index — 36 windows
    /// (1 + 4 + 24 + 7) × 2 kinds × 2 indexes = [`CANDIDATES_PER_ENTRY`].
    /// None before 1970 or past `u32` hours.
    pub fn candidates(now: Timestamp) -> impl Iterator<Item = Self> {
        let hour = u32::try_from(now.as_second().div_euclid(HOUR)).ok();
        OfflineKind::ALL.into_iter().flat_map(move |kind| {
            OfflineClass::ALL.into_iter().flat_map(move |class| {
                let step = class.alignment_hours();
                let latest = hour.map(|h| h - h % step);
                let windows = class.length_hours() / step;
                (0..windows).flat_map(move |back| {
                    let start = latest.and_then(|l| l.checked_sub(back * step));
                    (0..=MAX_OFFLINE_INDEX).filter_map(move |index| {
                        start.map(|start| Self {
                            kind,
                            class,
                            start_hour: start,
                            index,
                        })
                    })
                })
            })
        })
    }

    /// Every other id whose window shares an instant with this one's (each
    /// kind, class and index): the codes the lock may compare with this
    /// one's at some instant of its window. The server issues a code only if
    /// its digits differ from all of theirs.
    pub fn overlapping(&self) -> impl Iterator<Item = Self> {
        let this = *self;
        let from = i64::from(self.start_hour);
        let until = from + i64::from(self.class.length_hours());
        OfflineKind::ALL
            .into_iter()
            .flat_map(move |kind| {
                OfflineClass::ALL.into_iter().flat_map(move |class| {
                    let step = i64::from(class.alignment_hours());
                    let low = (from - i64::from(class.length_hours()) + 1).max(0);
                    let first = (low + step - 1) / step * step;
                    (0..)
                        .map(move |n| first + n * step)
                        .take_while(move |start| *start < until)
                        .flat_map(move |start| {
                            (0..=MAX_OFFLINE_INDEX).filter_map(move |index| {
                                let start = u32::try_from(start).ok()?;
                                Self::new(kind, class, start, index).ok()
                            })
                        })
                })
            })
            .filter(move |id| *id != this)
    }

    /// The 7 wire bytes: kind, class, start hour (`u32`), index.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.kind.byte());
        out.put_u8(self.class.byte());
        out.put_u32(self.start_hour);
        out.put_u8(self.index);
    }

    /// Decodes the 7 wire bytes; any bytes give a value or an error.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let kind_byte = r.u8("offline_kind")?;
        let class_byte = r.u8("offline_class")?;
        let start_hour = r.u32("offline_start_hour")?;
        let index = r.u8("offline_index")?;
        let kind = OfflineKind::from_byte(kind_byte).ok_or_else(|| {
            DecodeError::invalid("offline_kind", format!("unknown kind {kind_byte}"))
        })?;
        let class = OfflineClass::from_byte(class_byte).ok_or_else(|| {
            DecodeError::invalid("offline_class", format!("unknown class {class_byte}"))
        })?;
        Self::new(kind, class, start_hour, index)
            .map_err(|e| DecodeError::invalid("offline_code", e.to_string()))
    }

    /// The id packed in an audit event's `value`: start hour in bits 0-31,
    /// kind in 32-39, class in 40-47, index in 48-55, the rest zero.
    pub fn event_value(&self) -> i64 {
        i64::from(self.start_hour)
            | i64::from(self.kind.byte()) << 32
            | i64::from(self.class.byte()) << 40
            | i64::from(self.index) << 48
    }

    /// The id an audit event's `value` carries.
    pub fn from_event_value(value: i64) -> Option<Self> {
        let bits = u64::try_from(value).ok()?;
        if bits >> 56 != 0 {
            return None;
        }
        let byte = |shift: u32| ((bits >> shift) & 0xff) as u8;
        Self::new(
            OfflineKind::from_byte(byte(32))?,
            OfflineClass::from_byte(byte(40))?,
            (bits & 0xffff_ffff) as u32,
            byte(48),
        )
        .ok()
    }
}

impl fmt::Display for OfflineCodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            OfflineKind::Window => "window",
            OfflineKind::OneTime => "one-time",
        };
        write!(
            f,
            "{kind} {}h from {} #{}",
            self.class.length_hours(),
            self.starts_at(),
            self.index
        )
    }
}

fn hour_start(hour: i64) -> Timestamp {
    // u32 hours are about 490,000 years: always inside jiff's range.
    Timestamp::from_second(hour * HOUR).unwrap_or(Timestamp::MAX)
}

/// A lock's offline key, `key("offline")`: the server derives codes with it
/// and the lock checks them. Nothing else uses it, and it never leaves the
/// server or the lock. Its `Debug` hides the bytes.
#[derive(Clone)]
pub struct OfflineKey {
    key: hmac::Key,
}

impl fmt::Debug for OfflineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OfflineKey(<redacted>)")
    }
}

impl OfflineKey {
    /// Derives the offline key of `lock_id` from its root key.
    pub fn derive(root: &RootKey, lock_id: LockId) -> Self {
        Self {
            key: hmac::Key::new(
                hmac::HMAC_SHA256,
                &derive_key_bytes(root, lock_id, OFFLINE_KEY_LABEL),
            ),
        }
    }

    /// The code named `id`: the first 8 bytes of HMAC-SHA256(key, label ||
    /// kind || class || start hour || index) as a little-endian `u64`,
    /// modulo 10^8, as 8 digits with leading zeros.
    pub fn code(&self, id: &OfflineCodeId) -> Code {
        let mut message = Vec::with_capacity(OFFLINE_CODE_LABEL.len() + OFFLINE_ID_LEN);
        message.extend_from_slice(OFFLINE_CODE_LABEL);
        id.encode(&mut message);
        let tag = hmac::sign(&self.key, &message);
        let mut first = [0u8; 8];
        first.copy_from_slice(&tag.as_ref()[..8]);
        let value = u64::from_le_bytes(first) % MODULUS;
        Code::from_index(value, OFFLINE_CODE_LEN).expect("a value below 10^8 fits 8 digits")
    }

    /// The candidate at `now` whose code is `typed` (lock side). Every
    /// candidate is derived and compared whatever matched, with a comparison
    /// that does not stop at the first differing digit, so the time an entry
    /// takes depends on nothing but its length. If two candidates share the
    /// digits (about one chance in 10^4 per instant) the first in
    /// [`OfflineCodeId::candidates`] order wins.
    pub fn matching(&self, typed: &[u8], now: Timestamp) -> Option<OfflineCodeId> {
        let mut found = None;
        for id in OfflineCodeId::candidates(now) {
            let code = self.code(&id);
            let same = typed.len() == OFFLINE_CODE_LEN
                && code
                    .as_bytes()
                    .iter()
                    .zip(typed)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
            if same && found.is_none() {
                found = Some(id);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn there_are_144_candidates_each_window_containing_now() {
        for now in [1_800_000_000, 1_800_003_599, 1_800_003_600, 1_799_971_200] {
            let now = ts(now);
            let all: Vec<_> = OfflineCodeId::candidates(now).collect();
            assert_eq!(all.len(), CANDIDATES_PER_ENTRY);
            let mut unique = all.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), CANDIDATES_PER_ENTRY);
            assert!(all.iter().all(|id| id.contains(now)));
            // Every aligned window of every class that contains now is there.
            let hour = (now.as_second() / 3600) as u32;
            for class in OfflineClass::ALL {
                for start in hour.saturating_sub(200)..=hour + 1 {
                    for kind in OfflineKind::ALL {
                        if let Ok(id) = OfflineCodeId::new(kind, class, start, 1) {
                            assert_eq!(id.contains(now), all.contains(&id), "{id}");
                        }
                    }
                }
            }
        }
        assert_eq!(OfflineCodeId::candidates(ts(-1)).count(), 0);
        // Near the epoch only windows that start at or after it exist.
        assert_eq!(OfflineCodeId::candidates(ts(0)).count(), 2 * 2 * 4);
    }

    #[test]
    fn the_covering_window_is_the_smallest_that_fits() {
        let at = |h: i64, m: i64| ts(1_800_000_000 / 86_400 * 86_400 + h * 3600 + m * 60);
        let day_hour = (at(0, 0).as_second() / 3600) as u32;
        let cover = |from, until| OfflineCodeId::covering(OfflineKind::Window, from, until, 0);
        let hour = cover(at(14, 0), at(15, 0)).unwrap();
        assert_eq!(
            (hour.class(), hour.start_hour()),
            (OfflineClass::Hour, day_hour + 14)
        );
        let four = cover(at(14, 30), at(16, 0)).unwrap();
        assert_eq!(
            (four.class(), four.start_hour()),
            (OfflineClass::FourHours, day_hour + 14)
        );
        assert_eq!(four.ends_at(), at(18, 0));
        let day = cover(at(14, 30), at(23, 0) + jiff::SignedDuration::from_hours(14)).unwrap();
        assert_eq!(day.class(), OfflineClass::Day);
        let week = cover(at(14, 0), at(14, 0) + jiff::SignedDuration::from_hours(48)).unwrap();
        assert_eq!(
            (week.class(), week.start_hour()),
            (OfflineClass::Week, day_hour)
        );
        // Seven days from 14:00 do not fit a week that starts at midnight.
        assert_eq!(
            cover(at(14, 0), at(14, 0) + jiff::SignedDuration::from_hours(168)),
            None
        );
        assert_eq!(cover(at(15, 0), at(14, 0)), None);
        assert_eq!(
            OfflineCodeId::covering(OfflineKind::Window, at(1, 0), at(2, 0), 2),
            None
        );
    }

    #[test]
    fn overlapping_ids_are_exactly_those_sharing_an_instant() {
        let id = OfflineCodeId::new(OfflineKind::Window, OfflineClass::Day, 500_005, 0).unwrap();
        let all: Vec<_> = id.overlapping().collect();
        assert!(!all.contains(&id));
        // Hours 24, four hours 27, days 47, weeks 2 (or 1): per kind and index.
        let weeks = all
            .iter()
            .filter(|o| o.class() == OfflineClass::Week)
            .count();
        assert_eq!(all.len() + 1, 4 * (24 + 27 + 47) + weeks);
        for other in &all {
            assert!(other.starts_at() < id.ends_at() && id.starts_at() < other.ends_at());
        }
        // And every candidate at any instant of the window is among them.
        for hour in 0..24 {
            let at = id.starts_at() + jiff::SignedDuration::from_hours(hour);
            for candidate in OfflineCodeId::candidates(at) {
                assert!(candidate == id || all.contains(&candidate), "{candidate}");
            }
        }
    }

    #[test]
    fn ids_round_trip_on_the_wire_and_in_events_and_refuse_nonsense() {
        let id = OfflineCodeId::new(OfflineKind::OneTime, OfflineClass::Week, 500_016, 1).unwrap();
        let mut bytes = Vec::new();
        id.encode(&mut bytes);
        assert_eq!(bytes, [2, 4, 0x30, 0xa1, 0x07, 0x00, 1]);
        assert_eq!(OfflineCodeId::decode(&mut Reader::new(&bytes)).unwrap(), id);
        assert_eq!(OfflineCodeId::from_event_value(id.event_value()), Some(id));
        assert_eq!(id.event_value(), 0x0001_0402_0007_a130);
        for bad in [
            [0, 1, 0, 0, 0, 0, 0],
            [3, 1, 0, 0, 0, 0, 0],
            [1, 0, 0, 0, 0, 0, 0],
            [1, 5, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0, 2],
            [1, 4, 1, 0, 0, 0, 0],
        ] {
            assert!(OfflineCodeId::decode(&mut Reader::new(&bad)).is_err());
        }
        assert_eq!(OfflineCodeId::from_event_value(-1), None);
        assert_eq!(
            OfflineCodeId::from_event_value(id.event_value() | 1 << 56),
            None
        );
        let json = serde_json::to_value(id).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "one_time", "class": "week", "start_hour": 500_016, "index": 1})
        );
        assert_eq!(serde_json::from_value::<OfflineCodeId>(json).unwrap(), id);
        assert!(
            serde_json::from_value::<OfflineCodeId>(serde_json::json!(
                {"kind": "window", "class": "week", "start_hour": 500_017, "index": 0}
            ))
            .is_err()
        );
    }

    #[test]
    fn the_lock_finds_the_code_the_server_derived_and_no_other() {
        let root = RootKey::from_bytes([7; 32]);
        let key = OfflineKey::derive(&root, LockId([1; 8]));
        let other = OfflineKey::derive(&root, LockId([2; 8]));
        let now = ts(1_800_000_000);
        for id in OfflineCodeId::candidates(now).step_by(7) {
            let code = key.code(&id);
            assert_eq!(code.len(), OFFLINE_CODE_LEN);
            let found = key.matching(code.as_bytes(), now).unwrap();
            assert_eq!(key.code(&found), code);
            assert_ne!(
                other.code(&id),
                code,
                "another lock's key gives other digits"
            );
            // The window over, the code matches nothing.
            assert_eq!(key.matching(code.as_bytes(), id.ends_at()), None);
        }
        assert_eq!(key.matching(b"1234567", now), None);
        assert!(format!("{key:?}").contains("redacted"));
    }
}
