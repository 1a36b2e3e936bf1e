//! The phone's sync: per-lock work, visits, tombstones, receipt uploads.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use keyway_codes::code::AccessPoint;
use keyway_codes::policy::ModelConstraint;

use crate::codes::{CodeView, enter_key_default};
use crate::uses::CodeUse;

/// A lock in a sync answer: its versions, whether it needs a visit, and the
/// key that recognises its advertisements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockSync {
    /// The lock's id.
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// The kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// Whether the keypad has an enter key (for the phone's local policy check).
    #[serde(default = "enter_key_default")]
    pub enter_key: bool,
    /// The lock model's constraints (for the phone's local policy check).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub constraints: Vec<ModelConstraint>,
    /// The version the server last confirmed on the lock.
    pub confirmed_version: u32,
    /// The version the server wants the lock at, when that is not the
    /// confirmed one: a phone that hears the lock advertise another version
    /// visits it (the job is sealed at the door, for the lock's session).
    pub target_version: Option<u32>,
    /// The lock's advertising key (64 hex digits): it recognises the lock's
    /// rotating advertisements and reads their version and flags. It opens no
    /// job and forges no receipt.
    pub advert_key: String,
}

/// `POST /v1/locks/{id}/visits`: a visit opened. The phone asks the lock for
/// a status with `challenge` and `since_seq`, then presents it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitOpened {
    /// The visit's id.
    pub visit_id: String,
    /// The lock.
    pub lock_id: String,
    /// The single-use challenge (32 hex digits) the lock's status must echo.
    pub challenge: String,
    /// The highest audit sequence number the server stored for the lock (in
    /// the lock's current life): the status carries the events after it.
    pub since_seq: u32,
    /// After this the challenge is refused.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub expires_at: Timestamp,
}

/// `POST /v1/visits/{id}/status`: the lock's sealed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitStatus {
    /// The sealed status, base64.
    pub status: String,
}

/// The server's answer to a presented status: the jobs it sealed for the
/// session the status opened (none when the lock needs nothing). Presenting
/// the same status again returns the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitAnswer {
    /// Sealed jobs, base64, to hand to the lock in this connection.
    pub jobs: Vec<String>,
    /// The version the lock reaches once they apply (its current one when
    /// there are none).
    pub target_version: u32,
}

/// A deleted code: the phone drops it from its mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tombstone {
    /// The code's id.
    pub id: String,
}

/// `GET /v1/sync?cursor=`: what changed since the cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse {
    /// Pass back as `cursor` next time; opaque.
    pub cursor: String,
    /// More changes wait: call again with the new cursor right away.
    pub has_more: bool,
    /// Codes created or changed since the cursor.
    pub codes: Vec<CodeView>,
    /// Codes deleted since the cursor (gone from every lock).
    pub tombstones: Vec<Tombstone>,
    /// Locks whose versions or work changed since the cursor.
    pub locks: Vec<LockSync>,
    /// Times a code the caller may see opened a door, recorded since the
    /// cursor (older servers send none).
    #[serde(default)]
    pub uses: Vec<CodeUse>,
}

/// `POST /v1/receipts`: sealed job receipts carried back from locks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptBatch {
    /// Sealed job receipts, base64 (statuses go to their visit).
    pub receipts: Vec<String>,
}

/// What the server made of one receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptResult {
    /// Position in the batch.
    pub index: usize,
    /// The lock it came from, when readable.
    pub lock_id: Option<String>,
    /// `accepted`, or a machine code for why it was not (`bad_seal`,
    /// `unknown_lock`, `malformed`, `unknown_job`, `status_needs_visit`, ...).
    /// A receipt seen before is `accepted` and settles nothing again.
    pub status: String,
}

/// The answer to a receipt batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptBatchResponse {
    /// One result per receipt, in order.
    pub results: Vec<ReceiptResult>,
}
