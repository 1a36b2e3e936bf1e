//! Lock endpoints: the property's locks with their reconciliation state
//! (staff and managers), and a lock's audit trail.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{AuditList, LockList, LockView, Problem, SetBackupPoolRequest};
use serde::Deserialize;

use super::extract::{ApiPath, ApiQuery, idempotent, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::error::Result;
use crate::ops::locks;

/// `?after=&limit=` for the audit trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only entries recorded after this position (the `recorded` counter).
    pub after: Option<i64>,
    /// At most this many (default and maximum 500).
    pub limit: Option<i64>,
}

/// A lock's audit trail: every change the server made and every event the
/// lock reported. Staff and managers; residents for their own unit's door.
#[utoipa::path(get, path = "/v1/locks/{id}/audit", tag = "locks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Lock id"), AuditQuery),
    responses(
        (status = 200, body = AuditList, example = json!({"entries": [{"source": "lock", "epoch": "51c0ffee00000001", "lock_seq": 7, "at": "2026-01-05T14:03:00Z", "kind": "code_used", "slot": 2, "code_id": "code_01HV…"}]})),
        (status = 403, description = "forbidden: another unit's door", body = Problem),
        (status = 404, description = "not_found: no such lock here", body = Problem)))]
pub async fn lock_audit(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>> {
    Ok(Json(
        locks::audit_trail(&app.store, &caller, &id, q.after, q.limit).await?,
    ))
}

/// The property's locks with their reconciliation state.
#[utoipa::path(get, path = "/v1/manage/locks", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = LockList),
        (status = 403, description = "forbidden: staff and managers only", body = Problem)))]
pub async fn list_locks(State(app): State<App>, caller: Caller) -> Result<Json<LockList>> {
    caller.require_staff()?;
    Ok(Json(locks::list(&app.store, &caller).await?))
}

/// Sets how many backup codes a lock keeps (0 to 5; managers): the lock
/// loads them with the next job a phone carries (`docs/backup-codes.md`).
#[utoipa::path(put, path = "/v1/manage/locks/{id}/backup-pool", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Lock id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = SetBackupPoolRequest, example = json!({"size": 3})),
    responses(
        (status = 200, body = LockView),
        (status = 400, description = "invalid_request: a size above 5", body = Problem),
        (status = 403, description = "forbidden: managers only", body = Problem),
        (status = 404, description = "not_found: no such lock here", body = Problem),
        (status = 409, description = "backup_unsupported: a keypad without an enter key", body = Problem)))]
pub async fn set_backup_pool(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    caller.require_manager()?;
    let request: SetBackupPoolRequest = parse_body(&body)?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| {
            Box::pin(async move { crate::ops::backups::set_pool(w, who, &id, request.size).await })
        },
    )
    .await
}
