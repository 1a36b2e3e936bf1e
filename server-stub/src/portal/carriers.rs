//! Carriers (the Building Manager portal's Carriers tab): each carrier's
//! 4-digit access code for the package room; add a carrier, choose one and
//! generate or choose a new code, then Update.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keyway_api::{CarrierView, CreateCarrierRequest};
use serde::Deserialize;

use super::codes::{CodeForm, put_holder_code, shown_in_form};
use super::extract::{Portal, Posted};
use super::page::{Done, PageResult, Shell, redirect, render};
use super::views::{CodeLine, Refusal};
use crate::app::App;
use crate::crypto::new_id;
use crate::db::holders::HolderKind;
use crate::error::Error;
use crate::ops::accounts::Session;
use crate::ops::holders;
use crate::ops::limits::{PickOf, limit_picks};

struct CarrierLine {
    id: String,
    name: String,
    code: Option<CodeLine>,
}

fn line(c: CarrierView, time_zone: &str) -> CarrierLine {
    CarrierLine {
        code: c.code.as_ref().map(|code| CodeLine::of(code, time_zone)),
        id: c.id,
        name: c.name,
    }
}

/// What a refused form held, to show it again with its refusal.
#[derive(Default)]
struct Attempt {
    name: String,
    typed: String,
    refused: Option<Refusal>,
}

impl Attempt {
    fn of(name: &str, form: &CodeForm, e: &Error) -> Self {
        Self {
            name: name.to_owned(),
            typed: form.typed(),
            refused: Some(Refusal::of(e)),
        }
    }
}

#[derive(Template)]
#[template(path = "portal/carriers.html")]
struct CarriersPage {
    shell: Shell,
    carriers: Vec<CarrierLine>,
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
    let shell = Shell::load(app, session, "Carriers", "/carriers", done).await?;
    let carriers = holders::carriers(&app.store, &session.caller)
        .await?
        .into_iter()
        .map(|c| line(c, &shell.time_zone))
        .collect();
    let status = attempt
        .refused
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = CarriersPage {
        shell,
        carriers,
        idem: new_id("form"),
        attempt,
    };
    Ok(render(status, &page))
}

/// `GET /carriers`.
pub async fn list(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    list_page(&app, &session, q.done.as_deref(), Attempt::default()).await
}

/// The add-a-carrier form.
#[derive(Debug, Deserialize)]
pub struct NewCarrier {
    name: String,
    #[serde(flatten)]
    code: CodeForm,
}

/// `POST /carriers`: a carrier with a distinct 4-digit code.
pub async fn create(State(app): State<App>, posted: Posted<NewCarrier>) -> PageResult {
    let caller = posted.caller().clone();
    let form = &posted.form;
    let request = CreateCarrierRequest {
        name: form.name.clone(),
        mode: form.code.mode(),
        code: form.code.request().code,
    };
    let result = async {
        caller.require_staff()?;
        limit_picks(
            &app.store,
            &caller,
            &posted.idem()?,
            request.mode,
            PickOf::PackageRoomCode,
        )
        .await?;
        let name = holders::check_name(&request.name)?;
        posted
            .write(&app, move |w, who| {
                Box::pin(async move { holders::create_carrier(w, who, name, &request).await })
            })
            .await
    }
    .await;
    match result {
        Ok(carrier) => Ok(redirect(&format!("/carriers/{}?done=created", carrier.id))),
        Err(e) if shown_in_form(&e) => {
            list_page(
                &app,
                &posted.session,
                None,
                Attempt::of(&form.name, &form.code, &e),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "portal/carrier.html")]
struct CarrierPage {
    shell: Shell,
    carrier: CarrierLine,
    idem: String,
    attempt: Attempt,
}

async fn carrier_page(
    app: &App,
    session: &Session,
    id: &str,
    done: Option<&str>,
    attempt: Attempt,
) -> PageResult {
    session.caller.require_staff()?;
    let carrier = holders::carrier(&app.store, &session.caller, id).await?;
    let shell = Shell::load(app, session, &carrier.name, "/carriers", done).await?;
    let status = attempt
        .refused
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = CarrierPage {
        carrier: line(carrier, &shell.time_zone),
        shell,
        idem: new_id("form"),
        attempt,
    };
    Ok(render(status, &page))
}

/// `GET /carriers/{id}`.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    carrier_page(&app, &session, &id, q.done.as_deref(), Attempt::default()).await
}

/// `POST /carriers/{id}/code`: a new code (generated or chosen) for the
/// carrier; the old one opens the door until the lock confirms the new one.
pub async fn set_code(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted<CodeForm>,
) -> PageResult {
    let result = async {
        posted.caller().require_staff()?;
        put_holder_code(&app, &posted, HolderKind::Carrier, &id).await
    }
    .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/carriers/{id}?done=code"))),
        Err(e) if shown_in_form(&e) => {
            carrier_page(
                &app,
                &posted.session,
                &id,
                None,
                Attempt::of("", &posted.form, &e),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
