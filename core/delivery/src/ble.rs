//! The Bluetooth LE transport on `btleplug` (feature `ble`): BlueZ over D-Bus
//! on Linux, CoreBluetooth on Apple platforms, WinRT on Windows.
//!
//! - Scanning asks the stack for devices advertising the Keyway service UUID
//!   and reports each one's manufacturer data under
//!   [`keyway_protocol::COMPANY_ID`] and RSSI, named by the stack's device id
//!   (the engine resolves which lock it is with the advertising keys). Devices
//!   the stack remembers from earlier scans but did not hear in this one
//!   (BlueZ keeps them without an RSSI) are left out. Range is the engine's
//!   call ([`super::DeliveryConfig::min_rssi`]).
//! - Connecting connects, discovers services, finds the write and notify
//!   characteristics and subscribes to notifications, all within the timeout.
//! - Frames are written as ATT write commands (without response), except
//!   where the engine asks for a write request: it does so for the last frame
//!   of each message, so a dropped link shows up as a failed write rather than
//!   as a response timeout, and the lock's stack has taken the whole request
//!   before the phone starts waiting for the answer.
//! - A link watches the adapter's events: when the lock disconnects (it
//!   vanished, lost power, or dropped the link) the next write or wait fails
//!   with [`TransportError::Disconnected`] at once instead of hanging.
//! - Adapter off, blocked or absent, and no Bluetooth service at all, are
//!   [`TransportError::AdapterUnavailable`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use btleplug::api::{
    Central, CentralEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{HeardDevice, LockLink, LockTransport, TransportError, WantedDevice};
use keyway_protocol::{COMPANY_ID, NOTIFY_CHAR_UUID, SERVICE_UUID, WRITE_CHAR_UUID};

/// A [`LockTransport`] on the platform's Bluetooth stack through btleplug.
pub struct BleTransport {
    manager: Manager,
    seen: Mutex<HashMap<String, Peripheral>>,
}

impl std::fmt::Debug for BleTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BleTransport")
    }
}

impl BleTransport {
    /// Connects to the platform's Bluetooth stack. On Linux that is BlueZ on
    /// the D-Bus system bus (`DBUS_SYSTEM_BUS_ADDRESS` selects another bus,
    /// such as the simulator's); without one this fails with
    /// [`TransportError::AdapterUnavailable`].
    pub async fn new() -> Result<Self, TransportError> {
        let manager = Manager::new()
            .await
            .map_err(|e| TransportError::AdapterUnavailable {
                detail: format!("no Bluetooth service: {e}"),
            })?;
        Ok(Self {
            manager,
            seen: Mutex::new(HashMap::new()),
        })
    }

    async fn adapter(&self) -> Result<Adapter, TransportError> {
        let adapters = self.manager.adapters().await.map_err(unavailable)?;
        adapters
            .into_iter()
            .next()
            .ok_or_else(|| TransportError::AdapterUnavailable {
                detail: "no Bluetooth adapter".into(),
            })
    }

    /// The Keyway devices the adapter hears now, with their peripherals by
    /// handle. Devices it remembers without an RSSI (not heard in this
    /// discovery) are left out.
    async fn heard(
        &self,
        adapter: &Adapter,
    ) -> Result<(Vec<HeardDevice>, HashMap<String, Peripheral>), TransportError> {
        let mut heard = Vec::new();
        let mut seen = HashMap::new();
        for peripheral in adapter.peripherals().await.map_err(unavailable)? {
            // A device can vanish between the listing and this read.
            let Ok(Some(properties)) = peripheral.properties().await else {
                continue;
            };
            if !properties.services.contains(&service_uuid()) || properties.rssi.is_none() {
                continue;
            }
            let Some(payload) = properties.manufacturer_data.get(&COMPANY_ID) else {
                continue;
            };
            let device = peripheral.id().to_string();
            heard.push(HeardDevice {
                device: device.clone(),
                manufacturer_data: payload.clone(),
                rssi: properties.rssi,
            });
            seen.insert(device, peripheral);
        }
        Ok((heard, seen))
    }

