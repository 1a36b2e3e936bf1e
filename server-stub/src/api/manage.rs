//! Manager and staff endpoints: policy settings, locks, carriers and their
//! access codes, couriers and staff with their PINs (QR codes, key cards),
//! recipients and one-time PINs, and the public "forgot PIN" request.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use keyway_core::api::{
    CarrierView, CodeMode, CodeStatus, CodeView, CourierView, CreateCarrierRequest,
    CreateCourierRequest, CreateRecipientRequest, ForgotPinRequest, ForgotPinResponse,
    KeyCardRequest, LockList, LockView, NotifyVia, OneTimePinRequest, PolicySettings,
    RecipientView, Role, SetCodeRequest, StaffView,
};
use keyway_core::schedule::Window;
use keyway_core::{CodeKind, Schedule};
use serde::Deserialize;
use sqlx::AnyConnection;

use super::{ApiPath, ApiQuery};
use crate::app::{App, json_response, parse_body};
use crate::auth::{Caller, Idem, PickOf, rate_limit};
use crate::codes::{self as ops, Holder, NewCode};
use crate::crypto::{Cell, DataKey, new_id};
use crate::error::{Error, Result};
use crate::model::{
    CodeRow, LockRow, PropertyRow, code_view, load_code, load_codes_where, load_locks_where,
    load_property, validate_policy,
};
use crate::notify::{Message, enqueue};
use crate::store::now_secs;

/// The property's policy settings.
#[utoipa::path(get, path = "/v1/manage/policy", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = PolicySettings)))]
pub async fn get_policy(State(app): State<App>, caller: Caller) -> Result<Json<PolicySettings>> {
    caller.require_staff()?;
    let mut conn = app.store.pool.acquire().await?;
    Ok(Json(
        load_property(&mut conn, &caller.property_id).await?.policy,
    ))
}

/// Replaces the policy settings (managers). Existing codes stay; new codes
/// follow the new settings.
#[utoipa::path(put, path = "/v1/manage/policy", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = PolicySettings, responses((status = 200, body = PolicySettings)))]
pub async fn put_policy(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    caller.require_manager()?;
    let policy: PolicySettings = parse_body(&body)?;
    validate_policy(&policy)?;
    let property_id = caller.property_id.clone();
    app.idempotent(&caller, &idem, &body, StatusCode::OK, move |w| {
        Box::pin(async move {
            sqlx::query("UPDATE properties SET policy = $1 WHERE id = $2")
                .bind(serde_json::to_string(&policy)?)
                .bind(property_id)
                .execute(&mut *w.tx)
                .await?;
            Ok(serde_json::to_value(policy)?)
        })
    })
    .await
}

/// The property's locks with their reconciliation state.
#[utoipa::path(get, path = "/v1/manage/locks", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = LockList)))]
pub async fn list_locks(State(app): State<App>, caller: Caller) -> Result<Json<LockList>> {
    caller.require_staff()?;
    let mut conn = app.store.pool.acquire().await?;
    let locks = load_locks_where(&mut conn, &caller.property_id, "", &[]).await?;
    Ok(Json(LockList {
        locks: locks
            .into_iter()
            .map(|l| LockView {
                job_pending: l.work_pending(),
                lock_id: l.id,
                name: l.name,
                access_point: l.access_point,
                unit_id: l.unit_id,
                desired_version: l.desired_version,
                confirmed_version: l.confirmed_version,
                attention: l.attention,
            })
            .collect(),
    }))
}

async fn package_room_locks(conn: &mut AnyConnection, property_id: &str) -> Result<Vec<LockRow>> {
    load_locks_where(conn, property_id, "AND access_point = 'package_room'", &[]).await
}

/// The current (not deleted) code a holder has.
async fn holder_code(
    conn: &mut AnyConnection,
    property_id: &str,
    holder_type: &str,
    holder_id: &str,
) -> Result<Option<CodeRow>> {
    let rows = load_codes_where(
        conn,
        "property_id = $1 AND holder_type = $2 AND holder_id = $3 AND status IN ('active', 'disabled') ORDER BY created_at DESC",
        &[property_id.to_owned(), holder_type.to_owned(), holder_id.to_owned()],
        None,
    )
    .await?;
    Ok(rows.into_iter().next())
}

