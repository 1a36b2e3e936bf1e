//! A lock's audit events as receipts and statuses carry them: each stored
//! once, by the lock's life and sequence number, with the code its slot held;
//! a one-time PIN's use ends the PIN everywhere.

use keyway_core::protocol::{AuditEvent, AuditKind, Epoch};
use sqlx::AnyConnection;

use super::end_code;
use crate::crypto::new_id;
use crate::error::Result;
use crate::model::{LockRow, Placement, load_placement};

/// The name, slot and detail an event is stored with. Events never carry a
/// code, only slots.
fn describe(kind: AuditKind) -> (&'static str, Option<u16>, Option<String>) {
    match kind {
        AuditKind::CodeUsed { slot } => ("code_used", Some(slot), None),
        AuditKind::OneTimeConsumed { slot } => ("one_time_consumed", Some(slot), None),
        AuditKind::WrongCode { count } => (
            "wrong_code",
            None,
            Some(format!("{count} since the last lockout")),
        ),
        AuditKind::Denied { slot } => ("denied", Some(slot), None),
        AuditKind::LockoutStarted { seconds } => {
            ("lockout_started", None, Some(format!("{seconds} s")))
        }
        AuditKind::LockoutEnded => ("lockout_ended", None, None),
        AuditKind::ClockSet { previous } => {
            ("clock_set", None, Some(format!("previous {previous}")))
        }
        AuditKind::JobApplied { version } => {
            ("lock_job_applied", None, Some(format!("version {version}")))
        }
        AuditKind::JobRefused { reason } => {
            ("lock_job_refused", None, Some(reason.code().to_owned()))
        }
        AuditKind::PowerRestored => ("power_restored", None, None),
        AuditKind::Unknown { code, .. } => ("unknown", None, Some(format!("type {code}"))),
    }
}

/// Stores events of the lock's life `epoch` (each once) and settles one-time
/// PINs that were used. With `advance_ack`, events of the lock's current life
/// advance its acknowledgement (the next job lets the lock forget them); a
/// status asked for with another life's position must not, or the lock would
/// forget events the server never saw. True when any event was new.
pub async fn store_events(
    conn: &mut AnyConnection,
    seq: i64,
    lock: &mut LockRow,
    epoch: Epoch,
    events: &[AuditEvent],
    advance_ack: bool,
    touched: &mut Vec<String>,
) -> Result<bool> {
    let epoch_hex = epoch.to_string();
    let current_life = lock.epoch.as_deref() == Some(epoch_hex.as_str());
    let mut any_new = false;
    for event in events {
        let (kind, slot, detail) = describe(event.kind);
        let placement = match slot {
            Some(slot) if current_life => slot_placement(conn, &lock.id, slot).await?,
            _ => None,
        };
        let inserted = sqlx::query(
            "INSERT INTO audit_log (id, property_id, lock_id, source, epoch, lock_seq, at, kind, slot, code_id, actor, detail, recorded_seq) VALUES ($1, $2, $3, 'lock', $4, $5, $6, $7, $8, $9, NULL, $10, $11) ON CONFLICT (lock_id, epoch, lock_seq) DO NOTHING",
        )
        .bind(new_id("aud"))
        .bind(lock.property_id.clone())
        .bind(lock.id.clone())
        .bind(epoch_hex.clone())
        .bind(i64::from(event.seq))
        .bind(event.at.as_second())
        .bind(kind.to_owned())
        .bind(slot.map(i64::from))
        .bind(placement.as_ref().map(|p| p.code_id.clone()))
        .bind(detail)
        .bind(seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if current_life && advance_ack {
            lock.audit_ack = lock.audit_ack.max(event.seq);
        }
        if inserted == 0 {
            continue;
        }
        any_new = true;
        if let (AuditKind::OneTimeConsumed { .. }, Some(p)) = (event.kind, placement) {
            end_code(conn, seq, &lock.property_id, &p.code_id, "used", touched).await?;
        }
    }
    Ok(any_new)
}

/// The placement confirmed in `slot` of the lock (the newest, if a change
/// left two).
async fn slot_placement(
    conn: &mut AnyConnection,
    lock_id: &str,
    slot: u16,
) -> Result<Option<Placement>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM placements WHERE lock_id = $1 AND slot = $2 AND conf_present = 1 ORDER BY created_at DESC",
    )
    .bind(lock_id.to_owned())
    .bind(i64::from(slot))
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some((id,)) => load_placement(conn, &id).await,
        None => Ok(None),
    }
}
