//! Codes in forms: the generate-or-choose form the carrier, courier and
//! staff pages share ([`CodeForm`]), which refusals are shown next to a
//! field ([`shown_in_form`]), and deactivating, reactivating and deleting
//! any code ([`act`]: the API's code operation, with its rules).

use axum::extract::{Path, State};
use keyway_api::{CodeMode, CodeView, SetCodeRequest};
use serde::Deserialize;

use super::extract::{Posted, local_path};
use super::page::{PageResult, redirect};
use crate::app::App;
use crate::db::holders::HolderKind;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::codes::unit::{self, Action};
use crate::ops::holders;
use crate::ops::limits::{PickOf, limit_picks};

/// The generate-or-choose form: `mode` is `generate` or `pick`; `code`
/// holds the chosen digits.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CodeForm {
    /// `generate` (default) or `pick`.
    #[serde(default)]
    pub mode: Option<String>,
    /// The chosen digits.
    #[serde(default)]
    pub code: Option<String>,
}

impl CodeForm {
    /// Generate or pick.
    pub fn mode(&self) -> CodeMode {
        match self.mode.as_deref() {
            Some("pick") => CodeMode::Pick,
            _ => CodeMode::Generate,
        }
    }

    /// The API's request for this form.
    pub fn request(&self) -> SetCodeRequest {
        SetCodeRequest {
            mode: self.mode(),
            code: match self.mode() {
                CodeMode::Pick => Some(self.typed()),
                CodeMode::Generate => None,
            },
            length: None,
        }
    }

    /// The digits to show again in the form after a refusal (the person's
    /// own input, back to them).
    pub fn typed(&self) -> String {
        match self.mode() {
            CodeMode::Pick => self.code.clone().unwrap_or_default().trim().to_owned(),
            CodeMode::Generate => String::new(),
        }
    }
}

/// Whether a refusal belongs next to a form's field (bad input, a policy
/// refusal, a conflict, a limit) rather than on an error page (not found,
/// not allowed, a failure).
pub fn shown_in_form(e: &Error) -> bool {
    matches!(
        e.kind,
        ErrorKind::Invalid
            | ErrorKind::Unprocessable
            | ErrorKind::Conflict
            | ErrorKind::RateLimited
    )
}

/// Gives holder `id` the code the form asks for, as the API's carrier,
/// courier and staff endpoints do: the pick limit, then one idempotent
/// write of [`holders::put_code`]. The caller's role is checked by each page.
pub async fn put_holder_code(
    app: &App,
    posted: &Posted<CodeForm>,
    kind: HolderKind,
    id: &str,
) -> Result<CodeView> {
    let request = posted.form.request();
    let caller = posted.caller();
    limit_picks(
        &app.store,
        caller,
        &posted.idem()?,
        request.mode,
        PickOf::PackageRoomCode,
    )
    .await?;
    let id = id.to_owned();
    posted
        .write(app, move |w, who| {
            Box::pin(async move { holders::put_code(w, who, kind, &id, &request).await })
        })
        .await
}

/// Where to go back to after a code action.
#[derive(Debug, Deserialize)]
pub struct Back {
    back: Option<String>,
}

fn action_of(name: &str) -> Result<(Action, &'static str)> {
    match name {
        "disable" => Ok((Action::Disable, "disabled")),
        "enable" => Ok((Action::Enable, "enabled")),
        "delete" => Ok((Action::Delete, "deleted")),
        _ => Err(Error::not_found("action")),
    }
}

/// `POST /codes/{id}/{disable|enable|delete}`: the same operation as the
/// API's code endpoints, with the same rules (`Caller::code_access`).
pub async fn act(
    State(app): State<App>,
    Path((id, action)): Path<(String, String)>,
    posted: Posted<Back>,
) -> PageResult {
    let (action, done) = action_of(&action)?;
    posted
        .write(&app, move |w, who| {
            Box::pin(async move { unit::act(w, who, &id, action).await })
        })
        .await?;
    let back = local_path(posted.form.back.as_deref());
    let path = back.split('?').next().unwrap_or("/");
    Ok(redirect(&format!("{path}?done={done}")))
}
