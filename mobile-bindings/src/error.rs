//! The one error type apps catch. Each variant is a stable machine code; the
//! `detail` is for people (not `message`, which Kotlin's Throwable owns). No
//! panic crosses the FFI: uniffi turns a Rust panic into an internal error, and
//! no code path here panics on input.

use keyway_core::generate::GenerateError;
use keyway_core::policy::{CheckError, Violation};

/// Everything that can go wrong in a Keyway call.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KeywayError {
    /// Input that is not a code: not 4 to 8 ASCII digits (`invalid_format`).
    #[error("{detail}")]
    InvalidFormat {
        /// What is wrong with it.
        detail: String,
    },
    /// The code breaks one or more rules, all listed (`policy_violation`).
    #[error("{detail}")]
    PolicyViolation {
        /// Every violated rule.
        violations: Vec<Violation>,
        /// A summary for people.
        detail: String,
    },
    /// Fewer codes are left than were asked for (`exhausted`).
    #[error("{detail}")]
    Exhausted {
        /// How many were available.
        detail: String,
    },
    /// An argument the app passed is not valid (`invalid_argument`).
    #[error("{detail}")]
    InvalidArgument {
        /// Which one and why.
        detail: String,
    },
    /// Something failed inside the library (`internal`).
    #[error("{detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

impl From<CheckError> for KeywayError {
    fn from(error: CheckError) -> Self {
        match error {
            CheckError::InvalidFormat(e) => Self::InvalidFormat {
                detail: e.to_string(),
            },
            CheckError::Rejected(rejection) => Self::PolicyViolation {
                detail: rejection.to_string(),
                violations: rejection.violations,
            },
        }
    }
}

impl From<GenerateError> for KeywayError {
    fn from(error: GenerateError) -> Self {
        match error {
            GenerateError::Exhausted { .. } => Self::Exhausted {
                detail: error.to_string(),
            },
            GenerateError::Rejected(rejection) => Self::PolicyViolation {
                detail: rejection.to_string(),
                violations: rejection.violations,
            },
            GenerateError::Entropy(_) => Self::Internal {
                detail: error.to_string(),
            },
        }
    }
}
