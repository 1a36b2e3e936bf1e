//! The HTTP API: the router, the OpenAPI document generated from the handlers'
//! annotations, and the small endpoints (health, login, me, doors). Resident
//! code endpoints live in [`codes`], sync and receipts in [`sync`], visits
//! to locks in [`visits`], the manager and staff endpoints in [`manage`].

pub mod codes;
pub mod manage;
pub mod problem;
pub mod sync;
pub mod visits;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use keyway_core::api::{DoorList, DoorView, LoginRequest, LoginResponse, MeResponse, PropertyView};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::app::{App, parse_body};
use crate::auth::{Caller, rate_limit};
use crate::crypto::{new_id, new_token, token_hash};
use crate::error::{Error, Result};
use crate::model::{load_locks_where, load_property, unit_and_shared_locks};
use crate::store::now_secs;

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Keyway server API", description = "Door codes, locks and package-room access. See docs/api.md."),
    paths(
        healthz, login, logout, me, doors,
        codes::list_codes, codes::create_code, codes::get_code, codes::change_code,
        codes::disable_code, codes::enable_code, codes::delete_code,
        sync::sync, sync::post_receipts, sync::lock_audit,
        visits::open_visit, visits::present_status,
        manage::get_policy, manage::put_policy, manage::list_locks,
        manage::list_carriers, manage::create_carrier, manage::set_carrier_code,
        manage::list_couriers, manage::create_courier, manage::set_courier_pin,
        manage::courier_qr, manage::courier_key_card,
        manage::list_staff, manage::set_staff_pin,
        manage::list_recipients, manage::create_recipient, manage::one_time_pin,
        manage::lookup_pin, manage::forgot_pin,
    ),
    components(schemas(keyway_core::api::Problem)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// Every route.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi_json))
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .route("/v1/me", get(me))
        .route("/v1/doors", get(doors))
        .route("/v1/codes", get(codes::list_codes).post(codes::create_code))
        .route(
            "/v1/codes/{id}",
            get(codes::get_code).delete(codes::delete_code),
        )
        .route("/v1/codes/{id}/change", post(codes::change_code))
        .route("/v1/codes/{id}/disable", post(codes::disable_code))
        .route("/v1/codes/{id}/enable", post(codes::enable_code))
        .route("/v1/sync", get(sync::sync))
        .route("/v1/receipts", post(sync::post_receipts))
        .route("/v1/locks/{id}/audit", get(sync::lock_audit))
        .route("/v1/locks/{id}/visits", post(visits::open_visit))
        .route("/v1/visits/{id}/status", post(visits::present_status))
        .route(
            "/v1/manage/policy",
            get(manage::get_policy).put(manage::put_policy),
        )
        .route("/v1/manage/locks", get(manage::list_locks))
        .route(
            "/v1/manage/carriers",
            get(manage::list_carriers).post(manage::create_carrier),
        )
        .route(
            "/v1/manage/carriers/{id}/code",
            put(manage::set_carrier_code),
        )
        .route(
            "/v1/manage/couriers",
            get(manage::list_couriers).post(manage::create_courier),
        )
        .route("/v1/manage/couriers/{id}/pin", put(manage::set_courier_pin))
        .route("/v1/manage/couriers/{id}/qr", get(manage::courier_qr))
        .route(
            "/v1/manage/couriers/{id}/key-card",
            post(manage::courier_key_card),
        )
        .route("/v1/manage/staff", get(manage::list_staff))
        .route("/v1/manage/staff/{id}/pin", put(manage::set_staff_pin))
        .route(
            "/v1/manage/recipients",
            get(manage::list_recipients).post(manage::create_recipient),
        )
        .route(
            "/v1/manage/recipients/{id}/one-time-pin",
            post(manage::one_time_pin),
        )
        .route("/v1/manage/recipients/{id}/pin", get(manage::lookup_pin))
        .route("/v1/public/forgot-pin", post(manage::forgot_pin))
        .fallback(|| async {
            problem::http_problem(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .method_not_allowed_fallback(|| async {
            problem::http_problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(middleware::from_fn(problem_documents))
        .layer(middleware::from_fn(refuse_nul_in_uri))
        .layer(middleware::from_fn(log_requests))
        .with_state(app)
}

/// Every refusal is a problem document with a stable code: the handlers'
/// own errors are, and this turns the few that axum answers itself (a body
/// over the size limit, say) into one too.
async fn problem_documents(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
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
    let nul = |text: &str| text.contains("%00");
    if nul(uri.path()) || uri.query().is_some_and(nul) {
        return crate::app::nul_refused().into_response();
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

/// `axum::extract::Path` whose refusal (bad percent-encoding, invalid UTF-8)
/// is a problem document with the code `invalid_request`, like every other
/// error, instead of axum's plain text.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_| {
                Error::invalid("the path is malformed (bad percent-encoding or not UTF-8)")
            })
    }
}

/// `axum::extract::Query` whose refusal is a problem document with the code
/// `invalid_request` naming what is wrong.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| {
                let why: String = rejection.body_text().chars().take(200).collect();
                Error::invalid(format!("malformed query string: {why}"))
            })
    }
}

