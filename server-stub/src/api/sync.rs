//! `GET /v1/sync?cursor=`: what changed since the cursor for the calling
//! user (see [`crate::ops::sync`]).

use axum::Json;
use axum::extract::State;
use keyway_api::{Problem, SyncResponse};
use serde::Deserialize;

use super::extract::{ApiQuery, CallerAtHead};
use crate::app::App;
use crate::error::Result;
use crate::ops::sync;

/// `?cursor=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SyncQuery {
    /// The cursor from the previous sync; absent for the first.
    pub cursor: Option<String>,
}

/// What changed since the cursor, for the calling device.
#[utoipa::path(get, path = "/v1/sync", tag = "sync", security(("bearer" = [])), params(SyncQuery),
    responses(
        (status = 200, body = SyncResponse, example = json!({"cursor": "42", "has_more": false, "codes": [], "tombstones": [{"id": "code_01HV…"}], "locks": [{"lock_id": "9f2c4e01a7b35d68", "name": "Unit 4B", "access_point": "unit_door", "unit_id": "unit_01HV…", "enter_key": true, "constraints": [], "confirmed_version": 3, "target_version": 4, "advert_key": "5be1c0ffee5be1c0ffee5be1c0ffee5be1c0ffee5be1c0ffee5be1c0ffee5be1"}]})),
        (status = 400, description = "invalid_cursor: not a cursor this server gave out", body = Problem)))]
pub async fn sync(
    State(app): State<App>,
    CallerAtHead { caller, head }: CallerAtHead,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> Result<Json<SyncResponse>> {
    let after = sync::parse_cursor(query.cursor.as_deref())?;
    Ok(Json(sync::sync(&app.store, &caller, after, head).await?))
}
