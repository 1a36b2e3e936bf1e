//! Signing in and out, and set-password links. Sign-in takes an email
//! address and a password ([`crate::ops::accounts::sign_in`]: limits, one
//! password check, the same answer for unknown addresses and wrong
//! passwords), ends any session the browser held, and sets a new session
//! cookie: a session is never carried over from before sign-in. Residents
//! are refused with a page that says where they belong.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{
    Anonymous, Browser, Posted, SESSION_COOKIE, cookie, local_path, redirect_with, removal,
};
use super::page::{PageResult, Shell, failure, redirect, render};
use super::views::{Refusal, notice};
use crate::app::App;
use crate::error::{Error, ErrorKind};
use crate::ops::accounts;

#[derive(Template)]
#[template(path = "portal/sign_in.html")]
struct SignInPage {
    shell: Shell,
    csrf: String,
    next: String,
    email: String,
    refused: Option<Refusal>,
}

/// `?next=…&done=…`.
#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    done: Option<String>,
}

fn sign_in_page(
    app: &App,
    browser: &Browser,
    status: StatusCode,
    next: &str,
    email: &str,
    refused: Option<Refusal>,
    done: Option<&str>,
) -> PageResult {
    let (jar, csrf) = browser.form_token(app)?;
    let page = SignInPage {
        shell: Shell::public("Sign in").with_notice(notice(done)),
        csrf,
        next: local_path(Some(next)),
        email: email.to_owned(),
        refused,
    };
    Ok((jar, render(status, &page)).into_response())
}

/// `GET /sign-in`: the form (also to a browser that holds a session:
/// signing in ends it).
pub async fn form(
    State(app): State<App>,
    browser: Browser,
    Query(query): Query<SignInQuery>,
) -> PageResult {
    let next = query.next.unwrap_or_default();
    sign_in_page(
        &app,
        &browser,
        StatusCode::OK,
        &next,
        "",
        None,
        query.done.as_deref(),
    )
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// `POST /sign-in`.
pub async fn submit(State(app): State<App>, posted: Anonymous<SignInForm>) -> PageResult {
    let Anonymous { browser, form } = posted;
    let next = form.next.clone().unwrap_or_default();
    match accounts::sign_in(&app.store, &form.email, &form.password, &browser.client).await {
        Ok(signed_in) => {
            // Rotation: whatever session the browser held ends here.
            if let Some(old) = browser.session_token()
                && let Ok(session) = accounts::session(&app.store, &old).await
            {
                accounts::sign_out(&app.store, &session).await?;
            }
            let jar = browser
                .jar
                .clone()
                .add(removal(super::extract::FORM_COOKIE))
                .add(cookie(SESSION_COOKIE, signed_in.token, browser.https));
            Ok(redirect_with(jar, &local_path(Some(&next))))
        }
        Err(e) if e.code == "portal_not_for_residents" => Ok(failure(
            StatusCode::FORBIDDEN,
            e.code,
            "The Keyway Portal is for property managers and building staff. As a resident, you manage your codes and guests in the Keyway app on your phone.",
        )),
        Err(e) if matches!(e.kind, ErrorKind::Unauthorized | ErrorKind::RateLimited) => {
            let status = crate::api::problem::status_of(e.kind);
            let mut response = sign_in_page(
                &app,
                &browser,
                status,
                &next,
                &form.email,
                Some(Refusal::of(&e)),
                None,
            )?;
            if let Some(seconds) = e.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

/// A form with nothing but its tokens.
#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `POST /sign-out`: ends the session; its cookie no longer works.
pub async fn sign_out(State(app): State<App>, posted: Posted<Empty>) -> Response {
    if let Err(e) = accounts::sign_out(&app.store, &posted.session).await {
        return super::page::PageError(e).into_response();
    }
    let jar = axum_extra::extract::cookie::CookieJar::new().add(removal(SESSION_COOKIE));
    redirect_with(jar, "/sign-in?done=signed-out")
}

#[derive(Template)]
#[template(path = "portal/set_password.html")]
struct SetPasswordPage {
    shell: Shell,
    usable: bool,
    csrf: String,
    token: String,
    refused: Option<Refusal>,
}

/// `?token=…`.
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    token: Option<String>,
}

async fn set_password_page(
    app: &App,
    browser: &Browser,
    token: &str,
    refused: Option<Refusal>,
) -> PageResult {
    let usable = accounts::link_is_usable(&app.store, token).await?;
    let (jar, csrf) = browser.form_token(app)?;
    let status = match (&refused, usable) {
        (Some(_), _) => StatusCode::UNPROCESSABLE_ENTITY,
        (None, true) => StatusCode::OK,
        (None, false) => StatusCode::GONE,
    };
    let page = SetPasswordPage {
        shell: Shell::public("Set your password"),
        usable,
        csrf,
        token: token.to_owned(),
        refused,
    };
    Ok((jar, render(status, &page)).into_response())
}

/// `GET /set-password?token=…`: the form of an invitation's link.
pub async fn set_password_form(
    State(app): State<App>,
    browser: Browser,
    Query(query): Query<LinkQuery>,
) -> PageResult {
    let token = query.token.unwrap_or_default();
    set_password_page(&app, &browser, &token, None).await
}

/// The set-password form.
#[derive(Debug, Deserialize)]
pub struct SetPasswordForm {
    token: String,
    password: String,
    confirm: String,
}

/// `POST /set-password`: sets the password once; the sign-in page next.
pub async fn set_password(
    State(app): State<App>,
    posted: Anonymous<SetPasswordForm>,
) -> PageResult {
    let Anonymous { browser, form } = posted;
    let result = if form.password == form.confirm {
        accounts::redeem_link(&app.store, &form.token, &form.password).await
    } else {
        Err(Error::new(
            ErrorKind::Unprocessable,
            "passwords_differ",
            "the two passwords are not the same",
        ))
    };
    match result {
        Ok(()) => Ok(redirect("/sign-in?done=password-set")),
        Err(e) if e.kind == ErrorKind::Unprocessable => {
            set_password_page(&app, &browser, &form.token, Some(Refusal::of(&e))).await
        }
        Err(e) => Err(e.into()),
    }
}
