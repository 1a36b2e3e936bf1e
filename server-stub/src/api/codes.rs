//! Code endpoints: list, create by generating or picking, change, disable,
//! enable, delete. Residents act on their own unit's codes; staff and
//! managers on the package room's codes and staff PINs, and see units'
//! codes without their digits (managers may also disable, enable and delete
//! them). [`Caller::code_access`] decides, code by code.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_core::api::{
    CodeList, CodeMode, CodeView, CreateCodeRequest, GuestType, Role, SetCodeRequest,
};
use keyway_core::{AccessPoint, CodeKind, Schedule};

use super::ApiPath;
use crate::app::{App, parse_body};
use crate::auth::{Caller, Idem, PickOf};
use crate::codes::{self as ops, Holder, NewCode};
use crate::error::{Error, Result};
use crate::model::{
    CodeRow, LockRow, code_view, code_views, load_code, load_codes_where, load_property,
    unit_and_shared_locks,
};

/// The codes the caller may see.
#[utoipa::path(get, path = "/v1/codes", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = CodeList)))]
pub async fn list_codes(State(app): State<App>, caller: Caller) -> Result<Json<CodeList>> {
    let mut conn = app.store.pool.acquire().await?;
    let rows = match caller.role {
        Role::Resident => {
            let unit = caller.unit_id.clone().unwrap_or_default();
            load_codes_where(
                &mut conn,
                "property_id = $1 AND unit_id = $2 AND kind IN ('resident', 'guest') AND status <> 'deleted' ORDER BY change_seq",
                &[caller.property_id.clone(), unit],
                None,
            )
            .await?
        }
        Role::Staff | Role::Manager => {
            load_codes_where(
                &mut conn,
                "property_id = $1 AND status <> 'deleted' ORDER BY change_seq",
                std::slice::from_ref(&caller.property_id),
                None,
            )
            .await?
        }
    };
    let visible: Vec<(&CodeRow, bool)> = rows
        .iter()
        .filter(|row| caller.may_use_code(row))
        .map(|row| (row, caller.may_see_value(row)))
        .collect();
    let codes = code_views(&mut conn, &app.key, &visible).await?;
    Ok(Json(CodeList { codes }))
}

/// Loads a code the caller may act on (404 otherwise: foreign codes are not
/// revealed to exist).
pub async fn visible_code(
    conn: &mut sqlx::AnyConnection,
    caller: &Caller,
    id: &str,
) -> Result<CodeRow> {
    let code = load_code(conn, &caller.property_id, id).await?;
    if caller.may_use_code(&code) {
        Ok(code)
    } else {
        Err(Error::not_found("code"))
    }
}

/// One code.
#[utoipa::path(get, path = "/v1/codes/{id}", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id")),
    responses((status = 200, body = CodeView), (status = 404, body = keyway_core::api::Problem)))]
pub async fn get_code(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CodeView>> {
    let mut conn = app.store.pool.acquire().await?;
    let code = visible_code(&mut conn, &caller, &id).await?;
    Ok(Json(
        code_view(&mut conn, &app.key, &code, caller.may_see_value(&code)).await?,
    ))
}

/// The locks a new resident or guest code goes on.
async fn code_locks(
    conn: &mut sqlx::AnyConnection,
    caller: &Caller,
    unit_id: &str,
    request: &CreateCodeRequest,
) -> Result<Vec<LockRow>> {
    // A unit's code goes on its own doors and shared ones, nowhere else.
    let all = unit_and_shared_locks(conn, &caller.property_id, unit_id, -1, None).await?;
    let reachable = |lock: &LockRow| {
        (lock.access_point == AccessPoint::UnitDoor && lock.unit_id.as_deref() == Some(unit_id))
            || lock.access_point.is_shared()
    };
    match &request.lock_ids {
        Some(ids) => {
            if ids.is_empty() || ids.len() > 64 {
                return Err(Error::invalid("lock_ids lists 1 to 64 doors"));
            }
            let mut out = Vec::new();
            for id in ids {
                let lock = all
                    .iter()
                    .find(|l| &l.id == id && reachable(l))
                    .ok_or_else(|| Error::not_found("door"))?;
                if !out.iter().any(|l: &LockRow| l.id == lock.id) {
                    out.push(lock.clone());
                }
            }
            Ok(out)
        }
        None => {
            let shared = request.kind == CodeKind::Resident && request.mode == CodeMode::Generate;
            Ok(all
                .into_iter()
                .filter(|l| {
                    (l.access_point == AccessPoint::UnitDoor
                        && l.unit_id.as_deref() == Some(unit_id))
                        || (shared && l.access_point.is_shared())
                })
                .collect())
        }
    }
}

/// Creates a resident code (generated or picked) or a guest code (generated).
#[utoipa::path(post, path = "/v1/codes", tag = "residents", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write; a retry with the same key returns the first answer")),
    request_body = CreateCodeRequest,
    responses((status = 201, body = CodeView), (status = 403, description = "staff and managers: only a unit's residents create its codes", body = keyway_core::api::Problem), (status = 422, description = "policy_violation lists every broken rule", body = keyway_core::api::Problem), (status = 429, description = "too many picks", body = keyway_core::api::Problem)))]
