//! Idempotency records: the answer stored per (principal, key), sealed,
//! with a keyed MAC of the request.

use super::{Context, Write};
use crate::error::Result;

/// A stored answer.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Keyed MAC of the request it answered.
    pub request_hash: String,
    /// The answer's HTTP status.
    pub status: i64,
    /// The answer, sealed for its cell.
    pub body: String,
}

/// The answer stored for `key` of `principal`, if any.
pub async fn stored(cx: &mut impl Context, principal: &str, key: &str) -> Result<Option<Stored>> {
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT request_hash, status, body FROM idempotency WHERE principal = $1 AND key = $2",
    )
    .bind(principal.to_owned())
    .bind(key.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    Ok(row.map(|(request_hash, status, body)| Stored {
        request_hash,
        status,
        body,
    }))
}

/// Stores the answer to `key` of `principal` in this write.
pub async fn store(
    w: &mut Write,
    principal: &str,
    key: &str,
    answer: Stored,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO idempotency (principal, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(principal.to_owned())
    .bind(key.to_owned())
    .bind(answer.request_hash)
    .bind(answer.status)
    .bind(answer.body)
    .bind(now)
    .execute(w.conn())
    .await?;
    Ok(())
}
