//! `org.bluez.GattCharacteristic1`: the lock's write and notify
//! characteristics while a link is up, and the link itself on the D-Bus side
//! ([`Link`]): frames written go to the simulated lock, its answers come back
//! as notifications (`PropertiesChanged` of `Value`), in order, through one
//! notifier task per link.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keyway_protocol::{LockId, NOTIFY_CHAR_UUID, WRITE_CHAR_UUID, uuid_string};
use tokio::sync::mpsc;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::{Connection, interface};

use super::gatt_service::GattServiceIface;
use super::object_manager::owned_path;
use super::{Bluez, BluezError};
use crate::sim::After;

/// Which of the lock's two characteristics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CharKind {
    /// Phone → lock: `write-without-response`, `write`.
    Write,
    /// Lock → phone: `read`, `notify`; a read returns the last frame notified.
    Notify,
}

impl CharKind {
    fn uuid(self) -> u128 {
        match self {
            Self::Write => WRITE_CHAR_UUID,
            Self::Notify => NOTIFY_CHAR_UUID,
        }
    }

    fn flags(self) -> Vec<String> {
        match self {
            Self::Write => vec!["write-without-response".into(), "write".into()],
            Self::Notify => vec!["read".into(), "notify".into()],
        }
    }

    fn handle(self) -> u16 {
        match self {
            Self::Write => 2,
            Self::Notify => 4,
        }
    }
}

/// A frame to notify, after waiting `delay_ms` (the delay fault).
#[derive(Debug)]
pub(crate) struct Outgoing {
    frame: Vec<u8>,
    delay_ms: u64,
}

/// A link as the D-Bus side keeps it.
#[derive(Debug)]
pub(crate) struct Link {
    /// The address the phone connected to.
    pub(crate) address: String,
    /// Tells this link from an earlier one to the same lock.
    generation: u64,
    /// The notifier's queue.
    outgoing: mpsc::UnboundedSender<Outgoing>,
}

/// `org.bluez.GattCharacteristic1`: the write or the notify characteristic.
pub(crate) struct CharIface {
    bluez: Arc<Bluez>,
    lock_id: LockId,
    device: String,
    kind: CharKind,
}

impl CharIface {
    /// The characteristic of `kind` on the device at `device` (its path).
    pub(crate) fn new(bluez: Arc<Bluez>, lock_id: LockId, device: &str, kind: CharKind) -> Self {
        Self {
            bluez,
            lock_id,
            device: device.to_owned(),
            kind,
        }
    }

    /// The object path of the characteristic of `kind` on the device at
    /// `device`.
    pub(crate) fn path(device: &str, kind: CharKind) -> String {
        format!(
            "{}/char{:04x}",
            GattServiceIface::path(device),
            kind.handle()
        )
    }

    fn is_notifying(&self) -> bool {
        let state = self.bluez.state();
        state
            .links
            .get(&self.lock_id)
            .and_then(|link| state.devices.get(&link.address))
            .is_some_and(|d| d.notifying)
    }

    async fn set_notifying(&self, conn: &Connection, on: bool) -> bool {
        let address = self
            .bluez
            .state()
            .links
            .get(&self.lock_id)
            .map(|l| l.address.clone());
        let was = address
            .and_then(|a| {
                self.bluez
                    .update_device(&a, |d| std::mem::replace(&mut d.notifying, on))
            })
            .unwrap_or(false);
        let path = Self::path(&self.device, self.kind);
        self.bluez.objects.sync::<CharIface>(conn, &path).await;
        was
    }
}

#[interface(name = "org.bluez.GattCharacteristic1")]
impl CharIface {
    fn read_value(&self, _options: HashMap<String, OwnedValue>) -> Result<Vec<u8>, BluezError> {
        if self.kind != CharKind::Notify {
            return Err(BluezError::NotPermitted("Read not permitted".into()));
        }
        if !self.bluez.sim.is_connected(self.lock_id) {
            return Err(BluezError::NotConnected("Not Connected".into()));
        }
        Ok(self.bluez.sim.last_notified(self.lock_id))
    }