    fn remembered(&self, device: &str) -> Option<Peripheral> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(device)
            .cloned()
    }
}

fn unavailable(e: btleplug::Error) -> TransportError {
    TransportError::AdapterUnavailable {
        detail: e.to_string(),
    }
}

/// The D-Bus error name inside a btleplug error, when there is one.
fn describe(e: &btleplug::Error) -> String {
    format!("{e:?}")
}

/// How often a scan looks at what it has heard so far.
const SCAN_POLL: Duration = Duration::from_millis(100);

fn service_uuid() -> Uuid {
    Uuid::from_u128(SERVICE_UUID)
}

#[async_trait]
impl LockTransport for BleTransport {
    async fn scan(&self, duration: Duration) -> Result<Vec<HeardDevice>, TransportError> {
        self.scan_until(duration, &|_| false).await
    }

    async fn scan_until(
        &self,
        duration: Duration,
        wanted: &WantedDevice<'_>,
    ) -> Result<Vec<HeardDevice>, TransportError> {
        let adapter = self.adapter().await?;
        match adapter
            .start_scan(ScanFilter {
                services: vec![service_uuid()],
            })
            .await
        {
            Ok(()) => {}
            // A scan of ours that was cut short is still running: listen to it.
            Err(e) if describe(&e).contains("InProgress") => {}
            Err(e) => return Err(unavailable(e)),
        }
        // Read what was heard while the discovery still runs: BlueZ forgets
        // every device's RSSI as soon as the last discovery stops.
        let deadline = tokio::time::Instant::now() + duration;
        let heard = loop {
            let now = tokio::time::Instant::now();
            let nap = SCAN_POLL.min(deadline.saturating_duration_since(now));
            tokio::time::sleep(nap).await;
            let heard = self.heard(&adapter).await;
            let done = tokio::time::Instant::now() >= deadline;
            match heard {
                Ok((devices, _)) if !done && !devices.iter().any(wanted) => continue,
                other => break other,
            }
        };
        if let Err(e) = adapter.stop_scan().await {
            log::debug!("stopping the scan failed: {e}");
        }
        let (heard, seen) = heard?;
        *self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = seen;
        Ok(heard)
    }

    async fn connect(
        &self,
        device: &str,
        timeout: Duration,
    ) -> Result<Arc<dyn LockLink>, TransportError> {
        let peripheral = self
            .remembered(device)
            .ok_or_else(|| TransportError::NotFound {
                device: device.to_owned(),
            })?;
        let adapter = self.adapter().await?;
        let opened = tokio::time::timeout(timeout, open_link(&adapter, &peripheral, device)).await;
        match opened {
            Ok(Ok(link)) => Ok(Arc::new(link)),
            Ok(Err(e)) => {
                let _ = peripheral.disconnect().await;
                Err(e)
            }
            Err(_) => {
                let _ = peripheral.disconnect().await;
                Err(TransportError::Timeout)
            }
        }
    }
}

