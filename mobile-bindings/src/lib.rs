//! The mobile facade of Keyway: the one object Kotlin, Swift and Python apps
//! hold, generated with uniffi over `keyway-core`. It owns the FFI surface
//! (records, the error enum, foreign callbacks) and nothing of the domain.
//!
//! The facade arrives with the phone core (issue 5); until then this crate only
//! re-exports the core so the workspace builds as laid out in DESIGN.md.

pub use keyway_core as core;
