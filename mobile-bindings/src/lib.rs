//! The mobile facade of Keyway: what Kotlin, Swift and Python apps call,
//! generated with uniffi over `keyway-client`. It owns the FFI surface (the
//! `KeywayClient` object, the offline policy calls, the options of a new
//! code, the foreign listener and logger) and none of the domain:
//! every call is a small wrapper around `keyway_client`.
//!
//! Every record, enum and error apps see (`Code`, `Schedule`, `Session`,
//! `KeywayEvent`, `KeywayError`, `Violation`, `TransportError`, …) derives
//! its uniffi traits where it is defined (`keyway-codes`, `keyway-protocol`,
//! `keyway-api`, `keyway-delivery`, `keyway-client`) behind each crate's
//! `uniffi` feature, so nothing crosses the FFI as a copy. So do the two
//! interfaces apps implement on their platform: the secret store
//! (`keyway_client::SecretStore`, for the Keystore or Keychain) and the
//! Bluetooth transport (`keyway_delivery::foreign::LockTransport`), each in
//! the crate of the error it throws.

uniffi::setup_scaffolding!();

mod client;
mod logging;
mod options;
mod panics;
mod policy;

pub use client::{KeywayClient, KeywayListener};
/// The one error apps catch: the client's, named `KeywayError` on the
/// foreign side (`KeywayException` in Kotlin).
pub use keyway_client::ClientError as KeywayError;
pub use keyway_client::SecretStore;
pub use keyway_delivery::HeardDevice as LockAdvertisement;
pub use keyway_delivery::foreign::LockTransport;
pub use logging::{LogLevel, Logger, set_logger};
pub use options::CodeOptions;
pub use policy::{PolicyContext, check_code, generate_codes};
