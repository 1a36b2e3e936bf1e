//! `org.bluez.AgentManager1` on `/org/bluez`: agents are accepted and never
//! called (Keyway locks need no pairing). bluetoothctl registers one at start.

use zbus::interface;
use zbus::zvariant::ObjectPath;

/// `org.bluez.AgentManager1`.
pub(crate) struct AgentManager;

#[interface(name = "org.bluez.AgentManager1")]
impl AgentManager {
    fn register_agent(&self, _agent: ObjectPath<'_>, _capability: &str) {}
    fn unregister_agent(&self, _agent: ObjectPath<'_>) {}
    fn request_default_agent(&self, _agent: ObjectPath<'_>) {}
}
