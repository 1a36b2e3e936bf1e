//! Webhooks (managers only): the property's webhooks, adding one with the
//! events it follows (its signing secret shown on the page that answers the
//! form, once), deleting one, and a webhook's delivery log with every
//! attempt. The API's operations and rules ([`crate::ops::webhooks`]).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keyway_api::{CreateWebhookRequest, WebhookEventType, WebhookView};
use serde::Deserialize;

use super::codes::shown_in_form;
use super::extract::{Portal, Posted};
use super::page::{PageResult, Shell, redirect, render};
use super::views::{Refusal, time};
use crate::app::App;
use crate::crypto::new_id;
use crate::ops::accounts::Session;
use crate::ops::webhooks;

/// `?done=…`.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// One event type as a checkbox.
struct EventBox {
    name: &'static str,
    field: String,
    checked: bool,
}

fn field_of(event: WebhookEventType) -> String {
    format!("ev_{}", event.as_str().replace('.', "_"))
}

fn boxes(checked: &[WebhookEventType]) -> Vec<EventBox> {
    WebhookEventType::ALL
        .iter()
        .map(|e| EventBox {
            name: e.as_str(),
            field: field_of(*e),
            checked: checked.contains(e),
        })
        .collect()
}

/// A webhook as the list shows it.
struct HookLine {
    id: String,
    url: String,
    events: String,
    description: String,
    created: String,
}

#[derive(Default)]
struct Attempt {
    url: String,
    description: String,
    events: Vec<WebhookEventType>,
    refused: Option<Refusal>,
}

/// A webhook just created: its secret, shown this once.
struct Created {
    url: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "portal/webhooks.html")]
struct WebhooksPage {
    shell: Shell,
    hooks: Vec<HookLine>,
    idem: String,
    boxes: Vec<EventBox>,
    attempt: Attempt,
    created: Option<Created>,
}

async fn list_page(
    app: &App,
    session: &Session,
    done: Option<&str>,
    attempt: Attempt,
    created: Option<Created>,
) -> PageResult {
    session.caller.require_manager()?;
    let shell = Shell::load(app, session, "Webhooks", "/webhooks", done).await?;
    let hooks = webhooks::list(&app.store, &session.caller)
        .await?
        .webhooks
        .into_iter()
        .map(|h| HookLine {
            events: h
                .events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            created: time(h.created_at, &shell.time_zone),
            description: h.description.unwrap_or_default(),
            id: h.id,
            url: h.url,
        })
        .collect();
    let status = attempt
        .refused
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = WebhooksPage {
        shell,
        hooks,
        idem: new_id("form"),
        boxes: boxes(&attempt.events),
        attempt,
        created,
    };
    Ok(render(status, &page))
}

/// `GET /webhooks`.
pub async fn list(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    list_page(&app, &session, q.done.as_deref(), Attempt::default(), None).await
}

/// The add-a-webhook form: a checkbox per event type (`ev_code_used`, …).
#[derive(Debug, Deserialize)]
pub struct NewWebhook {
    url: String,
    #[serde(default)]
    description: String,
    #[serde(flatten)]
    events: std::collections::HashMap<String, String>,
}

/// `POST /webhooks`: answers with the list and the new webhook's secret.
pub async fn create(State(app): State<App>, posted: Posted<NewWebhook>) -> PageResult {
    let form = &posted.form;
    let events: Vec<WebhookEventType> = WebhookEventType::ALL
        .into_iter()
        .filter(|e| form.events.contains_key(&field_of(*e)))
        .collect();
    let request = CreateWebhookRequest {
        url: form.url.trim().to_owned(),
        events: events.clone(),
        description: Some(form.description.trim().to_owned()).filter(|d| !d.is_empty()),
    };
    let result: crate::error::Result<WebhookView> = async {
        let checked = webhooks::check(posted.caller(), request, app.webhook_targets).await?;
        posted
            .write(&app, move |w, who| {
                Box::pin(webhooks::create(w, who, checked))
            })
            .await
    }
    .await;
    match result {
        Ok(hook) => {
            let created = Created {
                url: hook.url,
                secret: hook.secret.unwrap_or_default(),
            };
            list_page(
                &app,
                &posted.session,
                Some("created"),
                Attempt::default(),
                Some(created),
            )
            .await
        }
        Err(e) if shown_in_form(&e) => {
            let attempt = Attempt {
                url: form.url.clone(),
                description: form.description.clone(),
                events,
                refused: Some(Refusal::of(&e)),
            };
            list_page(&app, &posted.session, None, attempt, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The delete form carries only its tokens.
#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `POST /webhooks/{id}/delete`.
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted<Empty>,
) -> PageResult {
    posted.caller().require_manager()?;
    posted
        .write(&app, move |w, who| {
            Box::pin(async move { webhooks::delete(w, who, &id).await })
        })
        .await?;
    Ok(redirect("/webhooks?done=deleted"))
}

/// An attempt's time, to the second (retries come seconds apart).
fn seconds(at: jiff::Timestamp, time_zone: &str) -> String {
    at.in_tz(time_zone)
        .map(|z| z.strftime("%H:%M:%S").to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// One attempt in words.
struct AttemptLine {
    attempt: u32,
    at: String,
    outcome: String,
    duration_ms: u64,
    next: String,
}

/// One delivery with its attempts.
struct DeliveryLine {
    event_type: &'static str,
    event_id: String,
    status: String,
    created: String,
    attempts: Vec<AttemptLine>,
}

#[derive(Template)]
#[template(path = "portal/webhook.html")]
struct WebhookPage {
    shell: Shell,
    hook: HookLine,
    idem: String,
    deliveries: Vec<DeliveryLine>,
}

/// `GET /webhooks/{id}`: the delivery log.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
) -> PageResult {
    let caller = &session.caller;
    caller.require_manager()?;
    let log = webhooks::deliveries(&app.store, caller, &id, Some(100)).await?;
    let hook = webhooks::list(&app.store, caller)
        .await?
        .webhooks
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| crate::error::Error::not_found("webhook"))?;
    let shell = Shell::load(&app, &session, "Webhook", "/webhooks", None).await?;
    let tz = shell.time_zone.clone();
    let deliveries = log
        .deliveries
        .into_iter()
        .map(|d| DeliveryLine {
            event_type: d.event_type.as_str(),
            event_id: d.event_id,
            status: d.status,
            created: time(d.created_at, &tz),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| AttemptLine {
                    attempt: a.attempt,
                    at: seconds(a.at, &tz),
                    outcome: match (a.status_code, a.error) {
                        (Some(code), None) => format!("{code}"),
                        (Some(code), Some(error)) => format!("{code} ({error})"),
                        (None, Some(error)) => error,
                        (None, None) => String::new(),
                    },
                    duration_ms: a.duration_ms,
                    next: a
                        .next_attempt_at
                        .map(|t| seconds(t, &tz))
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    let page = WebhookPage {
        hook: HookLine {
            events: hook
                .events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            created: time(hook.created_at, &tz),
            description: hook.description.unwrap_or_default(),
            id: hook.id,
            url: hook.url,
        },
        shell,
        idem: new_id("form"),
        deliveries,
    };
    Ok(render(StatusCode::OK, &page))
}
