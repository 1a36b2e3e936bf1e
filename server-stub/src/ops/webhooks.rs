//! Webhooks as managers manage them (create, list, delete, the delivery
//! log; managers only, their own property only) and the events the other
//! operations emit ([`emit`]): each is written as one delivery per webhook
//! that follows it, in the write that makes the event, so an event is sent
//! if and only if its change committed. Bodies never carry a code's digits.

use keyway_api::{
    CreateWebhookRequest, WebhookAttempt, WebhookDelivery, WebhookDeliveryList, WebhookEventType,
    WebhookList, WebhookView,
};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::clock::{now_secs, ts};
use crate::crypto::{Cell, new_id, random_bytes};
use crate::db::codes::CodeRow;
use crate::db::locks::LockRow;
use crate::db::webhooks::{self, HookRow, NewDelivery, NewHook};
use crate::db::{Store, Write, enum_str};
use crate::error::{Error, Result};
use crate::webhooks::TargetPolicy;
use crate::webhooks::target;

/// Most webhooks a property may have.
pub const MAX_WEBHOOKS: usize = 20;

fn view(row: &HookRow, secret: Option<String>) -> Result<WebhookView> {
    Ok(WebhookView {
        id: row.id.clone(),
        url: row.url.clone(),
        events: serde_json::from_str(&row.events)?,
        description: row.description.clone(),
        secret,
        created_at: ts(row.created_at),
    })
}

/// A request to create a webhook, checked before the write (its URL
/// resolved: no write lock is held while a name is looked up).
#[derive(Debug, Clone)]
pub struct CheckedWebhook {
    url: String,
    events: Vec<WebhookEventType>,
    description: Option<String>,
}

/// Checks a request: a manager, at least one event, a URL the policy
/// allows (`422 webhook_url_refused` otherwise, with why).
pub async fn check(
    caller: &Caller,
    request: CreateWebhookRequest,
    policy: TargetPolicy,
) -> Result<CheckedWebhook> {
    caller.require_manager()?;
    let mut events = request.events;
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(Error::invalid("events lists at least one event type"));
    }
    if request
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 200)
    {
        return Err(Error::invalid("description is at most 200 characters"));
    }
    let url = target::check(&request.url, policy)
        .await
        .map_err(|e| Error::unprocessable("webhook_url_refused", e.to_string()))?;
    Ok(CheckedWebhook {
        url: url.to_string(),
        events,
        description: request.description.filter(|d| !d.trim().is_empty()),
    })
}

/// Creates a checked webhook in this write; its view with the secret,
/// shown this once.
pub async fn create(
    w: &mut Write,
    caller: &Caller,
    checked: CheckedWebhook,
) -> Result<WebhookView> {
    caller.require_manager()?;
    if webhooks::list(w, &caller.property_id).await?.len() >= MAX_WEBHOOKS {
        return Err(Error::conflict(
            "too_many_webhooks",
            format!("a property has at most {MAX_WEBHOOKS} webhooks; delete one first"),
        ));
    }
    let id = new_id("whk");
    let secret = format!("whsec_{}", crate::crypto::hex(&random_bytes::<32>()?));
    let row = HookRow {
        secret: w
            .key()
            .seal_str(Cell::new("webhooks", "secret", &id), &secret)?,
        id,
        property_id: caller.property_id.clone(),
        url: checked.url,
        events: serde_json::to_string(&checked.events)?,
        description: checked.description,
        created_at: now_secs(),
        deleted_at: None,
    };
    let new = NewHook {
        row: row.clone(),
        created_by: caller.user_id.clone(),
    };
    crate::db::insert(w, &[new]).await?;
    view(&row, Some(secret))
}

/// The property's webhooks (managers), without their secrets.
pub async fn list(store: &Store, caller: &Caller) -> Result<WebhookList> {
    caller.require_manager()?;
    let rows = webhooks::list(&mut store.read().await?, &caller.property_id).await?;
    Ok(WebhookList {
        webhooks: rows.iter().map(|r| view(r, None)).collect::<Result<_>>()?,
    })
}

/// Deletes a webhook in this write; its pending deliveries are given up.
pub async fn delete(w: &mut Write, caller: &Caller, id: &str) -> Result<WebhookView> {
    caller.require_manager()?;
    let row = webhooks::load(w, &caller.property_id, id)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("webhook"))?;
    webhooks::delete(w, id, now_secs()).await?;
    view(&row, None)
}

