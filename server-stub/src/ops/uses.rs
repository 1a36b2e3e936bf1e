//! Code uses: when a lock's events say a code opened its door, the write
//! that stores the event records a use ([`record`]), stamped with that
//! write's change counter, so sync carries it ([`between`]) to whoever may
//! see the code ([`Caller::may_use_code`]): the unit's residents for a
//! unit's code (also once it is deleted: the use stays the unit's), the
//! property's staff and managers for every code. [`of_code`] lists one
//! code's uses.

use std::collections::HashMap;

use keyway_api::{CodeUse, CodeUseList, Role, WebhookEventType};
use keyway_codes::{AccessPoint, CodeKind};
use serde_json::json;

use crate::auth::Caller;
use crate::clock::ts;
use crate::crypto::new_id;
use crate::db::codes::{self, CodeRow};
use crate::db::locks::LockRow;
use crate::db::uses::{self, NewUse, UseRow};
use crate::db::{Context, Store, Write};
use crate::error::Result;
use crate::ops::webhooks;

/// A code opened a lock's door: the lock's event that says so.
#[derive(Debug, Clone, Copy)]
pub struct Opened<'a> {
    /// The code its slot held.
    pub code_id: &'a str,
    /// The lock's life.
    pub epoch: &'a str,
    /// The event's number in that life.
    pub lock_seq: u32,
    /// When, on the lock's clock (Unix seconds).
    pub at: i64,
    /// `code_used`, `one_time_consumed`, `offline_code_used`, `card_used`
    /// or `backup_code_used`.
    pub kind: &'static str,
}

/// Records a use in this write (once per lock event). A backup code's use
/// is a use of the code it stood in for (`backup_code_used`).
pub async fn record(w: &mut Write, lock: &LockRow, mut opened: Opened<'_>) -> Result<()> {
    let mut code = codes::load(w, &lock.property_id, opened.code_id).await?;
    if code.kind == CodeKind::Backup
        && let Some(stood_in_for) = crate::ops::backups::stood_in_for(w, lock, &code).await?
    {
        code = stood_in_for;
        opened.kind = "backup_code_used";
    }
    let new = NewUse {
        id: new_id("use"),
        code_id: code.id.clone(),
        unit_id: code.unit_id.clone(),
        lock_id: lock.id.clone(),
        epoch: opened.epoch.to_owned(),
        lock_seq: opened.lock_seq,
        at: opened.at,
        kind: opened.kind,
    };
    if uses::record(w, &new).await? {
        crate::ops::notices::announce(w, lock, &code, opened.at).await?;
        let data = json!({
            "use": {
                "id": new.id,
                "code": webhooks::code_data(&code),
                "lock": {"id": lock.id, "name": lock.name, "access_point": lock.access_point.as_str()},
                "at": ts(opened.at).to_string(),
                "kind": opened.kind,
            }
        });
        webhooks::emit(w, WebhookEventType::CodeUsed, data.clone()).await?;
        if lock.access_point == AccessPoint::PackageRoom {
            webhooks::emit(w, WebhookEventType::PackageRoomOpened, data).await?;
        }
    }
    Ok(())
}

fn view(row: UseRow) -> CodeUse {
    CodeUse {
        id: row.id,
        code_id: row.code_id,
        code_name: row.code_name,
        lock_id: row.lock_id,
        lock_name: row.lock_name,
        at: ts(row.at),
        kind: row.kind,
    }
}

/// Keeps the uses of codes the caller may see (each code loaded once).
async fn visible_only(
    cx: &mut impl Context,
    caller: &Caller,
    rows: Vec<UseRow>,
) -> Result<Vec<UseRow>> {
    let mut seen: HashMap<String, bool> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if row.property_id != caller.property_id {
            continue;
        }
        let visible = match seen.get(&row.code_id) {
            Some(visible) => *visible,
            None => {
                let code: CodeRow = codes::load(cx, &caller.property_id, &row.code_id).await?;
                let visible = caller.may_use_code(&code);
                seen.insert(row.code_id.clone(), visible);
                visible
            }
        };
        if visible {
            out.push(row);
        }
    }
    Ok(out)
}

/// The uses recorded after change `after` and up to `upto` that the caller
/// may see, in change order; `limit` bounds what is read (before the
/// visibility check), so a full page tells where the page must end.
pub async fn between(
    cx: &mut impl Context,
    caller: &Caller,
    after: i64,
    upto: i64,
    limit: Option<usize>,
) -> Result<(Vec<CodeUse>, Option<i64>)> {
    let rows = match caller.role {
        Role::Resident => {
            let unit = caller.unit_id.clone().unwrap_or_default();
            uses::changed_of_unit(cx, &unit, after, upto, limit).await?
        }
        Role::Staff | Role::Manager => {
            uses::changed_of_property(cx, &caller.property_id, after, upto, limit).await?
        }
    };
    let last = match limit {
        Some(limit) if rows.len() == limit => rows.last().map(|r| r.change_seq),
        _ => None,
    };
    let rows = visible_only(cx, caller, rows).await?;
    Ok((rows.into_iter().map(view).collect(), last))
}

/// Most uses one list answers.
pub const MAX_LIST: i64 = 500;

/// A code's newest uses, for whoever may see the code (`not_found`
/// otherwise).
pub async fn of_code(
    store: &Store,
    caller: &Caller,
    code_id: &str,
    limit: Option<i64>,
) -> Result<CodeUseList> {
    let mut read = store.read().await?;
    let code = crate::ops::codes::unit::visible(&mut read, caller, code_id).await?;
    let limit = limit.unwrap_or(100).clamp(1, MAX_LIST);
    let rows = uses::of_code(&mut read, &code.id, limit).await?;
    Ok(CodeUseList {
        uses: rows.into_iter().map(view).collect(),
    })
}
