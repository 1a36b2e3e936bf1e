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
//! - `discovery`: sessions, advertisement reports, temporary devices.
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
mod discovery;
mod gatt_service;
mod object_manager;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use keyway_protocol::LockId;
use zbus::Connection;

pub use device::device_path;

use crate::sim::{LinkRefusal, Sim};
use adapter::AdapterIface;
use agent::AgentManager;
use characteristic::Link;
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

/// Where discovery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Session {
    /// No session since devices' RSSI was invalidated (or ever).
    #[default]
    Idle,
    /// At least one client discovers.
    Discovering,
    /// The last session ended; RSSI is invalidated at `invalidate_at`.
    Ended {
        /// When.
        invalidate_at: Instant,
    },
}

/// What the D-Bus side keeps.
#[derive(Debug, Default)]
struct State {
    /// Device objects by address.
    devices: BTreeMap<String, device::DeviceState>,
    /// Links by lock.
    links: HashMap<LockId, Link>,
    /// Counts links, to tell a new one from an old one.
    generation: u64,
    /// Where discovery stands.
    session: Session,
    /// Clients whose discovery filter asks for every report's data.
    duplicate_data: BTreeSet<String>,
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

    /// Brings the D-Bus objects in line with the simulated world: the
    /// adapter's properties, discovery sessions starting and ending, links
    /// the world dropped, temporary devices expiring.
    pub async fn reconcile(self: &Arc<Self>, conn: &Connection) {
        self.step(conn, false).await;
    }

    /// Reconciles, and with `advertise` (an advertising interval passed)
    /// hears the locks if discovering.
    async fn step(self: &Arc<Self>, conn: &Connection, advertise: bool) {
        let _guard = self.reconciling.lock().await;
        self.objects.sync::<AdapterIface>(conn, ADAPTER_PATH).await;
        self.follow_sessions(conn).await;
        if advertise && self.state().session == Session::Discovering {
            self.hear(conn).await;
        }
        // A link the world dropped (fault, power cut, out of range) closes
        // on D-Bus too.
        let dropped: Vec<LockId> = self
            .state()
            .links
            .keys()
            .filter(|id| !self.sim.is_connected(**id))
            .copied()
            .collect();
        for id in dropped {
            self.drop_link(conn, id).await;
        }
        self.expire_temporary(conn).await;
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
                let mut next_advert = tokio::time::Instant::now();
                loop {
                    let advertise = tokio::select! {
                        () = sim.changed() => false,
                        () = tokio::time::sleep_until(next_advert) => {
                            let interval = sim.radio().advertising_interval_ms;
                            next_advert = tokio::time::Instant::now()
                                + Duration::from_secs_f64(interval / 1000.0);
                            true
                        }
                        Some(change) = departures.next() => {
                            if let Ok(args) = change.args()
                                && args.new_owner().is_none()
                            {
                                sim.client_left(args.name().as_str());
                                bluez.state().duplicate_data.remove(args.name().as_str());
                            }
                            continue;
                        }
                    };
                    bluez.step(&connection, advertise).await;
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

    /// The addresses of the device objects BlueZ has now.
    pub fn devices(&self) -> Vec<String> {
        self.bluez.state().devices.keys().cloned().collect()
    }
}
