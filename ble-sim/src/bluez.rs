//! A simulated BlueZ: the `org.bluez` D-Bus service that btleplug (through
//! bluez-async), `bluetoothctl` and any other BlueZ client talk to, served
//! with zbus on a private bus.
//!
//! Objects, as BlueZ lays them out:
//! - `/`: `org.freedesktop.DBus.ObjectManager` (objects listed parents first,
//!   as bluetoothctl needs; `InterfacesAdded`/`InterfacesRemoved` signals).
//! - `/org/bluez`: `org.bluez.AgentManager1` (agents accepted and ignored).
//! - `/org/bluez/hci0`: `org.bluez.Adapter1`.
//! - `/org/bluez/hci0/dev_XX_..`: `org.bluez.Device1` per lock heard while
//!   discovering; it goes when the lock is no longer heard (out of range, no
//!   power, adapter off). RSSI and `ManufacturerData` (`a{qv}`) follow the
//!   radio model and the lock's version.
//! - `.../service0001`, `.../service0001/char0002` (write) and `char0004`
//!   (notify, readable): `org.bluez.GattService1` and
//!   `org.bluez.GattCharacteristic1`, while connected.
//!
//! Errors are BlueZ's: `org.bluez.Error.NotReady` (adapter off),
//! `InProgress`, `Failed` (refused or lost connection, no discovery),
//! `AlreadyConnected`, `NotConnected`, `NotPermitted`, `InvalidValueLength`,
//! `NotSupported`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use keyway_core::protocol::{
    COMPANY_ID, LockId, NOTIFY_CHAR_UUID, SERVICE_UUID, WRITE_CHAR_UUID, uuid_string,
};
use tokio::sync::mpsc;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, interface};

use crate::sim::{After, Heard, LinkRefusal, Sim};

/// The adapter's object path.
pub const ADAPTER_PATH: &str = "/org/bluez/hci0";
/// The adapter's address.
pub const ADAPTER_ADDRESS: &str = "5E:4B:57:00:00:01";
const DEVICE_IFACE: &str = "org.bluez.Device1";
const ADAPTER_IFACE: &str = "org.bluez.Adapter1";
const SERVICE_IFACE: &str = "org.bluez.GattService1";
const CHAR_IFACE: &str = "org.bluez.GattCharacteristic1";

/// BlueZ's D-Bus errors.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
pub enum BluezError {
    /// A zbus failure.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// `org.bluez.Error.Failed`.
    Failed(String),
    /// `org.bluez.Error.NotReady`.
    NotReady(String),
    /// `org.bluez.Error.InProgress`.
    InProgress(String),
    /// `org.bluez.Error.AlreadyConnected`.
    AlreadyConnected(String),
    /// `org.bluez.Error.NotConnected`.
    NotConnected(String),
    /// `org.bluez.Error.NotPermitted`.
    NotPermitted(String),
    /// `org.bluez.Error.NotSupported`.
    NotSupported(String),
    /// `org.bluez.Error.InvalidValueLength`.
    InvalidValueLength(String),
    /// `org.bluez.Error.InvalidArguments`.
    InvalidArguments(String),
    /// `org.bluez.Error.DoesNotExist`.
    DoesNotExist(String),
}

impl From<LinkRefusal> for BluezError {
    fn from(r: LinkRefusal) -> Self {
        match r {
            LinkRefusal::AdapterOff => Self::NotReady("Resource Not Ready".into()),
            LinkRefusal::NotHeard => Self::Failed("le-connection-abort-by-local".into()),
            LinkRefusal::Refused => Self::Failed("le-connection-abort-by-local".into()),
            LinkRefusal::AlreadyConnected => Self::AlreadyConnected("Already Connected".into()),
            LinkRefusal::NotConnected => Self::NotConnected("Not Connected".into()),
            LinkRefusal::TooLong(max) => {
                Self::InvalidValueLength(format!("Invalid Length (at most {max} bytes)"))
            }
            LinkRefusal::Unknown => Self::DoesNotExist("Does Not Exist".into()),
        }
    }
}

/// The MAC address a lock's device shows: a random static address derived
/// from its id (two top bits set, as the Bluetooth spec requires).
pub fn mac_for(lock_id: LockId) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, &lock_id.0);
    let mut bytes = [0u8; 6];
    bytes.copy_from_slice(&digest.as_ref()[..6]);
    bytes[0] |= 0xc0;
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A lock's device object path.
pub fn device_path(lock_id: LockId) -> String {
    format!("{ADAPTER_PATH}/dev_{}", mac_for(lock_id).replace(':', "_"))
}

fn service_path(lock_id: LockId) -> String {
    format!("{}/service0001", device_path(lock_id))
}

