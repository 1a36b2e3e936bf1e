//! Holders of package-room codes and their codes: carriers (an access
//! code), couriers (a PIN, its QR code, a key card) and staff members (a
//! staff PIN). A holder has one current code, found by one lookup
//! ([`current_code`]); setting it gives a new code or new digits.

use keyway_api::{
    CarrierView, CodeStatus, CodeView, CourierView, CreateCarrierRequest, SetCodeRequest, StaffView,
};
use keyway_codes::{CodeKind, Schedule};
use keyway_protocol::CardKey;

use super::codes::cards::place_card;
use super::codes::{Holder, NewCode, NewDigits};
use crate::auth::Caller;
use crate::clock::now_secs;
use crate::crypto::new_id;
use crate::db::codes::{self, CodeRow, code_view};
use crate::db::holders::{self, HolderKind, NewCarrier, NewCourier, NewHolder};
use crate::db::{Context, Store, Write, locks, properties, users};
use crate::error::{Error, Result};

/// The current (not deleted) code a holder has.
pub async fn current_code(
    cx: &mut impl Context,
    property_id: &str,
    kind: HolderKind,
    holder_id: &str,
) -> Result<Option<CodeRow>> {
    Ok(codes::of_holder(cx, property_id, kind.as_str(), holder_id)
        .await?
        .into_iter()
        .next())
}

/// The view of a holder's current code, digits as the caller may see them.
async fn current_view(
    cx: &mut impl Context,
    caller: &Caller,
    kind: HolderKind,
    holder_id: &str,
) -> Result<Option<CodeView>> {
    match current_code(cx, &caller.property_id, kind, holder_id).await? {
        Some(code) => Ok(Some(
            code_view(cx, &code, caller.may_see_value(&code)).await?,
        )),
        None => Ok(None),
    }
}

/// The name of holder `id` of this kind in the caller's property
/// (`not_found` otherwise).
pub async fn holder_name(
    cx: &mut impl Context,
    kind: HolderKind,
    property_id: &str,
    id: &str,
) -> Result<String> {
    let noun = match kind {
        HolderKind::Carrier => "carrier",
        HolderKind::Courier => "courier",
        HolderKind::Staff => "staff member",
        HolderKind::Recipient => "recipient",
    };
    holders::name_of(cx, kind, property_id, id)
        .await?
        .ok_or_else(|| Error::not_found(noun))
}

/// Gives a holder a code in this write: a new one on the package room
/// doors, or new digits for the current one.
pub async fn set_code(
    w: &mut Write,
    caller: &Caller,
    kind: HolderKind,
    holder_id: &str,
    name: Option<String>,
    request: &SetCodeRequest,
) -> Result<CodeRow> {
    let property = properties::load(w, &caller.property_id).await?;
    let digits = NewDigits {
        mode: request.mode,
        picked: request.code.as_deref(),
        length: request.length,
    };
    if let Some(existing) = current_code(w, &property.id, kind, holder_id).await? {
        return super::codes::change(w, &property, &existing, digits, &caller.user_id).await;
    }
    let (code_kind, holder) = match kind {
        HolderKind::Carrier => (CodeKind::Carrier, Holder::Carrier(holder_id.to_owned())),
        HolderKind::Courier => (CodeKind::Courier, Holder::Courier(holder_id.to_owned())),
        HolderKind::Staff => (CodeKind::Staff, Holder::Staff(holder_id.to_owned())),
        HolderKind::Recipient => return Err(Error::invalid("unsupported holder")),
    };
    let new = NewCode {
        kind: code_kind,
        mode: request.mode,
        code: request.code.clone(),
        length: request.length,
        name,
        guest_type: None,
        schedule: Schedule::Always,
        holder,
        locks: locks::package_rooms(w, &property.id).await?,
        offline: None,
    };
    super::codes::create(w, &property, new, &caller.user_id).await
}

