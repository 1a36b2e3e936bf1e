//! Units and their codes: each resident and guest code's state on every
//! lock. Nobody but the unit's residents learns or chooses its digits;
//! managers may deactivate, reactivate and delete the codes (a lost phone,
//! a tenant moving out), staff see their state (`Caller::code_access`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::extract::Portal;
use super::page::{Done, PageResult, Shell, render};
use super::views::CodeLine;
use crate::app::App;
use crate::auth::CodeAccess;
use crate::crypto::new_id;
use crate::ops::codes::unit::{self, UnitSummary};

#[derive(Template)]
#[template(path = "portal/units.html")]
struct UnitsPage {
    shell: Shell,
    units: Vec<UnitSummary>,
}

/// `GET /units`.
pub async fn list(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    let units = unit::units(&app.store, &session.caller).await?;
    let shell = Shell::load(&app, &session, "Units", "/units", q.done.as_deref()).await?;
    Ok(render(StatusCode::OK, &UnitsPage { shell, units }))
}

struct UnitCode {
    code: CodeLine,
    control: bool,
}

#[derive(Template)]
#[template(path = "portal/unit.html")]
struct UnitPage {
    shell: Shell,
    id: String,
    codes: Vec<UnitCode>,
    idem: String,
}

/// `GET /units/{id}`: the unit's codes and their state on each lock.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> PageResult {
    session.caller.require_staff()?;
    let (name, codes) = unit::unit_codes(&app.store, &session.caller, &id).await?;
    let title = format!("Unit {name}");
    let shell = Shell::load(&app, &session, &title, "/units", q.done.as_deref()).await?;
    let codes = codes
        .into_iter()
        .map(|(code, access)| UnitCode {
            code: CodeLine::of(&code, &shell.time_zone),
            control: matches!(access, CodeAccess::Control | CodeAccess::Own),
        })
        .collect();
    let page = UnitPage {
        shell,
        id,
        codes,
        idem: new_id("form"),
    };
    Ok(render(StatusCode::OK, &page))
}