fn write_char_path(lock_id: LockId) -> String {
    format!("{}/char0002", service_path(lock_id))
}

fn notify_char_path(lock_id: LockId) -> String {
    format!("{}/char0004", service_path(lock_id))
}

type Props = BTreeMap<String, OwnedValue>;

/// An object path that sorts by its text, so a `BTreeMap` of them lists
/// parents before children (`/a` < `/a/b`), as bluetoothctl needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, zbus::zvariant::Type)]
struct SortedPath(OwnedObjectPath);

impl PartialOrd for SortedPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortedPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_str().cmp(other.0.as_str())
    }
}

fn ov<'a>(value: impl Into<Value<'a>>) -> OwnedValue {
    // Only values holding file descriptors fail to convert; none here do.
    OwnedValue::try_from(value.into()).unwrap_or_else(|_| OwnedValue::from(0u8))
}

fn path(p: &str) -> OwnedObjectPath {
    OwnedObjectPath::try_from(p.to_owned()).unwrap_or_else(|_| OwnedObjectPath::default())
}

fn manufacturer_data(advert: &[u8]) -> HashMap<u16, OwnedValue> {
    HashMap::from([(COMPANY_ID, ov(advert.to_vec()))])
}

/// A frame to notify, after waiting `delay_ms` (the delay fault).
#[derive(Debug)]
struct Outgoing {
    frame: Vec<u8>,
    delay_ms: u64,
}

/// What the D-Bus side last published about a device.
#[derive(Debug, Clone, PartialEq)]
struct Published {
    name: String,
    rssi: i16,
    advertisement: Vec<u8>,
    connected: bool,
    services_resolved: bool,
    notifying: bool,
}

#[derive(Debug, Default)]
struct Exported {
    devices: BTreeMap<LockId, Published>,
    adapter: Option<(bool, bool)>,
    links: HashMap<LockId, (u64, mpsc::UnboundedSender<Outgoing>)>,
    generation: u64,
}

/// The simulated BlueZ: shared by every D-Bus object it serves.
#[derive(Debug)]
pub struct Bluez {
    sim: Arc<Sim>,
    exported: Mutex<Exported>,
    reconciling: tokio::sync::Mutex<()>,
}

impl Bluez {
    fn exported(&self) -> std::sync::MutexGuard<'_, Exported> {
        self.exported.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn adapter_props(&self) -> Props {
        let (powered, blocked, discovering) = self.sim.adapter();
        let power_state = match (powered, blocked) {
            (true, _) => "on",
            (false, true) => "off-blocked",
            (false, false) => "off",
        };
        BTreeMap::from([
            ("Address".into(), ov(ADAPTER_ADDRESS)),
            ("AddressType".into(), ov("public")),
            ("Name".into(), ov("keyway-sim")),
            ("Alias".into(), ov("keyway-sim")),
            ("Class".into(), ov(0u32)),
            ("Powered".into(), ov(powered)),
            ("PowerState".into(), ov(power_state)),
            ("Discoverable".into(), ov(false)),
            ("DiscoverableTimeout".into(), ov(180u32)),
            ("Pairable".into(), ov(false)),
            ("PairableTimeout".into(), ov(0u32)),
            ("Discovering".into(), ov(discovering)),
            ("UUIDs".into(), ov(Vec::<String>::new())),
            ("Modalias".into(), ov("usb:v1D6Bp0246d0540")),
            ("Roles".into(), ov(vec!["central".to_owned()])),
        ])
    }

    fn device_props(lock_id: LockId, p: &Published) -> Props {
        BTreeMap::from([
            ("Address".into(), ov(mac_for(lock_id))),
            ("AddressType".into(), ov("random")),
            ("Name".into(), ov(p.name.clone())),
            ("Alias".into(), ov(p.name.clone())),
            ("Paired".into(), ov(false)),
            ("Bonded".into(), ov(false)),
            ("Trusted".into(), ov(false)),
            ("Blocked".into(), ov(false)),
            ("LegacyPairing".into(), ov(false)),
            ("Connected".into(), ov(p.connected)),
            ("ServicesResolved".into(), ov(p.services_resolved)),
            ("UUIDs".into(), ov(vec![uuid_string(SERVICE_UUID)])),
            ("RSSI".into(), ov(p.rssi)),
            (
                "ManufacturerData".into(),
                ov(manufacturer_data(&p.advertisement)),
            ),
            ("Adapter".into(), ov(path(ADAPTER_PATH))),
        ])
    }

