//! Choosing a code's digits under the policy (the same `keyway-codes` engine
//! the phone runs): a pick is checked, reporting every violated rule; a
//! generated code is drawn uniformly among the allowed. Courier and staff
//! PINs are also kept apart from each other and from deleted PINs, by keyed
//! MAC.

use keyway_api::CodeMode;
use keyway_codes::policy::TargetLock;
use keyway_codes::{AccessPoint, CheckContext, Code, CodeKind, Origin, generate, secure_rng};

use crate::db::Context;
use crate::db::codes::{self, placements};
use crate::db::locks::LockRow;
use crate::db::properties::PropertyRow;
use crate::error::{Error, Result};

/// MAC domain of code values (duplicate lookups).
pub const CODE_MAC: &str = "code";
/// MAC domain of deleted courier and staff PINs.
pub const DELETED_PIN_MAC: &str = "deleted-pin";

/// What digits to choose, and for which doors.
#[derive(Debug, Clone, Copy)]
pub struct Choice<'a> {
    /// The code's kind.
    pub kind: CodeKind,
    /// Generate or pick.
    pub mode: CodeMode,
    /// The picked digits.
    pub picked: Option<&'a str>,
    /// The length to generate.
    pub length: Option<u8>,
    /// The doors it goes on.
    pub locks: &'a [LockRow],
    /// The code whose digits change (its own placements are not compared).
    pub exclude: Option<&'a str>,
    /// The unit whose code it is (a pick is compared with its codes only).
    pub unit: Option<&'a str>,
}

/// The origin a mode gives a code.
pub fn origin_of(mode: CodeMode) -> Origin {
    match mode {
        CodeMode::Generate => Origin::Generated,
        CodeMode::Pick => Origin::Custom,
    }
}

/// The codes on each lock the policy must compare with (wanted placements,
/// excluding `exclude`'s own; with `only_unit`, only that unit's codes).
async fn target_locks(
    cx: &mut impl Context,
    locks: &[LockRow],
    exclude: Option<&str>,
    only_unit: Option<&str>,
    eight_digits: bool,
) -> Result<Vec<TargetLock>> {
    let unit_codes = match only_unit {
        Some(unit) => Some(codes::ids_of_unit(cx, unit).await?),
        None => None,
    };
    let key = cx.key().clone();
    let mut out = Vec::with_capacity(locks.len());
    for lock in locks {
        let mut on_lock = Vec::new();
        for p in placements::live(cx, &lock.id).await? {
            let compared = unit_codes
                .as_ref()
                .is_none_or(|ids| ids.contains(&p.code_id));
            if p.want_present && Some(p.code_id.as_str()) != exclude && compared {
                on_lock.extend(p.entry(&key, true)?.credential.code());
            }
        }
        if eight_digits {
            // A generated 8-digit code (a one-time PIN) is drawn apart from
            // the door's offline codes too, which only the server knows.
            let since = crate::clock::now_secs() - super::offline::LOCK_CLOCK_MARGIN_SECS;
            for row in crate::db::offline::on_lock_ending_after(cx, &lock.id, since).await? {
                on_lock.push(row.code(&key)?);
            }
        }
        out.push(TargetLock {
            access_point: lock.access_point,
            enter_key: lock.enter_key,
            constraints: lock.constraints.clone(),
            codes: on_lock,
        });
    }
    Ok(out)
}

/// Whether `code` was a deleted courier or staff PIN at the property.
async fn is_deleted_pin(cx: &mut impl Context, property_id: &str, code: &Code) -> Result<bool> {
    let mac = cx.key().lookup_mac(DELETED_PIN_MAC, code.as_str());
    codes::is_deleted_pin(cx, property_id, &mac).await
}

/// Whether another live courier or staff PIN at the property has these digits.
async fn is_duplicate_pin(
    cx: &mut impl Context,
    property_id: &str,
    code: &Code,
    exclude: Option<&str>,
) -> Result<bool> {
    let mac = cx.key().lookup_mac(CODE_MAC, code.as_str());
    let ids = codes::live_pins_with_mac(cx, property_id, &mac).await?;
    Ok(ids.iter().any(|id| Some(id.as_str()) != exclude))
}

/// Chooses the digits of a code: checks a picked one (every violated rule
/// reported) or generates one uniformly among the allowed.
///
/// A pick never learns about codes that are not the picker's business: where
/// only generated codes are allowed it is refused with that rule alone before
/// its digits are looked at, and a unit's pick is compared with that unit's
/// own codes only. Generated codes are drawn apart from every code on their
/// doors, which reveals nothing (the digits are the server's choice).
pub async fn choose_value(
    cx: &mut impl Context,
    property: &PropertyRow,
    choice: Choice<'_>,
) -> Result<Code> {
    let Choice {
        kind,
        mode,
        picked,
        length,
        locks,
        exclude,
        unit,
    } = choice;
    let pins = matches!(kind, CodeKind::Courier | CodeKind::Staff);
    let mut ctx = CheckContext::new(property.community(), kind).with_origin(origin_of(mode));
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
    let eight_digits = mode == CodeMode::Generate && ctx.target_length() == 8;
    ctx.locks = target_locks(cx, locks, exclude, compared_unit, eight_digits).await?;
    match mode {
        CodeMode::Pick => {
            let text = picked.ok_or_else(|| Error::invalid("mode `pick` needs `code`"))?;
            let code = Code::parse(text).map_err(keyway_codes::policy::CheckError::from)?;
            if pins && is_deleted_pin(cx, &property.id, &code).await? {
                ctx.deleted_pins.insert(code);
            }
            if pins && is_duplicate_pin(cx, &property.id, &code, exclude).await? {
                // Reported as the policy's duplicate rule, with its message.
                let mut other = TargetLock::new(AccessPoint::PackageRoom);
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
                    && (is_deleted_pin(cx, &property.id, &code).await?
                        || is_duplicate_pin(cx, &property.id, &code, exclude).await?);
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
