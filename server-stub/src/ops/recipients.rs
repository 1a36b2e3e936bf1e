//! Package recipients and their one-time PINs: adding recipients (email
//! and phone sealed, looked up by keyed MAC), issuing a single-entry PIN
//! with its notifications (a recipient's new PIN ends their previous one),
//! reading the current PIN, and the public forgot-PIN request, which
//! answers the same whether or not the address is known.

use jiff::Timestamp;
use keyway_api::{
    CodeMode, CodeStatus, CodeView, CreateRecipientRequest, ForgotPinRequest, NotifyVia,
    RecipientView,
};
use keyway_codes::schedule::Window;
use keyway_codes::{CodeKind, Schedule};

use super::codes::{Holder, NewCode};
use super::holders::{current_code, holder_name};
use super::limits::rate_limit;
use super::reconcile::end_code;
use crate::auth::Caller;
use crate::clock::now_secs;
use crate::crypto::{Cell, DataKey, new_id};
use crate::db::codes::{CodeRow, code_view};
use crate::db::holders::{self, HolderKind, NewRecipient, RecipientRow};
use crate::db::properties::PropertyRow;
use crate::db::{Store, Write, locks, properties};
use crate::error::{Error, Result};
use crate::notify::{Message, enqueue};

/// Forgot-PIN requests a property answers in an hour (any address, any client).
pub const FORGOT_PER_PROPERTY_PER_HOUR: i64 = 60;
/// New PINs forgot-PIN issues to one recipient in a day (UTC), whichever of
/// their addresses is asked about; counted after the answer, so a request
/// over it gets the same answer and its timing.
pub const FORGOT_PINS_PER_RECIPIENT_PER_DAY: i64 = 5;

/// The one answer to every forgot-PIN request.
pub const FORGOT_ANSWER: &str =
    "If this address belongs to a recipient here, a new single-use PIN is on its way to it.";

/// An email address as stored and compared: trimmed and lowercased; `None`
/// when it is not an address.
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    (!local.is_empty()
        && domain.contains('.')
        && email.len() <= 254
        && !email.contains(char::is_whitespace))
    .then_some(email)
}

/// A phone number as stored: its digits, with `+` when it had one; `None`
/// when it is not 7 to 15 digits.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let plus = phone.trim_start().starts_with('+');
    (7..=15)
        .contains(&digits.len())
        .then(|| if plus { format!("+{digits}") } else { digits })
}

fn email_of(email: &str) -> Result<String> {
    normalize_email(email).ok_or_else(|| Error::invalid("email is not an address"))
}

fn phone_of(phone: &str) -> Result<String> {
    normalize_phone(phone).ok_or_else(|| Error::invalid("phone is 7 to 15 digits"))
}

fn view_of(key: &DataKey, row: RecipientRow) -> Result<RecipientView> {
    let id = row.id;
    Ok(RecipientView {
        email: row
            .email
            .map(|e| key.open_str(Cell::new("recipients", "email", &id), &e))
            .transpose()?,
        phone: row
            .phone
            .map(|p| key.open_str(Cell::new("recipients", "phone", &id), &p))
            .transpose()?,
        name: row.name,
        id,
    })
}

/// The property's recipients.
pub async fn list(store: &Store, caller: &Caller) -> Result<Vec<RecipientView>> {
    let mut read = store.read().await?;
    holders::recipients(&mut read, &caller.property_id)
        .await?
        .into_iter()
        .map(|row| view_of(store.key(), row))
        .collect()
}

/// One recipient of the caller's property.
pub async fn get(store: &Store, caller: &Caller, id: &str) -> Result<RecipientView> {
    let row = holders::recipient(&mut store.read().await?, &caller.property_id, id)
        .await?
        .ok_or_else(|| Error::not_found("recipient"))?;
    view_of(store.key(), row)
}

/// The recipients whose name, email address or phone number contains
/// `query` (any case); all of them for an empty query.
pub async fn search(store: &Store, caller: &Caller, query: &str) -> Result<Vec<RecipientView>> {
    let query = query.trim().to_lowercase();
    let all = list(store, caller).await?;
    if query.is_empty() {
        return Ok(all);
    }
    let has = |text: &Option<String>| {
        text.as_ref()
            .is_some_and(|t| t.to_lowercase().contains(&query))
    };
    Ok(all
        .into_iter()
        .filter(|r| r.name.to_lowercase().contains(&query) || has(&r.email) || has(&r.phone))
        .collect())
}

