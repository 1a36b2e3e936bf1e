//! Fixed-window rate-limit counters, shared by every server instance.

use super::Context;
use crate::error::Result;

/// Counts one hit in `bucket` for the window starting at `window_start`
/// (a new window starts the count again); the hits so far.
pub async fn hit(cx: &mut impl Context, bucket: &str, window_start: i64) -> Result<i64> {
    let (hits,): (i64,) = sqlx::query_as(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) ON CONFLICT (bucket) DO UPDATE SET hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END, window_start = excluded.window_start RETURNING hits",
    )
    .bind(bucket.to_owned())
    .bind(window_start)
    .fetch_one(cx.conn())
    .await?;
    Ok(hits)
}

/// Takes one hit back from `bucket`'s window starting at `window_start` (an
/// attempt that turned out not to count).
pub async fn unhit(cx: &mut impl Context, bucket: &str, window_start: i64) -> Result<()> {
    sqlx::query(
        "UPDATE rate_limits SET hits = hits - 1 WHERE bucket = $1 AND window_start = $2 AND hits > 0",
    )
    .bind(bucket.to_owned())
    .bind(window_start)
    .execute(cx.conn())
    .await?;
    Ok(())
}
