//! Locks as staff and managers see them (versions, pending work,
//! attention), a lock's audit trail (in order for the API, newest first and
//! filtered for the Portal), and the property's recent activity.

use keyway_api::{AuditEntry, AuditList, BackupPool, LockList, LockView};

use crate::auth::Caller;
use crate::db::locks::LockRow;
use crate::db::{Context, Store, audit, locks};
use crate::error::{Error, Result};

/// A lock's view, with its backup pool's counts.
pub async fn view(cx: &mut impl Context, l: LockRow) -> Result<LockView> {
    let (ready, handed_out) = crate::ops::backups::counts(cx, &l).await?;
    Ok(LockView {
        backup_pool: BackupPool {
            size: l.backup_pool,
            ready,
            handed_out,
        },
        job_pending: l.work_pending(),
        lock_id: l.id,
        name: l.name,
        access_point: l.access_point,
        unit_id: l.unit_id,
        desired_version: l.desired_version,
        confirmed_version: l.confirmed_version,
        attention: l.attention,
    })
}

/// The property's locks with their reconciliation state.
pub async fn list(store: &Store, caller: &Caller) -> Result<LockList> {
    let mut read = store.read().await?;
    let rows = locks::all(&mut read, &caller.property_id).await?;
    let mut locks = Vec::with_capacity(rows.len());
    for row in rows {
        locks.push(view(&mut read, row).await?);
    }
    Ok(LockList { locks })
}

/// One lock with its reconciliation state (staff and managers).
pub async fn get(store: &Store, caller: &Caller, lock_id: &str) -> Result<LockView> {
    caller.require_staff()?;
    let mut read = store.read().await?;
    let lock = locks::load(&mut read, &caller.property_id, lock_id).await?;
    view(&mut read, lock).await
}

/// The lock whose trail the caller asked for, if they may read it: staff
/// and managers; residents for their own unit's door.
async fn readable_trail(cx: &mut impl Context, caller: &Caller, lock_id: &str) -> Result<LockRow> {
    let lock = locks::load(cx, &caller.property_id, lock_id).await?;
    let own_door = caller
        .unit_id
        .as_deref()
        .is_some_and(|unit| lock.is_unit_door_of(unit));
    if !(caller.is_staff() || own_door) {
        return Err(Error::forbidden(
            "only staff, managers and the unit's residents see this door's audit trail",
        ));
    }
    Ok(lock)
}

/// A lock's audit trail after position `after`, at most `limit` (1 to
/// 500): staff and managers; residents for their own unit's door.
pub async fn audit_trail(
    store: &Store,
    caller: &Caller,
    lock_id: &str,
    after: Option<i64>,
    limit: Option<i64>,
) -> Result<AuditList> {
    let mut read = store.read().await?;
    let lock = readable_trail(&mut read, caller, lock_id).await?;
    let limit = limit.unwrap_or(500).clamp(1, 500);
    let entries = audit::list(&mut read, &lock.id, after.unwrap_or(0), limit).await?;
    Ok(AuditList { entries })
}

/// Which entries of a trail to show, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this kind (`code_used`, `wrong_code`, …).
    pub kind: Option<String>,
    /// Only `server` or only `lock` entries.
    pub source: Option<String>,
    /// At most this many (1 to 500; 100 when not given).
    pub limit: Option<i64>,
}

/// A lock's newest audit entries that pass `filter`, with the same rights
/// as [`audit_trail`].
pub async fn audit_newest(
    store: &Store,
    caller: &Caller,
    lock_id: &str,
    filter: &AuditFilter,
) -> Result<AuditList> {
    let mut read = store.read().await?;
    let lock = readable_trail(&mut read, caller, lock_id).await?;
    let limit = filter.limit.unwrap_or(100).clamp(1, 500);
    let entries = audit::newest(
        &mut read,
        &lock.id,
        filter.kind.as_deref(),
        filter.source.as_deref(),
        limit,
    )
    .await?;
    Ok(AuditList { entries })
}

/// One entry of the property's recent activity, with its lock.
#[derive(Debug, Clone)]
pub struct Activity {
    /// The lock's id.
    pub lock_id: String,
    /// The lock's name.
    pub lock_name: String,
    /// The entry.
    pub entry: AuditEntry,
}

/// The property's newest audit entries over all its locks (staff and
/// managers), newest first.
pub async fn recent_activity(store: &Store, caller: &Caller, limit: i64) -> Result<Vec<Activity>> {
    caller.require_staff()?;
    let mut read = store.read().await?;
    let entries = audit::recent(&mut read, &caller.property_id, limit.clamp(1, 200)).await?;
    let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
    let names = locks::names(&mut read, &ids).await?;
    Ok(entries
        .into_iter()
        .map(|(lock_id, entry)| Activity {
            lock_name: names.get(&lock_id).cloned().unwrap_or_default(),
            lock_id,
            entry,
        })
        .collect())
}
