//! Code operations shared by every endpoint that creates or changes a code:
//! choosing the digits ([`choose`]), placing a code on its locks, changing
//! it as one swap per lock, enabling, disabling and deleting; the unit
//! codes residents ask for ([`unit`]); and couriers' key cards, which ride
//! on their PINs ([`cards`]). Each runs in the property's write
//! and raises the touched locks' desired versions; the next visit to each
//! lock seals the job (see [`crate::ops::reconcile`]).

pub mod cards;
pub mod choose;
pub mod offline;
pub mod unit;

use jiff::Timestamp;
use keyway_api::{CodeMode, CodeStatus, GuestType};
use keyway_codes::schedule::Window;
use keyway_codes::{CodeKind, Schedule};

use crate::clock::now_secs;
use crate::crypto::{Cell, new_id};
use crate::db::audit::{self, ServerEntry};
use crate::db::codes::{self, CodeRow, Holds, NewCodeRow, Placement, placements};
use crate::db::holders::{self, HolderKind};
use crate::db::locks::{self, LockRow};
use crate::db::properties::PropertyRow;
use crate::db::{Write, enum_str};
use crate::error::{Error, Result};
use crate::ops::reconcile::{allocate_slot, end_code};
use crate::ops::webhooks;
use keyway_api::WebhookEventType;

pub use choose::{CODE_MAC, Choice, DELETED_PIN_MAC, choose_value, origin_of};

/// Who holds a code.
#[derive(Debug, Clone)]
pub enum Holder {
    /// A unit (resident and guest codes).
    Unit(String),
    /// A carrier.
    Carrier(String),
    /// A courier.
    Courier(String),
    /// A staff user.
    Staff(String),
    /// A recipient (one-time PINs).
    Recipient(String),
    /// A lock's pool (its backup codes).
    Lock(String),
}

impl Holder {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Unit(id) => ("unit", id),
            Self::Carrier(id) => ("carrier", id),
            Self::Courier(id) => ("courier", id),
            Self::Staff(id) => ("staff", id),
            Self::Recipient(id) => ("recipient", id),
            Self::Lock(id) => (crate::ops::backups::HOLDER, id),
        }
    }

    fn unit(&self) -> Option<&str> {
        match self {
            Self::Unit(unit) => Some(unit),
            _ => None,
        }
    }
}

/// A code to create.
#[derive(Debug, Clone)]
pub struct NewCode {
    /// Kind.
    pub kind: CodeKind,
    /// Generate or pick.
    pub mode: CodeMode,
    /// Picked digits.
    pub code: Option<String>,
    /// Length to generate.
    pub length: Option<u8>,
    /// Name.
    pub name: Option<String>,
    /// Guest type.
    pub guest_type: Option<GuestType>,
    /// Schedule (already validated).
    pub schedule: Schedule,
    /// Holder.
    pub holder: Holder,
    /// Locks.
    pub locks: Vec<LockRow>,
    /// Works offline: each lock also gets an offline code for this window
    /// (temporary and delivery codes get nothing else).
    pub offline: Option<offline::OfflineRequest>,
}

/// New digits for a code: generated, or picked.
#[derive(Debug, Clone, Copy)]
pub struct NewDigits<'a> {
    /// Generate or pick.
    pub mode: CodeMode,
    /// The picked digits.
    pub picked: Option<&'a str>,
    /// The length to generate.
    pub length: Option<u8>,
}

/// When a schedule stops for good (windows).
pub fn ends_at(schedule: &Schedule) -> Option<i64> {
    match schedule {
        Schedule::Window(w) => Some(w.until().as_second()),
        _ => None,
    }
}

