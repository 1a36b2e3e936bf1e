//! The records and enums apps see, converted from the core's types where
//! those cannot cross the FFI as they are (schedules hold `jiff` values;
//! instants become `SystemTime`: `java.time.Instant`, `Date`, `datetime`).

use std::time::SystemTime;

use keyway_api::{CodeOnLock, CodeStatus, GuestType, Role};
use keyway_client::PendingOp;
use keyway_codes::code::{AccessPoint, CodeKind, Origin};
use keyway_codes::policy::{ModelConstraint, Violation};
use keyway_codes::schedule::{self as core_schedule, Weekdays};

use crate::KeywayError;

/// The logged-in device and its user.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Session {
    /// The user's id.
    pub user_id: String,
    /// Their name.
    pub user_name: String,
    /// Their role.
    pub role: Role,
    /// Their unit (residents).
    pub unit_id: Option<String>,
    /// The property's id.
    pub property_id: String,
    /// The property's name.
    pub property_name: String,
    /// The property's time zone (recurring schedules).
    pub time_zone: String,
    /// 6-digit resident and guest codes are allowed.
    pub six_digit_codes: bool,
    /// Residents may pick their own codes on their unit doors.
    pub custom_codes: bool,
    /// This device's id at the server.
    pub device_id: String,
}

impl From<keyway_client::Session> for Session {
    fn from(s: keyway_client::Session) -> Self {
        Self {
            user_id: s.user.id,
            user_name: s.user.name,
            role: s.user.role,
            unit_id: s.user.unit_id,
            property_id: s.property.id,
            property_name: s.property.name,
            time_zone: s.property.time_zone,
            six_digit_codes: s.property.policy.six_digit_codes,
            custom_codes: s.property.policy.custom_codes,
            device_id: s.device_id,
        }
    }
}

/// A door the user may use or carry jobs to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Door {
    /// The lock's id (16 hex digits).
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// The kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    pub unit_id: Option<String>,
    /// Whether the keypad has an enter key.
    pub enter_key: bool,
    /// The lock model's constraints.
    pub constraints: Vec<ModelConstraint>,
    /// A sealed job waits to be carried to it.
    pub job_waiting: bool,
}

impl From<keyway_client::Door> for Door {
    fn from(d: keyway_client::Door) -> Self {
        Self {
            lock_id: d.lock_id,
            name: d.name,
            access_point: d.access_point,
            unit_id: d.unit_id,
            enter_key: d.enter_key,
            constraints: d.constraints,
            job_waiting: d.job_waiting,
        }
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

const WEEK: [(Weekday, jiff::civil::Weekday); 7] = [
    (Weekday::Monday, jiff::civil::Weekday::Monday),
    (Weekday::Tuesday, jiff::civil::Weekday::Tuesday),
    (Weekday::Wednesday, jiff::civil::Weekday::Wednesday),
    (Weekday::Thursday, jiff::civil::Weekday::Thursday),
    (Weekday::Friday, jiff::civil::Weekday::Friday),
    (Weekday::Saturday, jiff::civil::Weekday::Saturday),
    (Weekday::Sunday, jiff::civil::Weekday::Sunday),
];

/// When a code opens its doors.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Schedule {
    /// At every instant.
    Always,
    /// From one instant until another (temporary and delivery guest codes).
    Window {
        /// The first valid instant.
        from: SystemTime,
        /// The first instant after the window.
        until: SystemTime,
    },
    /// On some weekdays during a daily wall-clock window (recurring guest
    /// codes); an `end` not after `start` runs overnight.
    Recurring {
        /// The days.
        weekdays: Vec<Weekday>,
        /// Daily opening, `HH:MM`.
        start: String,
        /// Daily closing, `HH:MM`.
        end: String,
        /// IANA time zone; `None`: the property's.
        time_zone: Option<String>,
    },
}

fn instant(at: jiff::Timestamp) -> SystemTime {
    let since = at.duration_since(jiff::Timestamp::UNIX_EPOCH);
    let magnitude = std::time::Duration::try_from(since.abs()).unwrap_or_default();
    if since.is_negative() {
        SystemTime::UNIX_EPOCH - magnitude
    } else {
        SystemTime::UNIX_EPOCH + magnitude
    }
}

impl Schedule {
    pub(crate) fn from_core(schedule: &core_schedule::Schedule) -> Self {
        match schedule {
            core_schedule::Schedule::Always => Self::Always,
            core_schedule::Schedule::Window(w) => Self::Window {
                from: instant(w.from()),
                until: instant(w.until()),
            },
            core_schedule::Schedule::Recurring(r) => Self::Recurring {
                weekdays: WEEK
                    .iter()
                    .filter(|(_, d)| r.weekdays().contains(*d))
                    .map(|(w, _)| *w)
                    .collect(),
                start: r.start().strftime("%H:%M").to_string(),
                end: r.end().strftime("%H:%M").to_string(),
                time_zone: Some(r.time_zone().to_owned()),
            },
        }
    }

