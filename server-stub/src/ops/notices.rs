//! Use notices by email and SMS: a user keeps contact details (sealed, shown
//! to nobody else), and asks per code — when creating it, or later — to be
//! told by email, SMS or both each time it opens a door. Only the code's
//! holder may ask (who sees its digits: a unit's residents for its codes,
//! staff for package-room codes and their own PIN). When a use is recorded,
//! each who asked and still holds the code gets "Dog walker's code opened
//! Unit 4B at 09:14" (the lock's time in the property's time zone) through
//! the outbox, in the same write. No message carries a code's digits.

use keyway_api::{CodeNotifyView, CodeStatus, ContactDetails, NotifyOnUse, Role};

use crate::auth::{Caller, CodeAccess};
use crate::clock::now_secs;
use crate::crypto::Cell;
use crate::db::codes::CodeRow;
use crate::db::contacts::{self, SealedContact, Watcher};
use crate::db::locks::LockRow;
use crate::db::{Store, Write, properties};
use crate::error::{Error, Result};
use crate::notify::{Message, enqueue};
use crate::ops::recipients::{normalize_email, normalize_phone};

fn cell<'a>(column: &'static str, user_id: &'a str) -> Cell<'a> {
    Cell::new("user_contacts", column, user_id)
}

fn open(
    store_key: &crate::crypto::DataKey,
    user_id: &str,
    sealed: &SealedContact,
) -> Result<ContactDetails> {
    Ok(ContactDetails {
        email: sealed
            .email
            .as_deref()
            .map(|e| store_key.open_str(cell("email", user_id), e))
            .transpose()?,
        phone: sealed
            .phone
            .as_deref()
            .map(|p| store_key.open_str(cell("phone", user_id), p))
            .transpose()?,
    })
}

/// The caller's contact details.
pub async fn contact(store: &Store, caller: &Caller) -> Result<ContactDetails> {
    let sealed = contacts::load(&mut store.read().await?, &caller.user_id).await?;
    open(store.key(), &caller.user_id, &sealed)
}

/// Checks and normalises contact details before the write (empty text
/// clears a field).
pub fn check_contact(request: ContactDetails) -> Result<ContactDetails> {
    let email = match request.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(email) => {
            Some(normalize_email(email).ok_or_else(|| Error::invalid("email is not an address"))?)
        }
    };
    let phone = match request.phone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(phone) => {
            Some(normalize_phone(phone).ok_or_else(|| Error::invalid("phone is 7 to 15 digits"))?)
        }
    };
    Ok(ContactDetails { email, phone })
}

/// Sets the caller's contact details in this write. Codes that notify by a
/// channel whose address is cleared stay asked: nothing is sent on that
/// channel until an address is set again.
pub async fn set_contact(
    w: &mut Write,
    caller: &Caller,
    checked: ContactDetails,
) -> Result<ContactDetails> {
    let key = w.key().clone();
    let sealed = SealedContact {
        email: checked
            .email
            .as_deref()
            .map(|e| key.seal_str(cell("email", &caller.user_id), e))
            .transpose()?,
        phone: checked
            .phone
            .as_deref()
            .map(|p| key.seal_str(cell("phone", &caller.user_id), p))
            .transpose()?,
    };
    contacts::save(w, &caller.user_id, &sealed, now_secs()).await?;
    Ok(checked)
}

