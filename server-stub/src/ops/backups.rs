//! Backup codes (`docs/backup-codes.md`): a lock whose manager turned its
//! pool on keeps a few 8-digit one-time codes that nobody holds, loaded by
//! the jobs phones carry like any code. When a guest code should open the
//! door now but has not reached it, its holders may ask for one of the
//! backup codes the lock confirmed ([`hand_out`]); it opens the door once,
//! and it is retired — removed at the next visit and replaced — as soon as
//! the code itself arrives, the code ends, or the backup is used
//! ([`settle`], [`end_for_code`], [`stood_in_for`]).
//!
//! A backup code is a code of kind `backup` held by its lock (holder type
//! `lock`), which no caller may see ([`crate::auth::Caller::code_access`]);
//! only a hand-out's code view carries its digits, to that code's holders.

use jiff::Timestamp;
use keyway_api::{BackupCodeView, CodeMode, CodeStatus, LockView};
use keyway_codes::{CodeKind, Schedule};

use crate::auth::{Caller, CodeAccess};
use crate::clock::now_secs;
use crate::crypto::new_id;
use crate::db::audit::{self, ServerEntry};
use crate::db::backups::{self, Ending, Handout};
use crate::db::codes::{self, CodeRow, Placement, code_view, placements};
use crate::db::locks::{self, LockRow};
use crate::db::{Context, Write, properties};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::codes::{Holder, NewCode};
use crate::ops::reconcile::{allocate_slot, bump_codes, end_code};

/// The most backup codes a lock keeps.
pub const MAX_POOL: u8 = 5;
/// The most backup codes handed out at once to one unit on one lock.
pub const MAX_OPEN_PER_UNIT: usize = 2;
/// The holder type of backup codes (their holder id is the lock's).
pub const HOLDER: &str = "lock";

/// A lock's backup codes: the ones never handed out, by state, and the
/// hand-outs.
#[derive(Debug, Default)]
struct Pool {
    /// On the lock (confirmed), oldest first.
    ready: Vec<CodeRow>,
    /// Wanted on the lock, not confirmed yet.
    loading: Vec<CodeRow>,
    /// The lock refused them.
    failed: Vec<CodeRow>,
    /// Every hand-out of the lock's backup codes, newest first (none read
    /// when the lock holds no backup code: an open hand-out's backup code
    /// is live until the hand-out ends).
    handouts: Vec<Handout>,
}

impl Pool {
    /// The hand-outs not ended yet.
    fn open(&self) -> impl Iterator<Item = &Handout> {
        self.handouts.iter().filter(|h| h.is_open())
    }
}

/// The current placement of `code_id` on `lock_id` among `all`.
fn current<'a>(all: &'a [Placement], code_id: &str, lock_id: &str) -> Option<&'a Placement> {
    all.iter()
        .filter(|p| p.code_id == code_id && p.lock_id == lock_id)
        .max_by_key(|p| p.created_at)
}

async fn pool(cx: &mut impl Context, lock: &LockRow) -> Result<Pool> {
    let mut held = codes::of_holder(cx, &lock.property_id, HOLDER, &lock.id).await?;
    held.retain(|c| c.kind == CodeKind::Backup);
    if held.is_empty() {
        return Ok(Pool::default());
    }
    held.reverse(); // oldest first
    let handouts = backups::of_lock(cx, &lock.id).await?;
    held.retain(|c| !handouts.iter().any(|h| h.backup_code_id == c.id));
    let ids: Vec<&str> = held.iter().map(|c| c.id.as_str()).collect();
    let on_lock = placements::of_codes(cx, &ids).await?;
    let mut pool = Pool {
        handouts,
        ..Pool::default()
    };
    for code in held {
        match current(&on_lock, &code.id, &lock.id) {
            Some(p) if p.reason.is_some() => pool.failed.push(code),
            Some(p) if p.want_present && p.conf_present => pool.ready.push(code),
            Some(p) if p.want_present => pool.loading.push(code),
            _ => pool.failed.push(code),
        }
    }
    Ok(pool)
}