/// A webhook's newest deliveries with every attempt (managers).
pub async fn deliveries(
    store: &Store,
    caller: &Caller,
    id: &str,
    limit: Option<i64>,
) -> Result<WebhookDeliveryList> {
    caller.require_manager()?;
    let mut read = store.read().await?;
    webhooks::load(&mut read, &caller.property_id, id)
        .await?
        .ok_or_else(|| Error::not_found("webhook"))?;
    let rows = webhooks::deliveries(&mut read, id, limit.unwrap_or(50).clamp(1, 200)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (delivery_id, event_id, event_type, status, created_at) in rows {
        let attempts = webhooks::attempts(&mut read, &delivery_id)
            .await?
            .into_iter()
            .map(|a| WebhookAttempt {
                attempt: u32::try_from(a.attempt).unwrap_or(0),
                at: jiff::Timestamp::from_millisecond(a.at_ms).unwrap_or_default(),
                status_code: a.status_code.and_then(|s| u16::try_from(s).ok()),
                error: a.error,
                duration_ms: u64::try_from(a.duration_ms).unwrap_or(0),
                next_attempt_at: a
                    .next_attempt_ms
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
            })
            .collect();
        out.push(WebhookDelivery {
            id: delivery_id,
            event_id,
            event_type: WebhookEventType::parse(&event_type)
                .ok_or_else(|| Error::internal("stored event type", event_type.as_str()))?,
            status,
            created_at: ts(created_at),
            attempts,
        });
    }
    Ok(WebhookDeliveryList { deliveries: out })
}

/// Writes `event` (with `data`) as a delivery to each of the written
/// property's webhooks that follow it, in this write.
pub async fn emit(w: &mut Write, event: WebhookEventType, data: Value) -> Result<()> {
    let property_id = w.property_id().to_owned();
    let hooks = webhooks::list(w, &property_id).await?;
    let following: Vec<&HookRow> = hooks
        .iter()
        .filter(|h| {
            serde_json::from_str::<Vec<WebhookEventType>>(&h.events)
                .is_ok_and(|events| events.contains(&event))
        })
        .collect();
    if following.is_empty() {
        return Ok(());
    }
    let event_id = new_id("evt");
    let now = jiff::Timestamp::now();
    let body = json!({
        "id": event_id,
        "type": event.as_str(),
        "created_at": now.to_string(),
        "property_id": property_id,
        "data": data,
    })
    .to_string();
    let rows: Vec<NewDelivery> = following
        .into_iter()
        .map(|hook| NewDelivery {
            id: new_id("whd"),
            webhook_id: hook.id.clone(),
            property_id: property_id.clone(),
            event_id: event_id.clone(),
            event_type: event.as_str(),
            body: body.clone(),
            created_at: now.as_second(),
            due_ms: now.as_millisecond(),
        })
        .collect();
    crate::db::insert(w, &rows).await
}

/// A code as events describe it: never its digits.
pub fn code_data(code: &CodeRow) -> Value {
    json!({
        "id": code.id,
        "kind": enum_str(&code.kind),
        "name": code.name,
        "unit_id": code.unit_id,
        "holder_type": code.holder_type,
        "holder_id": code.holder_id,
        "status": enum_str(&code.status),
        "enabled": code.enabled,
    })
}

/// A lock as events describe it.
pub fn lock_data(lock: &LockRow) -> Value {
    json!({
        "id": lock.id,
        "name": lock.name,
        "access_point": lock.access_point.as_str(),
        "unit_id": lock.unit_id,
        "confirmed_version": lock.confirmed_version,
        "desired_version": lock.desired_version,
        "attention": lock.attention,
    })
}

/// `code.created`, `code.changed` or `code.deleted` for a code as it is now.
pub async fn code_event(w: &mut Write, event: WebhookEventType, code: &CodeRow) -> Result<()> {
    if code.kind == keyway_codes::CodeKind::Backup {
        // A lock's own pool: its codes are nobody's, and their digits and
        // comings and goings are no other system's business.
        return Ok(());
    }
    emit(w, event, json!({ "code": code_data(code) })).await
}
