//! What a sync or a delivery round did, and the events an app listens to.

use std::time::Duration;

use keyway_delivery::{DeliveryFailure, DeliveryOutcome};

use crate::records::LocalCode;

/// What one delivery did at one lock.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct LockVisit {
    /// The lock.
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// What the visit came to.
    pub outcome: VisitOutcome,
}

/// What a visit to one lock came to, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum VisitOutcome {
    /// The lock took the server's jobs and answered with this many sealed
    /// receipts (uploaded, or kept for the next sync).
    Delivered {
        /// Sealed receipts brought back.
        receipts: u32,
    },
    /// The server settled the lock's status and had nothing to send.
    Checked,
    /// The visit did not complete (out of range, the link dropped, the lock
    /// or the server refused, …).
    Failed {
        /// Why.
        failure: DeliveryFailure,
    },
}

impl VisitOutcome {
    /// The stable machine code: `delivered`, `checked`, or the failure's
    /// (`out_of_range`, `server_unreachable`, `connection_lost`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Checked => "checked",
            Self::Failed { failure } => failure.code(),
        }
    }

    /// The sealed receipts the lock answered with (none unless delivered).
    pub fn receipts(&self) -> u32 {
        match self {
            Self::Delivered { receipts } => *receipts,
            Self::Checked | Self::Failed { .. } => 0,
        }
    }
}

impl From<&DeliveryOutcome> for VisitOutcome {
    fn from(outcome: &DeliveryOutcome) -> Self {
        match outcome {
            DeliveryOutcome::Delivered { receipts } => Self::Delivered {
                receipts: u32::try_from(receipts.len()).unwrap_or(u32::MAX),
            },
            DeliveryOutcome::Checked => Self::Checked,
            DeliveryOutcome::Failed(failure) => Self::Failed {
                failure: failure.clone(),
            },
        }
    }
}

/// What [`Client::deliver_nearby`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DeliveryReport {
    /// The user's locks recognised in the scan.
    pub heard: u32,
    /// Per lock of the user's that was heard and needed something.
    pub locks: Vec<LockVisit>,
    /// Receipts uploaded to the server.
    pub receipts_uploaded: u32,
    /// Whether the server was reached to upload and settle.
    pub synced: bool,
}

/// What [`Client::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncReport {
    /// Requests the server accepted.
    pub sent: u32,
    /// Requests the server refused (now shown as failures).
    pub refused: u32,
    /// Requests still queued (the server could not be reached).
    pub queued: u32,
    /// Receipts uploaded.
    pub receipts_uploaded: u32,
    /// Delta pages applied.
    pub pages: u32,
    /// The server asked the phone to hold its queued requests this long
    /// (rate limited); they are sent by the first sync after it.
    pub retry_after: Option<Duration>,
}

/// Something the app shows changed (`KeywayEvent` in Kotlin, Swift and
/// Python).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum), uniffi(name = "KeywayEvent"))]
// Crosses the FFI by value (uniffi lowers enum fields; it cannot box them).
#[allow(clippy::large_enum_variant)]
pub enum ClientEvent {
    /// A code appeared or changed (state on a lock, digits, pending request,
    /// failure).
    CodeChanged {
        /// The code now.
        code: LocalCode,
    },
    /// A code is gone (deleted and removed from every lock, or dismissed).
    CodeRemoved {
        /// Its id on this phone.
        id: String,
    },
    /// A code opened a door ("Dog walker's code opened Unit 4B at 09:14"):
    /// sent once per use, when the sync that brings it commits (never again
    /// on a later sync or after a restart; the uses a first sync brings are
    /// history and are not announced).
    CodeUsed {
        /// The use's id at the server.
        id: String,
        /// The code's id on this phone.
        code_id: String,
        /// The code's name, when it has one.
        code_name: Option<String>,
        /// The door.
        lock_id: String,
        /// The door's name.
        lock_name: String,
        /// When, on the lock's clock.
        at: jiff::Timestamp,
        /// How, as [`CodeUse::kind`](crate::CodeUse::kind) says
        /// (`backup_code_used`: through a backup code handed out for it).
        kind: String,
    },
    /// A lock was visited by a delivery.
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

/// What an app registers with the phone's system so that it is woken when
/// one of the user's locks is near ([`crate::Client::wake_filter`]); locks
/// rotate their Bluetooth address, so filters go by service and
/// manufacturer data, never by address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WakeFilter {
    /// The Keyway lock service every lock advertises (iOS:
    /// `scanForPeripherals(withServices:)`; Android: `ScanFilter` with this
    /// service UUID, for `CompanionDeviceManager` or a `PendingIntent` scan).
    pub service_uuid: String,
    /// The manufacturer data's company identifier (`0xFFFF`).
    pub company_id: u16,
    /// The locks this user's phone may visit, for [`crate::Client::deliver_to`].
    pub lock_ids: Vec<String>,
}