/// A recipient's one-time PINs, newest first (the last `limit`), ended ones
/// too: sent (active), used, expired or replaced (deleted).
pub async fn pins(store: &Store, caller: &Caller, id: &str, limit: i64) -> Result<Vec<CodeView>> {
    let mut read = store.read().await?;
    holder_name(&mut read, HolderKind::Recipient, &caller.property_id, id).await?;
    let rows = crate::db::codes::history_of_holder(
        &mut read,
        &caller.property_id,
        HolderKind::Recipient.as_str(),
        id,
        limit.clamp(1, 100),
    )
    .await?;
    let visible: Vec<(&CodeRow, bool)> = rows
        .iter()
        .filter(|row| caller.may_use_code(row))
        .map(|row| (row, caller.may_see_value(row)))
        .collect();
    crate::db::codes::code_views(&mut read, &visible).await
}

/// A recipient to add, checked before the write.
#[derive(Debug, Clone)]
pub struct NewRecipientSpec {
    name: String,
    email: Option<String>,
    phone: Option<String>,
}

/// Checks a new recipient: a name, and an email address or a phone number.
pub fn check_recipient(request: &CreateRecipientRequest) -> Result<NewRecipientSpec> {
    let name = super::holders::check_name(&request.name)?;
    let email = request.email.as_deref().map(email_of).transpose()?;
    let phone = request.phone.as_deref().map(phone_of).transpose()?;
    if email.is_none() && phone.is_none() {
        return Err(Error::invalid(
            "a recipient needs an email address or a phone number",
        ));
    }
    Ok(NewRecipientSpec { name, email, phone })
}

/// Adds a recipient in this write.
pub async fn create(w: &mut Write, spec: NewRecipientSpec) -> Result<RecipientView> {
    let key = w.key().clone();
    let id = new_id("rcp");
    let seal = |column, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| key.seal_str(Cell::new("recipients", column, &id), v))
            .transpose()
    };
    let row = NewRecipient {
        row: RecipientRow {
            id: id.clone(),
            name: spec.name.clone(),
            email: seal("email", &spec.email)?,
            phone: seal("phone", &spec.phone)?,
        },
        property_id: w.property_id().to_owned(),
        email_mac: spec.email.as_deref().map(|e| key.lookup_mac("email", e)),
        phone_mac: spec.phone.as_deref().map(|p| key.lookup_mac("phone", p)),
        created_at: now_secs(),
    };
    crate::db::insert(w, &[row]).await?;
    Ok(RecipientView {
        id,
        name: spec.name,
        email: spec.email,
        phone: spec.phone,
    })
}

/// The addresses (sealed) a PIN goes to by `via`, or `no_contact`.
fn targets(recipient: &RecipientRow, via: NotifyVia) -> Result<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    if matches!(via, NotifyVia::Email | NotifyVia::Both) {
        let email = recipient.email.clone().ok_or_else(|| {
            Error::unprocessable("no_contact", "this recipient has no email address")
        })?;
        out.push(("email", email));
    }
    if matches!(via, NotifyVia::Sms | NotifyVia::Both) {
        let phone = recipient.phone.clone().ok_or_else(|| {
            Error::unprocessable("no_contact", "this recipient has no phone number")
        })?;
        out.push(("sms", phone));
    }
    Ok(out)
}

