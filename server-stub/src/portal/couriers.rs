//! Couriers (User Admin → Couriers → Courier Detail): a courier account's
//! PIN in its Access Keys section (active ✓ or inactive ✗), the access-key
//! menu (generate, choose, deactivate, reactivate, delete), the PIN's QR
//! code (shown and printable), the key card given against the PIN, and a
//! printable key card.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keyway_api::{CodeStatus, CourierView};
use serde::Deserialize;

use super::codes::{CodeForm, put_holder_code, shown_in_form};
use super::extract::{Portal, Posted};
use super::page::{Done, PageResult, Shell, redirect, render};
use super::views::{CodeLine, Refusal};
use crate::app::App;
use crate::crypto::new_id;
use crate::db::holders::HolderKind;
use crate::error::Result;
use crate::ops::accounts::Session;
use crate::ops::holders;
use crate::ops::limits::rate_limit;

struct CourierLine {
    id: String,
    name: String,
    key_card: Option<String>,
    pin: Option<CodeLine>,
}

fn line(c: CourierView, time_zone: &str) -> CourierLine {
    CourierLine {
        pin: c.pin.as_ref().map(|pin| CodeLine::of(pin, time_zone)),
        id: c.id,
        name: c.name,
        key_card: c.key_card_id,
    }
}

/// What a refused form held, and which form it was.
#[derive(Default)]
struct Attempt {
    name: String,
    typed: String,
    card: String,
    refused_pin: Option<Refusal>,
    refused_card: Option<Refusal>,
    refused_name: Option<Refusal>,
}

#[derive(Template)]
#[template(path = "portal/couriers.html")]
struct CouriersPage {
    shell: Shell,
    couriers: Vec<CourierLine>,
    idem: String,
    attempt: Attempt,
}

async fn list_page(
    app: &App,
    session: &Session,
    done: Option<&str>,
    attempt: Attempt,
) -> PageResult {
    session.caller.require_staff()?;
    let shell = Shell::load(app, session, "Couriers", "/couriers", done).await?;
    let couriers = holders::couriers(&app.store, &session.caller)
        .await?
        .into_iter()
        .map(|c| line(c, &shell.time_zone))
        .collect();
    let status = attempt
        .refused_name
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = CouriersPage {
        shell,
        couriers,
        idem: new_id("form"),
        attempt,
    };
    Ok(render(status, &page))
}

/// `GET /couriers`.
pub async fn list(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    list_page(&app, &session, q.done.as_deref(), Attempt::default()).await
}

/// The add-a-courier form.
#[derive(Debug, Deserialize)]
pub struct NewCourier {
    name: String,
}

/// `POST /couriers`: a courier account (its PIN comes next).
pub async fn create(State(app): State<App>, posted: Posted<NewCourier>) -> PageResult {
    let result = async {
        posted.caller().require_staff()?;
        let name = holders::check_name(&posted.form.name)?;
        posted
            .write(&app, move |w, who| {
                Box::pin(holders::create_courier(w, who, name))
            })
            .await
    }
    .await;
    match result {
        Ok(courier) => Ok(redirect(&format!("/couriers/{}?done=created", courier.id))),
        Err(e) if shown_in_form(&e) => {
            let attempt = Attempt {
                name: posted.form.name.clone(),
                refused_name: Some(Refusal::of(&e)),
                ..Attempt::default()
            };
            list_page(&app, &posted.session, None, attempt).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "portal/courier.html")]
struct CourierPage {
    shell: Shell,
    courier: CourierLine,
    qr: Option<String>,
    idem: String,
    attempt: Attempt,
}

/// The courier's QR code as inline SVG (without the XML declaration), when
/// the PIN is active.
async fn qr_of(app: &App, session: &Session, courier: &CourierView) -> Result<Option<String>> {
    let active = courier
        .pin
        .as_ref()
        .is_some_and(|p| p.status == CodeStatus::Active);
    if !active {
        return Ok(None);
    }
    let credential = holders::courier_credential(&app.store, &session.caller, &courier.id).await?;
    let svg = crate::qr::svg(&credential)?;
    let start = svg.find("<svg").unwrap_or(0);
    Ok(Some(svg[start..].replacen(
        "<svg",
        "<svg role=\"img\" aria-label=\"QR code of the courier's PIN\"",
        1,
    )))
}

async fn courier_page(
    app: &App,
    session: &Session,
    id: &str,
    done: Option<&str>,
    attempt: Attempt,
) -> PageResult {
    session.caller.require_staff()?;
    let courier = holders::courier(&app.store, &session.caller, id).await?;
    let qr = qr_of(app, session, &courier).await?;
    let shell = Shell::load(app, session, &courier.name, "/couriers", done).await?;
    let refused = attempt.refused_pin.is_some() || attempt.refused_card.is_some();
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = CourierPage {
        courier: line(courier, &shell.time_zone),
        shell,
        qr,
        idem: new_id("form"),
        attempt,
    };
    Ok(render(status, &page))
}

/// `GET /couriers/{id}`: Courier Detail.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    courier_page(&app, &session, &id, q.done.as_deref(), Attempt::default()).await
}

/// `POST /couriers/{id}/pin`: generate or choose the courier's 6-digit PIN
/// (a duplicate or a deleted PIN is refused, with its reason).
pub async fn set_pin(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted<CodeForm>,
) -> PageResult {
    let result = async {
        posted.caller().require_staff()?;
        put_holder_code(&app, &posted, HolderKind::Courier, &id).await
    }
    .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/couriers/{id}?done=pin"))),
        Err(e) if shown_in_form(&e) => {
            let attempt = Attempt {
                typed: posted.form.typed(),
                refused_pin: Some(Refusal::of(&e)),
                ..Attempt::default()
            };
            courier_page(&app, &posted.session, &id, None, attempt).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The key-card form: the card's id and the courier's PIN.
#[derive(Debug, Deserialize)]
pub struct KeyCardForm {
    key_card_id: String,
    pin: String,
}

/// `POST /couriers/{id}/key-card`: assigns a key card once the courier's
/// PIN is confirmed (5 checks per 15 minutes per courier, as the API).
pub async fn key_card(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted<KeyCardForm>,
) -> PageResult {
    let result = async {
        posted.caller().require_staff()?;
        let card = holders::check_card_id(&posted.form.key_card_id)?;
        rate_limit(&app.store, &format!("pin-verify:{id}"), 900, 5).await?;
        let (id, pin) = (id.clone(), posted.form.pin.clone());
        posted
            .write(&app, move |w, who| {
                Box::pin(async move { holders::assign_key_card(w, who, &id, &pin, &card).await })
            })
            .await
    }
    .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/couriers/{id}?done=key-card"))),
        Err(e) if shown_in_form(&e) => {
            let attempt = Attempt {
                card: posted.form.key_card_id.clone(),
                refused_card: Some(Refusal::of(&e)),
                ..Attempt::default()
            };
            courier_page(&app, &posted.session, &id, None, attempt).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "portal/key_card.html")]
struct CardPage {
    shell: Shell,
    courier: CourierLine,
    qr: Option<String>,
}

/// `GET /couriers/{id}/card`: the courier's key card, to print.
pub async fn card(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
) -> PageResult {
    session.caller.require_staff()?;
    let courier = holders::courier(&app.store, &session.caller, &id).await?;
    let qr = qr_of(&app, &session, &courier).await?;
    let title = format!("Key card: {}", courier.name);
    let shell = Shell::load(&app, &session, &title, "/couriers", None).await?;
    let page = CardPage {
        courier: line(courier, &shell.time_zone),
        shell,
        qr,
    };
    Ok(render(StatusCode::OK, &page))
}