async fn holder_view(
    conn: &mut AnyConnection,
    key: &DataKey,
    caller: &Caller,
    holder_type: &str,
    holder_id: &str,
) -> Result<Option<CodeView>> {
    match holder_code(conn, &caller.property_id, holder_type, holder_id).await? {
        Some(code) => Ok(Some(
            code_view(conn, key, &code, caller.may_see_value(&code)).await?,
        )),
        None => Ok(None),
    }
}

/// Gives a holder a code: a new one, or new digits for the current one.
#[allow(clippy::too_many_arguments)]
async fn set_holder_code(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    property: &PropertyRow,
    caller: &Caller,
    holder: Holder,
    kind: CodeKind,
    name: Option<String>,
    request: &SetCodeRequest,
) -> Result<CodeRow> {
    let (holder_type, holder_id) = match &holder {
        Holder::Carrier(id) => ("carrier", id.clone()),
        Holder::Courier(id) => ("courier", id.clone()),
        Holder::Staff(id) => ("staff", id.clone()),
        _ => return Err(Error::invalid("unsupported holder")),
    };
    match holder_code(conn, &property.id, holder_type, &holder_id).await? {
        Some(existing) => {
            ops::change(
                conn,
                key,
                seq,
                property,
                &existing,
                request.mode,
                request.code.as_deref(),
                request.length,
                &caller.user_id,
            )
            .await
        }
        None => {
            let locks = package_room_locks(conn, &property.id).await?;
            let new = NewCode {
                kind,
                mode: request.mode,
                code: request.code.clone(),
                length: request.length,
                name,
                guest_type: None,
                schedule: Schedule::Always,
                holder,
                locks,
            };
            ops::create(conn, key, seq, property, new, &caller.user_id).await
        }
    }
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// Carriers and their access codes.
#[utoipa::path(get, path = "/v1/manage/carriers", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = Vec<CarrierView>)))]
pub async fn list_carriers(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<CarrierView>>> {
    caller.require_staff()?;
    let mut conn = app.store.pool.acquire().await?;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, name FROM carriers WHERE property_id = $1 ORDER BY name, id")
            .bind(caller.property_id.clone())
            .fetch_all(&mut *conn)
            .await?;
    let mut out = Vec::new();
    for (id, name) in rows {
        let code = holder_view(&mut conn, &app.key, &caller, "carrier", &id).await?;
        out.push(CarrierView { id, name, code });
    }
    Ok(Json(out))
}

/// Adds a carrier with a distinct 4-digit access code for the package room
/// (generated, or chosen under the carrier rules).
#[utoipa::path(post, path = "/v1/manage/carriers", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = CreateCarrierRequest, responses((status = 201, body = CarrierView), (status = 429, description = "too many picks", body = keyway_core::api::Problem)))]
pub async fn create_carrier(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: CreateCarrierRequest = parse_body(&body)?;
    crate::auth::limit_picks(&app, &caller, &idem, request.mode, PickOf::PackageRoomCode).await?;
    let name = check_name(&request.name)?;
    let (app2, caller2) = (app.clone(), caller.clone());
    app.idempotent(&caller, &idem, &body, StatusCode::CREATED, move |w| {
        Box::pin(async move {
            let property = load_property(&mut w.tx, &caller2.property_id).await?;
            let id = new_id("car");
            sqlx::query(
                "INSERT INTO carriers (id, property_id, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.clone())
            .bind(property.id.clone())
            .bind(name.clone())
            .bind(now_secs())
            .execute(&mut *w.tx)
            .await?;
            let set = SetCodeRequest {
                mode: request.mode,
                code: request.code.clone(),
                length: None,
            };
            let code = set_holder_code(
                &mut w.tx,
                &app2.key,
                w.seq,
                &property,
                &caller2,
                Holder::Carrier(id.clone()),
                CodeKind::Carrier,
                Some(name.clone()),
                &set,
            )
            .await?;
            let view = code_view(&mut w.tx, &app2.key, &code, true).await?;
            Ok(serde_json::to_value(CarrierView {
                id,
                name,
                code: Some(view),
            })?)
        })
    })
    .await
}

async fn check_holder(
    conn: &mut AnyConnection,
    sql: &'static str,
    id: &str,
    property_id: &str,
    what: &str,
) -> Result<String> {
    let row: Option<(String,)> = sqlx::query_as(sql)
        .bind(id.to_owned())
        .bind(property_id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|(name,)| name)
        .ok_or_else(|| Error::not_found(what))
}

/// Whose code a `PUT …/code` or `…/pin` endpoint sets: how to find the
/// holder in the caller's property, what to call it, and the code's kind.
struct HolderKind {
    lookup: &'static str,
    noun: &'static str,
    kind: CodeKind,
    holder: fn(String) -> Holder,
}

const CARRIER: HolderKind = HolderKind {
    lookup: "SELECT name FROM carriers WHERE id = $1 AND property_id = $2",
    noun: "carrier",
    kind: CodeKind::Carrier,
    holder: Holder::Carrier,
};

const COURIER: HolderKind = HolderKind {
    lookup: "SELECT name FROM couriers WHERE id = $1 AND property_id = $2",
    noun: "courier",
    kind: CodeKind::Courier,
    holder: Holder::Courier,
};

const STAFF: HolderKind = HolderKind {
    lookup: "SELECT name FROM users WHERE id = $1 AND property_id = $2 AND role IN ('staff', 'manager')",
    noun: "staff member",
    kind: CodeKind::Staff,
    holder: Holder::Staff,
};

/// Sets holder `id`'s code from a [`SetCodeRequest`] body, idempotently:
/// the body of the carrier, courier and staff endpoints (the caller's role
/// is checked by each).
async fn put_holder_code(
    app: App,
    caller: Caller,
    idem: Idem,
    id: String,
    body: Bytes,
    of: &'static HolderKind,
) -> Result<Response> {
    let request: SetCodeRequest = parse_body(&body)?;
    crate::auth::limit_picks(&app, &caller, &idem, request.mode, PickOf::PackageRoomCode).await?;
    let (app2, caller2) = (app.clone(), caller.clone());
    app.idempotent(&caller, &idem, &body, StatusCode::OK, move |w| {
        Box::pin(async move {
            let name =
                check_holder(&mut w.tx, of.lookup, &id, &caller2.property_id, of.noun).await?;
            let property = load_property(&mut w.tx, &caller2.property_id).await?;
            let code = set_holder_code(
                &mut w.tx,
                &app2.key,
                w.seq,
                &property,
                &caller2,
                (of.holder)(id),
                of.kind,
                Some(name),
                &request,
            )
            .await?;
            Ok(serde_json::to_value(
                code_view(&mut w.tx, &app2.key, &code, true).await?,
            )?)
        })
    })
    .await
}

/// Sets a carrier's access code (generated or chosen); the old one stays on
/// the package room doors until they confirm the new one.
#[utoipa::path(put, path = "/v1/manage/carriers/{id}/code", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Carrier id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = SetCodeRequest, responses((status = 200, body = CodeView), (status = 403, body = keyway_core::api::Problem), (status = 404, body = keyway_core::api::Problem), (status = 429, description = "too many picks", body = keyway_core::api::Problem)))]
pub async fn set_carrier_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    put_holder_code(app, caller, idem, id, body, &CARRIER).await
}

/// Couriers and their PINs.
#[utoipa::path(get, path = "/v1/manage/couriers", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = Vec<CourierView>)))]
pub async fn list_couriers(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<CourierView>>> {
    caller.require_staff()?;
    let mut conn = app.store.pool.acquire().await?;
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, name, key_card_id FROM couriers WHERE property_id = $1 ORDER BY name, id",
    )
    .bind(caller.property_id.clone())
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for (id, name, key_card_id) in rows {
        let pin = holder_view(&mut conn, &app.key, &caller, "courier", &id).await?;
        out.push(CourierView {
            id,
            name,
            key_card_id,
            pin,
        });
    }
    Ok(Json(out))
}

/// Adds a courier account (give it a PIN next).
#[utoipa::path(post, path = "/v1/manage/couriers", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = CreateCourierRequest, responses((status = 201, body = CourierView)))]
pub async fn create_courier(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: CreateCourierRequest = parse_body(&body)?;
    let name = check_name(&request.name)?;
    let property_id = caller.property_id.clone();
    app.idempotent(&caller, &idem, &body, StatusCode::CREATED, move |w| {
        Box::pin(async move {
            let id = new_id("cou");
            sqlx::query(
                "INSERT INTO couriers (id, property_id, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.clone())
            .bind(property_id)
            .bind(name.clone())
            .bind(now_secs())
            .execute(&mut *w.tx)
            .await?;
            Ok(serde_json::to_value(CourierView {
                id,
                name,
                key_card_id: None,
                pin: None,
            })?)
        })
    })
    .await
}

/// Generates or sets a courier's 6-digit PIN (a custom PIN that duplicates an
/// existing one, or a deleted one, is refused). Deactivate, reactivate and
/// delete it with the code endpoints.
#[utoipa::path(put, path = "/v1/manage/couriers/{id}/pin", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Courier id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = SetCodeRequest, responses((status = 200, body = CodeView), (status = 403, body = keyway_core::api::Problem), (status = 404, body = keyway_core::api::Problem), (status = 429, description = "too many picks", body = keyway_core::api::Problem)))]
pub async fn set_courier_pin(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    put_holder_code(app, caller, idem, id, body, &COURIER).await
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
    responses((status = 200, description = "image/svg+xml or image/png")))]
pub async fn courier_qr(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<QrQuery>,
) -> Result<Response> {
    caller.require_staff()?;
    let mut conn = app.store.pool.acquire().await?;
    check_holder(
        &mut conn,
        "SELECT name FROM couriers WHERE id = $1 AND property_id = $2",
        &id,
        &caller.property_id,
        "courier",
    )
    .await?;
    let code = holder_code(&mut conn, &caller.property_id, "courier", &id)
        .await?
        .filter(|c| c.status == CodeStatus::Active)
        .ok_or_else(|| {
            Error::conflict(
                "no_active_pin",
                "this courier has no active PIN; generate one first",
            )
        })?;
    let payload = format!("keyway:courier:{id}:{}", code.code(&app.key)?.as_str());
    let qr = qrcode::QrCode::new(payload.as_bytes()).map_err(|e| Error::internal("qr", e))?;
    match q.format.as_deref().unwrap_or("svg") {
        "svg" => {
            let svg = qr
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build();
            Ok((
                [
                    (header::CONTENT_TYPE, "image/svg+xml"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                svg,
            )
                .into_response())
        }
        "png" => Ok((
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            qr_png(&qr)?,
        )
            .into_response()),
        _ => Err(Error::invalid("format is `svg` or `png`")),
    }
}

/// Renders a QR code as a grayscale PNG: 8 pixels per module, 4-module quiet zone.
fn qr_png(qr: &qrcode::QrCode) -> Result<Vec<u8>> {
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let modules = qr.width();
    let colors = qr.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
            for dy in 0..SCALE {
                let row = (my * SCALE + dy) * side;
                pixels[row + mx * SCALE..row + mx * SCALE + SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let side = u32::try_from(side).map_err(|e| Error::internal("qr size", e))?;
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| Error::internal("png", e))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| Error::internal("png", e))?;
    }
    Ok(out)
}

/// Assigns a key card to a courier after verifying the courier's PIN
/// (rate-limited per courier: it checks a secret).
#[utoipa::path(post, path = "/v1/manage/couriers/{id}/key-card", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Courier id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = KeyCardRequest, responses((status = 200, body = CourierView), (status = 422, body = keyway_core::api::Problem)))]
pub async fn courier_key_card(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: KeyCardRequest = parse_body(&body)?;
    let card = request.key_card_id.trim().to_owned();
    if card.is_empty() || card.len() > 64 {
        return Err(Error::invalid("key_card_id must be 1 to 64 characters"));
    }
    rate_limit(&app, &format!("pin-verify:{id}"), 900, 5).await?;
    let (app2, caller2) = (app.clone(), caller.clone());
    app.idempotent(&caller, &idem, &body, StatusCode::OK, move |w| {
        Box::pin(async move {
            let name = check_holder(
                &mut w.tx,
                "SELECT name FROM couriers WHERE id = $1 AND property_id = $2",
                &id,
                &caller2.property_id,
                "courier",
            )
            .await?;
            let code = holder_code(&mut w.tx, &caller2.property_id, "courier", &id)
                .await?
                .filter(|c| c.status == CodeStatus::Active)
                .ok_or_else(|| {
                    Error::conflict("no_active_pin", "this courier has no active PIN")
                })?;
            let stored = code.code(&app2.key)?;
            // Compare keyed MACs, so the comparison's timing says nothing about the PIN.
            let matches = app2.key.lookup_mac("verify", stored.as_str())
                == app2.key.lookup_mac("verify", request.pin.trim());
            if !matches {
                return Err(Error::unprocessable(
                    "pin_mismatch",
                    "the PIN does not match this courier's PIN",
                ));
            }
            sqlx::query("UPDATE couriers SET key_card_id = $1 WHERE id = $2")
                .bind(card.clone())
                .bind(id.clone())
                .execute(&mut *w.tx)
                .await?;
            let pin = Some(code_view(&mut w.tx, &app2.key, &code, true).await?);
            Ok(serde_json::to_value(CourierView {
                id,
                name,
                key_card_id: Some(card),
                pin,
            })?)
        })
    })
    .await
}

/// Staff members and their PINs.
#[utoipa::path(get, path = "/v1/manage/staff", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = Vec<StaffView>)))]
pub async fn list_staff(State(app): State<App>, caller: Caller) -> Result<Json<Vec<StaffView>>> {
    caller.require_staff()?;
    let mut conn = app.store.pool.acquire().await?;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, name FROM users WHERE property_id = $1 AND role IN ('staff', 'manager') ORDER BY name, id")
        .bind(caller.property_id.clone())
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::new();
    for (user_id, name) in rows {
        let pin = holder_view(&mut conn, &app.key, &caller, "staff", &user_id).await?;
        out.push(StaffView { user_id, name, pin });
    }
    Ok(Json(out))
}

/// Generates or sets a staff member's 6-digit PIN: managers for anyone,
/// staff for themselves.
#[utoipa::path(put, path = "/v1/manage/staff/{id}/pin", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id of the staff member"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = SetCodeRequest, responses((status = 200, body = CodeView), (status = 403, body = keyway_core::api::Problem), (status = 404, body = keyway_core::api::Problem), (status = 429, description = "too many picks", body = keyway_core::api::Problem)))]
pub async fn set_staff_pin(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    if caller.role == Role::Staff && caller.user_id != id {
        return Err(Error::forbidden(
            "staff set only their own PIN; a manager sets others'",
        ));
    }
    put_holder_code(app, caller, idem, id, body, &STAFF).await
}

fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    (!local.is_empty()
        && domain.contains('.')
        && email.len() <= 254
        && !email.contains(char::is_whitespace))
    .then_some(email)
}

fn normalize_phone(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let plus = phone.trim_start().starts_with('+');
    (7..=15)
        .contains(&digits.len())
        .then(|| if plus { format!("+{digits}") } else { digits })
}

async fn recipient_view(
    key: &DataKey,
    id: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
) -> Result<RecipientView> {
    Ok(RecipientView {
        email: email
            .map(|e| key.open_str(Cell::new("recipients", "email", &id), &e))
            .transpose()?,
        phone: phone
            .map(|p| key.open_str(Cell::new("recipients", "phone", &id), &p))
            .transpose()?,
        id,
        name,
    })
}

/// Package recipients.
#[utoipa::path(get, path = "/v1/manage/recipients", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = Vec<RecipientView>)))]
pub async fn list_recipients(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<RecipientView>>> {
    caller.require_staff()?;
    let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, name, email, phone FROM recipients WHERE property_id = $1 ORDER BY name, id",
    )
    .bind(caller.property_id.clone())
    .fetch_all(&app.store.pool)
    .await?;
    let mut out = Vec::new();
    for (id, name, email, phone) in rows {
        out.push(recipient_view(&app.key, id, name, email, phone).await?);
    }
    Ok(Json(out))
}

/// Adds a recipient (email and/or phone, stored encrypted; looked up by keyed MAC).
#[utoipa::path(post, path = "/v1/manage/recipients", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = CreateRecipientRequest, responses((status = 201, body = RecipientView)))]
pub async fn create_recipient(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: CreateRecipientRequest = parse_body(&body)?;
    let name = check_name(&request.name)?;
    let email = request
        .email
        .as_deref()
        .map(|e| normalize_email(e).ok_or_else(|| Error::invalid("email is not an address")))
        .transpose()?;
    let phone = request
        .phone
        .as_deref()
        .map(|p| normalize_phone(p).ok_or_else(|| Error::invalid("phone is 7 to 15 digits")))
        .transpose()?;
    if email.is_none() && phone.is_none() {
        return Err(Error::invalid(
            "a recipient needs an email address or a phone number",
        ));
    }
    let (app2, property_id) = (app.clone(), caller.property_id.clone());
    app.idempotent(&caller, &idem, &body, StatusCode::CREATED, move |w| {
        Box::pin(async move {
            let key = &app2.key;
            let id = new_id("rcp");
            sqlx::query("INSERT INTO recipients (id, property_id, name, email, email_mac, phone, phone_mac, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(id.clone())
                .bind(property_id)
                .bind(name.clone())
                .bind(email.as_deref().map(|e| key.seal_str(Cell::new("recipients", "email", &id), e)).transpose()?)
                .bind(email.as_deref().map(|e| key.lookup_mac("email", e)))
                .bind(phone.as_deref().map(|p| key.seal_str(Cell::new("recipients", "phone", &id), p)).transpose()?)
                .bind(phone.as_deref().map(|p| key.lookup_mac("phone", p)))
                .bind(now_secs())
                .execute(&mut *w.tx)
                .await?;
            Ok(serde_json::to_value(RecipientView { id, name, email, phone })?)
        })
    })
    .await
}

/// Issues a one-time PIN to a recipient and queues the notification(s).
#[allow(clippy::too_many_arguments)]
async fn issue_one_time(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    property: &PropertyRow,
    actor: &str,
    recipient_id: &str,
    via: NotifyVia,
    expires_at: Timestamp,
) -> Result<CodeRow> {
    let (name, email, phone): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT name, email, phone FROM recipients WHERE id = $1 AND property_id = $2",
    )
    .bind(recipient_id.to_owned())
    .bind(property.id.clone())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("recipient"))?;
    let mut targets = Vec::new();
    if matches!(via, NotifyVia::Email | NotifyVia::Both) {
        targets.push((
            "email",
            email.ok_or_else(|| {
                Error::unprocessable("no_contact", "this recipient has no email address")
            })?,
        ));
    }
    if matches!(via, NotifyVia::Sms | NotifyVia::Both) {
        targets.push((
            "sms",
            phone.ok_or_else(|| {
                Error::unprocessable("no_contact", "this recipient has no phone number")
            })?,
        ));
    }
    let now = Timestamp::now();
    if expires_at <= now {
        return Err(Error::schedule("the expiry must be in the future"));
    }
    // A recipient has one PIN at a time: the new one ends the previous one,
    // which leaves the package room in the same job as the new one arrives.
    let previous = load_codes_where(
        conn,
        "property_id = $1 AND holder_type = 'recipient' AND holder_id = $2 AND status IN ('active', 'disabled')",
        &[property.id.clone(), recipient_id.to_owned()],
        None,
    )
    .await?;
    let mut touched = Vec::new();
    for old in previous {
        crate::reconcile::end_code(conn, seq, &property.id, &old.id, "deleted", &mut touched)
            .await?;
    }
    let locks = package_room_locks(conn, &property.id).await?;
    let new = NewCode {
        kind: CodeKind::OneTime,
        mode: CodeMode::Generate,
        code: None,
        length: None,
        name: Some(name.clone()),
        guest_type: None,
        schedule: Schedule::Window(Window::new(now, expires_at)?),
        holder: Holder::Recipient(recipient_id.to_owned()),
        locks,
    };
    let code = ops::create(conn, key, seq, property, new, actor).await?;
    let pin = code.code(key)?;
    let until = expires_at
        .in_tz(&property.time_zone)
        .map(|z| z.strftime("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_else(|_| expires_at.to_string());
    for (channel, sealed_to) in targets {
        let column = if channel == "sms" { "phone" } else { "email" };
        let message = Message {
            channel: channel.to_owned(),
            to: key.open_str(Cell::new("recipients", column, recipient_id), &sealed_to)?,
            subject: format!("Your one-time PIN for {}", property.name),
            body: format!(
                "Hello {name}, your one-time PIN for the package room at {} is {}. It opens the door once and expires {until}.",
                property.name,
                pin.as_str()
            ),
        };
        enqueue(conn, key, &property.id, &message).await?;
    }
    Ok(code)
}

/// Sends a recipient a single-entry PIN for the package room, by email, SMS
/// or both; it expires after 24 hours unless another time is given.
#[utoipa::path(post, path = "/v1/manage/recipients/{id}/one-time-pin", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Recipient id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = OneTimePinRequest, responses((status = 201, body = CodeView)))]
pub async fn one_time_pin(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: OneTimePinRequest = parse_body(&body)?;
    let expires_at = match request.expires_at {
        Some(at) => at,
        None => Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(24))
            .map_err(|e| Error::internal("time", e))?,
    };
    let (app2, caller2) = (app.clone(), caller.clone());
    app.idempotent(&caller, &idem, &body, StatusCode::CREATED, move |w| {
        Box::pin(async move {
            let property = load_property(&mut w.tx, &caller2.property_id).await?;
            let code = issue_one_time(
                &mut w.tx,
                &app2.key,
                w.seq,
                &property,
                &caller2.user_id,
                &id,
                request.notify.unwrap_or(NotifyVia::Email),
                expires_at,
            )
            .await?;
            Ok(serde_json::to_value(
                code_view(&mut w.tx, &app2.key, &code, true).await?,
            )?)
        })
    })
    .await
}

/// A recipient's current one-time PIN, while it is still active.
#[utoipa::path(get, path = "/v1/manage/recipients/{id}/pin", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Recipient id")),
    responses((status = 200, body = CodeView), (status = 404, body = keyway_core::api::Problem)))]
