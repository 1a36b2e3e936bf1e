//! Door codes and the rules for them, the vocabulary every other part of
//! Keyway agrees on: the server, the phone and the lock run this same crate,
//! so they never disagree on what a code may be.
//!
//! - [`code`]: the [`Code`] value type and the vocabulary around it (kinds,
//!   origins, access points).
//! - [`policy`]: which codes are acceptable where; every violated rule with a
//!   stable id and a message.
//! - [`generate`](mod@generate): uniform generation over exactly the allowed codes.
//! - [`schedule`]: when a code is valid (always, a window, a weekly recurrence).
//! - `ffi` (feature `uniffi`): how instants, weekdays and schedules cross to
//!   Kotlin, Swift and Python.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

pub mod code;
#[cfg(feature = "uniffi")]
pub mod ffi;
pub mod generate;
pub mod policy;
pub mod schedule;

pub use code::{AccessPoint, Code, CodeKind, FormatError, Origin};
pub use generate::{GenerateError, generate, generate_distinct, secure_rng};
pub use policy::{CheckContext, CheckError, Community, Rejection, Rule, TargetLock, Violation};
pub use schedule::{Schedule, ScheduleError};
