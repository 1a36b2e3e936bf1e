//! Code operations shared by every endpoint that creates or changes a code:
//! choosing the digits under the policy (the same `keyway-core` engine the
//! phone runs), placing a code on its locks, changing it as one swap per lock,
//! enabling, disabling and deleting. Each runs inside the property's write
//! transaction and raises the touched locks' desired versions; the next
//! visit to each lock seals the job (see [`reconcile`]).

use jiff::Timestamp;
use keyway_core::api::{CodeMode, CodeStatus, GuestType};
use keyway_core::policy::TargetLock;
use keyway_core::{CheckContext, Code, CodeKind, Origin, Schedule, generate, secure_rng};
use sqlx::AnyConnection;

use crate::crypto::{Cell, DataKey, new_id};
use crate::error::{Error, Result};
use crate::model::{
    CodeRow, LockRow, Placement, PropertyRow, enum_str, insert_placement, load_code,
};
use crate::reconcile::{self, allocate_slot, audit, touch_lock};
use crate::store::now_secs;

/// MAC domain of code values (duplicate lookups).
const CODE_MAC: &str = "code";
/// MAC domain of deleted courier and staff PINs.
const DELETED_PIN_MAC: &str = "deleted-pin";

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
}

impl Holder {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Unit(id) => ("unit", id),
            Self::Carrier(id) => ("carrier", id),
            Self::Courier(id) => ("courier", id),
            Self::Staff(id) => ("staff", id),
            Self::Recipient(id) => ("recipient", id),
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
}

/// The codes on each lock the policy must compare with (wanted placements,
/// excluding `exclude`'s own; with `only_unit`, only that unit's codes).
async fn target_locks(
    conn: &mut AnyConnection,
    key: &DataKey,
    locks: &[LockRow],
    exclude: Option<&str>,
    only_unit: Option<&str>,
) -> Result<Vec<TargetLock>> {
    let unit_codes: Option<std::collections::HashSet<String>> = match only_unit {
        Some(unit) => {
            let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM codes WHERE unit_id = $1")
                .bind(unit.to_owned())
                .fetch_all(&mut *conn)
                .await?;
            Some(rows.into_iter().map(|(id,)| id).collect())
        }
        None => None,
    };
    let mut out = Vec::with_capacity(locks.len());
    for lock in locks {
        let mut codes = Vec::new();
        for p in crate::model::live_placements(conn, &lock.id).await? {
            let compared = unit_codes
                .as_ref()
                .is_none_or(|ids| ids.contains(&p.code_id));
            if p.want_present && Some(p.code_id.as_str()) != exclude && compared {
                codes.push(p.entry(key, true)?.code);
            }
        }
        out.push(TargetLock {
            access_point: lock.access_point,
            enter_key: lock.enter_key,
            constraints: lock.constraints.clone(),
            codes,
        });
    }
    Ok(out)
}

async fn mac_exists(conn: &mut AnyConnection, sql: &'static str, a: &str, b: &str) -> Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(sql)
        .bind(a.to_owned())
        .bind(b.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Whether `code` was a deleted courier or staff PIN at the property.
async fn is_deleted_pin(
    conn: &mut AnyConnection,
    key: &DataKey,
    property_id: &str,
    code: &Code,
) -> Result<bool> {
    let mac = key.lookup_mac(DELETED_PIN_MAC, code.as_str());
    mac_exists(
        conn,
        "SELECT 1 FROM deleted_pins WHERE property_id = $1 AND value_mac = $2",
        property_id,
        &mac,
    )
    .await
}

/// Whether another live courier or staff PIN at the property has these digits.
async fn is_duplicate_pin(
    conn: &mut AnyConnection,
    key: &DataKey,
    property_id: &str,
    code: &Code,
    exclude: Option<&str>,
) -> Result<bool> {
    let mac = key.lookup_mac(CODE_MAC, code.as_str());
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM codes WHERE property_id = $1 AND value_mac = $2 AND kind IN ('courier', 'staff') AND status IN ('active', 'disabled')",
    )
    .bind(property_id.to_owned())
    .bind(mac)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().any(|(id,)| Some(id.as_str()) != exclude))
}

