//! Session endpoints: health, login and logout, who the caller is, and the
//! doors they may use.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use keyway_api::{DoorList, LoginRequest, LoginResponse, MeResponse, Problem};

use super::extract::{ClientIp, parse_body};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Result;
use crate::ops::limits::rate_limit;
use crate::ops::session;

/// Liveness: answers `ok` once the database answers.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "Healthy", body = String, content_type = "text/plain", example = json!("ok"))))]
pub async fn healthz(State(app): State<App>) -> Result<&'static str> {
    app.store.ping().await?;
    Ok("ok")
}

/// Trades an API token for a device token (one per device, revocable alone).
#[utoipa::path(post, path = "/v1/login", tag = "auth",
    request_body(content = LoginRequest, example = json!({"token": "kwa_4Jx…", "device_name": "Alice's Pixel"})),
    responses(
        (status = 200, body = LoginResponse, example = json!({"device_token": "kwd_9Qa…", "device_id": "dev_01HV…", "user": {"id": "user_01HV…", "name": "Alice", "role": "resident", "property_id": "prop_01HV…", "unit_id": "unit_01HV…"}})),
        (status = 401, description = "unauthorized: not a live API token", body = Problem),
        (status = 429, description = "rate_limited: 30 logins a minute per client address", body = Problem)))]
pub async fn login(
    State(app): State<App>,
    ClientIp(client): ClientIp,
    body: Bytes,
) -> Result<Json<LoginResponse>> {
    rate_limit(&app.store, &format!("login:{client}"), 60, 30).await?;
    let request: LoginRequest = parse_body(&body)?;
    let answer = session::login(&app.store, &request.token, &request.device_name).await?;
    Ok(Json(answer))
}

/// Revokes the calling device's token.
#[utoipa::path(post, path = "/v1/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Logged out"),
        (status = 400, description = "not_a_device: an API token does not log out", body = Problem)))]
pub async fn logout(State(app): State<App>, caller: Caller) -> Result<StatusCode> {
    session::logout(&app.store, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller and their property.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse)))]
pub async fn me(State(app): State<App>, caller: Caller) -> Result<Json<MeResponse>> {
    Ok(Json(session::me(&app.store, &caller).await?))
}

/// The doors the caller may use and carry jobs to.
#[utoipa::path(get, path = "/v1/doors", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = DoorList)))]
pub async fn doors(State(app): State<App>, caller: Caller) -> Result<Json<DoorList>> {
    Ok(Json(session::doors(&app.store, &caller).await?))
}