pub async fn lookup_pin(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CodeView>> {
    caller.require_staff()?;
    let mut conn = app.store.pool.acquire().await?;
    check_holder(
        &mut conn,
        "SELECT name FROM recipients WHERE id = $1 AND property_id = $2",
        &id,
        &caller.property_id,
        "recipient",
    )
    .await?;
    let code = holder_code(&mut conn, &caller.property_id, "recipient", &id)
        .await?
        .filter(|c| c.status == CodeStatus::Active && !c.schedule.has_ended_by(Timestamp::now()))
        .ok_or_else(|| Error::not_found("active PIN for this recipient"))?;
    let code = load_code(&mut conn, &caller.property_id, &code.id).await?;
    Ok(Json(code_view(&mut conn, &app.key, &code, true).await?))
}

/// Forgot-PIN requests a property answers in an hour (any address, any client).
pub const FORGOT_PER_PROPERTY_PER_HOUR: i64 = 60;
/// New PINs forgot-PIN issues to one recipient in a day (UTC), whichever of
/// their addresses is asked about; counted after the answer, so a request
/// over it gets the same answer and its timing.
pub const FORGOT_PINS_PER_RECIPIENT_PER_DAY: i64 = 5;

const FORGOT_ANSWER: &str =
    "If this address belongs to a recipient here, a new single-use PIN is on its way to it.";

/// A recipient who forgot their PIN asks for a new single-use PIN by email or
/// phone number. The answer is the same whether or not the address is known,
/// and so is the work done before answering: the rate limits (per client and
/// per address) and a keyed MAC of the address. Looking the address up and
/// issuing the PIN happen after the answer, in the background, so its timing
/// does not tell a known address from an unknown one either.
#[utoipa::path(post, path = "/v1/public/forgot-pin", tag = "public", request_body = ForgotPinRequest,
    responses((status = 202, body = ForgotPinResponse), (status = 429, body = keyway_core::api::Problem)))]