    fn service_props(lock_id: LockId) -> Props {
        BTreeMap::from([
            ("UUID".into(), ov(uuid_string(SERVICE_UUID))),
            ("Primary".into(), ov(true)),
            ("Device".into(), ov(path(&device_path(lock_id)))),
            ("Includes".into(), ov(Vec::<OwnedObjectPath>::new())),
            ("Handle".into(), ov(1u16)),
        ])
    }

    fn char_props(&self, lock_id: LockId, notify: bool, mtu: u16) -> Props {
        let (uuid, flags, value, notifying, handle): (u128, Vec<String>, Vec<u8>, bool, u16) =
            if notify {
                let notifying = self
                    .exported()
                    .devices
                    .get(&lock_id)
                    .is_some_and(|p| p.notifying);
                (
                    NOTIFY_CHAR_UUID,
                    vec!["read".into(), "notify".into()],
                    self.sim.last_notified(lock_id),
                    notifying,
                    4,
                )
            } else {
                (
                    WRITE_CHAR_UUID,
                    vec!["write-without-response".into(), "write".into()],
                    Vec::new(),
                    false,
                    2,
                )
            };
        BTreeMap::from([
            ("UUID".into(), ov(uuid_string(uuid))),
            ("Service".into(), ov(path(&service_path(lock_id)))),
            ("Value".into(), ov(value)),
            ("Notifying".into(), ov(notifying)),
            ("Flags".into(), ov(flags)),
            ("MTU".into(), ov(mtu)),
            ("Handle".into(), ov(handle)),
        ])
    }

    /// Every object with its interfaces and properties, parents first.
    fn managed_objects(&self) -> BTreeMap<SortedPath, BTreeMap<String, Props>> {
        let mut out = BTreeMap::new();
        out.insert(
            SortedPath(path(ADAPTER_PATH)),
            BTreeMap::from([(ADAPTER_IFACE.to_owned(), self.adapter_props())]),
        );
        let mtu = self.sim.radio().mtu;
        let devices: Vec<(LockId, Published)> = self
            .exported()
            .devices
            .iter()
            .map(|(id, p)| (*id, p.clone()))
            .collect();
        for (id, published) in devices {
            out.insert(
                SortedPath(path(&device_path(id))),
                BTreeMap::from([(DEVICE_IFACE.to_owned(), Self::device_props(id, &published))]),
            );
            if published.services_resolved {
                out.insert(
                    SortedPath(path(&service_path(id))),
                    BTreeMap::from([(SERVICE_IFACE.to_owned(), Self::service_props(id))]),
                );
                out.insert(
                    SortedPath(path(&write_char_path(id))),
                    BTreeMap::from([(CHAR_IFACE.to_owned(), self.char_props(id, false, mtu))]),
                );
                out.insert(
                    SortedPath(path(&notify_char_path(id))),
                    BTreeMap::from([(CHAR_IFACE.to_owned(), self.char_props(id, true, mtu))]),
                );
            }
        }
        out
    }

