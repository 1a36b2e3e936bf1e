//! Errors as the API answers them: RFC 9457 problem details
//! (`application/problem+json`) with a stable machine `code`. A policy refusal
//! lists every violated rule. Internal failures are logged (without secrets)
//! and answered with `internal` and no detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_core::api::Problem;
use keyway_core::policy::{CheckError, Rejection};
use keyway_core::{GenerateError, ScheduleError};

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable machine code.
    pub code: &'static str,
    /// What to do about it.
    pub detail: String,
    /// For `policy_violation`.
    pub rejection: Option<Rejection>,
    /// Seconds to wait, for `rate_limited`.
    pub retry_after: Option<u64>,
}

/// Results of handlers and services.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with a status, a machine code and a message.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            rejection: None,
            retry_after: None,
        }
    }

    /// 400 `invalid_request`: the body or a parameter is malformed.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid bearer token (log in with POST /v1/login)",
        )
    }

    /// 403 `forbidden`: the role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404 `not_found`: no such thing, or not visible to the caller.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what} here"),
        )
    }

    /// 409 `conflict`.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 429 `rate_limited`.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many attempts; try again in {retry_after} s"),
            )
        }
    }

    /// 500 `internal`, logged with its cause.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        log::error!("{context}: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; the request changed nothing, try again",
        )
    }

    /// 422 `policy_violation` listing every broken rule.
    pub fn rejected(rejection: Rejection) -> Self {
        Self {
            rejection: Some(rejection.clone()),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Rejection::CODE,
                rejection.to_string(),
            )
        }
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:keyway:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail.clone(),
            violations: self
                .rejection
                .as_ref()
                .map(|r| r.violations.clone())
                .unwrap_or_default(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<CheckError> for ApiError {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::InvalidFormat(f) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                keyway_core::FormatError::CODE,
                f.to_string(),
            ),
            CheckError::Rejected(r) => Self::rejected(r),
        }
    }
}

impl From<GenerateError> for ApiError {
    fn from(e: GenerateError) -> Self {
        match e {
            GenerateError::Rejected(r) => Self::rejected(r),
            GenerateError::Exhausted { .. } => {
                Self::new(StatusCode::CONFLICT, "exhausted", e.to_string())
            }
            GenerateError::Entropy(_) => Self::internal("generate", e),
        }
    }
}

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ScheduleError::CODE,
            e.to_string(),
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal("database", e)
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::internal("crypto", e)
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        Self::internal("json", e)
    }
}