/// Sets holder `id`'s code from a [`SetCodeRequest`] in this write: the
/// carrier, courier and staff endpoints (the caller's role is checked by
/// each); the code's view with its digits.
pub async fn put_code(
    w: &mut Write,
    caller: &Caller,
    kind: HolderKind,
    id: &str,
    request: &SetCodeRequest,
) -> Result<CodeView> {
    let name = holder_name(w, kind, &caller.property_id, id).await?;
    let code = set_code(w, caller, kind, id, Some(name), request).await?;
    code_view(w, &code, true).await
}

/// A name of a holder: 1 to 100 characters, trimmed.
pub fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// Carriers and their access codes.
pub async fn carriers(store: &Store, caller: &Caller) -> Result<Vec<CarrierView>> {
    let mut read = store.read().await?;
    let mut out = Vec::new();
    for (id, name) in holders::carriers(&mut read, &caller.property_id).await? {
        let code = current_view(&mut read, caller, HolderKind::Carrier, &id).await?;
        out.push(CarrierView { id, name, code });
    }
    Ok(out)
}

/// One carrier and its access code.
pub async fn carrier(store: &Store, caller: &Caller, id: &str) -> Result<CarrierView> {
    let mut read = store.read().await?;
    let name = holder_name(&mut read, HolderKind::Carrier, &caller.property_id, id).await?;
    let code = current_view(&mut read, caller, HolderKind::Carrier, id).await?;
    Ok(CarrierView {
        id: id.to_owned(),
        name,
        code,
    })
}

/// Adds a carrier with its access code, in this write.
pub async fn create_carrier(
    w: &mut Write,
    caller: &Caller,
    name: String,
    request: &CreateCarrierRequest,
) -> Result<CarrierView> {
    let id = new_id("car");
    let holder = NewHolder {
        id: id.clone(),
        property_id: caller.property_id.clone(),
        name: name.clone(),
        created_at: now_secs(),
    };
    crate::db::insert(w, &[NewCarrier(holder)]).await?;
    let set = SetCodeRequest {
        mode: request.mode,
        code: request.code.clone(),
        length: None,
    };
    let code = set_code(
        w,
        caller,
        HolderKind::Carrier,
        &id,
        Some(name.clone()),
        &set,
    )
    .await?;
    let view = code_view(w, &code, true).await?;
    Ok(CarrierView {
        id,
        name,
        code: Some(view),
    })
}

/// Couriers and their PINs.
pub async fn couriers(store: &Store, caller: &Caller) -> Result<Vec<CourierView>> {
    let mut read = store.read().await?;
    let mut out = Vec::new();
    for (id, name, key_card_id) in holders::couriers(&mut read, &caller.property_id).await? {
        let pin = current_view(&mut read, caller, HolderKind::Courier, &id).await?;
        out.push(CourierView {
            id,
            name,
            key_card_id,
            pin,
        });
    }
    Ok(out)
}

/// One courier and their PIN.
pub async fn courier(store: &Store, caller: &Caller, id: &str) -> Result<CourierView> {
    let mut read = store.read().await?;
    let (name, key_card_id) = holders::courier(&mut read, &caller.property_id, id)
        .await?
        .ok_or_else(|| Error::not_found("courier"))?;
    let pin = current_view(&mut read, caller, HolderKind::Courier, id).await?;
    Ok(CourierView {
        id: id.to_owned(),
        name,
        key_card_id,
        pin,
    })
}

/// Adds a courier (without a PIN yet), in this write.
pub async fn create_courier(w: &mut Write, caller: &Caller, name: String) -> Result<CourierView> {
    let id = new_id("cou");
    let holder = NewHolder {
        id: id.clone(),
        property_id: caller.property_id.clone(),
        name: name.clone(),
        created_at: now_secs(),
    };
    crate::db::insert(w, &[NewCourier(holder)]).await?;
    Ok(CourierView {
        id,
        name,
        key_card_id: None,
        pin: None,
    })
}

