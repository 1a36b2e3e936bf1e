//! Visit endpoints: `POST /v1/locks/{id}/visits` opens a visit (a single-use
//! challenge for the lock's status) and `POST /v1/visits/{id}/status` settles
//! the sealed status and answers with the job sealed for the lock's session.
//! The rules live in [`crate::ops::visits`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use keyway_api::{Problem, VisitAnswer, VisitOpened, VisitStatus};

use super::extract::{ApiPath, parse_body};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Result;
use crate::ops::visits;

/// Opens a visit of a lock the caller may reach: a single-use challenge the
/// lock's status must echo, valid for five minutes.
#[utoipa::path(post, path = "/v1/locks/{id}/visits", tag = "sync", security(("bearer" = [])),
    params(("id" = String, Path, description = "Lock id")),
    responses(
        (status = 201, body = VisitOpened, example = json!({"visit_id": "vis_01HV…", "lock_id": "9f2c4e01a7b35d68", "challenge": "3f1d0c9a5e7b2468ace0bdf135792468", "since_seq": 12, "expires_at": "2026-01-05T14:08:00Z"})),
        (status = 404, description = "not_found: no lock the caller may reach", body = Problem),
        (status = 429, description = "rate_limited: 60 visits a minute per user", body = Problem)))]
pub async fn open_visit(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<VisitOpened>)> {
    let opened = visits::open(&app.store, &caller, &id).await?;
    Ok((StatusCode::CREATED, Json(opened)))
}

/// Presents the lock's sealed status for a visit: the server settles it (the
/// lock's events and where it is) and answers with the jobs it sealed for
/// the session the status opened. The same status presented again gets the
/// same answer.
#[utoipa::path(post, path = "/v1/visits/{id}/status", tag = "sync", security(("bearer" = [])),
    params(("id" = String, Path, description = "Visit id")),
    request_body(content = VisitStatus, example = json!({"status": "AQIDBAUG…"})),
    responses(
        (status = 200, body = VisitAnswer, example = json!({"jobs": ["AgMEBQYH…"], "target_version": 4})),
        (status = 404, description = "not_found: no visit of the caller", body = Problem),
        (status = 409, description = "visit_expired, visit_used or visit_stale: open a new visit", body = Problem),
        (status = 422, description = "bad_status: the status does not answer this visit", body = Problem)))]
pub async fn present_status(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Json<VisitAnswer>> {
    let request: VisitStatus = parse_body(&body)?;
    Ok(Json(
        visits::present(&app.store, &caller, &id, &request.status).await?,
    ))
}