    /// Brings the D-Bus objects in line with the simulated world: devices
    /// appear while discovering and heard, vanish when not heard, and their
    /// RSSI and manufacturer data follow the world.
    pub async fn reconcile(self: &Arc<Self>, conn: &Connection) {
        let _guard = self.reconciling.lock().await;
        let (powered, _, discovering) = self.sim.adapter();
        let adapter_now = (powered, discovering);
        let adapter_before = self.exported().adapter.replace(adapter_now);
        if adapter_before != Some(adapter_now) {
            let mut changed = HashMap::new();
            if adapter_before.is_none_or(|(p, _)| p != powered) {
                changed.insert("Powered", Value::from(powered));
                changed.insert(
                    "PowerState",
                    Value::from(if powered { "on" } else { "off" }),
                );
            }
            if adapter_before.is_none_or(|(_, d)| d != discovering) {
                changed.insert("Discovering", Value::from(discovering));
            }
            emit_changed(conn, ADAPTER_PATH, ADAPTER_IFACE, changed).await;
        }

        let heard: Vec<Heard> = self.sim.heard();
        let gone: Vec<LockId> = {
            let exported = self.exported();
            exported
                .devices
                .keys()
                .filter(|id| !heard.iter().any(|h| h.lock_id == **id))
                .copied()
                .collect()
        };
        for id in gone {
            self.drop_link(conn, id).await;
            self.exported().devices.remove(&id);
            let _ = conn
                .object_server()
                .remove::<DeviceIface, _>(device_path(id).as_str())
                .await;
            let _ = ObjectManager::interfaces_removed(
                &root_emitter(conn),
                object_path(&device_path(id)),
                vec![DEVICE_IFACE],
            )
            .await;
            log::debug!("lock {id}: no longer heard");
        }

        for h in heard {
            let before = self.exported().devices.get(&h.lock_id).cloned();
            match before {
                None if discovering => {
                    let published = Published {
                        name: h.name.clone(),
                        rssi: h.rssi,
                        advertisement: h.advertisement.clone(),
                        connected: false,
                        services_resolved: false,
                        notifying: false,
                    };
                    self.exported().devices.insert(h.lock_id, published.clone());
                    let iface = DeviceIface {
                        bluez: self.clone(),
                        lock_id: h.lock_id,
                    };
                    let _ = conn
                        .object_server()
                        .at(device_path(h.lock_id).as_str(), iface)
                        .await;
                    emit_added(
                        conn,
                        &device_path(h.lock_id),
                        DEVICE_IFACE,
                        Self::device_props(h.lock_id, &published),
                    )
                    .await;
                    log::debug!("lock {}: heard at {} dBm", h.lock_id, h.rssi);
                }
                None => {}
                Some(before) => {
                    let mut changed = HashMap::new();
                    let mut after = before.clone();
                    if discovering && before.rssi != h.rssi {
                        changed.insert("RSSI", Value::from(h.rssi));
                        after.rssi = h.rssi;
                    }
                    if before.advertisement != h.advertisement {
                        changed.insert(
                            "ManufacturerData",
                            Value::from(manufacturer_data(&h.advertisement)),
                        );
                        after.advertisement = h.advertisement.clone();
                    }
                    if before.name != h.name {
                        changed.insert("Name", Value::from(h.name.clone()));
                        changed.insert("Alias", Value::from(h.name.clone()));
                        after.name = h.name.clone();
                    }
                    if !changed.is_empty() {
                        self.exported().devices.insert(h.lock_id, after);
                        emit_changed(conn, &device_path(h.lock_id), DEVICE_IFACE, changed).await;
                    }
                }
            }
            // A link the world dropped (fault, power cut) closes on D-Bus too.
            let published_connected = self
                .exported()
                .devices
                .get(&h.lock_id)
                .is_some_and(|p| p.connected);
            if published_connected && !h.connected {
                self.drop_link(conn, h.lock_id).await;
            }
        }
    }

    /// Connects the phone to a lock: the GATT objects appear, then
    /// `Connected` and `ServicesResolved` turn true.
    async fn connect(
        self: &Arc<Self>,
        conn: &Connection,
        lock_id: LockId,
    ) -> Result<(), BluezError> {
        let (mtu, delay_ms) = self.sim.connect(lock_id)?;
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        let server = conn.object_server();
        let service = GattServiceIface { lock_id };
        let write = CharIface {
            bluez: self.clone(),
            lock_id,
            notify: false,
        };
        let notify = CharIface {
            bluez: self.clone(),
            lock_id,
            notify: true,
        };
        server.at(service_path(lock_id).as_str(), service).await?;
        server.at(write_char_path(lock_id).as_str(), write).await?;
        server
            .at(notify_char_path(lock_id).as_str(), notify)
            .await?;
        emit_added(
            conn,
            &service_path(lock_id),
            SERVICE_IFACE,
            Self::service_props(lock_id),
        )
        .await;
        emit_added(
            conn,
            &write_char_path(lock_id),
            CHAR_IFACE,
            self.char_props(lock_id, false, mtu),
        )
        .await;
        emit_added(
            conn,
            &notify_char_path(lock_id),
            CHAR_IFACE,
            self.char_props(lock_id, true, mtu),
        )
        .await;

        let (tx, rx) = mpsc::unbounded_channel();
        let generation = {
            let mut exported = self.exported();
            exported.generation += 1;
            let generation = exported.generation;
            exported.links.insert(lock_id, (generation, tx));
            if let Some(p) = exported.devices.get_mut(&lock_id) {
                p.connected = true;
                p.services_resolved = true;
            }
            generation
        };
        tokio::spawn(notifier(
            self.clone(),
            conn.clone(),
            lock_id,
            generation,
            rx,
        ));
        emit_changed(
            conn,
            &device_path(lock_id),
            DEVICE_IFACE,
            HashMap::from([("Connected", Value::from(true))]),
        )
        .await;
        emit_changed(
            conn,
            &device_path(lock_id),
            DEVICE_IFACE,
            HashMap::from([("ServicesResolved", Value::from(true))]),
        )
        .await;
        Ok(())
    }

