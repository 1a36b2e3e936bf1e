//! The audit trail per lock: the server's changes and the lock's events
//! (each stored once per lock, life and sequence number).

use keyway_api::AuditEntry;

use super::{Context, Write};
use crate::clock::{now_secs, ts};
use crate::crypto::new_id;
use crate::error::Result;

/// An entry the server records about one of its own changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerEntry<'a> {
    /// What happened (`code_added`, `job_refused`, …).
    pub kind: &'a str,
    /// The slot concerned.
    pub slot: Option<u16>,
    /// The code concerned.
    pub code_id: Option<&'a str>,
    /// Who did it.
    pub actor: Option<&'a str>,
    /// More.
    pub detail: Option<&'a str>,
}

/// Records a server entry of `lock_id`'s trail in this write.
pub async fn record(w: &mut Write, lock_id: &str, entry: ServerEntry<'_>) -> Result<()> {
    let (seq, property_id) = (w.seq(), w.property_id().to_owned());
    sqlx::query(
        "INSERT INTO audit_log (id, property_id, lock_id, source, epoch, lock_seq, at, kind, slot, code_id, actor, detail, recorded_seq) VALUES ($1, $2, $3, 'server', NULL, NULL, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id("aud"))
    .bind(property_id)
    .bind(lock_id.to_owned())
    .bind(now_secs())
    .bind(entry.kind.to_owned())
    .bind(entry.slot.map(i64::from))
    .bind(entry.code_id.map(str::to_owned))
    .bind(entry.actor.map(str::to_owned))
    .bind(entry.detail.map(str::to_owned))
    .bind(seq)
    .execute(w.conn())
    .await?;
    Ok(())
}

/// An event a lock reported.
#[derive(Debug, Clone)]
pub struct LockEvent {
    /// The lock's life (16 hex digits).
    pub epoch: String,
    /// The lock's sequence number in that life.
    pub lock_seq: u32,
    /// When, on the lock's clock (Unix seconds).
    pub at: i64,
    /// What.
    pub kind: &'static str,
    /// The slot concerned.
    pub slot: Option<u16>,
    /// The code the slot held.
    pub code_id: Option<String>,
    /// More.
    pub detail: Option<String>,
}

/// Stores a lock event once per lock, life and sequence number; true when
/// it was new.
pub async fn record_event(w: &mut Write, lock_id: &str, event: &LockEvent) -> Result<bool> {
    let (seq, property_id) = (w.seq(), w.property_id().to_owned());
    let inserted = sqlx::query(
        "INSERT INTO audit_log (id, property_id, lock_id, source, epoch, lock_seq, at, kind, slot, code_id, actor, detail, recorded_seq) VALUES ($1, $2, $3, 'lock', $4, $5, $6, $7, $8, $9, NULL, $10, $11) ON CONFLICT (lock_id, epoch, lock_seq) DO NOTHING",
    )
    .bind(new_id("aud"))
    .bind(property_id)
    .bind(lock_id.to_owned())
    .bind(event.epoch.clone())
    .bind(i64::from(event.lock_seq))
    .bind(event.at)
    .bind(event.kind.to_owned())
    .bind(event.slot.map(i64::from))
    .bind(event.code_id.clone())
    .bind(event.detail.clone())
    .bind(seq)
    .execute(w.conn())
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

/// source, epoch, lock_seq, at, kind, slot, code_id, detail.
type AuditRow = (
    String,
    Option<String>,
    Option<i64>,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn entry(row: AuditRow) -> AuditEntry {
    let (source, epoch, lock_seq, at, kind, slot, code_id, detail) = row;
    AuditEntry {
        source,
        epoch: epoch.filter(|e| !e.is_empty()),
        lock_seq: lock_seq.and_then(|s| u32::try_from(s).ok()),
        at: ts(at),
        kind,
        slot: slot.and_then(|s| u16::try_from(s).ok()),
        code_id,
        detail,
    }
}

/// A lock's entries recorded after position `after`, at most `limit`.
pub async fn list(
    cx: &mut impl Context,
    lock_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT source, epoch, lock_seq, at, kind, slot, code_id, detail FROM audit_log WHERE lock_id = $1 AND recorded_seq > $2 ORDER BY recorded_seq, at, lock_seq LIMIT $3",
    )
    .bind(lock_id.to_owned())
    .bind(after)
    .bind(limit)
    .fetch_all(cx.conn())
    .await?;
    Ok(rows.into_iter().map(entry).collect())
}

/// A lock's newest entries of one kind and source (`None`: any), newest
/// first, at most `limit`.
pub async fn newest(
    cx: &mut impl Context,
    lock_id: &str,
    kind: Option<&str>,
    source: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT source, epoch, lock_seq, at, kind, slot, code_id, detail FROM audit_log WHERE lock_id = $1 AND ($2 = '' OR kind = $2) AND ($3 = '' OR source = $3) ORDER BY recorded_seq DESC, at DESC, lock_seq DESC LIMIT $4",
    )
    .bind(lock_id.to_owned())
    .bind(kind.unwrap_or_default().to_owned())
    .bind(source.unwrap_or_default().to_owned())
    .bind(limit)
    .fetch_all(cx.conn())
    .await?;
    Ok(rows.into_iter().map(entry).collect())
}

/// A property's newest entries over all its locks, newest first, each
/// with its lock's id.
pub async fn recent(
    cx: &mut impl Context,
    property_id: &str,
    limit: i64,
) -> Result<Vec<(String, AuditEntry)>> {
    type Row = (
        String,
        String,
        Option<String>,
        Option<i64>,
        i64,
        String,
        Option<i64>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT lock_id, source, epoch, lock_seq, at, kind, slot, code_id, detail FROM audit_log WHERE property_id = $1 ORDER BY recorded_seq DESC, at DESC LIMIT $2",
    )
    .bind(property_id.to_owned())
    .bind(limit)
    .fetch_all(cx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(lock, source, epoch, seq, at, kind, slot, code, detail)| {
            (
                lock,
                entry((source, epoch, seq, at, kind, slot, code, detail)),
            )
        })
        .collect())
}
