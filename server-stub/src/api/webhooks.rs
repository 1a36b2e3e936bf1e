//! Webhooks (managers only; anything of another property answers `404`):
//! create one (its signing secret is in this answer only), list them,
//! delete one, read its delivery log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{CreateWebhookRequest, Problem, WebhookDeliveryList, WebhookList};
use serde::Deserialize;

use super::extract::{ApiPath, ApiQuery, idempotent, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::error::Result;
use crate::ops::webhooks;

/// The property's webhooks, without their secrets.
#[utoipa::path(get, path = "/v1/manage/webhooks", tag = "manage", security(("bearer" = [])),
    responses((status = 200, body = WebhookList, example = json!({"webhooks": [{"id": "whk_01HV…", "url": "https://desk.example.org/keyway", "events": ["code.used", "package_room.opened"], "description": "Front desk", "created_at": "2026-01-05T14:03:00Z"}]})),
        (status = 403, description = "forbidden: managers only", body = Problem)))]
pub async fn list_webhooks(State(app): State<App>, caller: Caller) -> Result<Json<WebhookList>> {
    Ok(Json(webhooks::list(&app.store, &caller).await?))
}

/// Registers a webhook. The answer carries its signing secret, which is
/// never shown again.
#[utoipa::path(post, path = "/v1/manage/webhooks", tag = "manage", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = CreateWebhookRequest, example = json!({"url": "https://desk.example.org/keyway", "events": ["code.used", "package_room.opened"], "description": "Front desk"})),
    responses((status = 201, body = keyway_api::WebhookView, example = json!({"id": "whk_01HV…", "url": "https://desk.example.org/keyway", "events": ["code.used", "package_room.opened"], "description": "Front desk", "secret": "whsec_5be1c0ffee…", "created_at": "2026-01-05T14:03:00Z"})),
        (status = 403, description = "forbidden: managers only", body = Problem),
        (status = 409, description = "too_many_webhooks: delete one first", body = Problem),
        (status = 422, description = "webhook_url_refused: not https, credentials in the URL, or a host on a loopback, private or link-local network", body = Problem)))]
pub async fn create_webhook(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    let request: CreateWebhookRequest = parse_body(&body)?;
    let checked = webhooks::check(&caller, request, app.webhook_targets).await?;
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::CREATED,
        move |w, who| Box::pin(webhooks::create(w, who, checked)),
    )
    .await
}

/// Deletes a webhook; deliveries not yet made are given up.
#[utoipa::path(delete, path = "/v1/manage/webhooks/{id}", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id"), ("Idempotency-Key" = String, Header, description = "Unique per write")),
    responses((status = 200, body = keyway_api::WebhookView),
        (status = 403, description = "forbidden: managers only", body = Problem),
        (status = 404, description = "not_found: no such webhook here", body = Problem),
        (status = 413, description = "payload_too_large", body = Problem)))]
pub async fn delete_webhook(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response> {
    idempotent(
        &app,
        &caller,
        &idem,
        &body,
        StatusCode::OK,
        move |w, who| Box::pin(async move { webhooks::delete(w, who, &id).await }),
    )
    .await
}

/// `?limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveriesQuery {
    /// At most this many (default 50, at most 200).
    pub limit: Option<i64>,
}

/// A webhook's delivery log: the newest deliveries, each with every
/// attempt (status code, error kind, duration, next attempt).
#[utoipa::path(get, path = "/v1/manage/webhooks/{id}/deliveries", tag = "manage", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook id"), DeliveriesQuery),
    responses((status = 200, body = WebhookDeliveryList, example = json!({"deliveries": [{"id": "whd_01HV…", "event_id": "evt_01HV…", "event_type": "code.used", "status": "delivered", "created_at": "2026-01-05T14:14:02Z", "attempts": [{"attempt": 1, "at": "2026-01-05T14:14:02Z", "status_code": 500, "error": "http_status", "duration_ms": 41, "next_attempt_at": "2026-01-05T14:14:09Z"}, {"attempt": 2, "at": "2026-01-05T14:14:09Z", "status_code": 200, "error": null, "duration_ms": 35, "next_attempt_at": null}]}]})),
        (status = 403, description = "forbidden: managers only", body = Problem),
        (status = 404, description = "not_found: no such webhook here", body = Problem)))]
pub async fn webhook_deliveries(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<WebhookDeliveryList>> {
    Ok(Json(
        webhooks::deliveries(&app.store, &caller, &id, q.limit).await?,
    ))
}