    /// Closes the link to a lock on both sides: the world forgets the link,
    /// the GATT objects go, `Connected` turns false.
    async fn drop_link(self: &Arc<Self>, conn: &Connection, lock_id: LockId) {
        self.sim.disconnect(lock_id);
        let was = {
            let mut exported = self.exported();
            exported.links.remove(&lock_id);
            match exported.devices.get_mut(&lock_id) {
                Some(p) if p.connected || p.services_resolved => {
                    p.connected = false;
                    p.services_resolved = false;
                    p.notifying = false;
                    true
                }
                _ => false,
            }
        };
        if !was {
            return;
        }
        let server = conn.object_server();
        for char_path in [notify_char_path(lock_id), write_char_path(lock_id)] {
            let _ = server.remove::<CharIface, _>(char_path.as_str()).await;
            let _ = ObjectManager::interfaces_removed(
                &root_emitter(conn),
                object_path(&char_path),
                vec![CHAR_IFACE],
            )
            .await;
        }
        let _ = server
            .remove::<GattServiceIface, _>(service_path(lock_id).as_str())
            .await;
        let _ = ObjectManager::interfaces_removed(
            &root_emitter(conn),
            object_path(&service_path(lock_id)),
            vec![SERVICE_IFACE],
        )
        .await;
        emit_changed(
            conn,
            &device_path(lock_id),
            DEVICE_IFACE,
            HashMap::from([
                ("ServicesResolved", Value::from(false)),
                ("Connected", Value::from(false)),
            ]),
        )
        .await;
    }

    fn published(&self, lock_id: LockId) -> Option<Published> {
        self.exported().devices.get(&lock_id).cloned()
    }
}

/// Sends a link's notifications in order, honouring the delay fault and the
/// connection interval in realtime mode; stops when the link goes.
async fn notifier(
    bluez: Arc<Bluez>,
    conn: Connection,
    lock_id: LockId,
    generation: u64,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    while let Some(Outgoing { frame, delay_ms }) = rx.recv().await {
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        let current = bluez
            .exported()
            .links
            .get(&lock_id)
            .is_some_and(|(g, _)| *g == generation);
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
        emit_changed(
            &conn,
            &notify_char_path(lock_id),
            CHAR_IFACE,
            HashMap::from([("Value", Value::from(frame))]),
        )
        .await;
    }
}

fn object_path(p: &str) -> ObjectPath<'static> {
    ObjectPath::try_from(p.to_owned())
        .unwrap_or_else(|_| ObjectPath::from_static_str_unchecked("/"))
}

fn root_emitter(conn: &Connection) -> SignalEmitter<'static> {
    SignalEmitter::new(conn, "/")
        .unwrap_or_else(|_| unreachable_emitter(conn))
        .into_owned()
}

fn unreachable_emitter(conn: &Connection) -> SignalEmitter<'static> {
    SignalEmitter::from_parts(conn.clone(), ObjectPath::from_static_str_unchecked("/"))
}

async fn emit_changed(
    conn: &Connection,
    at: &str,
    iface: &'static str,
    changed: HashMap<&str, Value<'_>>,
) {
    let Ok(emitter) = SignalEmitter::new(conn, at.to_owned()) else {
        return;
    };
    let name = zbus::names::InterfaceName::from_static_str_unchecked(iface);
    if let Err(e) = zbus::fdo::Properties::properties_changed(
        &emitter,
        name,
        changed,
        std::borrow::Cow::Borrowed(&[]),
    )
    .await
    {
        log::debug!("PropertiesChanged on {at}: {e}");
    }
}

async fn emit_added(conn: &Connection, at: &str, iface: &str, props: Props) {
    let props: BTreeMap<&str, Value<'_>> = props
        .iter()
        .map(|(k, v)| (k.as_str(), Value::from(v.clone())))
        .collect();
    let interfaces = BTreeMap::from([(iface, props)]);
    if let Err(e) =
        ObjectManager::interfaces_added(&root_emitter(conn), object_path(at), interfaces).await
    {
        log::debug!("InterfacesAdded for {at}: {e}");
    }
}

use object_manager::ObjectManager;

mod object_manager {
    //! The ObjectManager interface (its own module: zbus generates
    //! undocumented signal helpers for it).
    #![allow(missing_docs)]

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use zbus::interface;
    use zbus::object_server::SignalEmitter;
    use zbus::zvariant::{ObjectPath, Value};

    use super::{Bluez, Props, SortedPath};

    /// `org.freedesktop.DBus.ObjectManager` on `/`.
    pub(super) struct ObjectManager {
        pub(super) bluez: Arc<Bluez>,
    }

    #[interface(name = "org.freedesktop.DBus.ObjectManager")]
    impl ObjectManager {
        async fn get_managed_objects(&self) -> BTreeMap<SortedPath, BTreeMap<String, Props>> {
            self.bluez.managed_objects()
        }

