//! Code endpoints: list, create by generating or picking, change, disable,
//! enable, delete. Residents act on their own unit's codes; staff and
//! managers on the package room's codes and staff PINs, and see units'
//! codes without their digits (managers may also disable, enable and delete
//! them). [`crate::auth::Caller::code_access`] decides, code by code.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{
    BackupCodeView, BackupRequest, CodeList, CodeMode, CodeView, CreateCodeRequest, Problem,
    SetCodeRequest,
};

use super::extract::{ApiPath, idempotent, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::error::Result;
use crate::ops::backups;
use crate::ops::codes::unit::{self, Action};
use crate::ops::limits::{PickOf, limit_picks};

/// The codes the caller may see.
#[utoipa::path(get, path = "/v1/codes", tag = "residents", security(("bearer" = [])),
    responses((status = 200, body = CodeList)))]
pub async fn list_codes(State(app): State<App>, caller: Caller) -> Result<Json<CodeList>> {
    Ok(Json(unit::list(&app.store, &caller).await?))
}

/// One code.
#[utoipa::path(get, path = "/v1/codes/{id}", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id")),
    responses((status = 200, body = CodeView), (status = 404, description = "not_found: no such code, or not the caller's business", body = Problem)))]
pub async fn get_code(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CodeView>> {
    Ok(Json(unit::get(&app.store, &caller, &id).await?))
}

/// Creates a resident code (generated or picked) or a guest code (generated).
#[utoipa::path(post, path = "/v1/codes", tag = "residents", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write; a retry with the same key returns the first answer")),
    request_body(content = CreateCodeRequest, example = json!({"kind": "guest", "mode": "generate", "name": "Dog walker", "guest_type": "recurring", "schedule": {"type": "recurring", "weekdays": ["mon", "wed", "fri"], "start": "09:00:00", "end": "11:00:00", "time_zone": "America/New_York"}})),
    responses(
        (status = 201, body = CodeView, example = json!({"id": "code_01HV…", "kind": "guest", "origin": "generated", "name": "Dog walker", "guest_type": "permanent", "unit_id": "unit_01HV…", "holder_id": "unit_01HV…", "value": "4823", "schedule": {"type": "always"}, "enabled": true, "status": "active", "locks": [{"lock_id": "9f2c4e01a7b35d68", "lock_name": "Unit 4B", "state": "pending", "previous_active": false}], "created_at": "2026-01-05T14:03:00Z", "updated_at": "2026-01-05T14:03:00Z"})),
        (status = 403, description = "forbidden: only a unit's residents create its codes", body = Problem),
        (status = 404, description = "not_found: another unit, or a door the code cannot go on", body = Problem),
        (status = 409, description = "exhausted, lock_full or no_locks", body = Problem),
        (status = 422, description = "policy_violation (every broken rule), invalid_format, invalid_schedule", body = Problem),
        (status = 429, description = "rate_limited: too many picks", body = Problem)))]
pub async fn create_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    let request: CreateCodeRequest = parse_body(&body)?;
    limit_picks(&app.store, &caller, &idem, request.mode, PickOf::UnitCode).await?;
    let checked = unit::check_unit_code(&caller, request)?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::CREATED,
        move |w, who| Box::pin(unit::create_unit_code(w, who, checked)),
    )
    .await
}

/// Gives a code new digits: one job per lock swaps old for new; the old
/// value works until the lock confirms.
#[utoipa::path(post, path = "/v1/codes/{id}/change", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = SetCodeRequest, example = json!({"mode": "pick", "code": "5170"})),
    responses((status = 200, body = CodeView),
        (status = 403, description = "forbidden: the caller may see this code but not choose its digits", body = Problem),
        (status = 404, description = "not_found: no such code, or not the caller's business", body = Problem),
        (status = 409, description = "code_ended, not_changeable, exhausted or lock_full", body = Problem),
        (status = 422, description = "policy_violation, invalid_format", body = Problem),
        (status = 429, description = "rate_limited: too many picks", body = Problem)))]
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
        let of = unit::pick_of(&app.store, &caller, &id).await?;
        limit_picks(&app.store, &caller, &idem, request.mode, of).await?;
    }
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| Box::pin(async move { unit::change(w, who, &id, &request).await }),
    )
    .await
}

async fn act(
    app: App,
    caller: Caller,
    idem: Idem,
    id: String,
    body: Bytes,
    action: Action,
) -> Result<Response> {
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| Box::pin(async move { unit::act(w, who, &id, action).await }),
    )
    .await
}

/// Disables a code (kept on the lock, refused at the keypad).
#[utoipa::path(post, path = "/v1/codes/{id}/disable", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    responses((status = 200, body = CodeView),
        (status = 403, description = "forbidden: the caller may see this code but not act on it", body = Problem),
        (status = 404, description = "not_found", body = Problem),
        (status = 409, description = "code_ended: deleted, expired or used", body = Problem),
        (status = 413, description = "payload_too_large", body = Problem)))]
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
    responses((status = 200, body = CodeView),
        (status = 403, description = "forbidden: the caller may see this code but not act on it", body = Problem),
        (status = 404, description = "not_found", body = Problem),
        (status = 409, description = "code_ended: deleted, expired or used", body = Problem),
        (status = 413, description = "payload_too_large", body = Problem)))]
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
    responses((status = 200, body = CodeView),
        (status = 403, description = "forbidden: the caller may see this code but not act on it", body = Problem),
        (status = 404, description = "not_found", body = Problem),
        (status = 413, description = "payload_too_large", body = Problem)))]
pub async fn delete_code(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    act(app, caller, idem, id, body, Action::Delete).await
}

/// Hands out a backup code for a guest code that should open a door now
/// but has not reached it: 8 digits the lock already holds, good for one
/// entry, retired once the code arrives (`docs/backup-codes.md`). The
/// code's holders only; asking again answers with the same backup code.
#[utoipa::path(post, path = "/v1/codes/{id}/backup", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = BackupRequest, example = json!({"lock_id": "6b77000000000001"})),
    responses(
        (status = 200, body = BackupCodeView, example = json!({"lock_id": "6b77000000000001", "lock_name": "Unit 4B", "value": "48213907", "handed_at": "2026-01-05T14:03:00Z", "state": "active"})),
        (status = 403, description = "forbidden: the caller may see this code but does not hold it", body = Problem),
        (status = 404, description = "not_found: no such code or lock, or the code is not meant for this door", body = Problem),
        (status = 409, description = "backup_not_needed (the code is on the door), backup_not_due (it does not open the door now), backup_unavailable (the door keeps no backup codes), backup_pool_empty, backup_limit, backup_guest_only, code_ended", body = Problem),
        (status = 413, description = "payload_too_large", body = Problem)))]
pub async fn hand_out_backup(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    let request: BackupRequest = parse_body(&body)?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| {
            Box::pin(async move { backups::hand_out(w, who, &id, &request.lock_id).await })
        },
    )
    .await
}
