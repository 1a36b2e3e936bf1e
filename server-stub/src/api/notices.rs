//! Being told by email or SMS when a code is used: the caller's contact
//! details (`/v1/me/contact`, any user, their own only) and, per code, how
//! its holder is told (`/v1/codes/{id}/notify`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{CodeNotifyRequest, CodeNotifyView, ContactDetails, Problem};

use super::extract::{ApiPath, idempotent, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::error::Result;
use crate::ops::notices;

/// The caller's contact details for notifications (shown to nobody else).
#[utoipa::path(get, path = "/v1/me/contact", tag = "session", security(("bearer" = [])),
    responses((status = 200, body = ContactDetails, example = json!({"email": "alice@example.org", "phone": "+15555550142"}))))]
pub async fn get_contact(State(app): State<App>, caller: Caller) -> Result<Json<ContactDetails>> {
    Ok(Json(notices::contact(&app.store, &caller).await?))
}

/// Sets the caller's contact details (an empty or absent field clears it).
#[utoipa::path(put, path = "/v1/me/contact", tag = "session", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = ContactDetails, example = json!({"email": "alice@example.org", "phone": "+15555550142"})),
    responses((status = 200, body = ContactDetails, example = json!({"email": "alice@example.org", "phone": "+15555550142"}))))]
pub async fn put_contact(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    let checked = notices::check_contact(parse_body(&body)?)?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| Box::pin(notices::set_contact(w, who, checked)),
    )
    .await
}

/// How the caller is told of a code's uses.
#[utoipa::path(get, path = "/v1/codes/{id}/notify", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id")),
    responses((status = 200, body = CodeNotifyView, example = json!({"code_id": "code_01HV…", "notify_on_use": "sms"})),
        (status = 404, description = "not_found: no such code, or not the caller's business", body = Problem)))]
pub async fn get_notify(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CodeNotifyView>> {
    Ok(Json(notices::asked(&app.store, &caller, &id).await?))
}

/// Be told by email, SMS or both each time a code opens a door, or stop
/// (`none`). The code's holder only.
#[utoipa::path(put, path = "/v1/codes/{id}/notify", tag = "residents", security(("bearer" = [])),
    params(("id" = String, Path, description = "Code id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = CodeNotifyRequest, example = json!({"notify_on_use": "sms"})),
    responses((status = 200, body = CodeNotifyView, example = json!({"code_id": "code_01HV…", "notify_on_use": "sms"})),
        (status = 403, description = "forbidden: the caller sees this code but does not hold it", body = Problem),
        (status = 404, description = "not_found: no such code, or not the caller's business", body = Problem),
        (status = 409, description = "code_ended: the code will not open a door again (only `none` is taken)", body = Problem),
        (status = 422, description = "no_contact: no address for the channel in the caller's contact details", body = Problem)))]
pub async fn put_notify(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    let request: CodeNotifyRequest = parse_body(&body)?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| {
            Box::pin(async move { notices::ask_for(w, who, &id, request.notify_on_use).await })
        },
    )
    .await
}