        /// Objects or interfaces appeared.
        #[zbus(signal)]
        pub(super) async fn interfaces_added(
            emitter: &SignalEmitter<'_>,
            object_path: ObjectPath<'_>,
            interfaces_and_properties: BTreeMap<&str, BTreeMap<&str, Value<'_>>>,
        ) -> zbus::Result<()>;

        /// Objects or interfaces went away.
        #[zbus(signal)]
        pub(super) async fn interfaces_removed(
            emitter: &SignalEmitter<'_>,
            object_path: ObjectPath<'_>,
            interfaces: Vec<&str>,
        ) -> zbus::Result<()>;
    }
}

/// `org.bluez.AgentManager1` on `/org/bluez`: agents are accepted and never
/// called (the locks need no pairing).
struct AgentManager;

#[interface(name = "org.bluez.AgentManager1")]
impl AgentManager {
    fn register_agent(&self, _agent: ObjectPath<'_>, _capability: &str) {}
    fn unregister_agent(&self, _agent: ObjectPath<'_>) {}
    fn request_default_agent(&self, _agent: ObjectPath<'_>) {}
}

/// `org.bluez.Adapter1` on `/org/bluez/hci0`.
struct AdapterIface {
    bluez: Arc<Bluez>,
}

fn sender(header: &Header<'_>) -> String {
    header
        .sender()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[interface(name = "org.bluez.Adapter1")]
impl AdapterIface {
    async fn start_discovery(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        if !self.bluez.sim.set_discovering(&sender(&header), true)? {
            return Err(BluezError::InProgress(
                "Operation already in progress".into(),
            ));
        }
        self.bluez.reconcile(conn).await;
        Ok(())
    }

    async fn stop_discovery(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        if !self.bluez.sim.set_discovering(&sender(&header), false)? {
            return Err(BluezError::Failed("No discovery started".into()));
        }
        self.bluez.reconcile(conn).await;
        Ok(())
    }

    fn set_discovery_filter(&self, filter: HashMap<String, OwnedValue>) -> Result<(), BluezError> {
        const KNOWN: [&str; 7] = [
            "UUIDs",
            "RSSI",
            "Pathloss",
            "Transport",
            "DuplicateData",
            "Discoverable",
            "Pattern",
        ];
        if let Some(unknown) = filter.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(BluezError::InvalidArguments(format!(
                "Invalid arguments in method call: {unknown}"
            )));
        }
        Ok(())
    }

    fn get_discovery_filters(&self) -> Vec<String> {
        [
            "UUIDs",
            "RSSI",
            "Pathloss",
            "Transport",
            "DuplicateData",
            "Discoverable",
            "Pattern",
        ]
        .map(String::from)
        .to_vec()
    }

    async fn remove_device(
        &self,
        device: ObjectPath<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        let found = self
            .bluez
            .exported()
            .devices
            .keys()
            .find(|id| device_path(**id) == device.as_str())
            .copied();
        let Some(id) = found else {
            return Err(BluezError::DoesNotExist("Does Not Exist".into()));
        };
        self.bluez.drop_link(conn, id).await;
        self.bluez.exported().devices.remove(&id);
        let _ = conn
            .object_server()
            .remove::<DeviceIface, _>(device.as_str())
            .await;
        let _ = ObjectManager::interfaces_removed(
            &root_emitter(conn),
            device.into_owned(),
            vec![DEVICE_IFACE],
        )
        .await;
        Ok(())
    }

    #[zbus(property)]
    fn address(&self) -> String {
        ADAPTER_ADDRESS.into()
    }
    #[zbus(property)]
    fn address_type(&self) -> String {
        "public".into()
    }
    #[zbus(property)]
    fn name(&self) -> String {
        "keyway-sim".into()
    }
    #[zbus(property)]
    fn alias(&self) -> String {
        "keyway-sim".into()
    }
    #[zbus(property)]
    fn class(&self) -> u32 {
        0
    }
    #[zbus(property)]
    fn powered(&self) -> bool {
        self.bluez.sim.adapter().0
    }
    #[zbus(property)]
    async fn set_powered(&self, on: bool) -> zbus::fdo::Result<()> {
        // zbus answers property setters with org.freedesktop.DBus.Error.*
        // names only; BlueZ would name this org.bluez.Error.Blocked.
        self.bluez
            .sim
            .client_set_powered(on)
            .map_err(|_| zbus::fdo::Error::AccessDenied("Blocked through rfkill".into()))
    }
    #[zbus(property)]
    fn power_state(&self) -> String {
        match self.bluez.sim.adapter() {
            (true, _, _) => "on",
            (false, true, _) => "off-blocked",
            (false, false, _) => "off",
        }
        .into()
    }
    #[zbus(property)]
    fn discoverable(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn discoverable_timeout(&self) -> u32 {
        180
    }
    #[zbus(property)]
    fn pairable(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn pairable_timeout(&self) -> u32 {
        0
    }
    #[zbus(property)]
    fn discovering(&self) -> bool {
        self.bluez.sim.adapter().2
    }
    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        Vec::new()
    }
    #[zbus(property)]
    fn modalias(&self) -> String {
        "usb:v1D6Bp0246d0540".into()
    }
    #[zbus(property)]
    fn roles(&self) -> Vec<String> {
        vec!["central".into()]
    }
}

/// `org.bluez.Device1` for one lock.
struct DeviceIface {
    bluez: Arc<Bluez>,
    lock_id: LockId,
}

impl DeviceIface {
    fn published(&self) -> Published {
        self.bluez.published(self.lock_id).unwrap_or(Published {
            name: String::new(),
            rssi: -127,
            advertisement: Vec::new(),
            connected: false,
            services_resolved: false,
            notifying: false,
        })
    }
}

#[interface(name = "org.bluez.Device1")]
impl DeviceIface {
    async fn connect(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezError> {
        self.bluez.connect(conn, self.lock_id).await
    }

    async fn disconnect(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezError> {
        if !self.bluez.sim.is_connected(self.lock_id) && !self.published().connected {
            return Err(BluezError::NotConnected("Not Connected".into()));
        }
        self.bluez.drop_link(conn, self.lock_id).await;
        Ok(())
    }

    fn connect_profile(&self, _uuid: &str) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Operation is not supported".into(),
        ))
    }

    fn disconnect_profile(&self, _uuid: &str) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Operation is not supported".into(),
        ))
    }

