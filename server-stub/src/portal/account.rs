//! My Account: who is signed in, their sign-in address, their access keys
//! (their own staff PIN, managed on its staff page), and changing the
//! password (which ends every session, this one too).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::codes::shown_in_form;
use super::extract::{Portal, Posted, SESSION_COOKIE, redirect_with, removal};
use super::page::{Done, PageResult, Shell, render};
use super::views::{CodeLine, Refusal};
use crate::app::App;
use crate::error::{Error, ErrorKind};
use crate::ops::accounts::{self, Session};
use crate::ops::holders;

#[derive(Template)]
#[template(path = "portal/account.html")]
struct AccountPage {
    shell: Shell,
    user_id: String,
    email: String,
    pin: Option<CodeLine>,
    refused: Option<Refusal>,
}

async fn account_page(
    app: &App,
    session: &Session,
    done: Option<&str>,
    refused: Option<Refusal>,
) -> PageResult {
    let caller = &session.caller;
    let shell = Shell::load(app, session, "My account", "/account", done).await?;
    let me = holders::staff_member(&app.store, caller, &caller.user_id).await?;
    let email = accounts::email_of(&app.store, &caller.user_id).await?;
    let status = refused
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = AccountPage {
        pin: me
            .pin
            .as_ref()
            .map(|pin| CodeLine::of(pin, &shell.time_zone)),
        shell,
        user_id: caller.user_id.clone(),
        email: email.unwrap_or_default(),
        refused,
    };
    Ok(render(status, &page))
}

/// `GET /account`.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    account_page(&app, &session, q.done.as_deref(), None).await
}

/// The change-password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// `POST /account/password`: a new password; every session ends and the
/// sign-in page follows.
pub async fn change_password(State(app): State<App>, posted: Posted<PasswordForm>) -> PageResult {
    let form = &posted.form;
    let result = if form.new == form.confirm {
        accounts::change_password(&app.store, &posted.session, &form.current, &form.new).await
    } else {
        Err(Error::new(
            ErrorKind::Unprocessable,
            "passwords_differ",
            "the two new passwords are not the same",
        ))
    };
    match result {
        Ok(()) => {
            let jar = CookieJar::new().add(removal(SESSION_COOKIE));
            Ok(redirect_with(jar, "/sign-in?done=password-changed"))
        }
        Err(e) if shown_in_form(&e) => {
            account_page(&app, &posted.session, None, Some(Refusal::of(&e))).await
        }
        Err(e) => Err(e.into()),
    }
}
