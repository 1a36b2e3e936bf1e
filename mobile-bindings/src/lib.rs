//! The mobile facade of Keyway: what Kotlin, Swift and Python apps call,
//! generated with uniffi over `keyway-core`. It owns the FFI surface (the one
//! error enum, the records the app sees, the foreign logger) and none of the
//! domain: every call is a small wrapper around the core.
//!
//! Domain enums and records (`CodeKind`, `AccessPoint`, `ModelConstraint`,
//! `Rule`, `Violation`) derive their uniffi traits in `keyway-core` behind its
//! `uniffi` feature, so they cross the FFI without copies.

uniffi::setup_scaffolding!();

mod error;
mod logging;
mod policy;

pub use error::KeywayError;
pub use logging::{LogLevel, Logger, set_logger};
pub use policy::{PolicyContext, check_code, generate_codes};