    pub(crate) fn to_core(
        &self,
        default_zone: &str,
    ) -> Result<core_schedule::Schedule, KeywayError> {
        let invalid = |detail: String| KeywayError::InvalidArgument { detail };
        match self {
            Self::Always => Ok(core_schedule::Schedule::Always),
            Self::Window { from, until } => {
                let from = jiff::Timestamp::try_from(*from)
                    .map_err(|e| invalid(format!("window start: {e}")))?;
                let until = jiff::Timestamp::try_from(*until)
                    .map_err(|e| invalid(format!("window end: {e}")))?;
                core_schedule::Window::new(from, until)
                    .map(core_schedule::Schedule::Window)
                    .map_err(|e| invalid(e.to_string()))
            }
            Self::Recurring {
                weekdays,
                start,
                end,
                time_zone,
            } => {
                let days = Weekdays::of(
                    WEEK.iter()
                        .filter(|(w, _)| weekdays.contains(w))
                        .map(|(_, d)| *d),
                );
                let time = |text: &str| {
                    jiff::civil::Time::strptime("%H:%M", text)
                        .map_err(|_| invalid(format!("`{text}` is not a time like 08:30")))
                };
                core_schedule::Recurring::new(
                    days,
                    time(start)?,
                    time(end)?,
                    time_zone.as_deref().unwrap_or(default_zone),
                )
                .map(core_schedule::Schedule::Recurring)
                .map_err(|e| invalid(e.to_string()))
            }
        }
    }
}

/// The server refused a queued request; shown until dismissed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Failure {
    /// What was asked.
    pub op: PendingOp,
    /// The server's stable problem code (`policy_violation`, `lock_full`, ...).
    pub code: String,
    /// What to do about it.
    pub detail: String,
    /// For `policy_violation`: every rule broken.
    pub violations: Vec<Violation>,
}

/// A code as the app shows it, with its state on each door.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Code {
    /// Its id on this phone; never changes.
    pub id: String,
    /// The server's id, once it accepted the code.
    pub server_id: Option<String>,
    /// What it is for.
    pub kind: CodeKind,
    /// Picked or generated, when known.
    pub origin: Option<Origin>,
    /// A name.
    pub name: Option<String>,
    /// For guest codes.
    pub guest_type: Option<GuestType>,
    /// The digits, when known (a generate queued offline has none yet).
    pub value: Option<String>,
    /// When it opens.
    pub schedule: Schedule,
    /// Meant to open (not deactivated).
    pub enabled: bool,
    /// Overall status.
    pub status: CodeStatus,
    /// Its state on each door: `REQUESTED` (queued on the phone), `PENDING`
    /// (waiting for the lock), `ACTIVE`, `FAILED` with a reason, ...
    pub locks: Vec<CodeOnLock>,
    /// A request queued on the phone for it.
    pub pending: Option<PendingOp>,
    /// The last request the server refused.
    pub failure: Option<Failure>,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it last changed.
    pub updated_at: SystemTime,
}