/// Brings the lock's pool of never-handed-out backup codes to its size:
/// retires the refused and the extra ones and adds new ones while the lock
/// has free slots. A full lock keeps a short pool (recorded in its trail)
/// rather than failing the write that asked.
pub async fn top_up(w: &mut Write, lock: &LockRow, touched: &mut Vec<String>) -> Result<()> {
    let pool = pool(w, lock).await?;
    let mut keep: Vec<&CodeRow> = pool.ready.iter().chain(&pool.loading).collect();
    let size = usize::from(lock.backup_pool);
    let extra = keep.len().saturating_sub(size);
    // The newest (still loading, if any) go first.
    let retired: Vec<String> = keep
        .drain(keep.len() - extra..)
        .map(|c| c.id.clone())
        .collect();
    for id in pool.failed.iter().map(|c| c.id.clone()).chain(retired) {
        end_code(w, &id, "deleted", touched).await?;
    }
    let missing = size.saturating_sub(keep.len());
    if missing == 0 {
        return Ok(());
    }
    let property = properties::load(w, &lock.property_id).await?;
    for _ in 0..missing {
        if let Err(e) = allocate_slot(w, lock).await {
            if is_full(&e) {
                let entry = ServerEntry {
                    kind: "backup_pool_short",
                    detail: Some("no free slot for another backup code"),
                    ..ServerEntry::default()
                };
                return audit::record(w, &lock.id, entry).await;
            }
            return Err(e);
        }
        let new = NewCode {
            kind: CodeKind::Backup,
            mode: CodeMode::Generate,
            code: None,
            length: Some(8),
            name: None,
            guest_type: None,
            schedule: Schedule::Always,
            holder: Holder::Lock(lock.id.clone()),
            locks: vec![lock.clone()],
            offline: None,
        };
        crate::ops::codes::create(w, &property, new, "server").await?;
    }
    Ok(())
}

/// Sets how many backup codes a lock keeps (managers; 0 to [`MAX_POOL`],
/// only on keypads with an enter key, where an 8-digit code changes nothing
/// for the shorter ones) and loads or retires codes to match.
pub async fn set_pool(w: &mut Write, caller: &Caller, lock_id: &str, size: u8) -> Result<LockView> {
    caller.require_manager()?;
    if size > MAX_POOL {
        return Err(Error::invalid(format!(
            "`size` must be 0 to {MAX_POOL} backup codes"
        )));
    }
    let lock = locks::load(w, &caller.property_id, lock_id).await?;
    if size > 0 && !lock.enter_key {
        return Err(Error::conflict(
            "backup_unsupported",
            format!(
                "\"{}\" has a keypad without an enter key: its codes open as soon as they are typed, so it cannot keep 8-digit backup codes",
                lock.name
            ),
        ));
    }
    locks::set_backup_pool(w, &lock.id, size).await?;
    let detail = format!("{size} backup code(s)");
    let entry = ServerEntry {
        kind: "backup_pool_set",
        actor: Some(&caller.user_id),
        detail: Some(&detail),
        ..ServerEntry::default()
    };
    audit::record(w, &lock.id, entry).await?;
    let lock = locks::load(w, &caller.property_id, lock_id).await?;
    let mut touched = Vec::new();
    top_up(w, &lock, &mut touched).await?;
    let lock = locks::load(w, &caller.property_id, lock_id).await?;
    crate::ops::locks::view(w, lock).await
}

/// The counts of a lock's pool for its view: ready, and handed out now.
pub async fn counts(cx: &mut impl Context, lock: &LockRow) -> Result<(u32, u32)> {
    let pool = pool(cx, lock).await?;
    let as_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok((as_u32(pool.ready.len()), as_u32(pool.open().count())))
}

