//! Webhooks (secret sealed), their deliveries (written in the write that
//! makes the event, claimed by the worker with a lease) and every attempt.

use super::batch::{Insert, Value};
use super::{Context, Write};
use crate::error::Result;

/// A webhook as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRow {
    /// Id.
    pub id: String,
    /// Property.
    pub property_id: String,
    /// Where it POSTs.
    pub url: String,
    /// The event types it follows, as JSON.
    pub events: String,
    /// A note.
    pub description: Option<String>,
    /// The signing secret, sealed for its cell.
    pub secret: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once deleted.
    pub deleted_at: Option<i64>,
}

type HookColumns = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
);

fn hook(row: HookColumns) -> HookRow {
    let (id, property_id, url, events, description, secret, created_at, deleted_at) = row;
    HookRow {
        id,
        property_id,
        url,
        events,
        description,
        secret,
        created_at,
        deleted_at,
    }
}

const HOOK_COLUMNS: &str =
    "id, property_id, url, events, description, secret, created_at, deleted_at";

/// A new webhook.
#[derive(Debug, Clone)]
pub struct NewHook {
    /// The row.
    pub row: HookRow,
    /// Who created it.
    pub created_by: String,
}

impl Insert for NewHook {
    const TABLE: &'static str = "webhooks";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "property_id",
        "url",
        "events",
        "description",
        "secret",
        "created_by",
        "created_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        let r = &self.row;
        Ok(vec![
            (&r.id).into(),
            (&r.property_id).into(),
            (&r.url).into(),
            (&r.events).into(),
            r.description.clone().into(),
            (&r.secret).into(),
            (&self.created_by).into(),
            r.created_at.into(),
        ])
    }
}

/// A property's live webhooks, oldest first.
pub async fn list(cx: &mut impl Context, property_id: &str) -> Result<Vec<HookRow>> {
    let sql = format!(
        "SELECT {HOOK_COLUMNS} FROM webhooks WHERE property_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    let rows: Vec<HookColumns> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(property_id.to_owned())
        .fetch_all(cx.conn())
        .await?;
    Ok(rows.into_iter().map(hook).collect())
}

/// One webhook of a property, deleted ones too.
pub async fn load(cx: &mut impl Context, property_id: &str, id: &str) -> Result<Option<HookRow>> {
    let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = $1 AND property_id = $2");
    let row: Option<HookColumns> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .bind(property_id.to_owned())
        .fetch_optional(cx.conn())
        .await?;
    Ok(row.map(hook))
}

/// One webhook by id alone (the worker's view).
pub async fn by_id(cx: &mut impl Context, id: &str) -> Result<Option<HookRow>> {
    let sql = format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = $1");
    let row: Option<HookColumns> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(cx.conn())
        .await?;
    Ok(row.map(hook))
}

/// Deletes a live webhook in this write; false when there was none. Its
/// pending deliveries are given up.
pub async fn delete(w: &mut Write, id: &str, now: i64) -> Result<bool> {
    let property_id = w.property_id().to_owned();
    let deleted = sqlx::query(
        "UPDATE webhooks SET deleted_at = $1 WHERE id = $2 AND property_id = $3 AND deleted_at IS NULL",
    )
    .bind(now)
    .bind(id.to_owned())
    .bind(property_id)
    .execute(w.conn())
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', locked_until_ms = NULL WHERE webhook_id = $1 AND status = 'pending'",
    )
    .bind(id.to_owned())
    .execute(w.conn())
    .await?;
    Ok(deleted > 0)
}

/// A delivery to write.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Id.
    pub id: String,
    /// The webhook.
    pub webhook_id: String,
    /// The property.
    pub property_id: String,
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    pub event_type: &'static str,
    /// The JSON body.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix milliseconds: due at once.
    pub due_ms: i64,
}

