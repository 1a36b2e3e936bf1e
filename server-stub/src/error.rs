//! The domain error every operation returns: what went wrong as a kind
//! (invalid, unauthorized, forbidden, not found, conflict, unprocessable,
//! rate limited, internal), a stable machine `code`, a detail for people,
//! the policy's rejection (every broken rule) and how long to wait. It holds
//! no HTTP types: the HTTP edge ([`crate::api::problem`]) maps it to a status
//! code and an RFC 9457 problem document. Internal failures are logged
//! (without secrets) where they are made and carry no detail of their cause.

use keyway_codes::policy::{CheckError, Rejection};
use keyway_codes::{GenerateError, ScheduleError};

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (a bad field, body, path, cursor or key).
    Invalid,
    /// No, unknown or revoked credentials.
    Unauthorized,
    /// The caller's role may not do this.
    Forbidden,
    /// No such thing, or not the caller's business.
    NotFound,
    /// The request is valid but the state refuses it (a full lock, an ended code).
    Conflict,
    /// The request is well formed but its content is refused (policy, schedule).
    Unprocessable,
    /// Too many attempts; wait [`Error::retry_after`] seconds.
    RateLimited,
    /// The server failed; nothing changed.
    Internal,
}

/// A failure of a domain operation, with a stable machine code.
#[derive(Debug, Clone)]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The stable machine code (`not_found`, `policy_violation`, …).
    pub code: &'static str,
    /// What to do about it.
    pub detail: String,
    /// For `policy_violation`: every broken rule.
    pub rejection: Option<Rejection>,
    /// Seconds to wait, for `rate_limited`.
    pub retry_after: Option<u64>,
}

/// Results of domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a machine code and a message.
    pub fn new(kind: ErrorKind, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            detail: detail.into(),
            rejection: None,
            retry_after: None,
        }
    }

    /// `invalid_request`: the body or a parameter is malformed.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, "invalid_request", detail)
    }

    /// `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorKind::Unauthorized,
            "unauthorized",
            "send a valid bearer token (log in with POST /v1/login)",
        )
    }

    /// `forbidden`: the role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "forbidden", detail)
    }

    /// `not_found`: no such thing, or not visible to the caller.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            "not_found",
            format!("no such {what} here"),
        )
    }

    /// A conflict with the state of things, with its own code.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, detail)
    }

    /// Refused content, with its own code.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unprocessable, code, detail)
    }

    /// `rate_limited`.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorKind::RateLimited,
                "rate_limited",
                format!("too many attempts; try again in {retry_after} s"),
            )
        }
    }

    /// `internal`, logged with its cause (which the answer never shows).
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        log::error!("{context}: {cause}");
        Self::new(
            ErrorKind::Internal,
            "internal",
            "the server failed; the request changed nothing, try again",
        )
    }

    /// `policy_violation` listing every broken rule.
    pub fn rejected(rejection: Rejection) -> Self {
        Self {
            rejection: Some(rejection.clone()),
            ..Self::new(
                ErrorKind::Unprocessable,
                Rejection::CODE,
                rejection.to_string(),
            )
        }
    }

    /// `invalid_schedule` with a message.
    pub fn schedule(detail: impl Into<String>) -> Self {
        Self::unprocessable(ScheduleError::CODE, detail)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Error {}

impl From<CheckError> for Error {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::InvalidFormat(f) => {
                Self::unprocessable(keyway_codes::FormatError::CODE, f.to_string())
            }
            CheckError::Rejected(r) => Self::rejected(r),
        }
    }
}

impl From<GenerateError> for Error {
    fn from(e: GenerateError) -> Self {
        match e {
            GenerateError::Rejected(r) => Self::rejected(r),
            GenerateError::Exhausted { .. } => Self::conflict("exhausted", e.to_string()),
            GenerateError::Entropy(_) => Self::internal("generate", e),
        }
    }
}

impl From<ScheduleError> for Error {
    fn from(e: ScheduleError) -> Self {
        Self::schedule(e.to_string())
    }
}

impl From<crate::crypto::CryptoError> for Error {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::internal("crypto", e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::internal("json", e)
    }
}
