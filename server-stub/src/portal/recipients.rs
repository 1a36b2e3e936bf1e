//! Recipients (the Recipients tab, Recipient Detail) and the quick action
//! Send One-Time PIN: search, add, a recipient's one-time PINs and their
//! state (sent, used, expired, replaced), and sending a new one by email,
//! SMS or both with an expiry (24 hours unless chosen).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use keyway_api::{CreateRecipientRequest, NotifyVia, RecipientView};
use serde::Deserialize;

use super::codes::shown_in_form;
use super::extract::{Portal, Posted};
use super::page::{PageResult, Shell, redirect, render};
use super::views::{CodeLine, Refusal, one_time_word, time};
use crate::app::App;
use crate::crypto::new_id;
use crate::error::{Error, Result};
use crate::ops::accounts::Session;
use crate::ops::recipients;

/// The format of `<input type="datetime-local">`.
const LOCAL_INPUT: &str = "%Y-%m-%dT%H:%M";

/// `?q=…&done=…&recipient=…`.
#[derive(Debug, Default, Deserialize)]
pub struct RecipientQuery {
    q: Option<String>,
    done: Option<String>,
    recipient: Option<String>,
}

#[derive(Default)]
struct Attempt {
    name: String,
    email: String,
    phone: String,
    refused: Option<Refusal>,
}

#[derive(Template)]
#[template(path = "portal/recipients.html")]
struct RecipientsPage {
    shell: Shell,
    query: String,
    recipients: Vec<RecipientView>,
    idem: String,
    attempt: Attempt,
}

async fn list_page(
    app: &App,
    session: &Session,
    q: &RecipientQuery,
    attempt: Attempt,
) -> PageResult {
    session.caller.require_staff()?;
    let shell = Shell::load(app, session, "Recipients", "/recipients", q.done.as_deref()).await?;
    let query = q.q.clone().unwrap_or_default();
    let found = recipients::search(&app.store, &session.caller, &query).await?;
    let status = attempt
        .refused
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = RecipientsPage {
        shell,
        query,
        recipients: found,
        idem: new_id("form"),
        attempt,
    };
    Ok(render(status, &page))
}

/// `GET /recipients?q=…`: search by name, email or phone.
pub async fn list(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<RecipientQuery>,
) -> PageResult {
    list_page(&app, &session, &q, Attempt::default()).await
}

