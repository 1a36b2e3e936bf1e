//! Code uses: a code opened a door, as the lock's own audit log said once a
//! phone carried its events to the server.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One time a code opened a door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeUse {
    /// The use's id (stable: a phone shows each use once).
    pub id: String,
    /// The code that was used.
    pub code_id: String,
    /// The code's name ("Dog walker"), when it has one.
    pub code_name: Option<String>,
    /// The door.
    pub lock_id: String,
    /// The door's name ("Unit 4B").
    pub lock_name: String,
    /// When, on the lock's clock.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub at: Timestamp,
    /// `code_used`, or `one_time_consumed` for a one-time PIN's single use.
    pub kind: String,
}

/// `GET /v1/codes/{id}/uses`: a code's uses, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeUseList {
    /// The uses, newest first (at most `limit`).
    pub uses: Vec<CodeUse>,
}
