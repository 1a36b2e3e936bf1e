//! Package recipients and their one-time PINs (staff and managers).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{
    CodeView, CreateRecipientRequest, NotifyVia, OneTimePinRequest, Problem, RecipientView,
};

use super::extract::{ApiPath, idempotent, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::error::Result;
use crate::ops::recipients;

/// Package recipients.
#[utoipa::path(get, path = "/v1/manage/recipients", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = Vec<RecipientView>),
        (status = 403, description = "forbidden: staff and managers only", body = Problem)))]
pub async fn list_recipients(
    State(app): State<App>,
    caller: Caller,
) -> Result<Json<Vec<RecipientView>>> {
    caller.require_staff()?;
    Ok(Json(recipients::list(&app.store, &caller).await?))
}

/// Adds a recipient (email and/or phone, stored encrypted; looked up by keyed MAC).
#[utoipa::path(post, path = "/v1/manage/recipients", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = CreateRecipientRequest, example = json!({"name": "Dana Ruiz", "email": "dana@example.com", "phone": "+15551234567"})),
    responses(
        (status = 201, body = RecipientView, example = json!({"id": "rcp_01HV…", "name": "Dana Ruiz", "email": "dana@example.com", "phone": "+15551234567"})),
        (status = 403, description = "forbidden: staff and managers only", body = Problem)))]
pub async fn create_recipient(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    caller.require_staff()?;
    let request: CreateRecipientRequest = parse_body(&body)?;
    let spec = recipients::check_recipient(&request)?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::CREATED,
        move |w, _| Box::pin(recipients::create(w, spec)),
    )
    .await
}

/// Sends a recipient a single-entry PIN for the package room, by email, SMS
/// or both; it expires after 24 hours unless another time is given.
#[utoipa::path(post, path = "/v1/manage/recipients/{id}/one-time-pin", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Recipient id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = OneTimePinRequest, example = json!({"notify": "both", "expires_at": "2026-01-06T18:00:00Z"})),
    responses((status = 201, body = CodeView),
        (status = 403, description = "forbidden: staff and managers only", body = Problem),
        (status = 404, description = "not_found: no such recipient here", body = Problem),
        (status = 409, description = "no_locks (no package room yet), exhausted or lock_full", body = Problem),
        (status = 422, description = "no_contact (no address for the channel), invalid_schedule (an expiry in the past)", body = Problem)))]
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
        None => recipients::default_expiry()?,
    };
    let via = request.notify.unwrap_or(NotifyVia::Email);
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::CREATED,
        move |w, who| {
            Box::pin(async move { recipients::one_time_pin(w, who, &id, via, expires_at).await })
        },
    )
    .await
}

/// A recipient's current one-time PIN, while it is still active.
#[utoipa::path(get, path = "/v1/manage/recipients/{id}/pin", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Recipient id")),
    responses((status = 200, body = CodeView),
        (status = 403, description = "forbidden: staff and managers only", body = Problem),
        (status = 404, description = "not_found: no such recipient, or no active PIN", body = Problem)))]
pub async fn lookup_pin(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CodeView>> {
    caller.require_staff()?;
    Ok(Json(
        recipients::current_pin(&app.store, &caller, &id).await?,
    ))
}