    fn pair(&self) -> Result<(), BluezError> {
        Err(BluezError::NotSupported(
            "Keyway locks need no pairing".into(),
        ))
    }

    fn cancel_pairing(&self) -> Result<(), BluezError> {
        Err(BluezError::DoesNotExist("Does Not Exist".into()))
    }

    #[zbus(property)]
    fn address(&self) -> String {
        mac_for(self.lock_id)
    }
    #[zbus(property)]
    fn address_type(&self) -> String {
        "random".into()
    }
    #[zbus(property)]
    fn name(&self) -> String {
        self.published().name
    }
    #[zbus(property)]
    fn alias(&self) -> String {
        self.published().name
    }
    #[zbus(property)]
    fn paired(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn bonded(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn trusted(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn blocked(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn legacy_pairing(&self) -> bool {
        false
    }
    #[zbus(property)]
    fn connected(&self) -> bool {
        self.published().connected
    }
    #[zbus(property)]
    fn services_resolved(&self) -> bool {
        self.published().services_resolved
    }
    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        vec![uuid_string(SERVICE_UUID)]
    }
    #[zbus(property, name = "RSSI")]
    fn rssi(&self) -> i16 {
        self.published().rssi
    }
    #[zbus(property)]
    fn manufacturer_data(&self) -> HashMap<u16, OwnedValue> {
        manufacturer_data(&self.published().advertisement)
    }
    #[zbus(property)]
    fn adapter(&self) -> OwnedObjectPath {
        path(ADAPTER_PATH)
    }
}

/// `org.bluez.GattService1` of a connected lock.
struct GattServiceIface {
    lock_id: LockId,
}

#[interface(name = "org.bluez.GattService1")]
impl GattServiceIface {
    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        uuid_string(SERVICE_UUID)
    }
    #[zbus(property)]
    fn primary(&self) -> bool {
        true
    }
    #[zbus(property)]
    fn device(&self) -> OwnedObjectPath {
        path(&device_path(self.lock_id))
    }
    #[zbus(property)]
    fn includes(&self) -> Vec<OwnedObjectPath> {
        Vec::new()
    }
    #[zbus(property)]
    fn handle(&self) -> u16 {
        1
    }
}

/// `org.bluez.GattCharacteristic1`: the write or the notify characteristic.
struct CharIface {
    bluez: Arc<Bluez>,
    lock_id: LockId,
    notify: bool,
}

#[interface(name = "org.bluez.GattCharacteristic1")]
impl CharIface {
    fn read_value(&self, _options: HashMap<String, OwnedValue>) -> Result<Vec<u8>, BluezError> {
        if !self.notify {
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
        if self.notify {
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
                if !result.notify.is_empty() {
                    let tx = self
                        .bluez
                        .exported()
                        .links
                        .get(&self.lock_id)
                        .map(|(_, tx)| tx.clone());
                    if let Some(tx) = tx {
                        // The notifier sends in order; the delay holds the whole answer.
                        let mut delay_ms = result.delay_ms;
                        for frame in result.notify {
                            let _ = tx.send(Outgoing { frame, delay_ms });
                            delay_ms = 0;
                        }
                    }
                }
                Ok(())
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
                Ok(())
            }
        }
    }

    async fn start_notify(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezError> {
        if !self.notify {
            return Err(BluezError::NotSupported(
                "Operation is not supported".into(),
            ));
        }
        if !self.bluez.sim.is_connected(self.lock_id) {
            return Err(BluezError::NotConnected("Not Connected".into()));
        }
        let was = {
            let mut exported = self.bluez.exported();
            match exported.devices.get_mut(&self.lock_id) {
                Some(p) => std::mem::replace(&mut p.notifying, true),
                None => true,
            }
        };
        if !was {
            emit_changed(
                conn,
                &notify_char_path(self.lock_id),
                CHAR_IFACE,
                HashMap::from([("Notifying", Value::from(true))]),
            )
            .await;
        }
        Ok(())
    }

    async fn stop_notify(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezError> {
        let was = {
            let mut exported = self.bluez.exported();
            match exported.devices.get_mut(&self.lock_id) {
                Some(p) => std::mem::replace(&mut p.notifying, false),
                None => false,
            }
        };
        if !was {
            return Err(BluezError::Failed("No notify session started".into()));
        }
        emit_changed(
            conn,
            &notify_char_path(self.lock_id),
            CHAR_IFACE,
            HashMap::from([("Notifying", Value::from(false))]),
        )
        .await;
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
        uuid_string(if self.notify {
            NOTIFY_CHAR_UUID
        } else {
            WRITE_CHAR_UUID
        })
    }
    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        path(&service_path(self.lock_id))
    }
    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        if self.notify {
            self.bluez.sim.last_notified(self.lock_id)
        } else {
            Vec::new()
        }
    }
    #[zbus(property)]
    fn notifying(&self) -> bool {
        self.notify
            && self
                .bluez
                .published(self.lock_id)
                .is_some_and(|p| p.notifying)
    }
    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        if self.notify {
            vec!["read".into(), "notify".into()]
        } else {
            vec!["write-without-response".into(), "write".into()]
        }
    }
    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        self.bluez.sim.radio().mtu
    }
    #[zbus(property)]
    fn handle(&self) -> u16 {
        if self.notify { 4 } else { 2 }
    }
}

