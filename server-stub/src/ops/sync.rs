//! Sync: what changed since a cursor for the calling user (codes,
//! tombstones, locks with their versions, pending work and advertising
//! keys, uses of the codes the user may see), read from one snapshot at a
//! cost that follows the number of changes (index range scans over each
//! property's change counter). A page never splits one write's changes.

use keyway_api::{CodeState, CodeStatus, LockSync, Role, SyncResponse, Tombstone};

use crate::auth::Caller;
use crate::db::codes::{self, CodeRow, code_views};
use crate::db::locks::{self, LockRow};
use crate::db::{Context, Store, properties};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::uses;

/// Most codes (and most locks) in one sync page.
pub const PAGE: usize = 200;

fn invalid_cursor(detail: &str) -> Error {
    Error::new(ErrorKind::Invalid, "invalid_cursor", detail)
}

/// The change counter value a cursor names (none: from the start).
pub fn parse_cursor(cursor: Option<&str>) -> Result<i64> {
    match cursor {
        None | Some("") => Ok(0),
        Some(text) => text.parse::<i64>().ok().filter(|c| *c >= 0).ok_or_else(|| {
            invalid_cursor("the cursor is not one this server gave out; sync from the start")
        }),
    }
}

async fn codes_between(
    cx: &mut impl Context,
    caller: &Caller,
    after: i64,
    upto: i64,
    limit: Option<usize>,
) -> Result<Vec<CodeRow>> {
    match caller.role {
        Role::Resident => {
            let unit = caller.unit_id.clone().unwrap_or_default();
            let mut rows = codes::changed_of_unit(cx, &unit, after, upto, limit).await?;
            rows.retain(|row| row.property_id == caller.property_id);
            Ok(rows)
        }
        Role::Staff | Role::Manager => {
            codes::changed_of_property(cx, &caller.property_id, after, upto, limit).await
        }
    }
}

async fn locks_between(
    cx: &mut impl Context,
    caller: &Caller,
    after: i64,
    upto: i64,
    limit: usize,
) -> Result<Vec<LockRow>> {
    let mut rows = match caller.role {
        Role::Resident => {
            let unit = caller.unit_id.clone().unwrap_or_default();
            locks::unit_and_shared(cx, &caller.property_id, &unit, after, upto).await?
        }
        Role::Staff | Role::Manager => locks::changed(cx, &caller.property_id, after, upto).await?,
    };
    rows.retain(|l| caller.may_reach_lock(l));
    rows.truncate(limit);
    Ok(rows)
}

/// What changed after change `after` for the caller, one page.
///
/// `head` is the property's change counter as read with the caller's token
/// (one statement, [`crate::auth::authenticate_at_head`]). A cursor already
/// there is the usual poll, and is answered from it alone: no write had
/// committed a change after it when the counter was read (a write's rows and
/// its counter commit together), so the full read below would find nothing
/// and answer the same. Any other cursor takes the full read, which reads the
/// counter again in its snapshot.
pub async fn sync(store: &Store, caller: &Caller, after: i64, head: i64) -> Result<SyncResponse> {
    if after == head {
        return Ok(SyncResponse {
            cursor: head.to_string(),
            has_more: false,
            codes: Vec::new(),
            tombstones: Vec::new(),
            locks: Vec::new(),
            uses: Vec::new(),
        });
    }
    // One snapshot: the head and the rows come from it, so a page never
    // holds half of a write.
    let mut read = store.snapshot().await?;
    let head = properties::head(&mut read, &caller.property_id).await?;
    if after > head {
        return Err(invalid_cursor(
            "the cursor is ahead of this server; sync from the start",
        ));
    }
    // Find where this page ends: a whole change (all rows of one counter
    // value) is never split across pages.
    let mut cutoff = head;
    let first_codes = codes_between(&mut read, caller, after, i64::MAX, Some(PAGE)).await?;
    if first_codes.len() == PAGE
        && let Some(last) = first_codes.last()
    {
        cutoff = cutoff.min(last.change_seq);
    }
    let first_locks = locks_between(&mut read, caller, after, i64::MAX, PAGE).await?;
    if first_locks.len() == PAGE
        && let Some(last) = first_locks.last()
    {
        cutoff = cutoff.min(last.change_seq);
    }
    let (first_uses, uses_end) =
        uses::between(&mut read, caller, after, i64::MAX, Some(PAGE)).await?;
    if let Some(last) = uses_end {
        cutoff = cutoff.min(last);
    }
    let uses = if cutoff == head && uses_end.is_none() {
        first_uses
    } else {
        uses::between(&mut read, caller, after, cutoff, None)
            .await?
            .0
    };
    let code_rows = if cutoff == head && first_codes.len() < PAGE {
        first_codes
    } else {
        codes_between(&mut read, caller, after, cutoff, None).await?
    };
    let lock_rows = if cutoff == head && first_locks.len() < PAGE {
        first_locks
    } else {
        locks_between(&mut read, caller, after, cutoff, usize::MAX).await?
    };
    let mut codes = Vec::new();
    let mut tombstones = Vec::new();
    let visible: Vec<(&CodeRow, bool)> = code_rows
        .iter()
        .filter(|row| caller.may_use_code(row))
        .map(|row| (row, caller.may_see_value(row)))
        .collect();
    for ((row, _), view) in visible.iter().zip(code_views(&mut read, &visible).await?) {
        let gone = row.status == CodeStatus::Deleted
            && view
                .locks
                .iter()
                .all(|l| l.state == CodeState::Removed || l.state == CodeState::Failed);
        if gone {
            tombstones.push(Tombstone { id: row.id.clone() });
        } else {
            codes.push(view);
        }
    }
    let key = store.key();
    let locks = lock_rows
        .into_iter()
        .map(|lock| {
            Ok(LockSync {
                advert_key: lock.keys(key)?.advert_key().to_hex(),
                target_version: lock.target_version(),
                lock_id: lock.id,
                name: lock.name,
                access_point: lock.access_point,
                unit_id: lock.unit_id,
                enter_key: lock.enter_key,
                constraints: lock.constraints,
                confirmed_version: lock.confirmed_version,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SyncResponse {
        cursor: cutoff.to_string(),
        has_more: cutoff < head,
        codes,
        tombstones,
        locks,
        uses,
    })
}
