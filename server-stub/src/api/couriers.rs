//! Couriers and their PINs (staff and managers): the PIN's QR code for the
//! kiosk, and key cards given against the PIN.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_api::{
    CodeView, CourierView, CreateCourierRequest, KeyCardRequest, Problem, SetCodeRequest,
};
use serde::Deserialize;

use super::carriers::put_holder_code;
use super::extract::{ApiPath, ApiQuery, idempotent, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::db::holders::HolderKind;
use crate::error::{Error, Result};
use crate::ops::holders;
use crate::ops::limits::rate_limit;

/// Couriers and their PINs.
#[utoipa::path(get, path = "/v1/manage/couriers", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = Vec<CourierView>),
        (status = 403, description = "forbidden: staff and managers only", body = Problem)))]
pub async fn list_couriers(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<CourierView>>> {
    caller.require_staff()?;
    Ok(Json(holders::couriers(&app.store, &caller).await?))
}

/// Adds a courier account (give it a PIN next).
#[utoipa::path(post, path = "/v1/manage/couriers", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = CreateCourierRequest, example = json!({"name": "Sam from Speedy"})),
    responses(
        (status = 201, body = CourierView, example = json!({"id": "cou_01HV…", "name": "Sam from Speedy", "key_card_id": null, "pin": null})),
        (status = 403, description = "forbidden: staff and managers only", body = Problem)))]
pub async fn create_courier(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: CreateCourierRequest = parse_body(&body)?;
    let name = holders::check_name(&request.name)?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::CREATED,
        move |w, who| Box::pin(holders::create_courier(w, who, name)),
    )
    .await
}

/// Generates or sets a courier's 6-digit PIN (a custom PIN that duplicates an
/// existing one, or a deleted one, is refused). Deactivate, reactivate and
/// delete it with the code endpoints.
#[utoipa::path(put, path = "/v1/manage/couriers/{id}/pin", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Courier id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = SetCodeRequest, example = json!({"mode": "pick", "code": "582914"})),
    responses((status = 200, body = CodeView),
        (status = 403, description = "forbidden: staff and managers only", body = Problem),
        (status = 404, description = "not_found: no such courier here", body = Problem),
        (status = 409, description = "no_locks, code_ended, exhausted or lock_full", body = Problem),
        (status = 422, description = "policy_violation (a duplicate or deleted PIN too), invalid_format", body = Problem),
        (status = 429, description = "rate_limited: too many picks", body = Problem)))]
pub async fn set_courier_pin(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    put_holder_code(app, caller, idem, id, body, HolderKind::Courier).await
}

/// `?format=svg|png`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct QrQuery {
    /// `svg` (default) or `png`.
    pub format: Option<String>,
}

/// A QR code (SVG or PNG) encoding the courier's credential
/// (`keyway:courier:<courier id>:<pin>`), for the kiosk.
#[utoipa::path(get, path = "/v1/manage/couriers/{id}/qr", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Courier id"), QrQuery),
    responses(
        (status = 200, description = "The QR code: image/svg+xml (`format=svg`) or image/png (`format=png`)", content(
            (String = "image/svg+xml"),
            (Vec<u8> = "image/png"))),
        (status = 400, description = "invalid_request: format is svg or png", body = Problem),
        (status = 403, description = "forbidden: staff and managers only", body = Problem),
        (status = 404, description = "not_found: no such courier here", body = Problem),
        (status = 409, description = "no_active_pin: the courier has no active PIN", body = Problem)))]
pub async fn courier_qr(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<QrQuery>,
) -> Result<Response> {
    caller.require_staff()?;
    let credential = holders::courier_credential(&app.store, &caller, &id).await?;
    let (content_type, image) = match q.format.as_deref().unwrap_or("svg") {
        "svg" => ("image/svg+xml", crate::qr::svg(&credential)?.into_bytes()),
        "png" => ("image/png", crate::qr::png(&credential)?),
        _ => return Err(Error::invalid("format is `svg` or `png`")),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        image,
    )
        .into_response())
}

/// Assigns a key card to a courier after verifying the courier's PIN
/// (rate-limited per courier: it checks a secret).
#[utoipa::path(post, path = "/v1/manage/couriers/{id}/key-card", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Courier id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = KeyCardRequest, example = json!({"pin": "582914", "key_card_id": "card-0042"})),
    responses((status = 200, body = CourierView),
        (status = 403, description = "forbidden: staff and managers only", body = Problem),
        (status = 404, description = "not_found: no such courier here", body = Problem),
        (status = 409, description = "no_active_pin: the courier has no active PIN; key_card_taken: another courier here has this card", body = Problem),
        (status = 422, description = "pin_mismatch: the PIN is not the courier's", body = Problem),
        (status = 429, description = "rate_limited: 5 checks per 15 minutes per courier", body = Problem)))]
pub async fn courier_key_card(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: KeyCardRequest = parse_body(&body)?;
    let card = holders::check_card_id(&request.key_card_id)?;
    rate_limit(&app.store, &format!("pin-verify:{id}"), 900, 5).await?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| {
            Box::pin(
                async move { holders::assign_key_card(w, who, &id, &request.pin, &card).await },
            )
        },
    )
    .await
}
