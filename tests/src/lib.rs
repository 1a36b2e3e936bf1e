//! One Keyway world for every test and for the demo: the server, the Maple
//! Court property and the simulated locks, in process or as processes.
//!
//! - [`property`]: Maple Court, set up with the operator's typed admin
//!   functions (`keyway_server::admin`) on a world's database
//!   ([`database`]: SQLite, or PostgreSQL named by
//!   `KEYWAY_TEST_DATABASE_URL`); [`admin`] runs them from synchronous code.
//! - [`corridor`]: where the property's simulated locks stand; [`standalone`]:
//!   simulated locks on their own, for the simulator's suites.
//! - [`live`]: the world inside one process (the server's and the
//!   simulator's libraries); the demo (`keyway-demo`) plays in it.
//! - [`fixture`]: the world as processes (`keyway-server`,
//!   `keyway-ble-sim serve`, found by [`binaries`]) behind a [`netswitch`]
//!   a test can cut; the end-to-end scenarios, the `keyway` client's tests
//!   and the binding tests' launcher run in it.
//! - [`world`]: a scenario's helpers on a fixture: a private bus made the
//!   process's system bus, phones on the real btleplug, and the manager's
//!   and the simulator's HTTP APIs.
//! - [`bench_results`]: where the benchmarks write their figures for
//!   `bench/plot.sh`.
//!
//! [`receiver`]: a webhook receiver (a real local HTTP server with a script
//! of answers) for the webhook tests.
//!
//! Binaries: `keyway-fixture` (starts a fixture, runs a command in it, tears
//! it down; the Python and Kotlin binding tests run under it) and
//! `keyway-phone-helper` (drives the phone core; the kill test SIGKILLs it).

pub mod admin;
pub mod bench_results;
pub mod binaries;
pub mod browser;
pub mod corridor;
pub mod database;
pub mod error;
pub mod fixture;
pub mod live;
pub mod netswitch;
mod process;
pub mod property;
pub mod receiver;
pub mod standalone;
pub mod world;

pub use error::{KitError, KitResult};
