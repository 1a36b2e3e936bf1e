//! Carriers and their access codes for the package room (staff and managers).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{CarrierView, CodeView, CreateCarrierRequest, Problem, SetCodeRequest};

use super::extract::{ApiPath, idempotent, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::db::holders::HolderKind;
use crate::error::Result;
use crate::ops::holders;
use crate::ops::limits::{PickOf, limit_picks};

/// Carriers and their access codes.
#[utoipa::path(get, path = "/v1/manage/carriers", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = Vec<CarrierView>),
        (status = 403, description = "forbidden: staff and managers only", body = Problem)))]
pub async fn list_carriers(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<CarrierView>>> {
    caller.require_staff()?;
    Ok(Json(holders::carriers(&app.store, &caller).await?))
}

/// Adds a carrier with a distinct 4-digit access code for the package room
/// (generated, or chosen under the carrier rules).
#[utoipa::path(post, path = "/v1/manage/carriers", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = CreateCarrierRequest, example = json!({"name": "Parcel Express", "mode": "generate"})),
    responses(
        (status = 201, body = CarrierView),
        (status = 403, description = "forbidden: staff and managers only", body = Problem),
        (status = 409, description = "no_locks (no package room yet), exhausted or lock_full", body = Problem),
        (status = 422, description = "policy_violation, invalid_format", body = Problem),
        (status = 429, description = "rate_limited: too many picks", body = Problem)))]
pub async fn create_carrier(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: CreateCarrierRequest = parse_body(&body)?;
    limit_picks(
        &app.store,
        &caller,
        &idem,
        request.mode,
        PickOf::PackageRoomCode,
    )
    .await?;
    let name = holders::check_name(&request.name)?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::CREATED,
        move |w, who| {
            Box::pin(async move { holders::create_carrier(w, who, name, &request).await })
        },
    )
    .await
}

/// Sets holder `id`'s code from a [`SetCodeRequest`] body, idempotently:
/// the body of the carrier, courier and staff endpoints (the caller's role
/// is checked by each).
pub(super) async fn put_holder_code(
    app: App,
    caller: Caller,
    idem: Idem,
    id: String,
    body: Bytes,
    kind: HolderKind,
) -> Result<Response> {
    let request: SetCodeRequest = parse_body(&body)?;
    limit_picks(
        &app.store,
        &caller,
        &idem,
        request.mode,
        PickOf::PackageRoomCode,
    )
    .await?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| Box::pin(async move { holders::put_code(w, who, kind, &id, &request).await }),
    )
    .await
}

/// Sets a carrier's access code (generated or chosen); the old one stays on
/// the package room doors until they confirm the new one.
#[utoipa::path(put, path = "/v1/manage/carriers/{id}/code", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Carrier id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = SetCodeRequest, example = json!({"mode": "generate"})),
    responses((status = 200, body = CodeView),
        (status = 403, description = "forbidden: staff and managers only", body = Problem),
        (status = 404, description = "not_found: no such carrier here", body = Problem),
        (status = 409, description = "no_locks, code_ended, exhausted or lock_full", body = Problem),
        (status = 422, description = "policy_violation, invalid_format", body = Problem),
        (status = 429, description = "rate_limited: too many picks", body = Problem)))]
pub async fn set_carrier_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    put_holder_code(app, caller, idem, id, body, HolderKind::Carrier).await
}