    async fn write_value(
        &self,
        value: Vec<u8>,
        options: HashMap<String, OwnedValue>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        if self.kind != CharKind::Write {
            return Err(BluezError::NotPermitted("Write not permitted".into()));
        }
        if let Some(kind) = options.get("type") {
            let kind: String = kind
                .try_clone()
                .ok()
                .and_then(|v| String::try_from(v).ok())
                .unwrap_or_default();
            if !matches!(kind.as_str(), "command" | "request" | "reliable") {
                return Err(BluezError::InvalidArguments(
                    "Invalid arguments in method call".into(),
                ));
            }
        }
        let result = self.bluez.sim.write_frame(self.lock_id, &value)?;
        match result.after {
            After::Stay => {
                let tx = self
                    .bluez
                    .state()
                    .links
                    .get(&self.lock_id)
                    .map(|l| l.outgoing.clone());
                if let Some(tx) = tx {
                    // The notifier sends in order; the delay holds the whole answer.
                    let mut delay_ms = result.delay_ms;
                    for frame in result.notify {
                        let _ = tx.send(Outgoing { frame, delay_ms });
                        delay_ms = 0;
                    }
                }
            }
            After::Drop | After::PowerCut => {
                let bluez = self.bluez.clone();
                let conn = conn.clone();
                let lock_id = self.lock_id;
                // The frame went through; the link drops right after.
                tokio::spawn(async move {
                    bluez.drop_link(&conn, lock_id).await;
                    bluez.reconcile(&conn).await;
                });
            }
        }
        Ok(())
    }

    async fn start_notify(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezError> {
        if self.kind != CharKind::Notify {
            return Err(BluezError::NotSupported(
                "Operation is not supported".into(),
            ));
        }
        if !self.bluez.sim.is_connected(self.lock_id) {
            return Err(BluezError::NotConnected("Not Connected".into()));
        }
        self.set_notifying(conn, true).await;
        Ok(())
    }

    async fn stop_notify(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezError> {
        if !self.set_notifying(conn, false).await {
            return Err(BluezError::Failed("No notify session started".into()));
        }
        Ok(())
    }

    fn acquire_write(&self, _options: HashMap<String, OwnedValue>) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Operation is not supported".into(),
        ))
    }

    fn acquire_notify(&self, _options: HashMap<String, OwnedValue>) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Operation is not supported".into(),
        ))
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        uuid_string(self.kind.uuid())
    }
    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        owned_path(&GattServiceIface::path(&self.device))
    }
    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        match self.kind {
            CharKind::Notify => self.bluez.sim.last_notified(self.lock_id),
            CharKind::Write => Vec::new(),
        }
    }
    #[zbus(property)]
    fn notifying(&self) -> bool {
        self.kind == CharKind::Notify && self.is_notifying()
    }
    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        self.kind.flags()
    }
    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        self.bluez.sim.radio().mtu
    }
    #[zbus(property)]
    fn handle(&self) -> u16 {
        self.kind.handle()
    }
}

impl Bluez {
    /// Records a new link to `lock_id` through `address` and starts its
    /// notifier.
    pub(super) fn open_link(self: &Arc<Self>, conn: &Connection, lock_id: LockId, address: &str) {
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = {
            let mut state = self.state();
            state.generation += 1;
            let generation = state.generation;
            let link = Link {
                address: address.to_owned(),
                generation,
                outgoing: tx,
            };
            state.links.insert(lock_id, link);
            generation
        };
        let device = super::device::device_path(address);
        tokio::spawn(notifier(
            self.clone(),
            conn.clone(),
            lock_id,
            CharIface::path(&device, CharKind::Notify),
            generation,
            rx,
        ));
    }
}

/// Sends a link's notifications in order, honouring the delay fault and the
/// connection interval in realtime mode; stops when the link goes.
async fn notifier(
    bluez: Arc<Bluez>,
    conn: Connection,
    lock_id: LockId,
    path: String,
    generation: u64,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    while let Some(Outgoing { frame, delay_ms }) = rx.recv().await {
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        let current = bluez
            .state()
            .links
            .get(&lock_id)
            .is_some_and(|l| l.generation == generation);
        if !current {
            break;
        }
        let radio = bluez.sim.radio();
        if radio.realtime {
            tokio::time::sleep(Duration::from_secs_f64(
                radio.connection_interval_ms / 1000.0,
            ))
            .await;
        }
        bluez.sim.notified(lock_id, &frame);
        // Every notification is a signal, even one repeating the last value.
        bluez
            .objects
            .sync_forcing::<CharIface>(&conn, &path, &["Value"])
            .await;
    }
}
