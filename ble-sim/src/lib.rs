//! Simulated Keyway locks for QA: the lock model (slots, keypad, clock, audit,
//! durable state), the radio (range, MTU, connection interval, faults) and a
//! simulated BlueZ on a private D-Bus bus, so the real `btleplug` and
//! `bluetoothctl` see the locks as if they were real.
//!
//! - [`config`]: the TOML configuration.
//! - [`sim`]: the world: locks on the real firmware, phone, adapter, radio.
//! - [`clock`], [`store`], [`radio`]: a lock's clock, its atomic state file, the radio model.
//! - [`bluez`]: the `org.bluez` D-Bus service (zbus).
//! - [`bus`]: a private `dbus-daemon`.
//! - [`api`]: the HTTP JSON control API (axum).
//! - [`scenario`]: scripted scenarios with expectations.
//! - [`harness`]: one call that starts a bus, the simulator and its BlueZ,
//!   and a btleplug transport pointed at them (tests, benchmarks, demos).
//!
//! Codes typed on keypads or carried in jobs never appear in log lines.

pub mod api;
pub mod bench;
pub mod bluez;
pub mod bus;
pub mod clock;
pub mod config;
pub mod harness;
pub mod played;
pub mod radio;
pub mod recording;
pub mod scenario;
pub mod sim;
pub mod store;

pub use sim::Sim;