/// The client's address, for rate limits (see [`App::client_ip`]).
pub fn client_ip(app: &App, connect: &ConnectInfo<SocketAddr>, headers: &HeaderMap) -> String {
    app.client_ip(connect.0, headers).to_string()
}

/// Liveness: answers `ok` once the database answers.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "Healthy", body = String)))]
pub async fn healthz(State(app): State<App>) -> Result<&'static str> {
    sqlx::query("SELECT 1").execute(&app.store.pool).await?;
    Ok("ok")
}

async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => crate::app::json_response(StatusCode::OK, json),
        Err(e) => Error::internal("openapi", e).into_response(),
    }
}

/// Trades an API token for a device token (one per device, revocable alone).
#[utoipa::path(post, path = "/v1/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = keyway_core::api::Problem), (status = 429, body = keyway_core::api::Problem)))]
pub async fn login(
    State(app): State<App>,
    connect: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<LoginResponse>> {
    let client = client_ip(&app, &connect, &headers);
    rate_limit(&app, &format!("login:{client}"), 60, 30).await?;
    let request: LoginRequest = parse_body(&body)?;
    let device_name = request.device_name.trim();
    if device_name.is_empty() || device_name.chars().count() > 100 {
        return Err(Error::invalid("device_name must be 1 to 100 characters"));
    }
    if !request.token.starts_with("kwa_") {
        return Err(Error::unauthorized());
    }
    let caller = crate::auth::authenticate(&app, &request.token).await?;
    let device_id = new_id("dev");
    let device_token = new_token("kwd")?;
    sqlx::query("INSERT INTO devices (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(device_id.clone())
        .bind(caller.user_id.clone())
        .bind(device_name.to_owned())
        .bind(token_hash(&device_token))
        .bind(now_secs())
        .execute(&app.store.pool)
        .await?;
    log::info!("user {} logged in a device {device_id}", caller.user_id);
    Ok(axum::Json(LoginResponse {
        device_token,
        device_id,
        user: caller.view(),
    }))
}

/// Revokes the calling device's token.
#[utoipa::path(post, path = "/v1/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Logged out")))]
pub async fn logout(State(app): State<App>, caller: Caller) -> Result<StatusCode> {
    let Some(device_id) = caller.device_id else {
        return Err(Error::new(
            crate::error::ErrorKind::Invalid,
            "not_a_device",
            "only device tokens log out; an operator revokes API tokens",
        ));
    };
    sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2")
        .bind(now_secs())
        .bind(device_id)
        .execute(&app.store.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller and their property.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse)))]
pub async fn me(State(app): State<App>, caller: Caller) -> Result<axum::Json<MeResponse>> {
    let mut conn = app.store.pool.acquire().await?;
    let property = load_property(&mut conn, &caller.property_id).await?;
    Ok(axum::Json(MeResponse {
        user: caller.view(),
        property: PropertyView {
            id: property.id,
            name: property.name,
            time_zone: property.time_zone,
            policy: property.policy,
        },
    }))
}

/// The doors the caller may use and carry jobs to.
#[utoipa::path(get, path = "/v1/doors", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = DoorList)))]
pub async fn doors(State(app): State<App>, caller: Caller) -> Result<axum::Json<DoorList>> {
    let mut conn = app.store.pool.acquire().await?;
    let locks = match (&caller.role, &caller.unit_id) {
        (keyway_core::api::Role::Resident, Some(unit)) => {
            unit_and_shared_locks(&mut conn, &caller.property_id, unit, -1, None).await?
        }
        _ => load_locks_where(&mut conn, &caller.property_id, "", &[]).await?,
    };
    let doors = locks
        .into_iter()
        .filter(|lock| caller.may_reach_lock(lock))
        .map(|lock| DoorView {
            lock_id: lock.id,
            name: lock.name,
            access_point: lock.access_point,
            unit_id: lock.unit_id,
            enter_key: lock.enter_key,
            constraints: lock.constraints,
        })
        .collect();
    Ok(axum::Json(DoorList { doors }))
}
