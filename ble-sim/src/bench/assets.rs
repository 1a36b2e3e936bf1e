//! The bench's script and stylesheet (compiled into the binary) and the
//! headers every answer carries.

use axum::extract::{Path, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const SCRIPT: &str = include_str!("assets/bench.js");
const STYLE: &str = include_str!("assets/bench.css");

/// The content security policy: the pages load only their own script and
/// stylesheet and talk only to this address.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// `GET /bench/assets/{file}`.
pub(super) async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "bench.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "bench.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Refuses a write another site's page makes the QA engineer's browser send
/// (its `Origin` names another host), and adds the security headers to
/// every answer.
pub(super) async fn headers(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) && !same_origin(&request) {
        let body = serde_json::json!({"error": {
            "code": "cross_origin",
            "message": "requests from another site's pages are refused",
        }});
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// No `Origin` (curl, scripts) or one naming the address asked.
fn same_origin(request: &Request) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = request.headers().get(header::HOST);
    match (origin.to_str(), host.and_then(|h| h.to_str().ok())) {
        (Ok(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        _ => false,
    }
}
