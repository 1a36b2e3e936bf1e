//! The property's policy settings: staff and managers read them, managers
//! replace them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{PolicySettings, Problem};

use super::extract::{idempotent, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::error::Result;
use crate::ops::policy;

/// The property's policy settings.
#[utoipa::path(get, path = "/v1/manage/policy", tag = "manage", security(("bearer" = [])),
    responses(
        (status = 200, body = PolicySettings, example = json!({"six_digit_codes": false, "custom_codes": true, "affiliated_numbers": ["1440", "94110"], "one_time_pin_length": 6, "common_pins_builtin": true})),
        (status = 403, description = "forbidden: staff and managers only", body = Problem)))]
pub async fn get_policy(State(app): State<App>, caller: Caller) -> Result<Json<PolicySettings>> {
    caller.require_staff()?;
    Ok(Json(policy::get(&app.store, &caller).await?))
}

/// Replaces the policy settings (managers). Existing codes stay; new codes
/// follow the new settings.
#[utoipa::path(put, path = "/v1/manage/policy", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = PolicySettings, example = json!({"six_digit_codes": true, "custom_codes": false, "affiliated_numbers": ["1440"], "one_time_pin_length": 6, "common_pins_builtin": true})),
    responses((status = 200, body = PolicySettings),
        (status = 403, description = "forbidden: managers only", body = Problem)))]
pub async fn put_policy(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    caller.require_manager()?;
    let settings: PolicySettings = parse_body(&body)?;
    policy::validate_policy(&settings)?;
    idempotent(&app, &caller, &idem, &body, StatusCode::OK, move |w, _| {
        Box::pin(policy::put(w, settings))
    })
    .await
}