/// Chooses the digits of a code of `kind` for `locks`: checks a picked one
/// (every violated rule reported) or generates one uniformly among the allowed.
///
/// A pick never learns about codes that are not the picker's business: where
/// only generated codes are allowed it is refused with that rule alone before
/// its digits are looked at, and a unit's pick (`unit`) is compared with that
/// unit's own codes only. Generated codes are drawn apart from every code on
/// their doors, which reveals nothing (the digits are the server's choice).
#[allow(clippy::too_many_arguments)]
pub async fn choose_value(
    conn: &mut AnyConnection,
    key: &DataKey,
    property: &PropertyRow,
    kind: CodeKind,
    mode: CodeMode,
    picked: Option<&str>,
    length: Option<u8>,
    locks: &[LockRow],
    exclude: Option<&str>,
    unit: Option<&str>,
) -> Result<Code> {
    let pins = matches!(kind, CodeKind::Courier | CodeKind::Staff);
    let mut ctx = CheckContext::new(property.community(), kind).with_origin(match mode {
        CodeMode::Generate => Origin::Generated,
        CodeMode::Pick => Origin::Custom,
    });
    if let Some(length) = length {
        ctx = ctx.with_length(usize::from(length));
    }
    // The doors alone first (no codes): enough to know whether a pick is
    // allowed at all.
    ctx.locks = locks
        .iter()
        .map(|lock| TargetLock {
            access_point: lock.access_point,
            enter_key: lock.enter_key,
            constraints: lock.constraints.clone(),
            codes: Vec::new(),
        })
        .collect();
    if mode == CodeMode::Pick
        && let Some(refusal) = ctx.custom_refusal()
    {
        return Err(Error::rejected(refusal));
    }
    let compared_unit = if mode == CodeMode::Pick { unit } else { None };
    ctx.locks = target_locks(conn, key, locks, exclude, compared_unit).await?;
    match mode {
        CodeMode::Pick => {
            let text = picked.ok_or_else(|| Error::invalid("mode `pick` needs `code`"))?;
            let code = Code::parse(text).map_err(keyway_core::policy::CheckError::from)?;
            if pins && is_deleted_pin(conn, key, &property.id, &code).await? {
                ctx.deleted_pins.insert(code);
            }
            if pins && is_duplicate_pin(conn, key, &property.id, &code, exclude).await? {
                // Reported as the policy's duplicate rule, with its message.
                let mut other = TargetLock::new(keyway_core::AccessPoint::PackageRoom);
                other.codes.push(code);
                ctx.locks.push(other);
            }
            ctx.check(&code).map_err(Error::rejected)?;
            Ok(code)
        }
        CodeMode::Generate => {
            if picked.is_some() {
                return Err(Error::invalid("mode `generate` takes no `code`"));
            }
            let mut rng = secure_rng()?;
            for _ in 0..32 {
                let code = generate(&ctx, &mut rng)?;
                let taken = pins
                    && (is_deleted_pin(conn, key, &property.id, &code).await?
                        || is_duplicate_pin(conn, key, &property.id, &code, exclude).await?);
                if !taken {
                    return Ok(code);
                }
                ctx.deleted_pins.insert(code);
            }
            Err(Error::conflict(
                "exhausted",
                "no unused code could be found; try again",
            ))
        }
    }
}

/// When a schedule stops for good (windows).
pub fn ends_at(schedule: &Schedule) -> Option<i64> {
    match schedule {
        Schedule::Window(w) => Some(w.until().as_second()),
        _ => None,
    }
}

