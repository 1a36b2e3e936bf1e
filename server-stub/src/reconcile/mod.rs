//! Reconciliation: what each lock should hold, what it confirmed, and the job
//! that brings it from one to the other, sealed at the door for the lock's
//! session.
//!
//! Per lock the server keeps the desired slot table (placements with
//! `want_*`, at `desired_version`) and the confirmed one (`conf_*`, at
//! `confirmed_version`). A write that moves the desired table only raises
//! `desired_version` ([`touch_lock`]); nothing is sealed ahead. When a phone
//! visits the lock ([`crate::visits`]), the lock's fresh status is settled
//! ([`settle::settle_status`]: its life, its events, where it is) and one job
//! is sealed for the session the status opened ([`plan::seal_for_session`]):
//! a delta from the confirmed table, or a recovery job (clear all, then the
//! whole desired table) when the lock is somewhere the server cannot
//! explain. Every sealed job is recorded with its full effect and a keyed MAC
//! of its expected digest, so its receipt ([`settle::settle_receipt`]), or a
//! later status that shows its table, settles exactly what the lock did.
//! Nothing waits on an "adding" state: a refusal fails the new codes with the
//! lock's reason (the old code stays).
//!
//! - [`plan`]: the job for a session.
//! - [`settle`]: statuses and job receipts.
//! - [`events`]: the lock's audit events, stored once each.

pub mod events;
pub mod plan;
pub mod settle;

use sqlx::AnyConnection;

use crate::crypto::new_id;
use crate::error::{Error, Result};
use crate::model::LockRow;
use crate::store::now_secs;

pub use plan::{JOB_LIFETIME_SECS, SealedJob, seal_for_session};
pub use settle::{Settled, settle_receipt, settle_status};

/// Records one entry of a lock's audit trail (server side).
#[allow(clippy::too_many_arguments)]
pub async fn audit(
    conn: &mut AnyConnection,
    seq: i64,
    property_id: &str,
    lock_id: &str,
    kind: &str,
    slot: Option<u16>,
    code_id: Option<&str>,
    actor: Option<&str>,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, property_id, lock_id, source, epoch, lock_seq, at, kind, slot, code_id, actor, detail, recorded_seq) VALUES ($1, $2, $3, 'server', NULL, NULL, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id("aud"))
    .bind(property_id.to_owned())
    .bind(lock_id.to_owned())
    .bind(now_secs())
    .bind(kind.to_owned())
    .bind(slot.map(i64::from))
    .bind(code_id.map(str::to_owned))
    .bind(actor.map(str::to_owned))
    .bind(detail.map(str::to_owned))
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The smallest slot of `lock` that no live placement holds.
pub async fn allocate_slot(conn: &mut AnyConnection, lock: &LockRow) -> Result<u16> {
    let used: Vec<(i64,)> =
        sqlx::query_as("SELECT slot FROM placements WHERE lock_id = $1 AND live = 1 ORDER BY slot")
            .bind(lock.id.clone())
            .fetch_all(&mut *conn)
            .await?;
    let mut next: i64 = 0;
    for (slot,) in used {
        if slot == next {
            next += 1;
        } else if slot > next {
            break;
        }
    }
    u16::try_from(next)
        .ok()
        .filter(|slot| *slot < lock.capacity)
        .ok_or_else(|| {
            Error::conflict(
                "lock_full",
                format!(
                    "the lock \"{}\" has no free slot; delete a code first",
                    lock.name
                ),
            )
        })
}

/// The desired table of a lock moved in the write at `seq`: raise its
/// desired version (the next visit seals the job) and let sync report it.
pub async fn touch_lock(conn: &mut AnyConnection, seq: i64, lock_id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE locks SET desired_version = CASE WHEN desired_version > confirmed_version THEN desired_version + 1 ELSE confirmed_version + 1 END, attention = NULL, change_seq = $1 WHERE id = $2",
    )
    .bind(seq)
    .bind(lock_id.to_owned())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Saves a lock's reconciliation state.
pub(crate) async fn save_lock(conn: &mut AnyConnection, lock: &LockRow) -> Result<()> {
    sqlx::query(
        "UPDATE locks SET desired_version = $1, confirmed_version = $2, seen_version = $3, needs_recovery = $4, attention = $5, audit_ack = $6, epoch = $7, change_seq = $8 WHERE id = $9",
    )
    .bind(i64::from(lock.desired_version))
    .bind(i64::from(lock.confirmed_version))
    .bind(i64::from(lock.seen_version))
    .bind(i64::from(lock.needs_recovery))
    .bind(lock.attention.clone())
    .bind(i64::from(lock.audit_ack))
    .bind(lock.epoch.clone())
    .bind(lock.change_seq)
    .bind(lock.id.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks codes as changed at `seq` so sync reports them.
pub async fn bump_codes(conn: &mut AnyConnection, seq: i64, code_ids: &[String]) -> Result<()> {
    let now = now_secs();
    for id in dedup(code_ids) {
        sqlx::query("UPDATE codes SET change_seq = $1, updated_at = $2 WHERE id = $3")
            .bind(seq)
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn dedup(ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = ids.to_vec();
    out.sort();
    out.dedup();
    out
}

/// Ends a code (`used`, `expired`, `deleted`): sets its status and asks every
/// lock to drop it. Returns through `touched` the codes to report.
pub async fn end_code(
    conn: &mut AnyConnection,
    seq: i64,
    property_id: &str,
    code_id: &str,
    ending: &str,
    touched: &mut Vec<String>,
) -> Result<()> {
    sqlx::query("UPDATE codes SET status = $1 WHERE id = $2 AND property_id = $3")
        .bind(ending.to_owned())
        .bind(code_id.to_owned())
        .bind(property_id.to_owned())
        .execute(&mut *conn)
        .await?;
    let mut locks = Vec::new();
    for mut p in crate::model::code_placements(conn, code_id).await? {
        if !p.want_present {
            continue;
        }
        p.want_present = false;
        p.want_enabled = false;
        p.ending = Some(ending.to_owned());
        p.save(conn).await?;
        locks.push(p.lock_id.clone());
        audit(
            conn,
            seq,
            property_id,
            &p.lock_id,
            &format!("code_{ending}"),
            Some(p.slot),
            Some(code_id),
            None,
            None,
        )
        .await?;
    }
    touched.push(code_id.to_owned());
    sqlx::query("UPDATE codes SET change_seq = $1 WHERE id = $2")
        .bind(seq)
        .bind(code_id.to_owned())
        .execute(&mut *conn)
        .await?;
    for lock_id in dedup(&locks) {
        touch_lock(conn, seq, &lock_id).await?;
    }
    Ok(())
}

/// Ends codes whose windows closed, for one property. Returns how many
/// codes expired.
pub async fn sweep_property(
    conn: &mut AnyConnection,
    seq: i64,
    property_id: &str,
) -> Result<usize> {
    let now = now_secs();
    let ended: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM codes WHERE property_id = $1 AND status IN ('active', 'disabled') AND ends_at IS NOT NULL AND ends_at <= $2",
    )
    .bind(property_id.to_owned())
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut touched = Vec::new();
    for (code_id,) in &ended {
        end_code(conn, seq, property_id, code_id, "expired", &mut touched).await?;
    }
    Ok(ended.len())
}
