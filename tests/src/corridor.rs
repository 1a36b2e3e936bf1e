//! Where Maple Court's simulated locks stand: along a corridor, metres east
//! of the origin, where the phone starts out of range of them all. One
//! layout for the simulator in process ([`sim_config`]) and as a process
//! ([`sim_toml`]).

use std::path::{Path, PathBuf};

use keyway_ble_sim::config::{ClockSpec, LockSpec, Resolved, SimConfig};
use keyway_ble_sim::radio::{Position, RadioConfig};

use crate::error::KitResult;
use crate::property::Property;

/// The unit door (Unit 4B).
pub const UNIT_X: f64 = 100.0;
/// The main entrance, 4 m past the unit door.
pub const ENTRANCE_X: f64 = 104.0;
/// The package room, down the corridor.
pub const PACKAGE_ROOM_X: f64 = 128.0;
/// Where the phone stands next to the unit door and the main entrance.
pub const AT_HOME: f64 = 102.0;
/// Next to the package room.
pub const AT_PACKAGE_ROOM: f64 = 127.0;
/// Out of range of every lock (the phone's start).
pub const AWAY: f64 = 0.0;

/// The simulated locks: lock key (as in [`Property::locks`]) and position.
pub const LOCKS: [(&str, f64); 3] = [
    ("unit_4b", UNIT_X),
    ("entrance", ENTRANCE_X),
    ("package_room", PACKAGE_ROOM_X),
];

/// The simulator's configuration for `property`'s locks, resolved against
/// `dir` (where the provisioning file `provisioning` is).
pub fn sim_config(property: &Property, dir: &Path, provisioning: &str) -> KitResult<Resolved> {
    let mut locks = Vec::new();
    for (key, x) in LOCKS {
        locks.push(LockSpec {
            id: property.locks[key].parse()?,
            name: None,
            x,
            y: 0.0,
            keypad: None,
            capacity: None,
            // Each lock keeps its own clock, running from the host's time.
            clock: ClockSpec::default(),
        });
    }
    let config = SimConfig {
        provisioning: PathBuf::from(provisioning),
        state_dir: None,
        phone: Position { x: AWAY, y: 0.0 },
        radio: RadioConfig::default(),
        locks,
    };
    Ok(config.resolve(dir)?)
}

/// The same configuration as `keyway-ble-sim serve --config` reads it.
pub fn sim_toml(property: &Property, provisioning: &Path) -> String {
    let mut text = format!(
        "provisioning = \"{}\"\n\n[phone]\nx = {AWAY:.1}\ny = 0.0\n",
        provisioning.display()
    );
    for (key, x) in LOCKS {
        text.push_str(&format!(
            "\n[[lock]]\nid = \"{}\"\nx = {x:.1}\n",
            property.locks[key]
        ));
    }
    text
}
