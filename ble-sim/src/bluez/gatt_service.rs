//! `org.bluez.GattService1`: the Keyway service of a connected lock, served
//! at `…/service0001` under the device while the link is up.

use keyway_protocol::{SERVICE_UUID, uuid_string};
use zbus::interface;
use zbus::zvariant::OwnedObjectPath;

use super::object_manager::owned_path;

/// `org.bluez.GattService1` of a connected lock.
pub(crate) struct GattServiceIface {
    device: String,
}

impl GattServiceIface {
    /// The service of the device at `device` (its path).
    pub(crate) fn new(device: &str) -> Self {
        Self {
            device: device.to_owned(),
        }
    }

    /// The service's object path under the device at `device`.
    pub(crate) fn path(device: &str) -> String {
        format!("{device}/service0001")
    }
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
        owned_path(&self.device)
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