/// Creates a code and its placements in this write; returns its row.
pub async fn create(
    w: &mut Write,
    property: &PropertyRow,
    new: NewCode,
    actor: &str,
) -> Result<CodeRow> {
    if new.locks.is_empty() {
        return Err(Error::conflict(
            "no_locks",
            "there is no door for this code yet; an operator adds locks with `keyway-server admin lock`",
        ));
    }
    let choice = Choice {
        kind: new.kind,
        mode: new.mode,
        picked: new.code.as_deref(),
        length: new.length,
        locks: &new.locks,
        exclude: None,
        unit: new.holder.unit(),
    };
    let planned = match &new.offline {
        Some(request) => offline::plan(w, &new.locks, request).await?,
        None => Vec::new(),
    };
    // A temporary or delivery code that works offline is its offline codes
    // alone (its value: the first door's digits); a recurring one keeps its
    // slot code for the occurrences after the first.
    let slot_code = new.offline.is_none() || new.guest_type == Some(GuestType::Recurring);
    let code = match planned.first() {
        Some(first) if !slot_code => *first.digits(),
        _ => choose_value(w, property, choice).await?,
    };
    let ends = match planned.iter().map(offline::Planned::ends_at).max() {
        Some(end) if !slot_code => Some(end),
        _ => ends_at(&new.schedule),
    };
    let key = w.key().clone();
    let id = new_id("code");
    let (holder_type, holder_id) = new.holder.parts();
    let one_time = matches!(new.kind, CodeKind::OneTime | CodeKind::Backup);
    let row = NewCodeRow {
        value: key.seal_str(Cell::new("codes", "value", &id), code.as_str())?,
        value_mac: key.lookup_mac(CODE_MAC, code.as_str()),
        id: id.clone(),
        property_id: property.id.clone(),
        kind: new.kind,
        origin: origin_of(new.mode),
        holder_type: holder_type.to_owned(),
        holder_id: holder_id.to_owned(),
        unit_id: new.holder.unit().map(str::to_owned),
        name: new.name.clone(),
        guest_type: new.guest_type,
        schedule: new.schedule.clone(),
        one_time,
        ends_at: ends,
        created_at: now_secs(),
        change_seq: w.seq(),
    };
    crate::db::insert(w, &[row]).await?;
    offline::insert(w, &id, &planned, actor).await?;
    for lock in new.locks.iter().filter(|_| slot_code) {
        let entry = Placing {
            code_id: &id,
            value: code.as_str(),
            holds: Holds::Code,
            kind: new.kind,
            schedule: &new.schedule,
            one_time,
            enabled: true,
            replaces: None,
        };
        place(w, lock, entry, actor).await?;
    }
    let row = codes::load(w, &property.id, &id).await?;
    webhooks::code_event(w, WebhookEventType::CodeCreated, &row).await?;
    Ok(row)
}

/// A code's entry on one more lock: its digits, or its holder's key card.
struct Placing<'a> {
    code_id: &'a str,
    /// The digits, or the card key's 32 hex digits.
    value: &'a str,
    holds: Holds,
    kind: CodeKind,
    schedule: &'a Schedule,
    one_time: bool,
    enabled: bool,
    replaces: Option<String>,
}

async fn place(w: &mut Write, lock: &LockRow, entry: Placing<'_>, actor: &str) -> Result<()> {
    let slot = allocate_slot(w, lock).await?;
    let placement_id = new_id("plc");
    let placement = Placement {
        value: w
            .key()
            .seal_str(Cell::new("placements", "value", &placement_id), entry.value)?,
        holds: entry.holds,
        id: placement_id,
        code_id: entry.code_id.to_owned(),
        lock_id: lock.id.clone(),
        slot,
        kind: entry.kind,
        schedule: entry.schedule.clone(),
        one_time: entry.one_time,
        want_present: true,
        want_enabled: entry.enabled,
        conf_present: false,
        conf_enabled: false,
        ending: None,
        reason: None,
        replaces: entry.replaces,
        // Microseconds: the newest placement of a code on a lock is its current one.
        created_at: Timestamp::now().as_microsecond(),
    };
    crate::db::insert(w, &[placement]).await?;
    let audit_entry = ServerEntry {
        kind: match entry.holds {
            Holds::Code if entry.kind == CodeKind::Backup => "backup_added",
            Holds::Code => "code_added",
            Holds::Card => "card_added",
        },
        slot: Some(slot),
        code_id: Some(entry.code_id),
        actor: Some(actor),
        detail: None,
    };
    audit::record(w, &lock.id, audit_entry).await?;
    locks::touch(w, &lock.id).await
}

/// Gives a code new digits: on each lock, one job puts the new value in a new
/// slot and removes the old one; the old value opens the door until the lock
/// confirms. A courier's key card keeps its slot.
pub async fn change(
    w: &mut Write,
    property: &PropertyRow,
    code: &CodeRow,
    digits: NewDigits<'_>,
    actor: &str,
) -> Result<CodeRow> {
    ensure_changeable(code)?;
    if offline::has_live(w, &code.id).await? {
        return Err(offline::not_changeable());
    }
    if code.kind == CodeKind::OneTime {
        return Err(Error::conflict(
            "not_changeable",
            "one-time PINs cannot be changed; issue a new one",
        ));
    }
    let wanted: Vec<Placement> = placements::of_code(w, &code.id)
        .await?
        .into_iter()
        .filter(|p| p.want_present && p.holds == Holds::Code)
        .collect();
    let mut on = Vec::new();
    for p in &wanted {
        on.push(locks::load(w, &property.id, &p.lock_id).await?);
    }
    let choice = Choice {
        kind: code.kind,
        mode: digits.mode,
        picked: digits.picked,
        length: digits.length,
        locks: &on,
        exclude: Some(&code.id),
        unit: code.unit_id.as_deref(),
    };
    let value = choose_value(w, property, choice).await?;
    for (mut old, lock) in wanted.into_iter().zip(&on) {
        old.want_present = false;
        old.want_enabled = false;
        old.ending = Some("replaced".to_owned());
        placements::save(w, &old).await?;
        let entry = Placing {
            code_id: &code.id,
            value: value.as_str(),
            holds: Holds::Code,
            kind: code.kind,
            schedule: &code.schedule,
            one_time: code.one_time,
            enabled: code.enabled,
            replaces: old.conf_present.then(|| old.id.clone()),
        };
        place(w, lock, entry, actor).await?;
    }
    let key = w.key().clone();
    let sealed = key.seal_str(Cell::new("codes", "value", &code.id), value.as_str())?;
    let mac = key.lookup_mac(CODE_MAC, value.as_str());
    codes::set_value(w, &code.id, sealed, mac, origin_of(digits.mode), now_secs()).await?;
    let row = codes::load(w, &property.id, &code.id).await?;
    webhooks::code_event(w, WebhookEventType::CodeChanged, &row).await?;
    Ok(row)
}

