//! The Bluetooth seam for apps: a foreign `LockTransport` an app implements on
//! its platform's stack (Android's BluetoothLeScanner/BluetoothGatt, iOS's
//! CoreBluetooth), adapted onto the core's `LockTransport`. Apps that pass
//! none get btleplug (feature `ble`). The app hands over each device it heard
//! with its raw manufacturer data, named by the platform's handle for it; the
//! core recognises which of the user's locks it is (the advertisement is
//! private: only the lock's advertising key reads it) and speaks the protocol.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keyway_delivery::{HeardDevice, TransportError};

/// A device advertising the Keyway service, heard in a scan.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LockAdvertisement {
    /// The platform's handle for the device (Android: its address; iOS: the
    /// peripheral's identifier), as `connect` takes it back. Locks rotate
    /// their address with their advertisement, so it changes over time.
    pub device: String,
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
    fn into_core(self, device: Option<&str>) -> TransportError {
        match self {
            Self::AdapterUnavailable { detail } => TransportError::AdapterUnavailable(detail),
            Self::NotFound { detail } => match device {
                Some(device) => TransportError::NotFound(device.to_owned()),
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
/// Links are named by the device handle the scan reported; the core opens
/// one at a time.
#[uniffi::export(foreign)]
#[async_trait]
pub trait LockTransport: Send + Sync {
    /// Scans for `duration_ms` for devices advertising the Keyway service
    /// UUID `4b657977-6179-4c6f-636b-000000000000` and reports each one's
    /// handle, manufacturer data and RSSI, however weak.
    async fn scan(&self, duration_ms: u64) -> Result<Vec<LockAdvertisement>, TransportFailure>;

    /// Connects to the device with this handle, seen in the last scan,
    /// negotiates the largest MTU, discovers the service and subscribes to
    /// the notify characteristic, within `timeout_ms`. Returns the MTU.
    async fn connect(&self, device: String, timeout_ms: u64) -> Result<u32, TransportFailure>;

    /// Writes one frame to the device's write characteristic (a write
    /// request when `with_response`, else a write command).
    async fn write_frame(
        &self,
        device: String,
        frame: Vec<u8>,
        with_response: bool,
    ) -> Result<(), TransportFailure>;

    /// The device's next notification, waiting at most `timeout_ms`; fails
    /// with `Disconnected` as soon as the link drops.
    async fn next_notification(
        &self,
        device: String,
        timeout_ms: u64,
    ) -> Result<Vec<u8>, TransportFailure>;

    /// Closes the link (closing a dropped link is not an error).
    async fn disconnect(&self, device: String) -> Result<(), TransportFailure>;
}

/// The app's transport, as the core sees it.
pub(crate) struct ForeignTransport(pub(crate) Arc<dyn LockTransport>);

struct ForeignLink {
    transport: Arc<dyn LockTransport>,
    device: String,
    mtu: u32,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl keyway_delivery::LockTransport for ForeignTransport {
    async fn scan(&self, duration: Duration) -> Result<Vec<HeardDevice>, TransportError> {
        let heard = self
            .0
            .scan(millis(duration))
            .await
            .map_err(|e| e.into_core(None))?;
        Ok(heard
            .into_iter()
            .map(|a| HeardDevice {
                device: a.device,
                manufacturer_data: a.manufacturer_data,
                rssi: a.rssi,
            })
            .collect())
    }

    async fn connect(
        &self,
        device: &str,
        timeout: Duration,
    ) -> Result<Arc<dyn keyway_delivery::LockLink>, TransportError> {
        let mtu = self
            .0
            .connect(device.to_owned(), millis(timeout))
            .await
            .map_err(|e| e.into_core(Some(device)))?;
        Ok(Arc::new(ForeignLink {
            transport: self.0.clone(),
            device: device.to_owned(),
            mtu,
        }))
    }
}

#[async_trait]
impl keyway_delivery::LockLink for ForeignLink {
    fn mtu(&self) -> usize {
        // At least the BLE minimum, so frames are never empty.
        usize::try_from(self.mtu).unwrap_or(23).max(23)
    }

    async fn write_frame(&self, frame: Vec<u8>, with_response: bool) -> Result<(), TransportError> {
        self.transport
            .write_frame(self.device.clone(), frame, with_response)
            .await
            .map_err(|e| e.into_core(None))
    }

    async fn next_notification(&self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        self.transport
            .next_notification(self.device.clone(), millis(timeout))
            .await
            .map_err(|e| e.into_core(None))
    }

    async fn disconnect(&self) -> Result<(), TransportError> {
        self.transport
            .disconnect(self.device.clone())
            .await
            .map_err(|e| e.into_core(None))
    }
}
