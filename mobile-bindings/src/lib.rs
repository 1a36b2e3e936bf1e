//! The mobile facade of Keyway: what Kotlin, Swift and Python apps call,
//! generated with uniffi over `keyway-client`. It owns the FFI surface (the
//! `KeywayClient` object, the one error enum, the records the app sees, the
//! foreign listener, logger and Bluetooth transport) and none of the domain:
//! every call is a small wrapper around `keyway_client`. The foreign
//! secret store keeps the device token in the platform's key store.
//!
//! Domain enums and records (`CodeKind`, `AccessPoint`, `ModelConstraint`,
//! `Rule`, `Violation`, `Role`, …) derive their uniffi traits where they are
//! defined (`keyway-codes`, `keyway-api`, `keyway-client`) behind each
//! crate's `uniffi` feature, so they cross the FFI without copies.

uniffi::setup_scaffolding!();

mod client;
mod error;
mod logging;
mod policy;
mod records;
mod secrets;
mod transport;

pub use client::{KeywayClient, KeywayListener};
pub use error::KeywayError;
pub use logging::{LogLevel, Logger, set_logger};
pub use policy::{PolicyContext, check_code, generate_codes};
pub use records::{
    Code, CodeOptions, DeliverySummary, Door, Failure, KeywayEvent, LockVisit, Schedule, Session,
    SyncSummary, Weekday,
};
pub use secrets::{SecretStore, SecretStoreFailure};
pub use transport::{LockAdvertisement, LockTransport, TransportFailure};