impl Insert for NewDelivery {
    const TABLE: &'static str = "webhook_deliveries";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "webhook_id",
        "property_id",
        "event_id",
        "event_type",
        "body",
        "status",
        "attempts",
        "next_attempt_ms",
        "created_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.webhook_id).into(),
            (&self.property_id).into(),
            (&self.event_id).into(),
            self.event_type.into(),
            (&self.body).into(),
            "pending".into(),
            0.into(),
            self.due_ms.into(),
            self.created_at.into(),
        ])
    }
}

/// A claimed delivery: id, webhook, event type, body, attempts so far (this
/// one included).
pub type Claimed = (String, String, String, String, i64);

/// Claims up to 20 due deliveries for `lease_ms` (several instances never
/// send one twice at once), counting the attempt.
pub async fn claim_due(cx: &mut impl Context, now_ms: i64, lease_ms: i64) -> Result<Vec<Claimed>> {
    Ok(sqlx::query_as(
        "UPDATE webhook_deliveries SET locked_until_ms = $1, attempts = attempts + 1 WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_ms <= $2 AND (locked_until_ms IS NULL OR locked_until_ms < $2) ORDER BY next_attempt_ms LIMIT 20) AND status = 'pending' AND (locked_until_ms IS NULL OR locked_until_ms < $2) RETURNING id, webhook_id, event_type, body, attempts",
    )
    .bind(now_ms + lease_ms)
    .bind(now_ms)
    .fetch_all(cx.conn())
    .await?)
}

/// One attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// The delivery.
    pub delivery_id: String,
    /// 1 for the first.
    pub attempt: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// The receiver's status.
    pub status_code: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// When the next attempt is due.
    pub next_attempt_ms: Option<i64>,
}

/// Records an attempt and its outcome: `delivered`, `pending` again (at
/// `next_attempt_ms`) or `failed` (given up).
pub async fn record_attempt(
    cx: &mut impl Context,
    attempt: &AttemptRow,
    status: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, attempt, at_ms, status_code, error, duration_ms, next_attempt_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(crate::crypto::new_id("wha"))
    .bind(attempt.delivery_id.clone())
    .bind(attempt.attempt)
    .bind(attempt.at_ms)
    .bind(attempt.status_code)
    .bind(attempt.error.clone())
    .bind(attempt.duration_ms)
    .bind(attempt.next_attempt_ms)
    .execute(cx.conn())
    .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_ms = COALESCE($2, next_attempt_ms), locked_until_ms = NULL, delivered_at = $3 WHERE id = $4",
    )
    .bind(status.to_owned())
    .bind(attempt.next_attempt_ms)
    .bind((status == "delivered").then_some(attempt.at_ms / 1000))
    .bind(attempt.delivery_id.clone())
    .execute(cx.conn())
    .await?;
    Ok(())
}

/// A delivery as the log shows it: id, event id, event type, status,
/// created (Unix seconds).
pub type DeliveryRow = (String, String, String, String, i64);

/// A webhook's newest deliveries, at most `limit`.
pub async fn deliveries(
    cx: &mut impl Context,
    webhook_id: &str,
    limit: i64,
) -> Result<Vec<DeliveryRow>> {
    Ok(sqlx::query_as(
        "SELECT id, event_id, event_type, status, created_at FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(webhook_id.to_owned())
    .bind(limit)
    .fetch_all(cx.conn())
    .await?)
}

/// attempt, at_ms, status_code, error, duration_ms, next_attempt_ms.
type AttemptColumns = (i64, i64, Option<i64>, Option<String>, i64, Option<i64>);

/// The attempts of a delivery, oldest first.
pub async fn attempts(cx: &mut impl Context, delivery_id: &str) -> Result<Vec<AttemptRow>> {
    let rows: Vec<AttemptColumns> = sqlx::query_as(
        "SELECT attempt, at_ms, status_code, error, duration_ms, next_attempt_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt, at_ms",
    )
    .bind(delivery_id.to_owned())
    .fetch_all(cx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(attempt, at_ms, status_code, error, duration_ms, next_attempt_ms)| AttemptRow {
                delivery_id: delivery_id.to_owned(),
                attempt,
                at_ms,
                status_code,
                error,
                duration_ms,
                next_attempt_ms,
            },
        )
        .collect())
}
