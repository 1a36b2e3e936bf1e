//! `org.freedesktop.DBus.ObjectManager` on `/`, and [`Objects`]: the one place
//! that tells clients about objects.
//!
//! Every interface declares its properties once, as zbus property getters that
//! read the simulator's state. [`Objects`] reads them through zbus's own
//! `GetAll` of that interface, so `GetAll`, `GetManagedObjects` and
//! `InterfacesAdded` all show the same values, and it keeps what it last
//! published of each object: [`Objects::sync`] compares and sends
//! `PropertiesChanged` for what changed (a property that is gone, such as
//! `RSSI` after it was invalidated, is listed as invalidated), the first sync
//! of an interface sends `InterfacesAdded`, and [`Objects::remove`] sends
//! `InterfacesRemoved`. Objects are listed parents first, as bluetoothctl
//! needs.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use zbus::object_server::{Interface, SignalEmitter};
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, interface};

/// One interface's properties, by name.
pub(crate) type Props = BTreeMap<String, OwnedValue>;

/// Interfaces (by name) of one object and their properties.
pub(crate) type Interfaces = BTreeMap<String, Props>;

/// An object path that sorts by its text, so a `BTreeMap` of them lists
/// parents before children (`/a` < `/a/b`), as bluetoothctl needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, zbus::zvariant::Type)]
pub(crate) struct SortedPath(OwnedObjectPath);

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

/// An owned object path from one built by this module (always valid).
pub(crate) fn owned_path(p: &str) -> OwnedObjectPath {
    OwnedObjectPath::try_from(p.to_owned()).unwrap_or_else(|_| OwnedObjectPath::default())
}

/// A property value (only values holding file descriptors fail to convert;
/// none here do).
pub(crate) fn ov<'a>(value: impl Into<Value<'a>>) -> OwnedValue {
    OwnedValue::try_from(value.into()).unwrap_or_else(|_| OwnedValue::from(0u8))
}

/// What was published of every object, and the signals that keep clients in
/// step with it.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    published: tokio::sync::Mutex<BTreeMap<SortedPath, Interfaces>>,
}

impl Objects {
    /// Serves `iface` at `path` and announces it (`InterfacesAdded`).
    pub(crate) async fn add<I: Interface>(&self, conn: &Connection, path: &str, iface: I) {
        if let Err(e) = conn.object_server().at(path, iface).await {
            log::debug!("serving {} at {path}: {e}", I::name());
        }
        self.sync::<I>(conn, path).await;
    }

    /// Publishes what changed in interface `I` at `path` since it was last
    /// published, or announces it if it never was.
    pub(crate) async fn sync<I: Interface>(&self, conn: &Connection, path: &str) {
        self.sync_forcing::<I>(conn, path, &[]).await;
    }

    /// As [`Self::sync`], and also sends the properties in `force` though
    /// their values did not change (a notification repeating the last value,
    /// advertising data reported again).
    pub(crate) async fn sync_forcing<I: Interface>(
        &self,
        conn: &Connection,
        path: &str,
        force: &[&str],
    ) {
        self.publish::<I>(conn, path, Some(force)).await;
    }

    /// Takes note of interface `I` at `path` as it is now without telling
    /// clients (the next change is published against it).
    pub(crate) async fn note<I: Interface>(&self, conn: &Connection, path: &str) {
        self.publish::<I>(conn, path, None).await;
    }

    /// Compares, notes, and (unless `force` is `None`) publishes.
    async fn publish<I: Interface>(&self, conn: &Connection, path: &str, force: Option<&[&str]>) {
        let mut published = self.published.lock().await;
        let Some(now) = props_of::<I>(conn, path).await else {
            return;
        };
        let key = SortedPath(owned_path(path));
        let iface = I::name().to_string();
        let before = published
            .entry(key)
            .or_default()
            .insert(iface.clone(), now.clone());
        let Some(force) = force else {
            return;
        };
        match before {
            None => emit_added(conn, path, iface, now).await,
            Some(before) => {
                emit_changed(conn, path, I::name().as_str(), &before, &now, force).await
            }
        }
    }

