//! The Bluetooth seam for apps (feature `uniffi`): a foreign `LockTransport`
//! an app implements on its platform's stack (Android's
//! BluetoothLeScanner/BluetoothGatt, iOS's CoreBluetooth), adapted onto the
//! crate's [`crate::LockTransport`] by [`ForeignTransport`]. It lives here, next
//! to [`TransportError`], because a foreign callback can only throw an error
//! of its own crate. Apps that pass none get btleplug (feature `ble`). The app hands over each device it heard
//! with its raw manufacturer data, named by the platform's handle for it; the
//! core recognises which of the user's locks it is (the advertisement is
//! private: only the lock's advertising key reads it) and speaks the protocol.

use std::sync::Arc;
use std::time::Duration;

use crate::{HeardDevice, TransportError};
use async_trait::async_trait;

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
    async fn scan(&self, duration_ms: u64) -> Result<Vec<HeardDevice>, TransportError>;

    /// Connects to the device with this handle, seen in the last scan,
    /// negotiates the largest MTU, discovers the service and subscribes to
    /// the notify characteristic, within `timeout_ms`. Returns the MTU.
    async fn connect(&self, device: String, timeout_ms: u64) -> Result<u32, TransportError>;

    /// Writes one frame to the device's write characteristic (a write
    /// request when `with_response`, else a write command).
    async fn write_frame(
        &self,
        device: String,
        frame: Vec<u8>,
        with_response: bool,
    ) -> Result<(), TransportError>;

    /// The device's next notification, waiting at most `timeout_ms`; fails
    /// with `Disconnected` as soon as the link drops.
    async fn next_notification(
        &self,
        device: String,
        timeout_ms: u64,
    ) -> Result<Vec<u8>, TransportError>;

    /// Closes the link (closing a dropped link is not an error).
    async fn disconnect(&self, device: String) -> Result<(), TransportError>;
}

/// The app's transport, as the delivery engine sees it.
pub struct ForeignTransport(pub Arc<dyn LockTransport>);

struct ForeignLink {
    transport: Arc<dyn LockTransport>,
    device: String,
    mtu: u32,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl crate::LockTransport for ForeignTransport {
    async fn scan(&self, duration: Duration) -> Result<Vec<HeardDevice>, TransportError> {
        self.0.scan(millis(duration)).await
    }

    async fn connect(
        &self,
        device: &str,
        timeout: Duration,
    ) -> Result<Arc<dyn crate::LockLink>, TransportError> {
        let mtu = self.0.connect(device.to_owned(), millis(timeout)).await?;
        Ok(Arc::new(ForeignLink {
            transport: self.0.clone(),
            device: device.to_owned(),
            mtu,
        }))
    }
}

#[async_trait]
impl crate::LockLink for ForeignLink {
    fn mtu(&self) -> usize {
        // At least the BLE minimum, so frames are never empty.
        usize::try_from(self.mtu).unwrap_or(23).max(23)
    }

    async fn write_frame(&self, frame: Vec<u8>, with_response: bool) -> Result<(), TransportError> {
        self.transport
            .write_frame(self.device.clone(), frame, with_response)
            .await
    }

    async fn next_notification(&self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        self.transport
            .next_notification(self.device.clone(), millis(timeout))
            .await
    }

    async fn disconnect(&self) -> Result<(), TransportError> {
        self.transport.disconnect(self.device.clone()).await
    }
}
