//! The HTTP edge of errors: each [`Error`] kind's status code, and the RFC
//! 9457 problem document (`application/problem+json`) with its stable
//! `code`, a policy refusal's `violations` and a rate limit's `Retry-After`.
//! Refusals axum makes itself (an unknown route, a wrong method, an oversized
//! body) become problem documents here too.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_api::Problem;

use crate::error::{Error, ErrorKind};

/// The content type of every refusal.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The status code of an error kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The problem document of an error.
pub fn problem_of(error: &Error) -> Problem {
    document(status_of(error.kind), error.code, &error.detail, error)
}

fn document(status: StatusCode, code: &str, detail: &str, error: &Error) -> Problem {
    Problem {
        type_uri: format!("urn:keyway:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        code: code.to_owned(),
        detail: detail.to_owned(),
        violations: error
            .rejection
            .as_ref()
            .map(|r| r.violations.clone())
            .unwrap_or_default(),
    }
}

fn respond(status: StatusCode, problem: &Problem, retry_after: Option<u64>) -> Response {
    let body = serde_json::to_string(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        respond(status_of(self.kind), &problem_of(&self), self.retry_after)
    }
}

/// A refusal only HTTP knows (an unknown route, a wrong method, an oversized
/// body): a problem document with `status` and `code`.
pub fn http_problem(status: StatusCode, code: &'static str, detail: &str) -> Response {
    let error = Error::new(ErrorKind::Invalid, code, detail);
    respond(status, &document(status, code, detail, &error), None)
}