/// Why `code` may not have a backup code on `lock` now, if it may not.
fn refusal(code: &CodeRow, placement: &Placement, lock: &LockRow, now: Timestamp) -> Option<Error> {
    if placement.conf_present && placement.want_present {
        return Some(Error::conflict(
            "backup_not_needed",
            format!("the code is on \"{}\" already", lock.name),
        ));
    }
    if !code.schedule.is_active_at(now) {
        return Some(Error::conflict(
            "backup_not_due",
            "the code does not open the door now; a backup code is handed out only while the code should work",
        ));
    }
    if lock.backup_pool == 0 {
        return Some(Error::conflict(
            "backup_unavailable",
            format!(
                "\"{}\" keeps no backup codes; a manager can turn them on",
                lock.name
            ),
        ));
    }
    None
}

/// Hands out one of `lock_id`'s ready backup codes for guest code
/// `code_id`, which should open that door now but has not reached it. Only
/// the code's holders (the unit's residents) may ask; asking again while it
/// stands answers with the same backup code.
pub async fn hand_out(
    w: &mut Write,
    caller: &Caller,
    code_id: &str,
    lock_id: &str,
) -> Result<BackupCodeView> {
    let code = crate::ops::codes::unit::visible(w, caller, code_id).await?;
    if caller.code_access(&code) != CodeAccess::Own {
        return Err(Error::forbidden(
            "only the code's holders may have a backup code for it",
        ));
    }
    if code.kind != CodeKind::Guest {
        return Err(Error::conflict(
            "backup_guest_only",
            "backup codes stand in for guest codes only",
        ));
    }
    if code.status != CodeStatus::Active || !code.enabled {
        return Err(Error::conflict(
            "code_ended",
            "the code is disabled or has ended",
        ));
    }
    let lock = locks::load(w, &caller.property_id, lock_id).await?;
    let on_code = placements::of_code(w, &code.id).await?;
    let placement = current(&on_code, &code.id, &lock.id)
        .filter(|p| p.want_present)
        .ok_or_else(|| Error::not_found("lock for this code"))?
        .clone();
    let pool = pool(w, &lock).await?;
    if let Some(open) = pool.open().find(|h| h.code_id == code.id) {
        return view_of(w, caller, &code, open).await;
    }
    if let Some(refused) = refusal(&code, &placement, &lock, Timestamp::now()) {
        return Err(refused);
    }
    let of_unit = pool.open().filter(|h| h.unit_id == code.unit_id).count();
    if of_unit >= MAX_OPEN_PER_UNIT || pool.open().count() >= usize::from(lock.backup_pool) {
        return Err(Error::conflict(
            "backup_limit",
            format!(
                "as many backup codes as \"{}\" allows are handed out; they return when the codes reach the door",
                lock.name
            ),
        ));
    }
    let Some(backup) = pool.ready.into_iter().next() else {
        return Err(Error::conflict(
            "backup_pool_empty",
            format!(
                "no backup code has reached \"{}\" yet; a phone passing the door loads them",
                lock.name
            ),
        ));
    };
    let handout = Handout {
        id: new_id("bko"),
        backup_code_id: backup.id.clone(),
        code_id: code.id.clone(),
        lock_id: lock.id.clone(),
        unit_id: code.unit_id.clone(),
        handed_at: now_secs(),
        ended_at: None,
        ending: None,
    };
    crate::db::insert(w, std::slice::from_ref(&handout)).await?;
    let entry = ServerEntry {
        kind: "backup_handed_out",
        code_id: Some(&code.id),
        actor: Some(&caller.user_id),
        ..ServerEntry::default()
    };
    audit::record(w, &lock.id, entry).await?;
    let mut touched = vec![code.id.clone()];
    top_up(w, &lock, &mut touched).await?;
    bump_codes(w, &touched).await?;
    view_of(w, caller, &code, &handout).await
}

/// The hand-out's view within its code's view.
async fn view_of(
    w: &mut Write,
    caller: &Caller,
    code: &CodeRow,
    handout: &Handout,
) -> Result<BackupCodeView> {
    let view = code_view(w, code, caller.may_see_value(code)).await?;
    view.backups
        .into_iter()
        .find(|b| b.lock_id == handout.lock_id && b.handed_at.as_second() == handout.handed_at)
        .ok_or_else(|| Error::internal("backup code view", "hand-out missing from its code"))
}

