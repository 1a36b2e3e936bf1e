//! Doors and codes as the API shows and creates them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use keyway_codes::code::{AccessPoint, CodeKind, Origin};
use keyway_codes::policy::ModelConstraint;
use keyway_codes::schedule::Schedule;

/// A door (one lock) a user may use or carry jobs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorView {
    /// The lock's id, 16 hex digits.
    pub lock_id: String,
    /// A name people recognise.
    pub name: String,
    /// The kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    pub unit_id: Option<String>,
    /// Whether the keypad has an enter key (without one, no code may be a
    /// prefix of another on the lock). The phone's local policy check needs it.
    #[serde(default = "enter_key_default")]
    pub enter_key: bool,
    /// The lock model's constraints, for the phone's local policy check.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub constraints: Vec<ModelConstraint>,
}

/// Keypads have an enter key unless said otherwise (older servers omit it).
pub(crate) fn enter_key_default() -> bool {
    true
}

/// The state of one code on one lock, as the app shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum CodeState {
    /// Queued on the phone; the server has not accepted it yet (phone only).
    Requested,
    /// Accepted; a sealed job waits for the lock.
    Pending,
    /// On the lock and opening the door.
    Active,
    /// Being disabled: the lock still accepts it until it confirms.
    Disabling,
    /// Kept on the lock but refused at the keypad; can be enabled again.
    Disabled,
    /// Being removed: the lock still accepts it until it confirms.
    Removing,
    /// Gone from the lock.
    Removed,
    /// Its window ended (and it is, or will be, removed from the lock).
    Expired,
    /// A one-time PIN that was used.
    Used,
    /// The lock refused it; `reason` says why. The previous code stays active.
    Failed,
}

/// The overall status of a code, whatever its locks say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum CodeStatus {
    /// Meant to open its doors.
    Active,
    /// Deactivated; can be enabled again.
    Disabled,
    /// Deleted (a tombstone in sync).
    Deleted,
    /// Its window ended.
    Expired,
    /// A one-time PIN that was used.
    Used,
    /// Every lock refused it.
    Failed,
}

/// One code on one lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CodeOnLock {
    /// The lock's id.
    pub lock_id: String,
    /// The lock's name.
    pub lock_name: String,
    /// The state on that lock.
    pub state: CodeState,
    /// Why it failed (the lock's refusal code), when `state` is `failed`.
    pub reason: Option<String>,
    /// During a change: the previous value still opens this door until the
    /// lock confirms the swap.
    pub previous_active: bool,
}

/// A code's offline code on one door (`docs/lock-protocol.md`, "Offline
/// codes"): 8 digits of that door alone, which the lock accepts with no job
/// inside `starts_at`..`ends_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OfflineCodeView {
    /// The lock's id.
    pub lock_id: String,
    /// The lock's name.
    pub lock_name: String,
    /// The 8 digits, shown to whom the code belongs (as `value`).
    pub value: Option<String>,
    /// Consumed by its first use (delivery codes); otherwise reusable
    /// inside its window.
    pub one_time: bool,
    /// When the door starts accepting it (may be before the window asked
    /// for: windows are whole hours of fixed lengths).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub starts_at: Timestamp,
    /// When the door stops accepting it.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ends_at: Timestamp,
    /// Its state on that door: `active` (no job needed), `used` (one-time,
    /// used), `removing` (deleted; the lock accepts it until a phone carries
    /// the revocation), `removed`, `expired` (its window ended).
    pub state: CodeState,
    /// Its first use the server learned of ("in use since").
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub first_used_at: Option<Timestamp>,
}

/// The kinds of guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum GuestType {
    /// No end.
    Permanent,
    /// A window (from, until).
    Temporary,
    /// Weekdays and a daily window.
    Recurring,
    /// For a delivery: a short window.
    Delivery,
}

