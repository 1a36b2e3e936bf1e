//! Delivery: the phone visiting locks, carrying sealed statuses to the server,
//! sealed jobs to the lock and sealed receipts back (feature `delivery`).
//!
//! This module owns the phone side of the lock link: the [`LockTransport`]
//! trait that any Bluetooth stack can implement (btleplug behind feature
//! `ble`, or an app's own platform stack through the mobile bindings),
//! [`resolve`], which reads the private advertisements of the locks whose
//! advertising keys the phone holds, and the [`DeliveryEngine`], which visits
//! one lock in one connection with a [`VisitServer`] (status, server, jobs
//! framed to the link's MTU, receipts) and hands back a typed outcome.
//!
//! The phone holds no job or receipt key: it routes envelopes by the lock id
//! written on them ([`keyway_protocol::seal::envelope_lock_id`]) and never
//! opens them. Nothing here logs a job's or a receipt's bytes, a code or a key.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

mod engine;
#[cfg(feature = "uniffi")]
pub mod foreign;

#[cfg(feature = "ble")]
pub mod ble;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use keyway_protocol::{AdvertKey, LockId, advert::resolve_any};

pub use engine::{
    Backoff, DeliveryConfig, DeliveryEngine, DeliveryFailure, DeliveryOutcome, VisitError,
    VisitReport, VisitServer, VisitTicket,
};

/// The RSSI at or above which a lock counts as in range: about 30 ft (9 m).
///
/// Model (log-distance path loss): `rssi(d) = tx_power_1m - 10 * n * log10(d)`
/// with a typical lock's `tx_power_1m` = -59 dBm measured at 1 m and a path
/// loss exponent `n` = 2 (line of sight in a corridor). At d = 9.14 m (30 ft)
/// that gives -59 - 20 * 0.961 = -78.2 dBm. Walls and bodies raise `n` to 3 or
/// more, so the same threshold then means a shorter distance: deliberately on
/// the safe side, since a delivery at the edge of range is the one that drops.
pub const DEFAULT_MIN_RSSI: i16 = -78;

/// A device heard in a scan that advertises the Keyway service: what the
/// transport reports, before anyone knows which lock it is. Apps that bring
/// their own Bluetooth stack report these (as `LockAdvertisement`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "uniffi",
    derive(uniffi::Record),
    uniffi(name = "LockAdvertisement")
)]
pub struct HeardDevice {
    /// The transport's handle for the device (a Bluetooth address or a
    /// platform identifier); it changes when the lock rotates its address.
    pub device: String,
    /// The manufacturer data under [`keyway_protocol::COMPANY_ID`] (the bytes after the company id).
    pub manufacturer_data: Vec<u8>,
    /// Received signal strength in dBm; `None` when the stack did not report one.
    pub rssi: Option<i16>,
}

/// One lock heard in a scan and recognised by its advertising key: what its
/// advertisement says and how strongly it was heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSighting {
    /// The lock.
    pub lock_id: LockId,
    /// The device to connect to.
    pub device: String,
    /// The state version it advertises.
    pub version: u32,
    /// It holds audit events the server has not acknowledged.
    pub events_pending: bool,
    /// Its keypad is locked out.
    pub locked_out: bool,
    /// Received signal strength in dBm; `None` when the stack did not report one.
    pub rssi: Option<i16>,
    /// The key that recognised it (the engine finds the lock again with it
    /// when a retry follows a change of address).
    pub key: AdvertKey,
}

impl LockSighting {
    /// Whether the lock is close enough to deliver to: its RSSI is at least
    /// `min_rssi`. A lock heard without an RSSI counts as in range.
    pub fn in_range(&self, min_rssi: i16) -> bool {
        self.rssi.is_none_or(|rssi| rssi >= min_rssi)
    }
}

/// The locks among `heard` that one of `keys` recognises (devices of locks
/// the phone has no key for, and anything that is not a Keyway
/// advertisement, are left out). The strongest sighting of a lock wins.
pub fn resolve(heard: &[HeardDevice], keys: &[AdvertKey]) -> Vec<LockSighting> {
    let mut sightings: Vec<LockSighting> = Vec::new();
    for device in heard {
        let Ok(Some(advert)) = resolve_any(&device.manufacturer_data, keys) else {
            continue;
        };
        let Some(key) = keys.iter().find(|k| k.lock_id() == advert.lock_id) else {
            continue;
        };
        let sighting = LockSighting {
            lock_id: advert.lock_id,
            device: device.device.clone(),
            version: advert.version,
            events_pending: advert.events_pending,
            locked_out: advert.locked_out,
            rssi: device.rssi,
            key: key.clone(),
        };
        match sightings.iter_mut().find(|s| s.lock_id == sighting.lock_id) {
            Some(known) if known.rssi < sighting.rssi => *known = sighting,
            Some(_) => {}
            None => sightings.push(sighting),
        }
    }
    sightings
}