/// A running simulated BlueZ.
#[derive(Debug)]
pub struct BluezServer {
    connection: Connection,
    bluez: Arc<Bluez>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BluezServer {
    fn drop(&mut self) {
        self.task.abort();
        // Ends the notifier tasks, which hold the connection.
        self.bluez.exported().links.clear();
    }
}

impl BluezServer {
    /// Serves `org.bluez` for `sim` on the bus at `address` and keeps the D-Bus
    /// objects in line with the world until dropped.
    pub async fn start(sim: Arc<Sim>, address: &str) -> zbus::Result<Self> {
        let bluez = Arc::new(Bluez {
            sim: sim.clone(),
            exported: Mutex::new(Exported::default()),
            reconciling: tokio::sync::Mutex::new(()),
        });
        let connection = zbus::connection::Builder::address(address)?
            .serve_at(
                "/",
                ObjectManager {
                    bluez: bluez.clone(),
                },
            )?
            .serve_at("/org/bluez", AgentManager)?
            .serve_at(
                ADAPTER_PATH,
                AdapterIface {
                    bluez: bluez.clone(),
                },
            )?
            .name("org.bluez")?
            .build()
            .await?;
        bluez.reconcile(&connection).await;
        // BlueZ ends a client's discovery when the client leaves the bus.
        let dbus = zbus::fdo::DBusProxy::new(&connection).await?;
        let mut departures = dbus.receive_name_owner_changed().await?;
        let task = {
            let bluez = bluez.clone();
            let connection = connection.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = sim.changed() => {}
                        Some(change) = departures.next() => {
                            if let Ok(args) = change.args()
                                && args.new_owner().is_none()
                            {
                                sim.client_left(args.name().as_str());
                            }
                            continue;
                        }
                    }
                    bluez.reconcile(&connection).await;
                }
            })
        };
        Ok(Self {
            connection,
            bluez,
            task,
        })
    }

    /// Gives up `org.bluez` and stops, so another simulator can take the bus.
    pub async fn shutdown(self) {
        self.task.abort();
        self.bluez.exported().links.clear();
        let _ = self.connection.release_name("org.bluez").await;
    }

    /// The D-Bus connection serving `org.bluez`.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Brings the D-Bus objects in line with the world now.
    pub async fn reconcile(&self) {
        self.bluez.reconcile(&self.connection).await;
    }
}