/// A backup code handed out for a code that had not reached a lock in time
/// (`docs/backup-codes.md`): 8 digits already on that lock, good for one
/// entry, retired once the code itself arrives, ends or the backup is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct BackupCodeView {
    /// The lock's id.
    pub lock_id: String,
    /// The lock's name.
    pub lock_name: String,
    /// The 8 digits, shown to whom the code belongs (as `value`).
    pub value: Option<String>,
    /// When the server handed it out.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub handed_at: Timestamp,
    /// `active` (it opens the door once), `used`, `removing` (retired: the
    /// lock accepts it until a phone carries its removal) or `removed`.
    pub state: CodeState,
}

/// `POST /v1/codes/{id}/backup`: a backup code for this code on one lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// The lock the code has not reached.
    pub lock_id: String,
}

/// A code as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeView {
    /// The code's id; stays the same when its digits change.
    pub id: String,
    /// What it is for.
    pub kind: CodeKind,
    /// Picked or generated.
    pub origin: Origin,
    /// A name ("Dog walker").
    pub name: Option<String>,
    /// For guest codes.
    pub guest_type: Option<GuestType>,
    /// The unit, for resident and guest codes.
    pub unit_id: Option<String>,
    /// Who holds it, for carrier, courier, staff and one-time codes.
    pub holder_id: Option<String>,
    /// The digits; shown only to whom the code belongs (the unit's residents;
    /// staff and managers for package-room codes).
    pub value: Option<String>,
    /// When it opens the doors.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub schedule: Schedule,
    /// Whether it is meant to open the doors (not deactivated).
    pub enabled: bool,
    /// Overall status.
    pub status: CodeStatus,
    /// Its state on each lock.
    pub locks: Vec<CodeOnLock>,
    /// Its offline codes, one per door (a code created with `offline`);
    /// for a recurring code they cover its first occurrence only.
    #[serde(default)]
    pub offline: Vec<OfflineCodeView>,
    /// Backup codes handed out for it, newest first.
    #[serde(default)]
    pub backups: Vec<BackupCodeView>,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub updated_at: Timestamp,
}

/// Generate a code or pick one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CodeMode {
    /// The server draws the digits.
    Generate,
    /// The caller picks them (`code`).
    Pick,
}

/// `POST /v1/codes`: a resident's own code or a guest code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateCodeRequest {
    /// `resident` or `guest`.
    pub kind: CodeKind,
    /// Generate or pick (guest codes are always generated).
    pub mode: CodeMode,
    /// The picked digits.
    #[serde(default)]
    pub code: Option<String>,
    /// The length to generate (4, or 6 where the community allows it).
    #[serde(default)]
    pub length: Option<u8>,
    /// A name.
    #[serde(default)]
    pub name: Option<String>,
    /// For guest codes.
    #[serde(default)]
    pub guest_type: Option<GuestType>,
    /// When it opens (default always; temporary and delivery need a window,
    /// recurring a recurrence).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub schedule: Option<Schedule>,
    /// The doors (lock ids); default: the unit's doors, plus the community
    /// doors for generated resident codes.
    #[serde(default)]
    pub lock_ids: Option<Vec<String>>,
    /// For staff and managers creating a code for a unit.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// Tell the resident who creates it each time it opens a door (by
    /// email or SMS to their contact details; default none: the app only).
    #[serde(default)]
    pub notify_on_use: Option<crate::uses::NotifyOnUse>,
    /// Works offline: temporary, recurring and delivery guest codes only.
    /// Each door gets an offline code it accepts with no job (a delivery
    /// code's is one-time); a recurring code's covers its first occurrence,
    /// later ones need its slot code, which phones deliver as usual.
    #[serde(default)]
    pub offline: bool,
}

/// `POST /v1/codes/{id}/change` and the PIN setters: new digits for a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetCodeRequest {
    /// Generate or pick.
    pub mode: CodeMode,
    /// The picked digits.
    #[serde(default)]
    pub code: Option<String>,
    /// The length to generate.
    #[serde(default)]
    pub length: Option<u8>,
}

/// `GET /v1/codes`: the codes the caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeList {
    /// The codes, newest change last.
    pub codes: Vec<CodeView>,
}

/// `GET /v1/doors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorList {
    /// The doors.
    pub doors: Vec<DoorView>,
}