impl From<keyway_client::LocalCode> for Code {
    fn from(c: keyway_client::LocalCode) -> Self {
        Self {
            schedule: Schedule::from_core(&c.schedule),
            id: c.id,
            server_id: c.server_id,
            kind: c.kind,
            origin: c.origin,
            name: c.name,
            guest_type: c.guest_type,
            value: c.value,
            enabled: c.enabled,
            status: c.status,
            locks: c.locks,
            pending: c.pending,
            failure: c.failure.map(|f| Failure {
                op: f.op,
                code: f.code,
                detail: f.detail,
                violations: f.violations,
            }),
            created_at: instant(c.created_at),
            updated_at: instant(c.updated_at),
        }
    }
}

/// Where a new resident code goes and how long it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct CodeOptions {
    /// A name ("Front door").
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// The doors (lock ids); `None`: the unit's doors, plus the community
    /// doors for generated codes.
    #[uniffi(default = None)]
    pub lock_ids: Option<Vec<String>>,
    /// The length to generate (4, or 6 where allowed).
    #[uniffi(default = None)]
    pub length: Option<u8>,
}

/// What one delivery did at one lock.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LockVisit {
    /// The lock.
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// `delivered`, `checked` (the server settled the lock's status and had
    /// nothing to send), or a failure code (`out_of_range`,
    /// `server_unreachable`, `connection_lost`, `timed_out`, `lock_refused`, ...).
    pub outcome: String,
    /// Sealed receipts brought back.
    pub receipts: u32,
}

impl From<keyway_client::LockDelivery> for LockVisit {
    fn from(v: keyway_client::LockDelivery) -> Self {
        Self {
            lock_id: v.lock_id,
            name: v.name,
            outcome: v.outcome,
            receipts: v.receipts,
        }
    }
}

/// What `deliver_nearby` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeliverySummary {
    /// Keyway locks heard.
    pub heard: u32,
    /// The user's locks that needed something, and what happened.
    pub locks: Vec<LockVisit>,
    /// Receipts uploaded.
    pub receipts_uploaded: u32,
    /// The server was reached to settle the states.
    pub synced: bool,
}

impl From<keyway_client::DeliveryReport> for DeliverySummary {
    fn from(r: keyway_client::DeliveryReport) -> Self {
        Self {
            heard: r.heard,
            locks: r.locks.into_iter().map(Into::into).collect(),
            receipts_uploaded: r.receipts_uploaded,
            synced: r.synced,
        }
    }
}

/// What `sync` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// Requests the server accepted.
    pub sent: u32,
    /// Requests the server refused (shown as failures).
    pub refused: u32,
    /// Receipts uploaded.
    pub receipts_uploaded: u32,
    /// The server asked to hold queued requests this many milliseconds (rate
    /// limited); the first sync after that sends them.
    pub retry_after_ms: Option<u64>,
}

impl From<keyway_client::SyncReport> for SyncSummary {
    fn from(r: keyway_client::SyncReport) -> Self {
        Self {
            sent: r.sent,
            refused: r.refused,
            receipts_uploaded: r.receipts_uploaded,
            retry_after_ms: r.retry_after.map(|d| d.as_millis() as u64),
        }
    }
}

/// Something the app shows changed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
// Crosses the FFI by value (uniffi lowers enum fields, it cannot box them).
#[allow(clippy::large_enum_variant)]
pub enum KeywayEvent {
    /// A code appeared or changed (a state on a door, digits, a queued
    /// request, a refusal).
    CodeChanged {
        /// The code now.
        code: Code,
    },
    /// A code is gone (deleted from every door, or dismissed).
    CodeRemoved {
        /// Its id on this phone.
        id: String,
    },
    /// A delivery visited a lock.
    Delivery {
        /// What happened there.
        visit: LockVisit,
    },
    /// The server became reachable or unreachable.
    Connectivity {
        /// Whether the last call reached it.
        online: bool,
    },
}

impl From<keyway_client::ClientEvent> for KeywayEvent {
    fn from(e: keyway_client::ClientEvent) -> Self {
        match e {
            keyway_client::ClientEvent::CodeChanged(code) => Self::CodeChanged {
                code: (*code).into(),
            },
            keyway_client::ClientEvent::CodeRemoved { id } => Self::CodeRemoved { id },
            keyway_client::ClientEvent::Delivery(visit) => Self::Delivery {
                visit: visit.into(),
            },
            keyway_client::ClientEvent::Connectivity { online } => Self::Connectivity { online },
        }
    }
}
