//! The Portal: the pages managers and staff run their building with, served
//! by the server itself at `/`, on the API's router and listener
//! (`docs/portal.md`). Server-rendered HTML from askama templates
//! (`server-stub/templates/portal/`, checked when compiled), one small CSS
//! file and a little vanilla JavaScript, all inside the binary.
//!
//! Every action calls the same domain operation ([`crate::ops`]) and the
//! same [`crate::auth::Caller`] rules as the JSON API; the Portal has no SQL
//! and no rules of its own. Writes run as the API's idempotent writes, keyed
//! by a token in each form.
//!
//! - [`extract`]: the session, the checks on every post (origin, CSRF token),
//!   cookies.
//! - [`page`]: the shell, rendering, error pages, security headers.
//! - [`views`]: codes, refusals, audit entries and times in words.
//! - [`signin`]: sign-in, sign-out, set-password links; [`account`]: My
//!   Account (password, my access keys).
//! - [`dashboard`], [`carriers`], [`couriers`], [`staff`], [`recipients`]
//!   (and the one-time PIN quick action), [`notifications`], [`units`],
//!   [`codes`] (deactivate, reactivate, delete), [`locks`], [`policy`],
//!   [`webhooks`] (managers only): the pages.
//! - [`assets`]: the stylesheet, the script and the icon.

pub mod account;
pub mod assets;
pub mod carriers;
pub mod codes;
pub mod couriers;
pub mod dashboard;
pub mod extract;
pub mod locks;
pub mod notifications;
pub mod page;
pub mod policy;
pub mod recipients;
pub mod signin;
pub mod staff;
pub mod units;
pub mod views;
pub mod webhooks;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::app::App;

/// The Portal's routes (merged into [`crate::api::router`]), each answer
/// with the Portal's security headers.
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/sign-in", get(signin::form).post(signin::submit))
        .route("/sign-out", post(signin::sign_out))
        .route(
            "/set-password",
            get(signin::set_password_form).post(signin::set_password),
        )
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/carriers", get(carriers::list).post(carriers::create))
        .route("/carriers/{id}", get(carriers::show))
        .route("/carriers/{id}/code", post(carriers::set_code))
        .route("/couriers", get(couriers::list).post(couriers::create))
        .route("/couriers/{id}", get(couriers::show))
        .route("/couriers/{id}/pin", post(couriers::set_pin))
        .route("/couriers/{id}/key-card", post(couriers::key_card))
        .route("/couriers/{id}/card", get(couriers::card))
        .route("/staff", get(staff::list))
        .route("/staff/{id}", get(staff::show))
        .route("/staff/{id}/pin", post(staff::set_pin))
        .route(
            "/recipients",
            get(recipients::list).post(recipients::create),
        )
        .route("/recipients/{id}", get(recipients::show))
        .route("/recipients/{id}/one-time-pin", post(recipients::send))
        .route(
            "/one-time-pin",
            get(recipients::quick).post(recipients::quick_send),
        )
        .route("/notifications", get(notifications::list))
        .route("/units", get(units::list))
        .route("/units/{id}", get(units::show))
        .route("/codes/{id}/{action}", post(codes::act))
        .route("/locks", get(locks::list))
        .route("/locks/{id}", get(locks::show))
        .route("/policy", get(policy::show).post(policy::save))
        .route("/policy/edit", get(policy::edit))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::show))
        .route("/webhooks/{id}/delete", post(webhooks::delete))
        .route("/locks/{id}/backup-pool", post(locks::set_backup_pool))
        .route("/assets/{file}", get(assets::serve))
        .layer(middleware::from_fn(page::portal_layer))
}
