//! End-to-end scenarios across the server, the phone core and the simulated
//! locks. Scenarios live in `tests/`; this library holds what they share:
//!
//! - [`fixture`]: a real server on a fresh SQLite file, a property set up with
//!   `keyway-server admin --json`, the simulator on the property's locks.
//! - [`netswitch`]: a TCP forwarder between phones and the server that a test
//!   can cut and restore.
//! - [`world`]: a scenario's world in one process: a private bus made the
//!   process's system bus, the fixture's simulator on it, phones on the real
//!   btleplug, and the manager's and the simulator's HTTP APIs.
//!
//! Binaries: `keyway-fixture` (starts a fixture, runs a command in it, tears
//! it down; the Python and Kotlin binding tests run under it) and
//! `keyway-phone-helper` (drives the phone core; the kill test SIGKILLs it).

pub mod fixture;
pub mod netswitch;
pub mod world;
