//! `org.bluez.Device1`: one object per lock address BlueZ has heard, its
//! state ([`DeviceState`]), and the link's life on the D-Bus side: connecting
//! serves the GATT objects and resolves services, dropping the link removes
//! them.

use std::sync::Arc;
use std::time::Duration;

use keyway_protocol::{COMPANY_ID, LockId, SERVICE_UUID, uuid_string};
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::{Connection, fdo, interface};

use super::characteristic::{CharIface, CharKind};
use super::gatt_service::GattServiceIface;
use super::object_manager::{ov, owned_path};
use super::{ADAPTER_PATH, Bluez, BluezError};

/// A device's object path, from its address (`/org/bluez/hci0/dev_XX_XX_…`).
pub fn device_path(address: &str) -> String {
    format!("{ADAPTER_PATH}/dev_{}", address.replace(':', "_"))
}

/// What BlueZ knows of one device (one lock address).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeviceState {
    /// The lock behind the address.
    pub(crate) lock_id: LockId,
    /// The Bluetooth address, `XX:XX:XX:XX:XX:XX`.
    pub(crate) address: String,
    /// The advertised name.
    pub(crate) name: String,
    /// The RSSI of the last advertisement heard; `None` once invalidated.
    pub(crate) rssi: Option<i16>,
    /// The manufacturer data of the last advertisement heard.
    pub(crate) advertisement: Vec<u8>,
    /// A link is up.
    pub(crate) connected: bool,
    /// The GATT objects are served.
    pub(crate) services_resolved: bool,
    /// A client started notifications on the notify characteristic.
    pub(crate) notifying: bool,
    /// When it was last heard (or, while connected, last checked).
    pub(crate) last_seen: std::time::Instant,
}

impl DeviceState {
    /// This device's object path.
    pub(crate) fn path(&self) -> String {
        device_path(&self.address)
    }
}

/// `org.bluez.Device1` for one address.
pub(crate) struct DeviceIface {
    pub(crate) bluez: Arc<Bluez>,
    pub(crate) address: String,
}

impl DeviceIface {
    fn state(&self) -> fdo::Result<DeviceState> {
        self.bluez
            .device(&self.address)
            .ok_or_else(|| fdo::Error::UnknownObject("Does Not Exist".into()))
    }
}

#[interface(name = "org.bluez.Device1")]
impl DeviceIface {
    async fn connect(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezError> {
        self.bluez.connect(conn, &self.address).await
    }

    async fn disconnect(&self, #[zbus(connection)] conn: &Connection) -> Result<(), BluezError> {
        let state = self.state()?;
        if !state.connected && !self.bluez.sim.is_connected(state.lock_id) {
            return Err(BluezError::NotConnected("Not Connected".into()));
        }
        self.bluez.drop_link(conn, state.lock_id).await;
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
    fn address(&self) -> fdo::Result<String> {
        Ok(self.state()?.address)
    }
    #[zbus(property)]
    fn address_type(&self) -> String {
        "random".into()
    }
    #[zbus(property)]
    fn name(&self) -> fdo::Result<String> {
        Ok(self.state()?.name)
    }
    #[zbus(property)]
    fn alias(&self) -> fdo::Result<String> {
        Ok(self.state()?.name)
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
    fn connected(&self) -> fdo::Result<bool> {
        Ok(self.state()?.connected)
    }
    #[zbus(property)]
    fn services_resolved(&self) -> fdo::Result<bool> {
        Ok(self.state()?.services_resolved)
    }
    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        vec![uuid_string(SERVICE_UUID)]
    }
    /// Absent (not readable) once invalidated, as in BlueZ.
    #[zbus(property, name = "RSSI")]
    fn rssi(&self) -> fdo::Result<i16> {
        self.state()?
            .rssi
            .ok_or_else(|| fdo::Error::InvalidArgs("No such property 'RSSI'".into()))
    }
    #[zbus(property)]
    fn manufacturer_data(&self) -> fdo::Result<std::collections::HashMap<u16, OwnedValue>> {
        let advertisement = self.state()?.advertisement;
        Ok(std::collections::HashMap::from([(
            COMPANY_ID,
            ov(advertisement),
        )]))
    }
    #[zbus(property)]
    fn adapter(&self) -> OwnedObjectPath {
        owned_path(ADAPTER_PATH)
    }
}

impl Bluez {
    /// Connects the phone to the lock behind `address`: the GATT objects
    /// appear, then `Connected` and `ServicesResolved` turn true.
    pub(super) async fn connect(
        self: &Arc<Self>,
        conn: &Connection,
        address: &str,
    ) -> Result<(), BluezError> {
        let device = self
            .device(address)
            .ok_or_else(|| BluezError::DoesNotExist("Does Not Exist".into()))?;
        let lock_id = device.lock_id;
        let params = self.sim.connect(lock_id, address)?;
        if params.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(params.delay_ms)).await;
        }
        let path = device.path();
        let service = GattServiceIface::path(&path);
        self.objects
            .add(conn, &service, GattServiceIface::new(&path))
            .await;
        for kind in [CharKind::Write, CharKind::Notify] {
            let iface = CharIface::new(self.clone(), lock_id, &path, kind);
            self.objects
                .add(conn, &CharIface::path(&path, kind), iface)
                .await;
        }
        self.open_link(conn, lock_id, address);
        self.update_device(address, |d| {
            d.connected = true;
            d.services_resolved = true;
        });
        self.objects.sync::<DeviceIface>(conn, &path).await;
        Ok(())
    }

    /// Closes the link to a lock on both sides: the world forgets the link,
    /// the GATT objects go, `Connected` turns false.
    pub(super) async fn drop_link(self: &Arc<Self>, conn: &Connection, lock_id: LockId) {
        self.sim.disconnect(lock_id);
        let link = self.state().links.remove(&lock_id);
        let Some(link) = link else {
            return;
        };
        let path = device_path(&link.address);
        let was = self.update_device(&link.address, |d| {
            let was = d.connected || d.services_resolved;
            d.connected = false;
            d.services_resolved = false;
            d.notifying = false;
            was
        });
        if was != Some(true) {
            return;
        }
        for kind in [CharKind::Notify, CharKind::Write] {
            self.objects
                .remove::<CharIface>(conn, &CharIface::path(&path, kind))
                .await;
        }
        self.objects
            .remove::<GattServiceIface>(conn, &GattServiceIface::path(&path))
            .await;
        self.objects.sync::<DeviceIface>(conn, &path).await;
    }

    /// Removes a device object (`InterfacesRemoved`), dropping its link.
    pub(super) async fn remove_device(self: &Arc<Self>, conn: &Connection, address: &str) {
        let Some(device) = self.device(address) else {
            return;
        };
        if device.connected {
            self.drop_link(conn, device.lock_id).await;
        }
        self.state().devices.remove(address);
        self.objects
            .remove::<DeviceIface>(conn, &device.path())
            .await;
        log::debug!("lock {}: device {address} removed", device.lock_id);
    }

    /// A device's state, by address.
    pub(super) fn device(&self, address: &str) -> Option<DeviceState> {
        self.state().devices.get(address).cloned()
    }

    /// Changes a device's state; `None` if there is no such device.
    pub(super) fn update_device<T>(
        &self,
        address: &str,
        change: impl FnOnce(&mut DeviceState) -> T,
    ) -> Option<T> {
        self.state().devices.get_mut(address).map(change)
    }
}