/// The courier's active PIN (`no_active_pin` otherwise).
async fn active_pin(
    cx: &mut impl Context,
    caller: &Caller,
    id: &str,
    detail: &str,
) -> Result<CodeRow> {
    holder_name(cx, HolderKind::Courier, &caller.property_id, id).await?;
    current_code(cx, &caller.property_id, HolderKind::Courier, id)
        .await?
        .filter(|c| c.status == CodeStatus::Active)
        .ok_or_else(|| Error::conflict("no_active_pin", detail.to_owned()))
}

/// What a courier's QR code encodes: `keyway:courier:<courier id>:<pin>`.
pub async fn courier_credential(store: &Store, caller: &Caller, id: &str) -> Result<String> {
    let mut read = store.read().await?;
    let code = active_pin(
        &mut read,
        caller,
        id,
        "this courier has no active PIN; generate one first",
    )
    .await?;
    let pin = code.code(read.key())?;
    Ok(format!("keyway:courier:{id}:{}", pin.as_str()))
}

/// A key card id as the API and the Portal take it: trimmed, 1 to 64
/// printable characters (`keyway_protocol::credential::card_id`).
pub fn check_card_id(input: &str) -> Result<String> {
    keyway_protocol::credential::card_id(input)
        .map(str::to_owned)
        .map_err(|_| Error::invalid("key_card_id must be 1 to 64 printable characters"))
}

/// Assigns a key card to a courier whose PIN the caller typed, in this
/// write: the card's key goes on every lock the PIN is on, replacing the
/// courier's previous card there. A card another courier of the property
/// holds is refused (`key_card_taken`): the lock would refuse two slots
/// with one card.
pub async fn assign_key_card(
    w: &mut Write,
    caller: &Caller,
    id: &str,
    pin: &str,
    card: &str,
) -> Result<CourierView> {
    let card = check_card_id(card)?;
    let name = holder_name(w, HolderKind::Courier, &caller.property_id, id).await?;
    let code = active_pin(w, caller, id, "this courier has no active PIN").await?;
    let key = w.key().clone();
    let stored = code.code(&key)?;
    // Compare keyed MACs, so the comparison's timing says nothing about the PIN.
    if key.lookup_mac("verify", stored.as_str()) != key.lookup_mac("verify", pin.trim()) {
        return Err(Error::unprocessable(
            "pin_mismatch",
            "the PIN does not match this courier's PIN",
        ));
    }
    if holders::card_holder(w, &caller.property_id, &card, id)
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "key_card_taken",
            "another courier at this property has this key card",
        ));
    }
    holders::set_key_card(w, id, Some(&card)).await?;
    let card_key =
        CardKey::of(&card).map_err(|_| Error::invalid("key_card_id is not a key card id"))?;
    place_card(w, &code, &card_key, &caller.user_id).await?;
    let pin = Some(code_view(w, &code, true).await?);
    Ok(CourierView {
        id: id.to_owned(),
        name,
        key_card_id: Some(card),
        pin,
    })
}

/// Staff members and their PINs (staff see only their own PIN's digits).
pub async fn staff(store: &Store, caller: &Caller) -> Result<Vec<StaffView>> {
    let mut read = store.read().await?;
    let mut out = Vec::new();
    for (user_id, name) in users::staff(&mut read, &caller.property_id).await? {
        let pin = current_view(&mut read, caller, HolderKind::Staff, &user_id).await?;
        out.push(StaffView { user_id, name, pin });
    }
    Ok(out)
}

/// One staff member (or manager) and their PIN, digits as the caller may
/// see them.
pub async fn staff_member(store: &Store, caller: &Caller, user_id: &str) -> Result<StaffView> {
    let mut read = store.read().await?;
    let name = holder_name(&mut read, HolderKind::Staff, &caller.property_id, user_id).await?;
    let pin = current_view(&mut read, caller, HolderKind::Staff, user_id).await?;
    Ok(StaffView {
        user_id: user_id.to_owned(),
        name,
        pin,
    })
}
