//! `org.bluez.Adapter1` on `/org/bluez/hci0`: power (read from the world,
//! where the control API's rfkill lives), discovery sessions per client, the
//! discovery filter, and removing devices.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::message::Header;
use zbus::zvariant::{ObjectPath, OwnedValue};
use zbus::{Connection, fdo, interface};

use super::{ADAPTER_ADDRESS, Bluez, BluezError};

/// The discovery filter keys BlueZ knows.
const FILTERS: [&str; 7] = [
    "UUIDs",
    "RSSI",
    "Pathloss",
    "Transport",
    "DuplicateData",
    "Discoverable",
    "Pattern",
];

/// `org.bluez.Adapter1`.
pub(crate) struct AdapterIface {
    pub(crate) bluez: Arc<Bluez>,
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

    /// Checks the filter; remembers whether this client wants every
    /// report's advertising data (`DuplicateData`). Locks advertise the
    /// Keyway service to every filter.
    fn set_discovery_filter(
        &self,
        filter: HashMap<String, OwnedValue>,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), BluezError> {
        if let Some(unknown) = filter.keys().find(|k| !FILTERS.contains(&k.as_str())) {
            return Err(BluezError::InvalidArguments(format!(
                "Invalid arguments in method call: {unknown}"
            )));
        }
        let duplicates = filter
            .get("DuplicateData")
            .and_then(|v| bool::try_from(v).ok())
            .unwrap_or(false);
        let client = sender(&header);
        let mut state = self.bluez.state();
        if duplicates {
            state.duplicate_data.insert(client);
        } else {
            state.duplicate_data.remove(&client);
        }
        Ok(())
    }

    fn get_discovery_filters(&self) -> Vec<String> {
        FILTERS.map(String::from).to_vec()
    }

    async fn remove_device(
        &self,
        device: ObjectPath<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), BluezError> {
        let address = self
            .bluez
            .state()
            .devices
            .values()
            .find(|d| d.path() == device.as_str())
            .map(|d| d.address.clone());
        let Some(address) = address else {
            return Err(BluezError::DoesNotExist("Does Not Exist".into()));
        };
        self.bluez.remove_device(conn, &address).await;
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
        self.bluez.sim.adapter().powered
    }
    #[zbus(property)]
    async fn set_powered(&self, on: bool) -> fdo::Result<()> {
        // zbus answers property setters with org.freedesktop.DBus.Error.*
        // names only; BlueZ would name this org.bluez.Error.Blocked.
        self.bluez
            .sim
            .client_set_powered(on)
            .map_err(|_| fdo::Error::AccessDenied("Blocked through rfkill".into()))
    }
    #[zbus(property)]
    fn power_state(&self) -> String {
        let adapter = self.bluez.sim.adapter();
        match (adapter.powered, adapter.blocked) {
            (true, _) => "on",
            (false, true) => "off-blocked",
            (false, false) => "off",
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
        self.bluez.sim.adapter().discovering
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