/// What went wrong below the protocol: the radio, the adapter, the link.
/// Apps that bring their own Bluetooth stack throw it from their
/// `LockTransport` (as `TransportException` in Kotlin).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error))]
pub enum TransportError {
    /// Bluetooth is off, blocked, absent, or its service cannot be reached.
    #[error("Bluetooth is unavailable: {detail}")]
    AdapterUnavailable {
        /// What the stack said.
        detail: String,
    },
    /// The device was not seen (out of range, or it vanished).
    #[error("the device {device} is not in range")]
    NotFound {
        /// The handle the scan reported for it.
        device: String,
    },
    /// The lock was seen but the connection could not be made.
    #[error("could not connect to the lock: {detail}")]
    ConnectFailed {
        /// What the stack said.
        detail: String,
    },
    /// The link dropped.
    #[error("the Bluetooth link was lost")]
    Disconnected,
    /// Nothing came back in time.
    #[error("the lock did not answer in time")]
    Timeout,
    /// The device does not offer the Keyway service and characteristics.
    #[error("the device does not offer the Keyway lock service: {detail}")]
    Incompatible {
        /// What is missing.
        detail: String,
    },
    /// Any other failure of the Bluetooth stack.
    #[error("Bluetooth error: {detail}")]
    Other {
        /// What the stack said.
        detail: String,
    },
}

impl TransportError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AdapterUnavailable { .. } => "bluetooth_unavailable",
            Self::NotFound { .. } => "not_found",
            Self::ConnectFailed { .. } => "connect_failed",
            Self::Disconnected => "disconnected",
            Self::Timeout => "timeout",
            Self::Incompatible { .. } => "incompatible",
            Self::Other { .. } => "transport_error",
        }
    }
}

/// A foreign transport's unexpected exception is an `Other` failure.
#[cfg(feature = "uniffi")]
impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Other {
            detail: error.reason,
        }
    }
}

/// What a scan that may end early is looking for (see
/// [`LockTransport::scan_until`]).
pub type WantedDevice<'a> = dyn for<'d> Fn(&'d HeardDevice) -> bool + Send + Sync + 'a;

/// A Bluetooth stack that can find Keyway locks and open links to them.
///
/// Object safe: the engine holds an `Arc<dyn LockTransport>`, so an app may
/// plug in its platform's stack instead of the btleplug one.
#[async_trait]
pub trait LockTransport: Send + Sync {
    /// Listens for `duration` and reports every device heard that advertises
    /// the Keyway service, with its manufacturer data under [`keyway_protocol::COMPANY_ID`],
    /// however weak.
    async fn scan(&self, duration: Duration) -> Result<Vec<HeardDevice>, TransportError>;

    /// Like [`LockTransport::scan`], but may end as soon as a device for
    /// which `wanted` says yes has been heard (a lock with work, in range),
    /// reporting everything heard so far. The default listens the whole
    /// `duration`; the btleplug transport stops early.
    async fn scan_until(
        &self,
        duration: Duration,
        wanted: &WantedDevice<'_>,
    ) -> Result<Vec<HeardDevice>, TransportError> {
        let _ = wanted;
        self.scan(duration).await
    }

    /// Connects to a device heard in the last scan, discovers the Keyway
    /// service and subscribes to its notify characteristic, within `timeout`.
    async fn connect(
        &self,
        device: &str,
        timeout: Duration,
    ) -> Result<Arc<dyn LockLink>, TransportError>;
}

/// An open link to one lock.
#[async_trait]
pub trait LockLink: Send + Sync {
    /// The negotiated ATT MTU; frames are at most `mtu - 3` bytes.
    fn mtu(&self) -> usize;

    /// Writes one frame to the write characteristic. `with_response` asks for
    /// an ATT write request (acknowledged by the lock's stack) instead of a
    /// write command.
    async fn write_frame(&self, frame: Vec<u8>, with_response: bool) -> Result<(), TransportError>;

    /// The next notification from the notify characteristic, waiting at most
    /// `timeout`.
    async fn next_notification(&self, timeout: Duration) -> Result<Vec<u8>, TransportError>;

    /// Closes the link. Closing a link that already dropped is not an error.
    async fn disconnect(&self) -> Result<(), TransportError>;
}
