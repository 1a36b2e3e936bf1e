//! Keyway's shared core: the domain every other part of Keyway agrees on.
//!
//! - [`api`]: the server's HTTP request and response types, shared with the
//!   phone's sync client.
//! - [`code`]: the [`Code`] value type and the vocabulary around it (kinds,
//!   origins, access points).
//! - [`policy`]: which codes are acceptable where; every violated rule with a
//!   stable id and a message.
//! - [`generate`](mod@generate): uniform generation over exactly the allowed codes.
//! - [`schedule`]: when a code is valid (always, a window, a weekly recurrence).
//! - [`protocol`]: the lock protocol's bytes: advertisement, framing, messages,
//!   sealed jobs and receipts.
//! - [`lock`]: the lock side: what a lock's firmware does with jobs and keypad
//!   entries (the simulator runs it).
//! - [`provisioning`]: the file that gives locks their ids and root keys.
//! - `delivery` (feature `delivery`): the phone carrying sealed jobs to locks
//!   through a pluggable transport; btleplug behind feature `ble`.
//! - `client` (feature `client`): the phone's core: the offline SQLite store,
//!   the outbox and sync with the server, delivery of sealed jobs to locks in
//!   range, state events. The mobile bindings and the `keyway` CLI wrap it.
//!
//! The server and the phone run this same crate, so they never disagree on what
//! a code may be.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

pub mod api;
#[cfg(feature = "client")]
pub mod client;
pub mod code;
#[cfg(feature = "delivery")]
pub mod delivery;
pub mod generate;
pub mod lock;
pub mod policy;
pub mod protocol;
pub mod provisioning;
pub mod schedule;

pub use code::{AccessPoint, Code, CodeKind, FormatError, Origin};
pub use generate::{GenerateError, generate, generate_distinct, secure_rng};
pub use policy::{CheckContext, CheckError, Community, Rejection, Rule, TargetLock, Violation};
pub use schedule::{Schedule, ScheduleError};
