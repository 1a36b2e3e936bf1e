//! Locks as staff see them, and their audit trail.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use keyway_codes::code::AccessPoint;

/// A lock as staff and managers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockView {
    /// The lock's id.
    pub lock_id: String,
    /// Name.
    pub name: String,
    /// Kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    pub unit_id: Option<String>,
    /// The version the desired slot table has.
    pub desired_version: u32,
    /// The version the lock last confirmed.
    pub confirmed_version: u32,
    /// Whether a change waits to be carried to the lock (sealed at the next visit).
    pub job_pending: bool,
    /// Set when the lock needs a person (a change the lock keeps refusing).
    pub attention: Option<String>,
    /// Its backup codes (`docs/backup-codes.md`).
    #[serde(default)]
    pub backup_pool: BackupPool,
}

/// A lock's pool of backup codes: how many it keeps, how many are on it
/// waiting to be handed out, and how many are handed out now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupPool {
    /// How many backup codes the lock keeps (0: none, the default).
    pub size: u8,
    /// Backup codes the lock confirmed and nobody holds yet.
    pub ready: u32,
    /// Backup codes handed out and not yet retired.
    pub handed_out: u32,
}

/// `PUT /v1/manage/locks/{id}/backup-pool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetBackupPoolRequest {
    /// How many backup codes the lock keeps: 0 to 5.
    pub size: u8,
}

/// `GET /v1/manage/locks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockList {
    /// The property's locks.
    pub locks: Vec<LockView>,
}

/// One entry of a lock's audit trail: a change the server made or an event
/// the lock reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// `server` or `lock`.
    pub source: String,
    /// The lock's life (16 hex digits), for lock events: sequence numbers
    /// count within it.
    #[serde(default)]
    pub epoch: Option<String>,
    /// The lock's sequence number, for lock events.
    pub lock_seq: Option<u32>,
    /// When it happened (the lock's clock for lock events).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub at: Timestamp,
    /// What happened: `code_added`, `code_removed`, `job_applied`,
    /// `job_refused`, `recovery_started`, `lock_reset`, `code_used`,
    /// `one_time_consumed`, `wrong_code`, `lockout_started`, ...
    pub kind: String,
    /// The slot, when one.
    pub slot: Option<u16>,
    /// The code, when known.
    pub code_id: Option<String>,
    /// More detail (a refusal reason, a count), never a code.
    pub detail: Option<String>,
}

/// `GET /v1/locks/{id}/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditList {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
}
