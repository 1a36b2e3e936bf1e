//! Visit endpoints: `POST /v1/locks/{id}/visits` opens a visit (a single-use
//! challenge for the lock's status) and `POST /v1/visits/{id}/status` settles
//! the sealed status and answers with the job sealed for the lock's session.
//! The rules live in [`crate::visits`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use keyway_core::api::{VisitAnswer, VisitOpened, VisitStatus};

use super::ApiPath;
use crate::app::{App, parse_body};
use crate::auth::Caller;
use crate::error::Result;

/// Opens a visit of a lock the caller may reach: a single-use challenge the
/// lock's status must echo, valid for five minutes.
#[utoipa::path(post, path = "/v1/locks/{id}/visits", tag = "sync", security(("bearer" = [])),
    params(("id" = String, Path, description = "Lock id")),
    responses((status = 201, body = VisitOpened), (status = 404, body = keyway_core::api::Problem),
        (status = 429, body = keyway_core::api::Problem)))]
pub async fn open_visit(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<VisitOpened>)> {
    let opened = crate::visits::open(&app, &caller, &id).await?;
    Ok((StatusCode::CREATED, Json(opened)))
}

/// Presents the lock's sealed status for a visit: the server settles it (the
/// lock's events and where it is) and answers with the jobs it sealed for
/// the session the status opened. The same status presented again gets the
/// same answer.
#[utoipa::path(post, path = "/v1/visits/{id}/status", tag = "sync", security(("bearer" = [])),
    params(("id" = String, Path, description = "Visit id")),
    request_body = VisitStatus,
    responses((status = 200, body = VisitAnswer), (status = 404, body = keyway_core::api::Problem),
        (status = 409, description = "visit_expired or visit_used", body = keyway_core::api::Problem),
        (status = 422, description = "bad_status: the status does not answer this visit", body = keyway_core::api::Problem)))]
pub async fn present_status(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Json<VisitAnswer>> {
    let request: VisitStatus = parse_body(&body)?;
    Ok(Json(
        crate::visits::present(&app, &caller, &id, &request.status).await?,
    ))
}
