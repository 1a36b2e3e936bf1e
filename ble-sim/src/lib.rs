//! Simulated Keyway locks for QA: the lock model (slots, keypad, clock, audit),
//! the radio (range, MTU, faults) and a simulated BlueZ on a private D-Bus bus,
//! so the real `btleplug` and `bluetoothctl` can see the locks.
//!
//! The simulator arrives with the lock protocol (issue 3); until then this crate
//! only holds its place in the workspace.

pub use keyway_core as core;
