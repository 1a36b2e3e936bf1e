//! Staff members and their staff PINs: staff read and set their own,
//! managers everyone's.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use keyway_api::{CodeView, Problem, SetCodeRequest, StaffView};

use super::carriers::put_holder_code;
use super::extract::ApiPath;
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::db::holders::HolderKind;
use crate::error::Result;
use crate::ops::holders;

/// Staff members and their PINs.
#[utoipa::path(get, path = "/v1/manage/staff", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = Vec<StaffView>),
        (status = 403, description = "forbidden: staff and managers only", body = Problem)))]
pub async fn list_staff(State(app): State<App>, caller: Caller) -> Result<Json<Vec<StaffView>>> {
    caller.require_staff()?;
    Ok(Json(holders::staff(&app.store, &caller).await?))
}

/// Generates or sets a staff member's 6-digit PIN: managers for anyone,
/// staff for themselves.
#[utoipa::path(put, path = "/v1/manage/staff/{id}/pin", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id of the staff member"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = SetCodeRequest, example = json!({"mode": "generate"})),
    responses((status = 200, body = CodeView),
        (status = 403, description = "forbidden: staff set only their own PIN", body = Problem),
        (status = 404, description = "not_found: no such staff member here", body = Problem),
        (status = 409, description = "no_locks, code_ended, exhausted or lock_full", body = Problem),
        (status = 422, description = "policy_violation (a duplicate or deleted PIN too), invalid_format", body = Problem),
        (status = 429, description = "rate_limited: too many picks", body = Problem)))]
pub async fn set_staff_pin(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff_pin_of(&id)?;
    put_holder_code(app, caller, idem, id, body, HolderKind::Staff).await
}