/// Ends a hand-out and retires its backup code (the lock drops it at the
/// next visit; a used one is gone already).
async fn retire(
    w: &mut Write,
    handout: &Handout,
    ending: Ending,
    touched: &mut Vec<String>,
) -> Result<()> {
    backups::end(w, &handout.id, ending, now_secs()).await?;
    let property_id = w.property_id().to_owned();
    let backup = codes::load(w, &property_id, &handout.backup_code_id).await?;
    if matches!(backup.status, CodeStatus::Active | CodeStatus::Disabled) {
        // Ending a code retires its backups: boxed, as that recursion is.
        Box::pin(end_code(w, &backup.id, "deleted", touched)).await?;
    }
    touched.push(handout.code_id.clone());
    Ok(())
}

/// Retires a code's standing backup codes (it was deleted, expired or used).
pub async fn end_for_code(w: &mut Write, code_id: &str, touched: &mut Vec<String>) -> Result<()> {
    for handout in backups::of_code(w, code_id).await? {
        if handout.is_open() {
            retire(w, &handout, Ending::CodeEnded, touched).await?;
        }
    }
    Ok(())
}

/// After the server learned where `lock` is (a status or a receipt): retires
/// the backup codes whose code reached the lock or was refused by it, ends
/// the hand-outs of backup codes the lock lost, and tops the pool up. A lock waiting for a person is left alone.
pub async fn settle(w: &mut Write, lock: &LockRow, touched: &mut Vec<String>) -> Result<()> {
    if lock.attention.is_some() {
        return Ok(());
    }
    let open: Vec<Handout> = backups::of_lock(w, &lock.id)
        .await?
        .into_iter()
        .filter(Handout::is_open)
        .collect();
    let property_id = w.property_id().to_owned();
    for handout in open {
        let backup = codes::load(w, &property_id, &handout.backup_code_id).await?;
        if backup.status != CodeStatus::Active {
            // A lock that lost its storage ends the one-time codes it held:
            // the recovery never arms them again, so this one opens nothing.
            retire(w, &handout, Ending::Lost, touched).await?;
            continue;
        }
        let on_code = placements::of_code(w, &handout.code_id).await?;
        let ending = match current(&on_code, &handout.code_id, &lock.id) {
            Some(p) if p.reason.is_some() => Some(Ending::Failed),
            Some(p) if p.want_present && p.conf_present => Some(Ending::Delivered),
            Some(p) if p.want_present => None,
            _ => Some(Ending::CodeEnded),
        };
        if let Some(ending) = ending {
            retire(w, &handout, ending, touched).await?;
        }
    }
    top_up(w, lock, touched).await
}

/// A backup code opened the door: ends its hand-out and returns the code it
/// stood in for, whose use it is. A backup code nobody was given that opens
/// a door was guessed; the lock's trail says so.
pub async fn stood_in_for(
    w: &mut Write,
    lock: &LockRow,
    backup: &CodeRow,
) -> Result<Option<CodeRow>> {
    match backups::of_backup(w, &backup.id).await? {
        Some(handout) => {
            backups::end(w, &handout.id, Ending::Used, now_secs()).await?;
            Ok(Some(
                codes::load(w, &lock.property_id, &handout.code_id).await?,
            ))
        }
        None => {
            let entry = ServerEntry {
                kind: "backup_used_unissued",
                code_id: Some(&backup.id),
                detail: Some("a backup code nobody was given opened the door"),
                ..ServerEntry::default()
            };
            audit::record(w, &lock.id, entry).await?;
            Ok(None)
        }
    }
}

/// Whether `e` means the lock has no room (a pool stays short).
fn is_full(e: &Error) -> bool {
    e.kind == ErrorKind::Conflict && e.code == "lock_full"
}
