//! The HTTP edge: the router, one module per resource, the extractors
//! ([`extract`]), the mapping of domain errors to problem documents
//! ([`problem`]) and the OpenAPI document ([`openapi`]). A handler parses
//! the request, checks the caller's role, calls one domain operation
//! ([`crate::ops`]) and shapes the answer; it never sees the database.
//!
//! - [`session`]: health, login, logout, me, doors.
//! - [`codes`]: the code endpoints; [`uses`]: when a code opened a door;
//!   [`notices`]: being told of it by email or SMS.
//! - [`sync`], [`receipts`], [`visits`]: what phones carry.
//! - [`locks`]: locks and audit trails.
//! - [`policy`], [`carriers`], [`couriers`], [`staff`], [`recipients`]: the
//!   manager and staff endpoints.
//! - [`webhooks`]: managers' signed webhooks and their delivery log.
//! - [`public`]: the public forgot-PIN request.
//!
//! The router also serves the Portal ([`crate::portal`]), at every path that
//! is not the API's ([`is_api_path`]): the API's middleware (problem
//! documents, the `%00` refusal) applies to API paths only, the Portal's to
//! its own pages, and the request log to both.

pub mod carriers;
pub mod codes;
pub mod couriers;
pub mod extract;
pub mod locks;
pub mod notices;
pub mod openapi;
pub mod policy;
pub mod problem;
pub mod public;
pub mod receipts;
pub mod recipients;
pub mod session;
pub mod staff;
pub mod sync;
pub mod uses;
pub mod visits;
pub mod webhooks;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

use crate::app::App;

pub use openapi::ApiDoc;

/// Whether `path` belongs to the JSON API (`/v1/…`, `/healthz`,
/// `/openapi.json`); every other path is the Portal's. The OpenAPI contract
/// covers exactly these paths.
pub fn is_api_path(path: &str) -> bool {
    path == "/healthz" || path == "/openapi.json" || path == "/v1" || path.starts_with("/v1/")
}

/// Every route: the API's and the Portal's.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(session::healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/v1/login", post(session::login))
        .route("/v1/logout", post(session::logout))
        .route("/v1/me", get(session::me))
        .route(
            "/v1/me/contact",
            get(notices::get_contact).put(notices::put_contact),
        )
        .route("/v1/doors", get(session::doors))
        .route("/v1/codes", get(codes::list_codes).post(codes::create_code))
        .route(
            "/v1/codes/{id}",
            get(codes::get_code).delete(codes::delete_code),
        )
        .route("/v1/codes/{id}/change", post(codes::change_code))
        .route("/v1/codes/{id}/disable", post(codes::disable_code))
        .route("/v1/codes/{id}/enable", post(codes::enable_code))
        .route("/v1/codes/{id}/uses", get(uses::code_uses))
        .route("/v1/codes/{id}/backup", post(codes::hand_out_backup))
        .route(
            "/v1/codes/{id}/notify",
            get(notices::get_notify).put(notices::put_notify),
        )
        .route("/v1/sync", get(sync::sync))
        .route("/v1/receipts", post(receipts::post_receipts))
        .route("/v1/locks/{id}/audit", get(locks::lock_audit))
        .route("/v1/locks/{id}/visits", post(visits::open_visit))
        .route("/v1/visits/{id}/status", post(visits::present_status))
        .route(
            "/v1/manage/policy",
            get(policy::get_policy).put(policy::put_policy),
        )
        .route("/v1/manage/locks", get(locks::list_locks))
        .route(
            "/v1/manage/locks/{id}/backup-pool",
            put(locks::set_backup_pool),
        )
        .route(
            "/v1/manage/carriers",
            get(carriers::list_carriers).post(carriers::create_carrier),
        )
        .route(
            "/v1/manage/carriers/{id}/code",
            put(carriers::set_carrier_code),
        )
        .route(
            "/v1/manage/couriers",
            get(couriers::list_couriers).post(couriers::create_courier),
        )
        .route(
            "/v1/manage/couriers/{id}/pin",
            put(couriers::set_courier_pin),
        )
        .route("/v1/manage/couriers/{id}/qr", get(couriers::courier_qr))
        .route(
            "/v1/manage/couriers/{id}/key-card",
            post(couriers::courier_key_card),
        )
        .route("/v1/manage/staff", get(staff::list_staff))
        .route("/v1/manage/staff/{id}/pin", put(staff::set_staff_pin))
        .route(
            "/v1/manage/recipients",
            get(recipients::list_recipients).post(recipients::create_recipient),
        )
        .route(
            "/v1/manage/recipients/{id}/one-time-pin",
            post(recipients::one_time_pin),
        )
        .route(
            "/v1/manage/recipients/{id}/pin",
            get(recipients::lookup_pin),
        )
        .route(
            "/v1/manage/webhooks",
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route("/v1/manage/webhooks/{id}", delete(webhooks::delete_webhook))
        .route(
            "/v1/manage/webhooks/{id}/deliveries",
            get(webhooks::webhook_deliveries),
        )
        .route("/v1/public/forgot-pin", post(public::forgot_pin))
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            problem::http_problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(middleware::from_fn(problem_documents))
        .layer(middleware::from_fn(refuse_nul_in_uri))
        .merge(crate::portal::router())
        .layer(middleware::from_fn(log_requests))
        .with_state(app)
}

/// An unknown path: a problem document under the API's paths, the Portal's
/// page elsewhere.
async fn not_found(request: Request) -> Response {
    if is_api_path(request.uri().path()) {
        problem::http_problem(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    } else {
        crate::portal::page::not_found()
    }
}

/// Every refusal is a problem document with a stable code: the handlers'
/// own errors are, and this turns the few that axum answers itself (a body
/// over the size limit, say) into one too.
async fn problem_documents(request: Request, next: Next) -> Response {
    if !is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == problem::PROBLEM_JSON.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (code, detail) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take that method",
        ),
        s if s.is_server_error() => (
            "internal",
            "the server failed; the request changed nothing, try again",
        ),
        _ => ("invalid_request", "the request is malformed"),
    };
    problem::http_problem(status, code, detail)
}

/// Refuses a path or query with an encoded NUL (`%00`) before any handler
/// sees it: ids and cursors never hold one, and PostgreSQL cannot store it.
async fn refuse_nul_in_uri(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if !is_api_path(uri.path()) {
        return next.run(request).await;
    }
    let nul = |text: &str| text.contains("%00");
    if nul(uri.path()) || uri.query().is_some_and(nul) {
        return extract::nul_refused().into_response();
    }
    next.run(request).await
}

/// Logs method, path and status of each request. Paths hold ids only (codes
/// and tokens travel in bodies and headers), and query strings are left out.
async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    log::info!(
        "{method} {path} {} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}
