//! The one error type apps catch. Each variant is a stable machine code; the
//! `detail` is for people (not `message`, which Kotlin's Throwable owns). No
//! panic crosses the FFI: uniffi turns a Rust panic into an internal error, and
//! no code path here panics on input.

use keyway_client::ClientError;
use keyway_codes::generate::GenerateError;
use keyway_codes::policy::{CheckError, Violation};

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
    /// No device is logged in: call `login` first (`not_logged_in`).
    #[error("{detail}")]
    NotLoggedIn {
        /// What to do.
        detail: String,
    },
    /// The server refused this device's token: log in again (`unauthorized`).
    #[error("{detail}")]
    Unauthorized {
        /// What the server said.
        detail: String,
    },
    /// The server could not be reached (`network`); queued requests stay
    /// queued and go out on the next sync.
    #[error("{detail}")]
    Network {
        /// What failed.
        detail: String,
    },
    /// The server failed on every attempt (`server_error`).
    #[error("{detail}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// What it said.
        detail: String,
    },
    /// The server refused the request (`code`: its stable problem code, such
    /// as `lock_full`, `no_locks`, `code_ended`, `invalid_schedule`,
    /// `rate_limited`).
    #[error("{detail}")]
    Refused {
        /// The server's stable problem code.
        code: String,
        /// The HTTP status.
        status: u16,
        /// What to do about it.
        detail: String,
    },
    /// No such code or door (`not_found`).
    #[error("{detail}")]
    NotFound {
        /// What was not found.
        detail: String,
    },
    /// Bluetooth is off, blocked, absent or not permitted (`bluetooth_unavailable`).
    #[error("{detail}")]
    Bluetooth {
        /// What the stack said.
        detail: String,
    },
    /// The local store failed (`storage`).
    #[error("{detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
    /// The secret store that keeps the device token failed (`secret_store`):
    /// the app's `SecretStore` threw (the Keystore or Keychain is locked or
    /// unavailable), or the default secrets file cannot be written.
    #[error("{detail}")]
    SecretStore {
        /// What failed (never a secret).
        detail: String,
    },
}

impl KeywayError {
    /// The stable machine code of this error.
    pub fn code(&self) -> String {
        match self {
            Self::InvalidFormat { .. } => "invalid_format".into(),
            Self::PolicyViolation { .. } => "policy_violation".into(),
            Self::Exhausted { .. } => "exhausted".into(),
            Self::InvalidArgument { .. } => "invalid_argument".into(),
            Self::Internal { .. } => "internal".into(),
            Self::NotLoggedIn { .. } => "not_logged_in".into(),
            Self::Unauthorized { .. } => "unauthorized".into(),
            Self::Network { .. } => "network".into(),
            Self::Server { .. } => "server_error".into(),
            Self::Refused { code, .. } => code.clone(),
            Self::NotFound { .. } => "not_found".into(),
            Self::Bluetooth { .. } => "bluetooth_unavailable".into(),
            Self::Storage { .. } => "storage".into(),
            Self::SecretStore { .. } => "secret_store".into(),
        }
    }
}

impl From<ClientError> for KeywayError {
    fn from(error: ClientError) -> Self {
        let detail = error.to_string();
        match error {
            ClientError::NotLoggedIn => Self::NotLoggedIn { detail },
            ClientError::Unauthorized { .. } => Self::Unauthorized { detail },
            ClientError::Network { .. } => Self::Network { detail },
            ClientError::Server { status, .. } => Self::Server { status, detail },
            ClientError::InvalidFormat(_) => Self::InvalidFormat { detail },
            ClientError::PolicyViolation(rejection) => Self::PolicyViolation {
                violations: rejection.violations,
                detail,
            },
            ClientError::Refused { status, code, .. } => Self::Refused {
                code,
                status,
                detail,
            },
            ClientError::NotFound { .. } => Self::NotFound { detail },
            ClientError::InvalidArgument { .. } => Self::InvalidArgument { detail },
            ClientError::Exhausted { .. } => Self::Exhausted { detail },
            ClientError::Bluetooth { .. } => Self::Bluetooth { detail },
            ClientError::Storage { .. } => Self::Storage { detail },
            ClientError::SecretStore { .. } => Self::SecretStore { detail },
        }
    }
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
