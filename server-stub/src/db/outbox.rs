//! The notification outbox: messages written with the PIN they announce,
//! recipient and body sealed, claimed by the worker with a lease.

use super::Context;
use super::batch::{Insert, Value};
use crate::error::Result;

/// A queued message.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Id.
    pub id: String,
    /// Property.
    pub property_id: String,
    /// `email` or `sms`.
    pub channel: String,
    /// The address, sealed for its cell.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// The body, sealed for its cell.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl Insert for NewMessage {
    const TABLE: &'static str = "outbox";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "property_id",
        "channel",
        "recipient",
        "subject",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.property_id).into(),
            (&self.channel).into(),
            (&self.recipient).into(),
            (&self.subject).into(),
            (&self.body).into(),
            "queued".into(),
            0.into(),
            self.created_at.into(),
            self.created_at.into(),
        ])
    }
}

/// A claimed message: id, channel, sealed recipient, subject, sealed body,
/// attempts so far (this one included).
pub type Claimed = (String, String, String, String, String, i64);

/// Claims up to 20 due messages for `lease_secs` (several instances never
/// send one twice at once), counting the attempt.
pub async fn claim_due(cx: &mut impl Context, now: i64, lease_secs: i64) -> Result<Vec<Claimed>> {
    Ok(sqlx::query_as(
        "UPDATE outbox SET locked_until = $1, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until < $2) ORDER BY next_attempt_at LIMIT 20) AND status = 'queued' AND (locked_until IS NULL OR locked_until < $2) RETURNING id, channel, recipient, subject, body, attempts",
    )
    .bind(now + lease_secs)
    .bind(now)
    .fetch_all(cx.conn())
    .await?)
}

/// A message was sent.
pub async fn mark_sent(cx: &mut impl Context, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $1, locked_until = NULL, last_error = NULL WHERE id = $2")
        .bind(now)
        .bind(id.to_owned())
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// A message failed: try again at `next_attempt_at`, or give it up.
pub async fn mark_failed(
    cx: &mut impl Context,
    id: &str,
    give_up: bool,
    next_attempt_at: i64,
    error: &str,
) -> Result<()> {
    sqlx::query("UPDATE outbox SET status = $1, next_attempt_at = $2, locked_until = NULL, last_error = $3 WHERE id = $4")
        .bind(if give_up { "failed" } else { "queued" })
        .bind(next_attempt_at)
        .bind(error.to_owned())
        .bind(id.to_owned())
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// A message as staff see it: id, channel, sealed recipient, subject,
/// status, attempts, created and sent (Unix seconds). Never the body.
pub type Listed = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
);

/// A property's newest messages, newest first, at most `limit`.
pub async fn recent(cx: &mut impl Context, property_id: &str, limit: i64) -> Result<Vec<Listed>> {
    Ok(sqlx::query_as(
        "SELECT id, channel, recipient, subject, status, attempts, created_at, sent_at FROM outbox WHERE property_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(property_id.to_owned())
    .bind(limit)
    .fetch_all(cx.conn())
    .await?)
}
