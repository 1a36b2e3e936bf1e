//! The client's one error type: every failure a caller can act on, each with
//! a stable machine code. It is also the one error Kotlin, Swift and Python
//! apps catch (`KeywayException`, `KeywayError`): it wraps the core's errors
//! ([`FormatError`], [`Rejection`]) instead of re-listing them.

use keyway_api::Problem;
use keyway_codes::code::FormatError;
use keyway_codes::policy::{CheckError, Rejection, Violation};

/// Everything a [`super::Client`] call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(
    feature = "uniffi",
    derive(uniffi::Error),
    uniffi(name = "KeywayError")
)]
pub enum ClientError {
    /// No device is logged in on this store (`not_logged_in`).
    #[error("not logged in: call login with an API token first")]
    NotLoggedIn,
    /// The server refused the token: wrong, revoked or expired (`unauthorized`).
    #[error("the server refused this device's credentials: {detail}")]
    Unauthorized {
        /// What the server said.
        detail: String,
    },
    /// The server could not be reached or did not answer (`network`). Queued
    /// requests stay queued and go out on the next sync.
    #[error("cannot reach the server: {detail}")]
    Network {
        /// What failed (no URL query, no token).
        detail: String,
    },
    /// The server failed (5xx) on every attempt (`server_error`).
    #[error("the server failed ({status}): {detail}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// What it said.
        detail: String,
    },
    /// The input is not 4 to 8 digits (`invalid_format`).
    #[error("{reason}")]
    InvalidFormat {
        /// What is wrong with it.
        reason: FormatError,
    },
    /// The code breaks policy rules, every one listed (`policy_violation`),
    /// found by the phone's local check or by the server.
    #[error("{rejection}")]
    PolicyViolation {
        /// Every violated rule, each with its message.
        rejection: Rejection,
    },
    /// The server refused the request for another reason (its problem `code`:
    /// `lock_full`, `code_ended`, `invalid_schedule`, `rate_limited`, ...).
    #[error("the server refused the request ({code}): {detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's stable problem code.
        code: String,
        /// What to do about it.
        detail: String,
    },
    /// No such code, door or lock (`not_found`).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// An argument is not valid (`invalid_argument`); nothing changed.
    #[error("invalid argument: {detail}")]
    InvalidArgument {
        /// Which one and why.
        detail: String,
    },
    /// No allowed code is left to generate (`exhausted`).
    #[error("no code is left to generate: {detail}")]
    Exhausted {
        /// The generator's explanation.
        detail: String,
    },
    /// Bluetooth is unavailable, or no transport was given (`bluetooth_unavailable`).
    #[error("Bluetooth is unavailable: {detail}")]
    Bluetooth {
        /// What the stack said.
        detail: String,
    },
    /// The local store failed (`storage`): disk full, corrupt file, ...
    #[error("the local store failed: {detail}")]
    Storage {
        /// What SQLite said (never a code or token).
        detail: String,
    },
    /// Something failed inside the library (`internal`): the system's random
    /// source, a bug.
    #[error("internal error: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
    /// The secret store that keeps the device token failed (`secret_store`):
    /// the platform's key store is locked or unavailable, the app's
    /// implementation threw, the secrets file cannot be written.
    #[error("the secret store failed: {detail}")]
    SecretStore {
        /// What it said (never a secret).
        detail: String,
    },
}

impl ClientError {
    /// The stable machine code.
    pub fn code(&self) -> &str {
        match self {
            Self::NotLoggedIn => "not_logged_in",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Network { .. } => "network",
            Self::Server { .. } => "server_error",
            Self::InvalidFormat { .. } => FormatError::CODE,
            Self::PolicyViolation { .. } => Rejection::CODE,
            Self::Refused { code, .. } => code,
            Self::NotFound { .. } => "not_found",
            Self::InvalidArgument { .. } => "invalid_argument",
            Self::Exhausted { .. } => "exhausted",
            Self::Bluetooth { .. } => "bluetooth_unavailable",
            Self::Storage { .. } => "storage",
            Self::Internal { .. } => "internal",
            Self::SecretStore { .. } => "secret_store",
        }
    }

    /// The violated rules, for [`ClientError::PolicyViolation`].
    pub fn violations(&self) -> &[Violation] {
        match self {
            Self::PolicyViolation { rejection } => &rejection.violations,
            _ => &[],
        }
    }

    /// Whether the call may succeed later unchanged (network, server failure).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Network { .. } | Self::Server { .. })
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::InvalidArgument {
            detail: detail.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// The error a server problem document stands for.
    pub(crate) fn from_problem(problem: Problem) -> Self {
        match (problem.status, problem.code.as_str()) {
            (401, _) => Self::Unauthorized {
                detail: problem.detail,
            },
            (_, "policy_violation") => Self::PolicyViolation {
                rejection: Rejection {
                    violations: problem.violations,
                },
            },
            (404, _) => Self::NotFound {
                what: problem.detail,
            },
            (_, "exhausted") => Self::Exhausted {
                detail: problem.detail,
            },
            (status, _) if status >= 500 => Self::Server {
                status,
                detail: problem.detail,
            },
            (status, _) => Self::Refused {
                status,
                code: problem.code,
                detail: problem.detail,
            },
        }
    }

    /// The problem document that describes this error (stored with a failed
    /// request).
    pub(crate) fn to_problem(&self) -> Problem {
        let status = match self {
            Self::Refused { status, .. } | Self::Server { status, .. } => *status,
            Self::Unauthorized { .. } => 401,
            Self::NotFound { .. } => 404,
            Self::Exhausted { .. } => 409,
            Self::PolicyViolation { .. } | Self::InvalidFormat { .. } => 422,
            _ => 400,
        };
        let detail = match self {
            Self::Refused { detail, .. } => detail.clone(),
            other => other.to_string(),
        };
        Problem {
            type_uri: format!("urn:keyway:problem:{}", self.code()),
            title: String::new(),
            status,
            code: self.code().to_owned(),
            detail,
            violations: self.violations().to_vec(),
        }
    }
}

impl From<FormatError> for ClientError {
    fn from(reason: FormatError) -> Self {
        Self::InvalidFormat { reason }
    }
}

impl From<Rejection> for ClientError {
    fn from(rejection: Rejection) -> Self {
        Self::PolicyViolation { rejection }
    }
}

impl From<CheckError> for ClientError {
    fn from(error: CheckError) -> Self {
        match error {
            CheckError::InvalidFormat(reason) => reason.into(),
            CheckError::Rejected(rejection) => rejection.into(),
        }
    }
}

impl From<keyway_codes::GenerateError> for ClientError {
    fn from(error: keyway_codes::GenerateError) -> Self {
        match error {
            keyway_codes::GenerateError::Rejected(rejection) => rejection.into(),
            keyway_codes::GenerateError::Exhausted { .. } => Self::Exhausted {
                detail: error.to_string(),
            },
            keyway_codes::GenerateError::Entropy(detail) => Self::Internal { detail },
        }
    }
}

impl From<super::SecretStoreError> for ClientError {
    fn from(error: super::SecretStoreError) -> Self {
        Self::SecretStore {
            detail: error.to_string(),
        }
    }
}

impl From<rusqlite::Error> for ClientError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Storage {
            detail: error.to_string(),
        }
    }
}

impl From<serde_json::Error> for ClientError {
    fn from(error: serde_json::Error) -> Self {
        Self::Storage {
            detail: format!("a stored record could not be read: {error}"),
        }
    }
}
