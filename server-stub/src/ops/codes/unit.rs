//! The code endpoints' operations: listing and reading the codes a caller
//! may see, a resident creating their unit's codes, and changing, disabling,
//! enabling and deleting any code the caller may act on
//! ([`Caller::code_access`] decides, code by code).

use jiff::Timestamp;
use keyway_api::{
    CodeList, CodeMode, CodeView, CreateCodeRequest, GuestType, Role, SetCodeRequest,
};
use keyway_codes::{CodeKind, Schedule};

use super::{Holder, NewCode, NewDigits};
use crate::auth::{Caller, CodeAccess};
use crate::db::codes::{self, CodeRow, code_view, code_views};
use crate::db::locks::{self, LockRow};
use crate::db::{Context, Store, Write, properties};
use crate::error::{Error, Result};
use crate::ops::limits::PickOf;

/// The codes the caller may see.
pub async fn list(store: &Store, caller: &Caller) -> Result<CodeList> {
    let mut read = store.read().await?;
    let rows = match caller.role {
        Role::Resident => {
            let unit = caller.unit_id.clone().unwrap_or_default();
            codes::of_unit(&mut read, &caller.property_id, &unit).await?
        }
        Role::Staff | Role::Manager => codes::of_property(&mut read, &caller.property_id).await?,
    };
    let visible: Vec<(&CodeRow, bool)> = rows
        .iter()
        .filter(|row| caller.may_use_code(row))
        .map(|row| (row, caller.may_see_value(row)))
        .collect();
    let codes = code_views(&mut read, &visible).await?;
    Ok(CodeList { codes })
}

/// A code the caller may see (`not_found` otherwise: foreign codes are not
/// revealed to exist).
pub async fn visible(cx: &mut impl Context, caller: &Caller, id: &str) -> Result<CodeRow> {
    let code = codes::load(cx, &caller.property_id, id).await?;
    if caller.may_use_code(&code) {
        Ok(code)
    } else {
        Err(Error::not_found("code"))
    }
}

/// One code, as the caller may see it.
pub async fn get(store: &Store, caller: &Caller, id: &str) -> Result<CodeView> {
    let mut read = store.read().await?;
    let code = visible(&mut read, caller, id).await?;
    code_view(&mut read, &code, caller.may_see_value(&code)).await
}

/// What limits a pick of new digits for code `id`: its kind (an id the
/// caller may not see counts as a unit's code; the write refuses it).
pub async fn pick_of(store: &Store, caller: &Caller, id: &str) -> Result<PickOf> {
    let mut read = store.read().await?;
    Ok(
        match codes::load(&mut read, &caller.property_id, id).await {
            Ok(code) if !matches!(code.kind, CodeKind::Resident | CodeKind::Guest) => {
                PickOf::PackageRoomCode
            }
            _ => PickOf::UnitCode,
        },
    )
}

/// A resident's request for a unit code, checked before the write.
#[derive(Debug, Clone)]
pub struct UnitCode {
    unit_id: String,
    schedule: Schedule,
    offline: Option<super::offline::OfflineRequest>,
    request: CreateCodeRequest,
}

/// Checks a request for a unit code: only the unit's residents create its
/// codes (whoever creates one could learn or choose the digits that open its
/// door), with a schedule that fits the kind.
pub fn check_unit_code(caller: &Caller, request: CreateCodeRequest) -> Result<UnitCode> {
    let unit_id = match caller.role {
        Role::Resident => {
            if request
                .unit_id
                .as_ref()
                .is_some_and(|u| Some(u) != caller.unit_id.as_ref())
            {
                return Err(Error::not_found("unit"));
            }
            caller
                .unit_id
                .clone()
                .ok_or_else(|| Error::forbidden("this resident has no unit"))?
        }
        Role::Staff | Role::Manager => {
            return Err(Error::forbidden("only a unit's residents create its codes"));
        }
    };
    let schedule = match request.kind {
        CodeKind::Resident => {
            if request.guest_type.is_some()
                || !matches!(request.schedule, None | Some(Schedule::Always))
            {
                return Err(Error::invalid(
                    "a resident's own code is always valid; use a guest code for schedules",
                ));
            }
            Schedule::Always
        }
        CodeKind::Guest => {
            let guest = request.guest_type.unwrap_or(GuestType::Permanent);
            super::guest_schedule(guest, request.schedule.clone(), Timestamp::now())?
        }
        _ => return Err(Error::invalid("kind must be `resident` or `guest` here")),
    };
    if request
        .name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 100)
    {
        return Err(Error::invalid("name is at most 100 characters"));
    }
    let offline = if request.offline {
        let guest = match request.kind {
            CodeKind::Guest => request.guest_type.unwrap_or(GuestType::Permanent),
            _ => {
                return Err(Error::unprocessable(
                    "offline_unsupported",
                    "only temporary, recurring and delivery guest codes work offline",
                ));
            }
        };
        // A recurring code's length is its slot code's.
        let slot_code = guest == GuestType::Recurring;
        if request.mode != CodeMode::Generate
            || (!slot_code && request.length.is_some_and(|l| l != 8))
        {
            return Err(Error::invalid(
                "an offline code's 8 digits are derived by the server: use mode `generate` without another length",
            ));
        }
        Some(super::offline::request_for(
            guest,
            &schedule,
            Timestamp::now(),
        )?)
    } else {
        None
    };
    Ok(UnitCode {
        unit_id,
        schedule,
        offline,
        request,
    })
}