    /// Stops serving interface `I` at `path` and announces it
    /// (`InterfacesRemoved`).
    pub(crate) async fn remove<I: Interface>(&self, conn: &Connection, path: &str) {
        let mut published = self.published.lock().await;
        let _ = conn.object_server().remove::<I, _>(path).await;
        let key = SortedPath(owned_path(path));
        let Some(interfaces) = published.get_mut(&key) else {
            return;
        };
        if interfaces.remove(I::name().as_str()).is_none() {
            return;
        }
        if interfaces.is_empty() {
            published.remove(&key);
        }
        let removed = ObjectManager::interfaces_removed(
            &root_emitter(conn),
            object_path(path),
            vec![I::name().to_string()],
        )
        .await;
        if let Err(e) = removed {
            log::debug!("InterfacesRemoved for {path}: {e}");
        }
    }

    /// Every object as last published, parents first.
    pub(crate) async fn managed(&self) -> BTreeMap<SortedPath, Interfaces> {
        self.published.lock().await.clone()
    }
}

/// The properties of interface `I` at `path`, through its zbus `GetAll`
/// (properties whose getter fails, such as an invalidated `RSSI`, are left
/// out, as BlueZ leaves them out).
async fn props_of<I: Interface>(conn: &Connection, path: &str) -> Option<Props> {
    let server = conn.object_server();
    let iface = server.interface::<_, I>(path).await.ok()?;
    let emitter = iface.signal_emitter().clone();
    let all = iface
        .get()
        .await
        .get_all(server, conn, None, &emitter)
        .await
        .ok()?;
    Some(all.into_iter().collect())
}

async fn emit_added(conn: &Connection, path: &str, iface: String, props: Props) {
    let interfaces = BTreeMap::from([(iface, props)]);
    let sent =
        ObjectManager::interfaces_added(&root_emitter(conn), object_path(path), interfaces).await;
    if let Err(e) = sent {
        log::debug!("InterfacesAdded for {path}: {e}");
    }
}

async fn emit_changed(
    conn: &Connection,
    path: &str,
    iface: &str,
    before: &Props,
    now: &Props,
    force: &[&str],
) {
    let changed: HashMap<&str, Value<'_>> = now
        .iter()
        .filter(|(k, v)| force.contains(&k.as_str()) || before.get(*k) != Some(*v))
        .map(|(k, v)| (k.as_str(), Value::from(v.clone())))
        .collect();
    let invalidated: Vec<&str> = before
        .keys()
        .filter(|k| !now.contains_key(*k))
        .map(String::as_str)
        .collect();
    if changed.is_empty() && invalidated.is_empty() {
        return;
    }
    let Ok(emitter) = SignalEmitter::new(conn, path.to_owned()) else {
        return;
    };
    let name = zbus::names::InterfaceName::from_str_unchecked(iface);
    let sent =
        zbus::fdo::Properties::properties_changed(&emitter, name, changed, Cow::Owned(invalidated))
            .await;
    if let Err(e) = sent {
        log::debug!("PropertiesChanged on {path}: {e}");
    }
}

fn object_path(p: &str) -> ObjectPath<'static> {
    ObjectPath::try_from(p.to_owned())
        .unwrap_or_else(|_| ObjectPath::from_static_str_unchecked("/"))
}

fn root_emitter(conn: &Connection) -> SignalEmitter<'static> {
    SignalEmitter::from_parts(conn.clone(), ObjectPath::from_static_str_unchecked("/"))
}

pub(crate) use manager::ObjectManager;

mod manager {
    //! The interface itself (its own module: zbus generates undocumented
    //! signal helpers for it).
    #![allow(missing_docs)]

    use super::*;

    /// `org.freedesktop.DBus.ObjectManager` on `/`.
    pub(crate) struct ObjectManager {
        pub(crate) bluez: std::sync::Arc<super::super::Bluez>,
    }

    #[interface(name = "org.freedesktop.DBus.ObjectManager")]
    impl ObjectManager {
        async fn get_managed_objects(&self) -> BTreeMap<SortedPath, Interfaces> {
            self.bluez.objects.managed().await
        }

        /// Objects or interfaces appeared.
        #[zbus(signal)]
        pub(crate) async fn interfaces_added(
            emitter: &SignalEmitter<'_>,
            object_path: ObjectPath<'_>,
            interfaces_and_properties: BTreeMap<String, Props>,
        ) -> zbus::Result<()>;

        /// Objects or interfaces went away.
        #[zbus(signal)]
        pub(crate) async fn interfaces_removed(
            emitter: &SignalEmitter<'_>,
            object_path: ObjectPath<'_>,
            interfaces: Vec<String>,
        ) -> zbus::Result<()>;
    }
}