/// Issues a one-time PIN to a recipient and queues the notification(s), in
/// this write.
pub async fn issue_one_time(
    w: &mut Write,
    property: &PropertyRow,
    actor: &str,
    recipient_id: &str,
    via: NotifyVia,
    expires_at: Timestamp,
) -> Result<CodeRow> {
    let recipient = holders::recipient(w, &property.id, recipient_id)
        .await?
        .ok_or_else(|| Error::not_found("recipient"))?;
    let targets = targets(&recipient, via)?;
    let now = Timestamp::now();
    if expires_at <= now {
        return Err(Error::schedule("the expiry must be in the future"));
    }
    // A recipient has one PIN at a time: the new one ends the previous one,
    // which leaves the package room in the same job as the new one arrives.
    let previous = crate::db::codes::of_holder(w, &property.id, "recipient", recipient_id).await?;
    let mut touched = Vec::new();
    for old in previous {
        end_code(w, &old.id, "deleted", &mut touched).await?;
    }
    let new = NewCode {
        kind: CodeKind::OneTime,
        mode: CodeMode::Generate,
        code: None,
        length: None,
        name: Some(recipient.name.clone()),
        guest_type: None,
        schedule: Schedule::Window(Window::new(now, expires_at)?),
        holder: Holder::Recipient(recipient_id.to_owned()),
        locks: locks::package_rooms(w, &property.id).await?,
        offline: None,
    };
    let code = super::codes::create(w, property, new, actor).await?;
    let key = w.key().clone();
    let pin = code.code(&key)?;
    let until = expires_at
        .in_tz(&property.time_zone)
        .map(|z| z.strftime("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_else(|_| expires_at.to_string());
    for (channel, sealed_to) in targets {
        let column = if channel == "sms" { "phone" } else { "email" };
        let message = Message {
            channel: channel.to_owned(),
            to: key.open_str(Cell::new("recipients", column, recipient_id), &sealed_to)?,
            subject: format!("Your one-time PIN for {}", property.name),
            body: format!(
                "Hello {}, your one-time PIN for the package room at {} is {}. It opens the door once and expires {until}.",
                recipient.name,
                property.name,
                pin.as_str()
            ),
        };
        enqueue(w, &message).await?;
    }
    Ok(code)
}

/// 24 hours from now, a one-time PIN's default lifetime.
pub fn default_expiry() -> Result<Timestamp> {
    Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .map_err(|e| Error::internal("time", e))
}

/// Sends a recipient a one-time PIN, in this write; its view with the digits.
pub async fn one_time_pin(
    w: &mut Write,
    caller: &Caller,
    recipient_id: &str,
    via: NotifyVia,
    expires_at: Timestamp,
) -> Result<CodeView> {
    let property = properties::load(w, &caller.property_id).await?;
    let code = issue_one_time(w, &property, &caller.user_id, recipient_id, via, expires_at).await?;
    code_view(w, &code, true).await
}

/// A recipient's current one-time PIN, while it is still active.
pub async fn current_pin(store: &Store, caller: &Caller, id: &str) -> Result<CodeView> {
    let mut read = store.read().await?;
    holder_name(&mut read, HolderKind::Recipient, &caller.property_id, id).await?;
    let code = current_code(&mut read, &caller.property_id, HolderKind::Recipient, id)
        .await?
        .filter(|c| c.status == CodeStatus::Active && !c.schedule.has_ended_by(Timestamp::now()))
        .ok_or_else(|| Error::not_found("active PIN for this recipient"))?;
    let code = crate::db::codes::load(&mut read, &caller.property_id, &code.id).await?;
    code_view(&mut read, &code, true).await
}

/// A forgot-PIN request that passed the checks made before the answer.
#[derive(Debug, Clone)]
pub struct Forgotten {
    property_id: String,
    via: NotifyVia,
    mac: String,
}

/// Everything forgot-PIN does before it answers, the same for known and
/// unknown addresses: the limits per client, per property and per address,
/// and the keyed MAC of the address.
pub async fn check_forgotten(
    store: &Store,
    client: &str,
    body: impl FnOnce() -> Result<ForgotPinRequest>,
) -> Result<Forgotten> {
    rate_limit(store, &format!("forgot-ip:{client}"), 3600, 10).await?;
    let request = body()?;
    // Whatever addresses and clients an attacker rotates through, a property
    // answers so many requests an hour (the same for known and unknown
    // addresses, so the limit tells nothing either).
    rate_limit(
        store,
        &format!("forgot-property:{}", request.property_id),
        3600,
        FORGOT_PER_PROPERTY_PER_HOUR,
    )
    .await?;
    let key = store.key();
    let (via, mac) = match (&request.email, &request.phone) {
        (Some(email), None) => (NotifyVia::Email, key.lookup_mac("email", &email_of(email)?)),
        (None, Some(phone)) => (NotifyVia::Sms, key.lookup_mac("phone", &phone_of(phone)?)),
        _ => return Err(Error::invalid("give either `email` or `phone`")),
    };
    rate_limit(store, &format!("forgot-addr:{mac}"), 3600, 3).await?;
    Ok(Forgotten {
        property_id: request.property_id,
        via,
        mac,
    })
}

/// After the answer: issues a new one-time PIN to the recipient whose
/// address has the request's MAC, if there is one (and they are under
/// their daily cap).
pub async fn reissue_forgotten(store: &Store, forgotten: Forgotten) -> Result<()> {
    let Forgotten {
        property_id,
        via,
        mac,
    } = forgotten;
    let found = {
        let mut read = store.read().await?;
        holders::recipient_by_mac(&mut read, &property_id, via == NotifyVia::Sms, &mac).await?
    };
    let Some(recipient_id) = found else {
        return Ok(());
    };
    // Counted here, after the answer (and before the write lock, which the
    // counter's own write would wait for): a known address's requests past
    // the cap look exactly like any others.
    if rate_limit(
        store,
        &format!("forgot-recipient:{recipient_id}"),
        86_400,
        FORGOT_PINS_PER_RECIPIENT_PER_DAY,
    )
    .await
    .is_err()
    {
        return Ok(());
    }
    let Some(mut w) = store.begin_write(&property_id).await? else {
        return Ok(());
    };
    let property = properties::load(&mut w, &property_id).await?;
    let expires = default_expiry()?;
    issue_one_time(&mut w, &property, "forgot-pin", &recipient_id, via, expires).await?;
    w.commit().await
}
