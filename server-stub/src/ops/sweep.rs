//! The sweep: ends codes whose window closed (one property per write) and
//! forgets spent visits, old job records, and Portal sessions and
//! set-password links that ended a day ago.

use crate::clock::now_secs;
use crate::db::{Store, codes, jobs};
use crate::error::Result;
use crate::ops::reconcile::sweep_property;

/// How long a sealed job's record is kept for a late receipt or a status
/// that shows its table.
pub const JOB_RECORD_SECS: i64 = 30 * 86_400;

/// One sweep over every property; how many codes expired.
pub async fn sweep_once(store: &Store) -> Result<usize> {
    let now = now_secs();
    // Only properties with something to do.
    let properties = codes::properties_with_ended(&mut store.read().await?, now).await?;
    let mut expired = 0;
    for property_id in properties {
        let Some(mut w) = store.begin_write(&property_id).await? else {
            continue;
        };
        expired += sweep_property(&mut w).await?;
        w.commit().await?;
    }
    if expired > 0 {
        log::info!("sweep: {expired} code(s) expired");
    }
    crate::ops::visits::forget_spent(store, now).await?;
    jobs::forget_issued_before(&mut store.read().await?, now - JOB_RECORD_SECS).await?;
    crate::ops::accounts::forget_expired(store, now).await?;
    Ok(expired)
}