pub async fn forgot_pin(
    State(app): State<App>,
    connect: ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let client = super::client_ip(&app, &connect, &headers);
    rate_limit(&app, &format!("forgot-ip:{client}"), 3600, 10).await?;
    let request: ForgotPinRequest = parse_body(&body)?;
    // Whatever addresses and clients an attacker rotates through, a property
    // answers so many requests an hour (the same for known and unknown
    // addresses, so the limit tells nothing either).
    rate_limit(
        &app,
        &format!("forgot-property:{}", request.property_id),
        3600,
        FORGOT_PER_PROPERTY_PER_HOUR,
    )
    .await?;
    let (via, mac) = match (&request.email, &request.phone) {
        (Some(email), None) => {
            let email =
                normalize_email(email).ok_or_else(|| Error::invalid("email is not an address"))?;
            (NotifyVia::Email, app.key.lookup_mac("email", &email))
        }
        (None, Some(phone)) => {
            let phone =
                normalize_phone(phone).ok_or_else(|| Error::invalid("phone is 7 to 15 digits"))?;
            (NotifyVia::Sms, app.key.lookup_mac("phone", &phone))
        }
        _ => return Err(Error::invalid("give either `email` or `phone`")),
    };
    rate_limit(&app, &format!("forgot-addr:{mac}"), 3600, 3).await?;
    let answer = serde_json::to_string(&ForgotPinResponse {
        message: FORGOT_ANSWER.to_owned(),
    })?;
    tokio::spawn(async move {
        if let Err(e) = reissue_forgotten(&app, &request.property_id, via, mac).await {
            // Still the same answer: nothing is revealed.
            log::warn!("forgot-pin could not issue a PIN: {}", e.code);
        }
    });
    Ok(json_response(StatusCode::ACCEPTED, answer))
}

