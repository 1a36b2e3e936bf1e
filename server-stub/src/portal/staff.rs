//! Staff (User Admin → Staff): staff members and managers with their staff
//! PINs. Managers manage every staff PIN; a staff member manages only their
//! own ("My Access Keys") and sees others' state without digits, the rule
//! [`crate::auth::Caller::require_staff_pin_of`] the API applies.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keyway_api::StaffView;

use super::codes::{CodeForm, put_holder_code, shown_in_form};
use super::extract::{Portal, Posted};
use super::page::{Done, PageResult, Shell, redirect, render};
use super::views::{CodeLine, Refusal};
use crate::app::App;
use crate::crypto::new_id;
use crate::db::holders::HolderKind;
use crate::ops::accounts::Session;
use crate::ops::holders;

struct StaffLine {
    id: String,
    name: String,
    pin: Option<CodeLine>,
    manage: bool,
    me: bool,
}

fn line(session: &Session, s: StaffView, time_zone: &str) -> StaffLine {
    StaffLine {
        pin: s.pin.as_ref().map(|pin| CodeLine::of(pin, time_zone)),
        manage: session.caller.require_staff_pin_of(&s.user_id).is_ok(),
        me: s.user_id == session.caller.user_id,
        id: s.user_id,
        name: s.name,
    }
}

#[derive(Template)]
#[template(path = "portal/staff_list.html")]
struct StaffListPage {
    shell: Shell,
    staff: Vec<StaffLine>,
}

/// `GET /staff`.
pub async fn list(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    session.caller.require_staff()?;
    let shell = Shell::load(&app, &session, "Staff", "/staff", q.done.as_deref()).await?;
    let staff = holders::staff(&app.store, &session.caller)
        .await?
        .into_iter()
        .map(|s| line(&session, s, &shell.time_zone))
        .collect();
    Ok(render(StatusCode::OK, &StaffListPage { shell, staff }))
}

#[derive(Template)]
#[template(path = "portal/staff.html")]
struct StaffPage {
    shell: Shell,
    member: StaffLine,
    idem: String,
    typed: String,
    refused: Option<Refusal>,
}

async fn staff_page(
    app: &App,
    session: &Session,
    id: &str,
    done: Option<&str>,
    typed: String,
    refused: Option<Refusal>,
) -> PageResult {
    session.caller.require_staff_pin_of(id)?;
    let member = holders::staff_member(&app.store, &session.caller, id).await?;
    let title = if id == session.caller.user_id {
        "My access keys".to_owned()
    } else {
        member.name.clone()
    };
    let shell = Shell::load(app, session, &title, "/staff", done).await?;
    let status = refused
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = StaffPage {
        member: line(session, member, &shell.time_zone),
        shell,
        idem: new_id("form"),
        typed,
        refused,
    };
    Ok(render(status, &page))
}

/// `GET /staff/{id}`: a staff PIN to manage (managers: anyone's; staff:
/// their own).
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    staff_page(&app, &session, &id, q.done.as_deref(), String::new(), None).await
}

/// `POST /staff/{id}/pin`: generate or choose a staff PIN.
pub async fn set_pin(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted<CodeForm>,
) -> PageResult {
    let result = async {
        posted.caller().require_staff_pin_of(&id)?;
        put_holder_code(&app, &posted, HolderKind::Staff, &id).await
    }
    .await;
    match result {
        Ok(_) => Ok(redirect(&format!("/staff/{id}?done=pin"))),
        Err(e) if shown_in_form(&e) => {
            let refused = Some(Refusal::of(&e));
            staff_page(
                &app,
                &posted.session,
                &id,
                None,
                posted.form.typed(),
                refused,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