fn ensure_changeable(code: &CodeRow) -> Result<()> {
    match code.status {
        CodeStatus::Active | CodeStatus::Disabled | CodeStatus::Failed => Ok(()),
        other => Err(Error::conflict(
            "code_ended",
            format!("this code is {} and can no longer change", enum_str(&other)),
        )),
    }
}

/// Enables or disables a code on every lock.
pub async fn set_enabled(
    w: &mut Write,
    code: &CodeRow,
    enabled: bool,
    actor: &str,
) -> Result<CodeRow> {
    ensure_changeable(code)?;
    if offline::has_live(w, &code.id).await? {
        return Err(offline::not_changeable());
    }
    for mut p in placements::of_code(w, &code.id).await? {
        if !p.want_present || p.want_enabled == enabled {
            continue;
        }
        p.want_enabled = enabled;
        placements::save(w, &p).await?;
        let entry = ServerEntry {
            kind: if enabled {
                "code_enabled"
            } else {
                "code_disabled"
            },
            slot: Some(p.slot),
            code_id: Some(&code.id),
            actor: Some(actor),
            detail: None,
        };
        audit::record(w, &p.lock_id, entry).await?;
        locks::touch(w, &p.lock_id).await?;
    }
    codes::set_enabled(w, &code.id, enabled, now_secs()).await?;
    let row = codes::load(w, &code.property_id, &code.id).await?;
    webhooks::code_event(w, WebhookEventType::CodeChanged, &row).await?;
    Ok(row)
}

/// Deletes a code: it leaves every lock; a deleted courier or staff PIN is
/// never accepted again at the property, and a courier's key card leaves
/// with their PIN (a new PIN gets a card only when one is assigned again).
pub async fn delete(w: &mut Write, code: &CodeRow) -> Result<CodeRow> {
    if code.status == CodeStatus::Deleted {
        return codes::load(w, &code.property_id, &code.id).await;
    }
    if code.holder_type == HolderKind::Courier.as_str()
        && let Some(courier) = &code.holder_id
    {
        holders::set_key_card(w, courier, None).await?;
    }
    if matches!(code.kind, CodeKind::Courier | CodeKind::Staff) {
        let key = w.key().clone();
        let value = code.code(&key)?;
        let mac = key.lookup_mac(DELETED_PIN_MAC, value.as_str());
        codes::remember_deleted_pin(w, mac, now_secs()).await?;
    }
    let mut touched = Vec::new();
    end_code(w, &code.id, "deleted", &mut touched).await?;
    codes::load(w, &code.property_id, &code.id).await
}

/// Validates and completes the schedule of a guest code.
pub fn guest_schedule(
    guest: GuestType,
    schedule: Option<Schedule>,
    now: Timestamp,
) -> Result<Schedule> {
    let bad = |what: &str| Error::schedule(what);
    match (guest, schedule) {
        (GuestType::Permanent, None | Some(Schedule::Always)) => Ok(Schedule::Always),
        (GuestType::Permanent, _) => Err(bad("a permanent guest code has no schedule")),
        (GuestType::Temporary, Some(s @ Schedule::Window(_))) => Ok(s),
        (GuestType::Temporary, _) => Err(bad("a temporary guest code needs a window schedule")),
        (GuestType::Delivery, Some(s @ Schedule::Window(_))) => Ok(s),
        (GuestType::Delivery, None) => {
            let until = now
                .checked_add(jiff::SignedDuration::from_hours(24))
                .map_err(|_| bad("time out of range"))?;
            Ok(Schedule::Window(Window::new(now, until)?))
        }
        (GuestType::Delivery, _) => Err(bad("a delivery code takes a window schedule")),
        (GuestType::Recurring, Some(s @ Schedule::Recurring(_))) => Ok(s),
        (GuestType::Recurring, _) => Err(bad("a recurring guest code needs a recurring schedule")),
    }
}