/// The add-a-recipient form.
#[derive(Debug, Deserialize)]
pub struct NewRecipient {
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

/// `POST /recipients`.
pub async fn create(State(app): State<App>, posted: Posted<NewRecipient>) -> PageResult {
    let form = &posted.form;
    let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let request = CreateRecipientRequest {
        name: form.name.clone(),
        email: given(&form.email),
        phone: given(&form.phone),
    };
    let result = async {
        posted.caller().require_staff()?;
        let spec = recipients::check_recipient(&request)?;
        posted
            .write(&app, move |w, _| Box::pin(recipients::create(w, spec)))
            .await
    }
    .await;
    match result {
        Ok(recipient) => Ok(redirect(&format!(
            "/recipients/{}?done=created",
            recipient.id
        ))),
        Err(e) if shown_in_form(&e) => {
            let attempt = Attempt {
                name: form.name.clone(),
                email: form.email.clone(),
                phone: form.phone.clone(),
                refused: Some(Refusal::of(&e)),
            };
            list_page(&app, &posted.session, &RecipientQuery::default(), attempt).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A one-time PIN as the recipient page shows it.
struct PinLine {
    code: CodeLine,
    state: &'static str,
    sent: String,
}

/// The send-a-PIN options: channel and expiry.
struct Options {
    via: &'static str,
    expires: String,
    refused: Option<Refusal>,
}

fn default_options(recipient: Option<&RecipientView>, time_zone: &str) -> Result<Options> {
    let expires = recipients::default_expiry()?
        .in_tz(time_zone)
        .map(|z| z.strftime(LOCAL_INPUT).to_string())
        .unwrap_or_default();
    let via = match recipient {
        Some(r) if r.email.is_none() => "sms",
        _ => "email",
    };
    Ok(Options {
        via,
        expires,
        refused: None,
    })
}

#[derive(Template)]
#[template(path = "portal/recipient.html")]
struct RecipientPage {
    shell: Shell,
    recipient: RecipientView,
    pins: Vec<PinLine>,
    idem: String,
    options: Options,
}

async fn recipient_page(
    app: &App,
    session: &Session,
    id: &str,
    done: Option<&str>,
    options: Option<Options>,
) -> PageResult {
    let caller = &session.caller;
    caller.require_staff()?;
    let recipient = recipients::get(&app.store, caller, id).await?;
    let shell = Shell::load(app, session, &recipient.name, "/recipients", done).await?;
    let pins = recipients::pins(&app.store, caller, id, 20)
        .await?
        .iter()
        .map(|pin| PinLine {
            code: CodeLine::of(pin, &shell.time_zone),
            state: one_time_word(pin.status),
            sent: time(pin.created_at, &shell.time_zone),
        })
        .collect();
    let options = match options {
        Some(options) => options,
        None => default_options(Some(&recipient), &shell.time_zone)?,
    };
    let status = options
        .refused
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = RecipientPage {
        shell,
        recipient,
        pins,
        idem: new_id("form"),
        options,
    };
    Ok(render(status, &page))
}

/// `GET /recipients/{id}`: Recipient Detail.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
    Query(q): Query<RecipientQuery>,
) -> PageResult {
    recipient_page(&app, &session, &id, q.done.as_deref(), None).await
}

/// The send-a-PIN form: channel, expiry, and (on the quick action page)
/// the recipient.
#[derive(Debug, Deserialize)]
pub struct SendForm {
    #[serde(default)]
    recipient: Option<String>,
    notify: String,
    expires: String,
}

impl SendForm {
    fn via(&self) -> Result<NotifyVia> {
        match self.notify.as_str() {
            "email" => Ok(NotifyVia::Email),
            "sms" => Ok(NotifyVia::Sms),
            "both" => Ok(NotifyVia::Both),
            _ => Err(Error::invalid(
                "send the notification by email, SMS or both",
            )),
        }
    }

    /// The expiry, read in the property's time zone.
    fn expires_at(&self, time_zone: &str) -> Result<Timestamp> {
        jiff::civil::DateTime::strptime(LOCAL_INPUT, self.expires.trim())
            .ok()
            .and_then(|local| local.in_tz(time_zone).ok())
            .map(|zoned| zoned.timestamp())
            .ok_or_else(|| Error::invalid("the expiry is a date and a time"))
    }

    fn refused(&self, e: &Error) -> Options {
        Options {
            via: match self.notify.as_str() {
                "sms" => "sms",
                "both" => "both",
                _ => "email",
            },
            expires: self.expires.clone(),
            refused: Some(Refusal::of(e)),
        }
    }
}

/// Sends recipient `id` a one-time PIN as the form says: the API's
/// operation, in one idempotent write.
async fn send_pin(app: &App, posted: &Posted<SendForm>, id: &str) -> Result<()> {
    let caller = posted.caller();
    caller.require_staff()?;
    let time_zone = crate::ops::session::me(&app.store, caller)
        .await?
        .property
        .time_zone;
    let via = posted.form.via()?;
    let expires_at = posted.form.expires_at(&time_zone)?;
    let id = id.to_owned();
    posted
        .write(app, move |w, who| {
            Box::pin(async move { recipients::one_time_pin(w, who, &id, via, expires_at).await })
        })
        .await
        .map(|_| ())
}

/// `POST /recipients/{id}/one-time-pin`.
pub async fn send(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted<SendForm>,
) -> PageResult {
    match send_pin(&app, &posted, &id).await {
        Ok(()) => Ok(redirect(&format!("/recipients/{id}?done=sent"))),
        Err(e) if shown_in_form(&e) => {
            let options = posted.form.refused(&e);
            recipient_page(&app, &posted.session, &id, None, Some(options)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A recipient to choose on the quick action page.
struct Choice {
    id: String,
    name: String,
    key: String,
    contact: String,
    chosen: bool,
}

#[derive(Template)]
#[template(path = "portal/one_time_pin.html")]
struct QuickPage {
    shell: Shell,
    query: String,
    choices: Vec<Choice>,
    more: usize,
    idem: String,
    options: Options,
}

/// How many recipients the quick action page lists (search for others).
const QUICK_LIST: usize = 100;

async fn quick_page(
    app: &App,
    session: &Session,
    q: &RecipientQuery,
    options: Option<Options>,
) -> PageResult {
    session.caller.require_staff()?;
    let shell = Shell::load(
        app,
        session,
        "Send one-time PIN",
        "/one-time-pin",
        q.done.as_deref(),
    )
    .await?;
    let query = q.q.clone().unwrap_or_default();
    let found = recipients::search(&app.store, &session.caller, &query).await?;
    let more = found.len().saturating_sub(QUICK_LIST);
    let choices = found
        .into_iter()
        .take(QUICK_LIST)
        .map(|r| Choice {
            chosen: q.recipient.as_deref() == Some(r.id.as_str()),
            key: r.name.to_lowercase(),
            contact: [r.email.clone(), r.phone.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            id: r.id,
            name: r.name,
        })
        .collect();
    let options = match options {
        Some(options) => options,
        None => default_options(None, &shell.time_zone)?,
    };
    let status = options
        .refused
        .as_ref()
        .map_or(StatusCode::OK, |_| StatusCode::UNPROCESSABLE_ENTITY);
    let page = QuickPage {
        shell,
        query,
        choices,
        more,
        idem: new_id("form"),
        options,
    };
    Ok(render(status, &page))
}

/// `GET /one-time-pin?q=…`: Quick Actions → Send One-Time PIN.
pub async fn quick(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<RecipientQuery>,
) -> PageResult {
    quick_page(&app, &session, &q, None).await
}

/// `POST /one-time-pin`: the chosen recipient's new PIN.
pub async fn quick_send(State(app): State<App>, posted: Posted<SendForm>) -> PageResult {
    let id = posted.form.recipient.clone().unwrap_or_default();
    let result = if id.is_empty() {
        Err(Error::invalid("choose the recipient first"))
    } else {
        send_pin(&app, &posted, &id).await
    };
    match result {
        Ok(()) => Ok(redirect(&format!("/recipients/{id}?done=sent"))),
        Err(e) if shown_in_form(&e) => {
            let q = RecipientQuery {
                recipient: Some(id),
                ..RecipientQuery::default()
            };
            quick_page(&app, &posted.session, &q, Some(posted.form.refused(&e))).await
        }
        Err(e) => Err(e.into()),
    }
}
