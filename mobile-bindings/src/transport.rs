//! The Bluetooth seam for apps: a foreign `LockTransport` an app implements on
//! its platform's stack (Android's BluetoothLeScanner/BluetoothGatt, iOS's
//! CoreBluetooth), adapted onto the core's `LockTransport`. Apps that pass
//! none get btleplug (feature `ble`). The app hands over raw manufacturer
//! data; the core decodes the advertisement and speaks the protocol.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keyway_core::delivery::{self, LockSighting, TransportError};
use keyway_core::protocol::{Advertisement, LockId};

/// A Keyway lock heard in a scan.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LockAdvertisement {
    /// The manufacturer-specific data under company id 0xFFFF (the bytes
    /// after the company id), as the platform reports it.
    pub manufacturer_data: Vec<u8>,
    /// Received signal strength in dBm, if the platform gives one.
    pub rssi: Option<i16>,
}

/// Why a platform Bluetooth call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TransportFailure {
    /// Bluetooth is off, blocked, absent or not permitted.
    #[error("{detail}")]
    AdapterUnavailable {
        /// What the platform said.
        detail: String,
    },
    /// The lock is not in range (not seen, or gone).
    #[error("{detail}")]
    NotFound {
        /// What the platform said.
        detail: String,
    },
    /// The connection could not be made.
    #[error("{detail}")]
    ConnectFailed {
        /// What the platform said.
        detail: String,
    },
    /// The link dropped.
    #[error("{detail}")]
    Disconnected {
        /// What the platform said.
        detail: String,
    },
    /// Nothing came back in time.
    #[error("{detail}")]
    Timeout {
        /// What the platform said.
        detail: String,
    },
    /// The device lacks the Keyway service or characteristics.
    #[error("{detail}")]
    Incompatible {
        /// What the platform said.
        detail: String,
    },
    /// Anything else.
    #[error("{detail}")]
    Other {
        /// What the platform said.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportFailure {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Other { detail: e.reason }
    }
}

impl TransportFailure {
    fn into_core(self, lock_id: Option<LockId>) -> TransportError {
        match self {
            Self::AdapterUnavailable { detail } => TransportError::AdapterUnavailable(detail),
            Self::NotFound { detail } => match lock_id {
                Some(id) => TransportError::NotFound(id),
                None => TransportError::Other(detail),
            },
            Self::ConnectFailed { detail } => TransportError::ConnectFailed(detail),
            Self::Disconnected { .. } => TransportError::Disconnected,
            Self::Timeout { .. } => TransportError::Timeout,
            Self::Incompatible { detail } => TransportError::Incompatible(detail),
            Self::Other { detail } => TransportError::Other(detail),
        }
    }
}

/// Implemented by the app on its platform's Bluetooth LE stack (see
/// docs/delivery.md, "The transport trait", for what each call must do).
/// Links are named by the lock's id; the core opens one at a time.
#[uniffi::export(foreign)]
#[async_trait]
pub trait LockTransport: Send + Sync {
    /// Scans for `duration_ms` for devices advertising the Keyway service
    /// UUID `4b657977-6179-4c6f-636b-000000000000` and reports each one's
    /// manufacturer data and RSSI, however weak.
    async fn scan(&self, duration_ms: u64) -> Result<Vec<LockAdvertisement>, TransportFailure>;

    /// Connects to the lock with this id (16 hex digits) seen in the last
    /// scan, negotiates the largest MTU, discovers the service and subscribes
    /// to the notify characteristic, within `timeout_ms`. Returns the MTU.
    async fn connect(&self, lock_id: String, timeout_ms: u64) -> Result<u32, TransportFailure>;

    /// Writes one frame to the lock's write characteristic (a write request
    /// when `with_response`, else a write command).
    async fn write_frame(
        &self,
        lock_id: String,
        frame: Vec<u8>,
        with_response: bool,
    ) -> Result<(), TransportFailure>;

    /// The lock's next notification, waiting at most `timeout_ms`; fails with
    /// `Disconnected` as soon as the link drops.
    async fn next_notification(
        &self,
        lock_id: String,
        timeout_ms: u64,
    ) -> Result<Vec<u8>, TransportFailure>;

    /// Closes the link (closing a dropped link is not an error).
    async fn disconnect(&self, lock_id: String) -> Result<(), TransportFailure>;
}

/// The app's transport, as the core sees it.
pub(crate) struct ForeignTransport(pub(crate) Arc<dyn LockTransport>);

struct ForeignLink {
    transport: Arc<dyn LockTransport>,
    lock_id: String,
    mtu: u32,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl delivery::LockTransport for ForeignTransport {
    async fn scan(&self, duration: Duration) -> Result<Vec<LockSighting>, TransportError> {
        let heard = self
            .0
            .scan(millis(duration))
            .await
            .map_err(|e| e.into_core(None))?;
        Ok(heard
            .into_iter()
            .filter_map(|a| {
                let advertisement = Advertisement::decode(&a.manufacturer_data).ok()?;
                Some(LockSighting::new(advertisement, a.rssi))
            })
            .collect())
    }

    async fn connect(
        &self,
        lock_id: LockId,
        timeout: Duration,
    ) -> Result<Arc<dyn delivery::LockLink>, TransportError> {
        let mtu = self
            .0
            .connect(lock_id.to_string(), millis(timeout))
            .await
            .map_err(|e| e.into_core(Some(lock_id)))?;
        Ok(Arc::new(ForeignLink {
            transport: self.0.clone(),
            lock_id: lock_id.to_string(),
            mtu,
        }))
    }
}

#[async_trait]
impl delivery::LockLink for ForeignLink {
    fn mtu(&self) -> usize {
        // At least the BLE minimum, so frames are never empty.
        usize::try_from(self.mtu).unwrap_or(23).max(23)
    }

    async fn write_frame(&self, frame: Vec<u8>, with_response: bool) -> Result<(), TransportError> {
        self.transport
            .write_frame(self.lock_id.clone(), frame, with_response)
            .await
            .map_err(|e| e.into_core(None))
    }

    async fn next_notification(&self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        self.transport
            .next_notification(self.lock_id.clone(), millis(timeout))
            .await
            .map_err(|e| e.into_core(None))
    }

    async fn disconnect(&self) -> Result<(), TransportError> {
        self.transport
            .disconnect(self.lock_id.clone())
            .await
            .map_err(|e| e.into_core(None))
    }
}