/// Issues a new one-time PIN to the recipient of `property_id` whose address
/// has the lookup MAC `mac`, if there is one.
async fn reissue_forgotten(
    app: &App,
    property_id: &str,
    via: NotifyVia,
    mac: String,
) -> Result<()> {
    let sql: &'static str = match via {
        NotifyVia::Sms => "SELECT id FROM recipients WHERE property_id = $1 AND phone_mac = $2",
        _ => "SELECT id FROM recipients WHERE property_id = $1 AND email_mac = $2",
    };
    let found: Option<(String,)> = sqlx::query_as(sql)
        .bind(property_id.to_owned())
        .bind(mac)
        .fetch_optional(&app.store.pool)
        .await?;
    let Some((recipient_id,)) = found else {
        return Ok(());
    };
    // Counted here, after the answer (and before the write lock, which the
    // counter's own write would wait for): a known address's requests past
    // the cap look exactly like any others.
    if rate_limit(
        app,
        &format!("forgot-recipient:{recipient_id}"),
        86_400,
        FORGOT_PINS_PER_RECIPIENT_PER_DAY,
    )
    .await
    .is_err()
    {
        return Ok(());
    }
    let Some(mut w) = app.store.begin_write(property_id).await? else {
        return Ok(());
    };
    let property = load_property(&mut w.tx, property_id).await?;
    let expires = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .map_err(|e| Error::internal("time", e))?;
    issue_one_time(
        &mut w.tx,
        &app.key,
        w.seq,
        &property,
        "forgot-pin",
        &recipient_id,
        via,
        expires,
    )
    .await?;
    w.commit().await?;
    Ok(())
}
