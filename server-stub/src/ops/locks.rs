//! Locks as staff and managers see them (versions, pending work,
//! attention), and a lock's audit trail.

use keyway_api::{AuditList, LockList, LockView};

use crate::auth::Caller;
use crate::db::{Store, audit, locks};
use crate::error::{Error, Result};

/// The property's locks with their reconciliation state.
pub async fn list(store: &Store, caller: &Caller) -> Result<LockList> {
    let rows = locks::all(&mut store.read().await?, &caller.property_id).await?;
    Ok(LockList {
        locks: rows
            .into_iter()
            .map(|l| LockView {
                job_pending: l.work_pending(),
                lock_id: l.id,
                name: l.name,
                access_point: l.access_point,
                unit_id: l.unit_id,
                desired_version: l.desired_version,
                confirmed_version: l.confirmed_version,
                attention: l.attention,
            })
            .collect(),
    })
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
    let lock = locks::load(&mut read, &caller.property_id, lock_id).await?;
    let own_door = caller
        .unit_id
        .as_deref()
        .is_some_and(|unit| lock.is_unit_door_of(unit));
    if !(caller.is_staff() || own_door) {
        return Err(Error::forbidden(
            "only staff, managers and the unit's residents see this door's audit trail",
        ));
    }
    let limit = limit.unwrap_or(500).clamp(1, 500);
    let entries = audit::list(&mut read, &lock.id, after.unwrap_or(0), limit).await?;
    Ok(AuditList { entries })
}
