//! A simulated BlueZ: the `org.bluez` D-Bus service that btleplug (through
//! bluez-async), `bluetoothctl`, bleak and any other BlueZ client talk to,
//! served with zbus on a private bus.
//!
//! This module owns the server ([`BluezServer`]), the state the D-Bus side
//! keeps ([`Bluez`]: devices by address, links) and the loop that keeps the
//! D-Bus objects in line with the simulated world. One file per interface, as
//! BlueZ lays them out:
//! - `object_manager`: `org.freedesktop.DBus.ObjectManager` on `/`, and the
//!   one place that publishes objects and property changes.
//! - `agent`: `org.bluez.AgentManager1` on `/org/bluez`.
//! - `adapter`: `org.bluez.Adapter1` on `/org/bluez/hci0`.
//! - `device`: `org.bluez.Device1` at `/org/bluez/hci0/dev_XX_…`, one per
//!   lock address heard.
//! - `gatt_service`: `org.bluez.GattService1` at `…/service0001` while
//!   connected.
//! - `characteristic`: `org.bluez.GattCharacteristic1` at
//!   `…/service0001/char0002` (write) and `char0004` (notify, readable)
//!   while connected.
//!
//! Errors are BlueZ's: `org.bluez.Error.NotReady` (adapter off),
//! `InProgress`, `Failed` (refused or lost connection, no discovery),
//! `AlreadyConnected`, `NotConnected`, `NotPermitted`, `InvalidValueLength`,
//! `NotSupported`.

mod adapter;
mod agent;
mod characteristic;
mod device;
mod gatt_service;
mod object_manager;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use keyway_core::protocol::LockId;
use zbus::Connection;

pub use device::{device_path, mac_for};

use crate::sim::{LinkRefusal, Sim};
use adapter::AdapterIface;
use agent::AgentManager;
use characteristic::Link;
use device::{DeviceIface, DeviceState};
use object_manager::{ObjectManager, Objects};

/// The adapter's object path.
pub const ADAPTER_PATH: &str = "/org/bluez/hci0";
/// The adapter's address.
pub const ADAPTER_ADDRESS: &str = "5E:4B:57:00:00:01";

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

impl From<zbus::fdo::Error> for BluezError {
    fn from(e: zbus::fdo::Error) -> Self {
        Self::ZBus(zbus::Error::FDO(Box::new(e)))
    }
}

/// What the D-Bus side keeps.
#[derive(Debug, Default)]
struct State {
    /// Device objects by address.
    devices: BTreeMap<String, DeviceState>,
    /// Links by lock.
    links: HashMap<LockId, Link>,
    /// Counts links, to tell a new one from an old one.
    generation: u64,
}

/// The simulated BlueZ: shared by every D-Bus object it serves.
#[derive(Debug)]
pub struct Bluez {
    sim: Arc<Sim>,
    state: Mutex<State>,
    objects: Objects,
    reconciling: tokio::sync::Mutex<()>,
}

impl Bluez {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the D-Bus objects in line with the simulated world: devices
    /// appear while discovering and heard, vanish when not heard, and their
    /// RSSI and manufacturer data follow the world.
    pub async fn reconcile(self: &Arc<Self>, conn: &Connection) {
        let _guard = self.reconciling.lock().await;
        self.objects.sync::<AdapterIface>(conn, ADAPTER_PATH).await;
        let discovering = self.sim.adapter().discovering;
        let heard = self.sim.heard();
        let gone: Vec<String> = self
            .state()
            .devices
            .values()
            .filter(|d| !heard.iter().any(|h| h.lock_id == d.lock_id))
            .map(|d| d.address.clone())
            .collect();
        for address in gone {
            self.remove_device(conn, &address).await;
        }
        for h in heard {
            let address = device::mac_for(h.lock_id);
            let known = self.update_device(&address, |d| {
                if discovering {
                    d.rssi = Some(h.rssi);
                }
                d.advertisement.clone_from(&h.advertisement);
                d.name.clone_from(&h.name);
                d.connected
            });
            match known {
                None if discovering => {
                    let device = DeviceState {
                        lock_id: h.lock_id,
                        address: address.clone(),
                        name: h.name.clone(),
                        rssi: Some(h.rssi),
                        advertisement: h.advertisement.clone(),
                        connected: false,
                        services_resolved: false,
                        notifying: false,
                    };
                    let path = device.path();
                    self.state().devices.insert(address.clone(), device);
                    let iface = DeviceIface {
                        bluez: self.clone(),
                        address,
                    };
                    self.objects.add(conn, &path, iface).await;
                    log::debug!("lock {}: heard at {} dBm", h.lock_id, h.rssi);
                }
                None => {}
                Some(connected) => {
                    self.objects
                        .sync::<DeviceIface>(conn, &device_path(&address))
                        .await;
                    // A link the world dropped (fault, power cut) closes on D-Bus too.
                    if connected && !h.connected {
                        self.drop_link(conn, h.lock_id).await;
                    }
                }
            }
        }
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
        self.bluez.state().links.clear();
    }
}

impl BluezServer {
    /// Serves `org.bluez` for `sim` on the bus at `address` and keeps the D-Bus
    /// objects in line with the world until dropped.
    pub async fn start(sim: Arc<Sim>, address: &str) -> zbus::Result<Self> {
        let bluez = Arc::new(Bluez {
            sim: sim.clone(),
            state: Mutex::new(State::default()),
            objects: Objects::default(),
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
        self.bluez.state().links.clear();
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
