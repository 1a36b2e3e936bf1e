//! Policy settings: six-digit codes, residents' custom codes, the numbers
//! affiliated with the property, one-time PIN length, the common-PIN list.
//! Staff and managers read them; managers change them (existing codes stay,
//! new ones follow).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use keyway_api::PolicySettings;
use serde::Deserialize;

use super::codes::shown_in_form;
use super::extract::{Portal, Posted};
use super::page::{Done, PageResult, Shell, redirect, render};
use super::views::Refusal;
use crate::app::App;
use crate::crypto::new_id;
use crate::error::Error;
use crate::ops::accounts::Session;
use crate::ops::policy;

#[derive(Template)]
#[template(path = "portal/policy.html")]
struct PolicyPage {
    shell: Shell,
    policy: PolicySettings,
    may_edit: bool,
}

/// `GET /policy`.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    session.caller.require_staff()?;
    let shell = Shell::load(&app, &session, "Policy", "/policy", q.done.as_deref()).await?;
    let page = PolicyPage {
        policy: policy::get(&app.store, &session.caller).await?,
        may_edit: session.caller.require_manager().is_ok(),
        shell,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "portal/policy_edit.html")]
struct EditPage {
    shell: Shell,
    policy: PolicySettings,
    affiliated: String,
    idem: String,
    refused: Option<Refusal>,
}

async fn edit_page(
    app: &App,
    session: &Session,
    form: Option<(PolicyForm, Refusal)>,
) -> PageResult {
    session.caller.require_manager()?;
    let shell = Shell::load(app, session, "Edit policy", "/policy", None).await?;
    let (policy, affiliated, refused, status) = match form {
        Some((form, refused)) => {
            let affiliated = form.affiliated.clone();
            (
                form.settings(),
                affiliated,
                Some(refused),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        None => {
            let policy = policy::get(&app.store, &session.caller).await?;
            let affiliated = policy.affiliated_numbers.join(", ");
            (policy, affiliated, None, StatusCode::OK)
        }
    };
    let page = EditPage {
        shell,
        policy,
        affiliated,
        idem: new_id("form"),
        refused,
    };
    Ok(render(status, &page))
}

/// `GET /policy/edit` (managers).
pub async fn edit(State(app): State<App>, Portal(session): Portal) -> PageResult {
    edit_page(&app, &session, None).await
}

/// The policy form: checkboxes are sent only when ticked.
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    six_digit_codes: Option<String>,
    #[serde(default)]
    custom_codes: Option<String>,
    #[serde(default)]
    common_pins_builtin: Option<String>,
    #[serde(default)]
    affiliated: String,
    one_time_pin_length: String,
}

impl PolicyForm {
    fn settings(&self) -> PolicySettings {
        PolicySettings {
            six_digit_codes: self.six_digit_codes.is_some(),
            custom_codes: self.custom_codes.is_some(),
            affiliated_numbers: self
                .affiliated
                .split([',', ' ', ';'])
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
            one_time_pin_length: self.one_time_pin_length.trim().parse().unwrap_or(0),
            common_pins_builtin: self.common_pins_builtin.is_some(),
        }
    }
}

/// `POST /policy` (managers): the API's validation and write.
pub async fn save(State(app): State<App>, posted: Posted<PolicyForm>) -> PageResult {
    let settings = posted.form.settings();
    let result: Result<PolicySettings, Error> = async {
        posted.caller().require_manager()?;
        policy::validate_policy(&settings)?;
        posted
            .write(&app, move |w, _| Box::pin(policy::put(w, settings)))
            .await
    }
    .await;
    match result {
        Ok(_) => Ok(redirect("/policy?done=policy")),
        Err(e) if shown_in_form(&e) => {
            edit_page(
                &app,
                &posted.session,
                Some((posted.form.clone(), Refusal::of(&e))),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