pub async fn create_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    let request: CreateCodeRequest = parse_body(&body)?;
    crate::auth::limit_picks(&app, &caller, &idem, request.mode, PickOf::UnitCode).await?;
    let unit_id = match caller.role {
        Role::Resident => {
            if request
                .unit_id
                .as_ref()
                .is_some_and(|u| Some(u) != caller.unit_id.as_ref())
            {
                return Err(Error::not_found("unit"));
            }
            caller
                .unit_id
                .clone()
                .ok_or_else(|| Error::forbidden("this resident has no unit"))?
        }
        // Whoever creates a unit's code could learn or choose the digits
        // that open its door: only its residents do.
        Role::Staff | Role::Manager => {
            return Err(Error::forbidden("only a unit's residents create its codes"));
        }
    };
    let schedule = match request.kind {
        CodeKind::Resident => {
            if request.guest_type.is_some()
                || !matches!(request.schedule, None | Some(Schedule::Always))
            {
                return Err(Error::invalid(
                    "a resident's own code is always valid; use a guest code for schedules",
                ));
            }
            Schedule::Always
        }
        CodeKind::Guest => {
            let guest = request.guest_type.unwrap_or(GuestType::Permanent);
            ops::guest_schedule(guest, request.schedule.clone(), jiff::Timestamp::now())?
        }
        _ => return Err(Error::invalid("kind must be `resident` or `guest` here")),
    };
    if request
        .name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 100)
    {
        return Err(Error::invalid("name is at most 100 characters"));
    }
    let app2 = app.clone();
    let caller2 = caller.clone();
    app.idempotent(&caller, &idem, &body, StatusCode::CREATED, move |w| {
        Box::pin(async move {
            let conn = &mut *w.tx;
            let unit_ok: Option<(String,)> =
                sqlx::query_as("SELECT id FROM units WHERE id = $1 AND property_id = $2")
                    .bind(unit_id.clone())
                    .bind(caller2.property_id.clone())
                    .fetch_optional(&mut *conn)
                    .await?;
            if unit_ok.is_none() {
                return Err(Error::not_found("unit"));
            }
            let property = load_property(conn, &caller2.property_id).await?;
            let locks = code_locks(conn, &caller2, &unit_id, &request).await?;
            let new = NewCode {
                kind: request.kind,
                mode: request.mode,
                code: request.code.clone(),
                length: request.length,
                name: request.name.clone(),
                guest_type: match request.kind {
                    CodeKind::Guest => Some(request.guest_type.unwrap_or(GuestType::Permanent)),
                    _ => None,
                },
                schedule,
                holder: Holder::Unit(unit_id),
                locks,
            };
            let row = ops::create(conn, &app2.key, w.seq, &property, new, &caller2.user_id).await?;
            let view = code_view(&mut w.tx, &app2.key, &row, caller2.may_see_value(&row)).await?;
            Ok(serde_json::to_value(view)?)
        })
    })
    .await
}

/// What a code write does.
#[derive(Clone, Copy)]
enum Action {
    Disable,
    Enable,
    Delete,
}