async fn open_link(
    adapter: &Adapter,
    peripheral: &Peripheral,
    device: &str,
) -> Result<BleLink, TransportError> {
    // Subscribe to adapter events first so a disconnect during setup is seen.
    let mut events = adapter.events().await.map_err(unavailable)?;
    peripheral.connect().await.map_err(|e| {
        let text = describe(&e);
        if matches!(e, btleplug::Error::DeviceNotFound) || text.contains("UnknownObject") {
            TransportError::NotFound {
                device: device.to_owned(),
            }
        } else {
            TransportError::ConnectFailed {
                detail: e.to_string(),
            }
        }
    })?;
    peripheral
        .discover_services()
        .await
        .map_err(|e| TransportError::ConnectFailed {
            detail: e.to_string(),
        })?;
    let find = |uuid: u128| -> Result<Characteristic, TransportError> {
        peripheral
            .characteristics()
            .into_iter()
            .find(|c| c.uuid == Uuid::from_u128(uuid) && c.service_uuid == service_uuid())
            .ok_or_else(|| TransportError::Incompatible {
                detail: format!("no characteristic {}", keyway_protocol::uuid_string(uuid)),
            })
    };
    let write = find(WRITE_CHAR_UUID)?;
    let notify = find(NOTIFY_CHAR_UUID)?;
    let mut notifications = peripheral.notifications().await.map_err(link_error)?;
    peripheral.subscribe(&notify).await.map_err(link_error)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let id = peripheral.id();
    let notify_uuid = notify.uuid;
    // Forwards notifications and the disconnect, in order, to the link.
    let pump = tokio::spawn(async move {
        loop {
            tokio::select! {
                n = notifications.next() => match n {
                    Some(n) if n.uuid == notify_uuid => {
                        if tx.send(Ok(n.value)).is_err() {
                            break;
                        }
                    }
                    Some(_) => {}
                    None => {
                        let _ = tx.send(Err(TransportError::Disconnected));
                        break;
                    }
                },
                e = events.next() => match e {
                    Some(CentralEvent::DeviceDisconnected(gone)) if gone == id => {
                        let _ = tx.send(Err(TransportError::Disconnected));
                        break;
                    }
                    Some(_) => {}
                    None => {
                        let _ = tx.send(Err(TransportError::Disconnected));
                        break;
                    }
                },
            }
        }
    });
    let mtu = usize::from(peripheral.mtu());
    log::debug!("connected, MTU {mtu}");
    Ok(BleLink {
        peripheral: peripheral.clone(),
        write,
        mtu,
        incoming: tokio::sync::Mutex::new(rx),
        pump,
    })
}

fn link_error(e: btleplug::Error) -> TransportError {
    let text = describe(&e);
    if matches!(
        e,
        btleplug::Error::NotConnected | btleplug::Error::DeviceNotFound
    ) || text.contains("NotConnected")
        || text.contains("Not connected")
        || text.contains("UnknownObject")
        || text.contains("UnknownMethod")
    {
        TransportError::Disconnected
    } else {
        TransportError::Other {
            detail: e.to_string(),
        }
    }
}

/// An open link to one lock through btleplug.
struct BleLink {
    peripheral: Peripheral,
    write: Characteristic,
    mtu: usize,
    incoming: tokio::sync::Mutex<mpsc::UnboundedReceiver<Result<Vec<u8>, TransportError>>>,
    pump: JoinHandle<()>,
}

impl Drop for BleLink {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

#[async_trait]
impl LockLink for BleLink {
    fn mtu(&self) -> usize {
        self.mtu
    }

    async fn write_frame(&self, frame: Vec<u8>, with_response: bool) -> Result<(), TransportError> {
        let kind = if with_response {
            WriteType::WithResponse
        } else {
            WriteType::WithoutResponse
        };
        match self.peripheral.write(&self.write, &frame, kind).await {
            Ok(()) => Ok(()),
            Err(e) => match link_error(e) {
                TransportError::Other { detail: reason } => {
                    // BlueZ words a lost link many ways; ask it.
                    if self.peripheral.is_connected().await.unwrap_or(false) {
                        Err(TransportError::Other { detail: reason })
                    } else {
                        Err(TransportError::Disconnected)
                    }
                }
                other => Err(other),
            },
        }
    }

    async fn next_notification(&self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let mut incoming = self.incoming.lock().await;
        match tokio::time::timeout(timeout, incoming.recv()).await {
            Ok(Some(item)) => item,
            Ok(None) => Err(TransportError::Disconnected),
            Err(_) => Err(TransportError::Timeout),
        }
    }

    async fn disconnect(&self) -> Result<(), TransportError> {
        self.pump.abort();
        match self.peripheral.disconnect().await {
            Ok(()) => Ok(()),
            Err(e) => match link_error(e) {
                TransportError::Disconnected => Ok(()),
                other => Err(other),
            },
        }
    }
}