/// Asks, in this write, that the caller be told of `code`'s uses by `via`
/// (`None` stops it). Only the code's holder may (`403` for whoever sees
/// the code but not its digits); a channel needs its address in the
/// caller's contact details (`422 no_contact`); an ended code takes only
/// `none` (`409 code_ended`).
pub async fn ask(
    w: &mut Write,
    caller: &Caller,
    code: &CodeRow,
    via: NotifyOnUse,
) -> Result<CodeNotifyView> {
    match caller.code_access(code) {
        CodeAccess::Own => {}
        CodeAccess::Hidden => return Err(Error::not_found("code")),
        CodeAccess::View | CodeAccess::Control => {
            return Err(Error::forbidden(
                "only the code's holder is told of its uses",
            ));
        }
    }
    if via != NotifyOnUse::None {
        if !matches!(code.status, CodeStatus::Active | CodeStatus::Disabled) {
            return Err(Error::conflict(
                "code_ended",
                format!(
                    "this code is {} and will not open a door again",
                    crate::db::enum_str(&code.status)
                ),
            ));
        }
        let contact = contacts::load(w, &caller.user_id).await?;
        if matches!(via, NotifyOnUse::Email | NotifyOnUse::Both) && contact.email.is_none() {
            return Err(Error::unprocessable(
                "no_contact",
                "set an email address first (PUT /v1/me/contact)",
            ));
        }
        if matches!(via, NotifyOnUse::Sms | NotifyOnUse::Both) && contact.phone.is_none() {
            return Err(Error::unprocessable(
                "no_contact",
                "set a phone number first (PUT /v1/me/contact)",
            ));
        }
    }
    let stored = (via != NotifyOnUse::None).then(|| via.as_str());
    contacts::set_notice(w, &code.id, &caller.user_id, stored, now_secs()).await?;
    Ok(CodeNotifyView {
        code_id: code.id.clone(),
        notify_on_use: via,
    })
}

/// Sets how the caller is told of code `id`'s uses, in this write.
pub async fn ask_for(
    w: &mut Write,
    caller: &Caller,
    id: &str,
    via: NotifyOnUse,
) -> Result<CodeNotifyView> {
    let code = crate::ops::codes::unit::visible(w, caller, id).await?;
    ask(w, caller, &code, via).await
}

/// How the caller is told of code `id`'s uses.
pub async fn asked(store: &Store, caller: &Caller, id: &str) -> Result<CodeNotifyView> {
    let mut read = store.read().await?;
    let code = crate::ops::codes::unit::visible(&mut read, caller, id).await?;
    let via = contacts::notice(&mut read, &code.id, &caller.user_id).await?;
    Ok(CodeNotifyView {
        code_id: code.id,
        notify_on_use: via
            .as_deref()
            .and_then(NotifyOnUse::parse)
            .unwrap_or_default(),
    })
}

/// "Dog walker's code opened Unit 4B at 09:14" (with the day when it was
/// not today): the lock's time in the property's time zone.
pub fn sentence(code_name: Option<&str>, lock_name: &str, at: i64, time_zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    keyway_api::use_sentence(code_name, lock_name, crate::clock::ts(at), &tz)
}

/// Whether a watcher still holds the code (a resident who moved to another
/// unit no longer does).
fn still_holds(watcher: &Watcher, code: &CodeRow) -> bool {
    let Some(role) = Role::parse(&watcher.role) else {
        return false;
    };
    let caller = Caller {
        user_id: watcher.user_id.clone(),
        name: String::new(),
        role,
        property_id: watcher.property_id.clone(),
        unit_id: watcher.unit_id.clone(),
        principal: String::new(),
        device_id: None,
    };
    caller.code_access(code) == CodeAccess::Own
}

/// Queues the messages for one new use of `code` at `lock`, in this write.
pub async fn announce(w: &mut Write, lock: &LockRow, code: &CodeRow, at: i64) -> Result<()> {
    let watchers = contacts::watchers(w, &code.id).await?;
    if watchers.is_empty() {
        return Ok(());
    }
    let property = properties::load(w, &lock.property_id).await?;
    let text = sentence(code.name.as_deref(), &lock.name, at, &property.time_zone);
    let key = w.key().clone();
    for watcher in watchers.iter().filter(|w| still_holds(w, code)) {
        let contact = open(&key, &watcher.user_id, &watcher.contact)?;
        let via = NotifyOnUse::parse(&watcher.via).unwrap_or_default();
        let mut targets = Vec::new();
        if matches!(via, NotifyOnUse::Email | NotifyOnUse::Both)
            && let Some(email) = contact.email
        {
            targets.push(("email", email));
        }
        if matches!(via, NotifyOnUse::Sms | NotifyOnUse::Both)
            && let Some(phone) = contact.phone
        {
            targets.push(("sms", phone));
        }
        for (channel, to) in targets {
            let message = Message {
                channel: channel.to_owned(),
                to,
                subject: format!("{text} ({})", property.name),
                body: format!("{text}. {}", property.name),
            };
            enqueue(w, &message).await?;
        }
    }
    Ok(())
}