/// Creates a code and its placements; returns its row.
pub async fn create(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
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
    let code = choose_value(
        conn,
        key,
        property,
        new.kind,
        new.mode,
        new.code.as_deref(),
        new.length,
        &new.locks,
        None,
        match &new.holder {
            Holder::Unit(unit) => Some(unit.as_str()),
            _ => None,
        },
    )
    .await?;
    let id = new_id("code");
    let now = now_secs();
    let (holder_type, holder_id) = new.holder.parts();
    let unit_id = match &new.holder {
        Holder::Unit(unit) => Some(unit.clone()),
        _ => None,
    };
    let one_time = new.kind == CodeKind::OneTime;
    let origin = match new.mode {
        CodeMode::Generate => Origin::Generated,
        CodeMode::Pick => Origin::Custom,
    };
    sqlx::query(
        "INSERT INTO codes (id, property_id, kind, origin, holder_type, holder_id, unit_id, name, guest_type, value, value_mac, schedule, one_time, enabled, status, ends_at, created_at, updated_at, change_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, 'active', $14, $15, $15, $16)",
    )
    .bind(id.clone())
    .bind(property.id.clone())
    .bind(enum_str(&new.kind))
    .bind(enum_str(&origin))
    .bind(holder_type.to_owned())
    .bind(holder_id.to_owned())
    .bind(unit_id)
    .bind(new.name.clone())
    .bind(new.guest_type.map(|g| enum_str(&g)))
    .bind(key.seal_str(Cell::new("codes", "value", &id), code.as_str())?)
    .bind(key.lookup_mac(CODE_MAC, code.as_str()))
    .bind(serde_json::to_string(&new.schedule)?)
    .bind(i64::from(one_time))
    .bind(ends_at(&new.schedule))
    .bind(now)
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    for lock in &new.locks {
        place(
            conn,
            key,
            seq,
            property,
            lock,
            &id,
            &code,
            new.kind,
            &new.schedule,
            one_time,
            true,
            None,
            actor,
        )
        .await?;
    }
    load_code(conn, &property.id, &id).await
}

#[allow(clippy::too_many_arguments)]
async fn place(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    property: &PropertyRow,
    lock: &LockRow,
    code_id: &str,
    code: &Code,
    kind: CodeKind,
    schedule: &Schedule,
    one_time: bool,
    enabled: bool,
    replaces: Option<String>,
    actor: &str,
) -> Result<()> {
    let slot = allocate_slot(conn, lock).await?;
    let placement_id = new_id("plc");
    let placement = Placement {
        value: key.seal_str(
            Cell::new("placements", "value", &placement_id),
            code.as_str(),
        )?,
        id: placement_id,
        code_id: code_id.to_owned(),
        lock_id: lock.id.clone(),
        slot,
        kind,
        schedule: schedule.clone(),
        one_time,
        want_present: true,
        want_enabled: enabled,
        conf_present: false,
        conf_enabled: false,
        ending: None,
        reason: None,
        replaces,
        // Microseconds: the newest placement of a code on a lock is its current one.
        created_at: jiff::Timestamp::now().as_microsecond(),
    };
    insert_placement(conn, &placement).await?;
    audit(
        conn,
        seq,
        &property.id,
        &lock.id,
        "code_added",
        Some(slot),
        Some(code_id),
        Some(actor),
        None,
    )
    .await?;
    touch_lock(conn, seq, &lock.id).await
}