async fn act(
    app: App,
    caller: Caller,
    idem: Idem,
    id: String,
    body: Bytes,
    action: Action,
) -> Result<Response> {
    let app2 = app.clone();
    let caller2 = caller.clone();
    app.idempotent(&caller, &idem, &body, StatusCode::OK, move |w| {
        Box::pin(async move {
            let code = visible_code(&mut w.tx, &caller2, &id).await?;
            caller2.code_access(&code).require(false)?;
            let property = load_property(&mut w.tx, &caller2.property_id).await?;
            let row = match action {
                Action::Disable => {
                    ops::set_enabled(&mut w.tx, w.seq, &property, &code, false, &caller2.user_id)
                        .await?
                }
                Action::Enable => {
                    ops::set_enabled(&mut w.tx, w.seq, &property, &code, true, &caller2.user_id)
                        .await?
                }
                Action::Delete => {
                    ops::delete(&mut w.tx, &app2.key, w.seq, &property, &code).await?
                }
            };
            let view = code_view(&mut w.tx, &app2.key, &row, caller2.may_see_value(&row)).await?;
            Ok(serde_json::to_value(view)?)
        })
    })
    .await
}

/// Gives a code new digits: one job per lock swaps old for new; the old
/// value works until the lock confirms.
#[utoipa::path(post, path = "/v1/codes/{id}/change", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = SetCodeRequest,
    responses((status = 200, body = CodeView), (status = 403, description = "the caller may see this code but not choose its digits", body = keyway_core::api::Problem), (status = 404, body = keyway_core::api::Problem), (status = 409, body = keyway_core::api::Problem), (status = 422, body = keyway_core::api::Problem), (status = 429, description = "too many picks", body = keyway_core::api::Problem)))]
pub async fn change_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    let request: SetCodeRequest = parse_body(&body)?;
    if request.mode == CodeMode::Pick {
        // The code's kind sets the limit; an id the caller may not see is
        // refused with 404 inside the write, like any other.
        let mut conn = app.store.pool.acquire().await?;
        let of = match load_code(&mut conn, &caller.property_id, &id).await {
            Ok(code) if !matches!(code.kind, CodeKind::Resident | CodeKind::Guest) => {
                PickOf::PackageRoomCode
            }
            _ => PickOf::UnitCode,
        };
        drop(conn);
        crate::auth::limit_picks(&app, &caller, &idem, request.mode, of).await?;
    }
    let app2 = app.clone();
    let caller2 = caller.clone();
    app.idempotent(&caller, &idem, &body, StatusCode::OK, move |w| {
        Box::pin(async move {
            let code = visible_code(&mut w.tx, &caller2, &id).await?;
            caller2.code_access(&code).require(true)?;
            let property = load_property(&mut w.tx, &caller2.property_id).await?;
            let row = ops::change(
                &mut w.tx,
                &app2.key,
                w.seq,
                &property,
                &code,
                request.mode,
                request.code.as_deref(),
                request.length,
                &caller2.user_id,
            )
            .await?;
            let view = code_view(&mut w.tx, &app2.key, &row, caller2.may_see_value(&row)).await?;
            Ok(serde_json::to_value(view)?)
        })
    })
    .await
}

/// Disables a code (kept on the lock, refused at the keypad).
#[utoipa::path(post, path = "/v1/codes/{id}/disable", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    responses((status = 200, body = CodeView), (status = 403, description = "the caller may see this code but not act on it", body = keyway_core::api::Problem), (status = 404, body = keyway_core::api::Problem)))]
pub async fn disable_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    act(app, caller, idem, id, body, Action::Disable).await
}

/// Enables a disabled code.
#[utoipa::path(post, path = "/v1/codes/{id}/enable", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    responses((status = 200, body = CodeView), (status = 403, description = "the caller may see this code but not act on it", body = keyway_core::api::Problem), (status = 404, body = keyway_core::api::Problem)))]
pub async fn enable_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    act(app, caller, idem, id, body, Action::Enable).await
}

/// Deletes a code; it leaves every lock (`removing` until confirmed). A
/// deleted courier or staff PIN can never be used again at the property.
#[utoipa::path(delete, path = "/v1/codes/{id}", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    responses((status = 200, body = CodeView), (status = 403, description = "the caller may see this code but not act on it", body = keyway_core::api::Problem), (status = 404, body = keyway_core::api::Problem)))]
pub async fn delete_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    act(app, caller, idem, id, body, Action::Delete).await
}