/// The locks a new resident or guest code goes on: the ones asked for, or
/// the unit door (plus the community doors for generated resident codes).
async fn unit_code_locks(
    w: &mut Write,
    unit_id: &str,
    request: &CreateCodeRequest,
) -> Result<Vec<LockRow>> {
    // A unit's code goes on its own doors and shared ones, nowhere else.
    let property_id = w.property_id().to_owned();
    let all = locks::unit_and_shared(w, &property_id, unit_id, -1, i64::MAX).await?;
    let reachable = |lock: &LockRow| lock.is_unit_door_of(unit_id) || lock.access_point.is_shared();
    match &request.lock_ids {
        Some(ids) => {
            if ids.is_empty() || ids.len() > 64 {
                return Err(Error::invalid("lock_ids lists 1 to 64 doors"));
            }
            let mut out: Vec<LockRow> = Vec::new();
            for id in ids {
                let lock = all
                    .iter()
                    .find(|l| &l.id == id && reachable(l))
                    .ok_or_else(|| Error::not_found("door"))?;
                if !out.iter().any(|l| l.id == lock.id) {
                    out.push(lock.clone());
                }
            }
            Ok(out)
        }
        None => {
            let shared = request.kind == CodeKind::Resident && request.mode == CodeMode::Generate;
            Ok(all
                .into_iter()
                .filter(|l| l.is_unit_door_of(unit_id) || (shared && l.access_point.is_shared()))
                .collect())
        }
    }
}

/// Creates a checked unit code in this write.
pub async fn create_unit_code(
    w: &mut Write,
    caller: &Caller,
    checked: UnitCode,
) -> Result<CodeView> {
    let UnitCode {
        unit_id,
        schedule,
        offline,
        request,
    } = checked;
    if !properties::has_unit(w, &caller.property_id, &unit_id).await? {
        return Err(Error::not_found("unit"));
    }
    let property = properties::load(w, &caller.property_id).await?;
    let locks = unit_code_locks(w, &unit_id, &request).await?;
    let new = NewCode {
        kind: request.kind,
        mode: request.mode,
        code: request.code.clone(),
        length: request.length,
        name: request.name.clone(),
        guest_type: match request.kind {
            CodeKind::Guest => Some(request.guest_type.unwrap_or(GuestType::Permanent)),
            _ => None,
        },
        schedule,
        holder: Holder::Unit(unit_id),
        locks,
        offline,
    };
    let row = super::create(w, &property, new, &caller.user_id).await?;
    if let Some(via) = request.notify_on_use {
        crate::ops::notices::ask(w, caller, &row, via).await?;
    }
    code_view(w, &row, caller.may_see_value(&row)).await
}

/// What a code write does, besides new digits.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// Kept on the lock, refused at the keypad.
    Disable,
    /// Accepted again.
    Enable,
    /// Leaves every lock.
    Delete,
}

/// Disables, enables or deletes code `id` in this write.
pub async fn act(w: &mut Write, caller: &Caller, id: &str, action: Action) -> Result<CodeView> {
    let code = visible(w, caller, id).await?;
    caller.code_access(&code).require(false)?;
    let row = match action {
        Action::Disable => super::set_enabled(w, &code, false, &caller.user_id).await?,
        Action::Enable => super::set_enabled(w, &code, true, &caller.user_id).await?,
        Action::Delete => super::delete(w, &code).await?,
    };
    code_view(w, &row, caller.may_see_value(&row)).await
}

/// Gives code `id` new digits in this write.
pub async fn change(
    w: &mut Write,
    caller: &Caller,
    id: &str,
    request: &SetCodeRequest,
) -> Result<CodeView> {
    let code = visible(w, caller, id).await?;
    caller.code_access(&code).require(true)?;
    let property = properties::load(w, &caller.property_id).await?;
    let digits = NewDigits {
        mode: request.mode,
        picked: request.code.as_deref(),
        length: request.length,
    };
    let row = super::change(w, &property, &code, digits, &caller.user_id).await?;
    code_view(w, &row, caller.may_see_value(&row)).await
}

/// A unit as staff and managers list it.
#[derive(Debug, Clone)]
pub struct UnitSummary {
    /// The unit's id.
    pub id: String,
    /// Its name ("4B").
    pub name: String,
    /// Its resident and guest codes that are not deleted.
    pub codes: usize,
}

/// The property's units with how many codes each has (staff and managers).
pub async fn units(store: &Store, caller: &Caller) -> Result<Vec<UnitSummary>> {
    caller.require_staff()?;
    let mut read = store.read().await?;
    let all = properties::units(&mut read, &caller.property_id).await?;
    let codes = codes::of_property(&mut read, &caller.property_id).await?;
    Ok(all
        .into_iter()
        .map(|(id, name)| UnitSummary {
            codes: codes
                .iter()
                .filter(|c| c.unit_id.as_deref() == Some(id.as_str()) && caller.may_use_code(c))
                .count(),
            id,
            name,
        })
        .collect())
}

/// A unit's name and its codes as the caller may see them, each with its
/// state on every lock and what the caller may do with it.
pub async fn unit_codes(
    store: &Store,
    caller: &Caller,
    unit_id: &str,
) -> Result<(String, Vec<(CodeView, CodeAccess)>)> {
    let mut read = store.read().await?;
    let name = properties::unit_name(&mut read, &caller.property_id, unit_id)
        .await?
        .ok_or_else(|| Error::not_found("unit"))?;
    let rows = codes::of_unit(&mut read, &caller.property_id, unit_id).await?;
    let visible: Vec<(&CodeRow, bool)> = rows
        .iter()
        .filter(|row| caller.may_use_code(row))
        .map(|row| (row, caller.may_see_value(row)))
        .collect();
    let access: Vec<CodeAccess> = visible
        .iter()
        .map(|(row, _)| caller.code_access(row))
        .collect();
    let views = code_views(&mut read, &visible).await?;
    Ok((name, views.into_iter().zip(access).collect()))
}
