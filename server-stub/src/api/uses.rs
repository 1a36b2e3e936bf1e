//! A code's uses: when it opened a door, as the lock's own audit log said.
//! Whoever may see the code may list its uses (a unit's residents for its
//! codes, deleted ones too; staff and managers for every code of the
//! property); anyone else gets `404`, as if the code did not exist.

use axum::Json;
use axum::extract::State;
use keyway_api::{CodeUseList, Problem};
use serde::Deserialize;

use super::extract::{ApiPath, ApiQuery};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Result;
use crate::ops::uses;

/// `?limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UsesQuery {
    /// At most this many (default 100, at most 500).
    pub limit: Option<i64>,
}

/// A code's uses, newest first (by the lock's clock).
#[utoipa::path(get, path = "/v1/codes/{id}/uses", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), UsesQuery),
    responses(
        (status = 200, body = CodeUseList, example = json!({"uses": [{"id": "use_01HV…", "code_id": "code_01HV…", "code_name": "Dog walker", "lock_id": "9f2c4e01a7b35d68", "lock_name": "Unit 4B", "at": "2026-01-05T14:14:00Z", "kind": "code_used"}]})),
        (status = 404, description = "not_found: no such code, or not the caller's business", body = Problem)))]
pub async fn code_uses(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UsesQuery>,
) -> Result<Json<CodeUseList>> {
    Ok(Json(
        uses::of_code(&app.store, &caller, &id, q.limit).await?,
    ))
}