/// Gives a code new digits: on each lock, one job puts the new value in a new
/// slot and removes the old one; the old value opens the door until the lock
/// confirms.
#[allow(clippy::too_many_arguments)]
pub async fn change(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    property: &PropertyRow,
    code: &CodeRow,
    mode: CodeMode,
    picked: Option<&str>,
    length: Option<u8>,
    actor: &str,
) -> Result<CodeRow> {
    ensure_changeable(code)?;
    if code.kind == CodeKind::OneTime {
        return Err(Error::conflict(
            "not_changeable",
            "one-time PINs cannot be changed; issue a new one",
        ));
    }
    let placements = crate::model::code_placements(conn, &code.id).await?;
    let wanted: Vec<Placement> = placements.into_iter().filter(|p| p.want_present).collect();
    let mut locks = Vec::new();
    for p in &wanted {
        locks.push(crate::model::load_lock(conn, &property.id, &p.lock_id).await?);
    }
    let value = choose_value(
        conn,
        key,
        property,
        code.kind,
        mode,
        picked,
        length,
        &locks,
        Some(&code.id),
        code.unit_id.as_deref(),
    )
    .await?;
    for (mut old, lock) in wanted.into_iter().zip(&locks) {
        old.want_present = false;
        old.want_enabled = false;
        old.ending = Some("replaced".to_owned());
        old.save(conn).await?;
        let replaces = old.conf_present.then(|| old.id.clone());
        place(
            conn,
            key,
            seq,
            property,
            lock,
            &code.id,
            &value,
            code.kind,
            &code.schedule,
            code.one_time,
            code.enabled,
            replaces,
            actor,
        )
        .await?;
    }
    let origin = match mode {
        CodeMode::Generate => Origin::Generated,
        CodeMode::Pick => Origin::Custom,
    };
    sqlx::query(
        "UPDATE codes SET value = $1, value_mac = $2, origin = $3, change_seq = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(key.seal_str(Cell::new("codes", "value", &code.id), value.as_str())?)
    .bind(key.lookup_mac(CODE_MAC, value.as_str()))
    .bind(enum_str(&origin))
    .bind(seq)
    .bind(now_secs())
    .bind(code.id.clone())
    .execute(&mut *conn)
    .await?;
    load_code(conn, &property.id, &code.id).await
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
    conn: &mut AnyConnection,
    seq: i64,
    property: &PropertyRow,
    code: &CodeRow,
    enabled: bool,
    actor: &str,
) -> Result<CodeRow> {
    ensure_changeable(code)?;
    for mut p in crate::model::code_placements(conn, &code.id).await? {
        if !p.want_present || p.want_enabled == enabled {
            continue;
        }
        p.want_enabled = enabled;
        p.save(conn).await?;
        let kind = if enabled {
            "code_enabled"
        } else {
            "code_disabled"
        };
        audit(
            conn,
            seq,
            &property.id,
            &p.lock_id,
            kind,
            Some(p.slot),
            Some(&code.id),
            Some(actor),
            None,
        )
        .await?;
        touch_lock(conn, seq, &p.lock_id).await?;
    }
    sqlx::query("UPDATE codes SET enabled = $1, status = $2, change_seq = $3, updated_at = $4 WHERE id = $5")
        .bind(i64::from(enabled))
        .bind(if enabled { "active" } else { "disabled" })
        .bind(seq)
        .bind(now_secs())
        .bind(code.id.clone())
        .execute(&mut *conn)
        .await?;
    load_code(conn, &property.id, &code.id).await
}

/// Deletes a code: it leaves every lock; a deleted courier or staff PIN is
/// never accepted again at the property.
pub async fn delete(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    property: &PropertyRow,
    code: &CodeRow,
) -> Result<CodeRow> {
    if code.status == CodeStatus::Deleted {
        return load_code(conn, &property.id, &code.id).await;
    }
    if matches!(code.kind, CodeKind::Courier | CodeKind::Staff) {
        let value = code.code(key)?;
        sqlx::query(
            "INSERT INTO deleted_pins (property_id, value_mac, deleted_at) VALUES ($1, $2, $3) ON CONFLICT (property_id, value_mac) DO NOTHING",
        )
        .bind(property.id.clone())
        .bind(key.lookup_mac(DELETED_PIN_MAC, value.as_str()))
        .bind(now_secs())
        .execute(&mut *conn)
        .await?;
    }
    let mut touched = Vec::new();
    reconcile::end_code(conn, seq, &property.id, &code.id, "deleted", &mut touched).await?;
    load_code(conn, &property.id, &code.id).await
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
            Ok(Schedule::Window(keyway_core::schedule::Window::new(
                now, until,
            )?))
        }
        (GuestType::Delivery, _) => Err(bad("a delivery code takes a window schedule")),
        (GuestType::Recurring, Some(s @ Schedule::Recurring(_))) => Ok(s),
        (GuestType::Recurring, _) => Err(bad("a recurring guest code needs a recurring schedule")),
    }
}
