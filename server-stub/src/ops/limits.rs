//! Rate limits: fixed windows counted in the database (so every server
//! instance shares them), and the limits on picking digits, whose answers
//! say whether digits are taken.

use keyway_api::CodeMode;

use crate::auth::{Caller, Idem};
use crate::clock::now_secs;
use crate::db::{Store, idempotency, rate_limits};
use crate::error::{Error, Result};

/// What a pick chooses digits for, which sets its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickOf {
    /// A unit's resident or guest code: compared with the unit's own codes
    /// only, so a refusal says nothing about anyone else; 30 a minute.
    UnitCode,
    /// A carrier code, courier PIN or staff PIN: the answer may say
    /// `duplicate_on_lock`, `prefix_conflict` or `deleted_pin_reuse` about
    /// another holder's code on the package room, so picks are few:
    /// [`PIN_PICKS_PER_HOUR`] an hour and [`PIN_PICKS_PER_DAY`] a day per user.
    PackageRoomCode,
}

/// Picks of package-room codes a user may make in an hour.
pub const PIN_PICKS_PER_HOUR: i64 = 10;
/// Picks of package-room codes a user may make in a day (UTC).
pub const PIN_PICKS_PER_DAY: i64 = 20;

/// Picking a code answers whether those digits are taken, so picks are
/// limited per user (see [`PickOf`]) to keep that from becoming a way to
/// guess codes.
pub async fn limit_picks(
    store: &Store,
    caller: &Caller,
    idem: &Idem,
    mode: CodeMode,
    of: PickOf,
) -> Result<()> {
    if mode != CodeMode::Pick {
        return Ok(());
    }
    // A retry of a pick the server already answered (same key) reveals nothing
    // new, so a phone on a flaky network is not throttled by its own retries.
    let mut read = store.read().await?;
    let answered = idempotency::stored(&mut read, &caller.principal, &idem.key).await?;
    drop(read);
    if answered.is_some() {
        return Ok(());
    }
    let user = &caller.user_id;
    match of {
        PickOf::UnitCode => rate_limit(store, &format!("pick:{user}"), 60, 30).await,
        PickOf::PackageRoomCode => {
            rate_limit(store, &format!("pin-pick:{user}"), 3600, PIN_PICKS_PER_HOUR).await?;
            rate_limit(
                store,
                &format!("pin-pick-day:{user}"),
                86_400,
                PIN_PICKS_PER_DAY,
            )
            .await
        }
    }
}

/// Counts one attempt in `bucket` (a fixed window of `window_secs`, shared by
/// every server instance through the database); refuses past `max`.
pub async fn rate_limit(store: &Store, bucket: &str, window_secs: i64, max: i64) -> Result<()> {
    let now = now_secs();
    let window_start = now - now.rem_euclid(window_secs);
    let hits = rate_limits::hit(&mut store.read().await?, bucket, window_start).await?;
    if hits > max {
        let retry = (window_start + window_secs - now).max(1);
        log::warn!(
            "rate limit reached for a {} bucket",
            bucket.split(':').next().unwrap_or("?")
        );
        return Err(Error::rate_limited(u64::try_from(retry).unwrap_or(1)));
    }
    Ok(())
}

/// Takes back the attempt [`rate_limit`] counted in `bucket` in the current
/// window: an attempt that turned out not to count (a sign-in that
/// succeeded counts no failure against the account). Counting first and
/// giving back after keeps the limit strict under concurrent attempts.
pub async fn give_back(store: &Store, bucket: &str, window_secs: i64) -> Result<()> {
    let now = now_secs();
    let window_start = now - now.rem_euclid(window_secs);
    rate_limits::unhit(&mut store.read().await?, bucket, window_start).await
}
