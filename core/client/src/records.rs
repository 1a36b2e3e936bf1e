//! The records an app shows: the session, its doors and its codes, each
//! code's pending request and the server's refusal of it.

use jiff::Timestamp;
use keyway_api::{
    BackupCodeView, CodeMode, CodeOnLock, CodeState, CodeStatus, CreateCodeRequest, GuestType,
    NotifyOnUse, OfflineCodeView, PropertyView, UserView,
};
use keyway_codes::code::{AccessPoint, CodeKind, Origin};
use keyway_codes::policy::{ModelConstraint, Violation};
use keyway_codes::schedule::Schedule;

/// The logged-in device.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Session {
    /// Who is logged in.
    pub user: UserView,
    /// Their property and its policy.
    pub property: PropertyView,
    /// This device's id at the server.
    pub device_id: String,
}

/// A door the user may use or carry jobs to, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Door {
    /// The lock's id (16 hex digits).
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// The kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    pub unit_id: Option<String>,
    /// Whether its keypad has an enter key.
    pub enter_key: bool,
    /// Its model's constraints.
    pub constraints: Vec<ModelConstraint>,
    /// The version the server last confirmed on the lock.
    pub confirmed_version: u32,
    /// The version the server wants it at (`None`: nothing to carry).
    pub target_version: Option<u32>,
    /// A change waits to be carried to it (sealed at the door, on the next visit).
    pub job_waiting: bool,
}

/// A request queued on the phone that the server has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PendingOp {
    /// Create the code.
    Create,
    /// New digits.
    Change,
    /// Deactivate.
    Disable,
    /// Reactivate.
    Enable,
    /// Delete.
    Delete,
}

impl PendingOp {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Change => "change",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Delete => "delete",
        }
    }

    /// Parses [`PendingOp::as_str`] output.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Create,
            Self::Change,
            Self::Disable,
            Self::Enable,
            Self::Delete,
        ]
        .into_iter()
        .find(|op| op.as_str() == text)
    }
}

/// The server refused a queued request; the app shows it until dismissed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RequestFailure {
    /// What was asked.
    pub op: PendingOp,
    /// The server's stable problem code (`policy_violation`, `lock_full`, ...).
    pub code: String,
    /// What to do about it.
    pub detail: String,
    /// For `policy_violation`: every rule broken.
    pub violations: Vec<Violation>,
}

/// A code as the app shows it: the server's view with the phone's queued
/// requests laid over it (`Code` in Kotlin, Swift and Python).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "Code"))]
pub struct LocalCode {
    /// The id on this phone: the server's id, or for a code created here a
    /// local id that never changes (even once the server has accepted it).
    pub id: String,
    /// The server's id, once it accepted the code.
    pub server_id: Option<String>,
    /// What it is for.
    pub kind: CodeKind,
    /// Picked or generated (`None` when not known).
    pub origin: Option<Origin>,
    /// A name.
    pub name: Option<String>,
    /// For guest codes.
    pub guest_type: Option<GuestType>,
    /// The unit.
    pub unit_id: Option<String>,
    /// The digits, when known (a generate queued offline has none yet).
    pub value: Option<String>,
    /// When it opens.
    pub schedule: Schedule,
    /// Meant to open (not deactivated).
    pub enabled: bool,
    /// Overall status.
    pub status: CodeStatus,
    /// Its state on each lock (`requested` while queued on the phone).
    pub locks: Vec<CodeOnLock>,
    /// Its offline codes, one per door, once the server derived them (a
    /// code created with `offline`): each door's digits and the exact window
    /// it accepts them in, with no job.
    pub offline: Vec<OfflineCodeView>,
    /// Backup codes the server handed out for it, newest first
    /// ([`Client::request_backup`](crate::Client::request_backup)).
    pub backups: Vec<BackupCodeView>,
    /// A request queued on the phone for it.
    pub pending: Option<PendingOp>,
    /// The last request the server refused.
    pub failure: Option<RequestFailure>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl LocalCode {
    /// Its state on `lock_id`, if it is meant for that lock.
    pub fn state_on(&self, lock_id: &str) -> Option<CodeState> {
        self.locks
            .iter()
            .find(|l| l.lock_id == lock_id)
            .map(|l| l.state)
    }
}

/// A time a code opened a door, as the lock's own log said once a phone
/// carried its events to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CodeUse {
    /// The use's id at the server.
    pub id: String,
    /// The code's id on this phone (as in [`LocalCode::id`]).
    pub code_id: String,
    /// The code's name ("Dog walker"), when it has one.
    pub code_name: Option<String>,
    /// The door.
    pub lock_id: String,
    /// The door's name ("Unit 4B").
    pub lock_name: String,
    /// When, on the lock's clock.
    pub at: Timestamp,
    /// `code_used`, `one_time_consumed` (a one-time PIN),
    /// `offline_code_used` (a guest code that works offline), `card_used`
    /// (a courier's key card) or `backup_code_used` (a backup code handed
    /// out for the code).
    pub kind: String,
}

/// A new code: what it is for and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// `Resident` or `Guest`.
    pub kind: CodeKind,
    /// A name ("Dog walker").
    pub name: Option<String>,
    /// For guest codes (default permanent).
    pub guest_type: Option<GuestType>,
    /// For temporary, delivery (a window) and recurring guest codes.
    pub schedule: Option<Schedule>,
    /// The doors; default: the unit's doors, plus the community doors for
    /// generated resident codes.
    pub lock_ids: Option<Vec<String>>,
    /// The length to generate (4, or 6 where the community allows it).
    pub length: Option<u8>,
    /// The unit (staff and managers only).
    pub unit_id: Option<String>,
    /// Be told by email or SMS each time it opens a door (default: only in
    /// the app, as [`crate::ClientEvent::CodeUsed`]).
    pub notify_on_use: Option<NotifyOnUse>,
    /// Works offline: temporary, recurring and delivery guest codes, on
    /// doors whose keypad has an enter key and whose model has no
    /// constraints. The server derives each door's 8 digits, which the door
    /// accepts with no job (for a recurring code, on its first occurrence).
    pub offline: bool,
}

impl NewCode {
    /// A resident's own code on the default doors.
    pub fn resident() -> Self {
        Self {
            kind: CodeKind::Resident,
            name: None,
            guest_type: None,
            schedule: None,
            lock_ids: None,
            length: None,
            unit_id: None,
            notify_on_use: None,
            offline: false,
        }
    }

    /// A guest code of `guest_type` with `schedule`.
    pub fn guest(guest_type: GuestType, schedule: Option<Schedule>) -> Self {
        Self {
            kind: CodeKind::Guest,
            guest_type: Some(guest_type),
            schedule,
            ..Self::resident()
        }
    }

    pub(crate) fn request(&self, mode: CodeMode, code: Option<String>) -> CreateCodeRequest {
        CreateCodeRequest {
            kind: self.kind,
            mode,
            code,
            length: self.length,
            name: self.name.clone(),
            guest_type: self.guest_type,
            schedule: self.schedule.clone(),
            lock_ids: self.lock_ids.clone(),
            unit_id: self.unit_id.clone(),
            notify_on_use: self.notify_on_use,
            offline: self.offline,
        }
    }
}
