//! Visits: single-use challenges for a lock's status, with the status's
//! hash and the answer once presented.

use super::batch::{Insert, Value};
use super::{Context, Write};
use crate::error::Result;

/// A visit as stored.
#[derive(Debug, Clone)]
pub struct VisitRow {
    /// The lock.
    pub lock_id: String,
    /// Who opened it.
    pub principal: String,
    /// The challenge (32 hex digits).
    pub challenge: String,
    /// What the server knew of the lock when it opened.
    pub lock_state: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// SHA-256 of the status presented, once one was.
    pub status_hash: Option<String>,
    /// The answer (JSON), once given.
    pub answer: Option<String>,
}

/// A new visit.
#[derive(Debug, Clone)]
pub struct NewVisit {
    /// Id.
    pub id: String,
    /// Property.
    pub property_id: String,
    /// The lock.
    pub lock_id: String,
    /// Who opens it.
    pub principal: String,
    /// The challenge (32 hex digits).
    pub challenge: String,
    /// What the server knows of the lock.
    pub lock_state: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Insert for NewVisit {
    const TABLE: &'static str = "visits";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "property_id",
        "lock_id",
        "principal",
        "challenge",
        "lock_state",
        "created_at",
        "expires_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.property_id).into(),
            (&self.lock_id).into(),
            (&self.principal).into(),
            (&self.challenge).into(),
            (&self.lock_state).into(),
            self.created_at.into(),
            self.expires_at.into(),
        ])
    }
}

/// A visit of a property.
pub async fn load(
    cx: &mut impl Context,
    property_id: &str,
    visit_id: &str,
) -> Result<Option<VisitRow>> {
    type Columns = (
        String,
        String,
        String,
        String,
        i64,
        Option<String>,
        Option<String>,
    );
    let row: Option<Columns> = sqlx::query_as(
        "SELECT lock_id, principal, challenge, lock_state, expires_at, status_hash, answer FROM visits WHERE id = $1 AND property_id = $2",
    )
    .bind(visit_id.to_owned())
    .bind(property_id.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    Ok(row.map(
        |(lock_id, principal, challenge, lock_state, expires_at, status_hash, answer)| VisitRow {
            lock_id,
            principal,
            challenge,
            lock_state,
            expires_at,
            status_hash,
            answer,
        },
    ))
}

/// Claims a visit for the status with this hash; false when it was used.
pub async fn claim(w: &mut Write, visit_id: &str, status_hash: &str, now: i64) -> Result<bool> {
    let claimed = sqlx::query(
        "UPDATE visits SET used_at = $1, status_hash = $2 WHERE id = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(status_hash.to_owned())
    .bind(visit_id.to_owned())
    .execute(w.conn())
    .await?
    .rows_affected();
    Ok(claimed > 0)
}

/// Keeps a visit's answer (JSON) for a status presented again.
pub async fn set_answer(w: &mut Write, visit_id: &str, answer: String) -> Result<()> {
    sqlx::query("UPDATE visits SET answer = $1 WHERE id = $2")
        .bind(answer)
        .bind(visit_id.to_owned())
        .execute(w.conn())
        .await?;
    Ok(())
}

/// Forgets visits whose challenge expired before `before`.
pub async fn forget_expired_before(cx: &mut impl Context, before: i64) -> Result<()> {
    sqlx::query("DELETE FROM visits WHERE expires_at < $1")
        .bind(before)
        .execute(cx.conn())
        .await?;
    Ok(())
}
