//! Settling what locks say: a fresh status (the lock's life, its events,
//! where it is) and job receipts (what a job did). Both run inside the
//! property's write transaction; a receipt seen before settles nothing.

use keyway_core::lock::digest_of;
use keyway_core::protocol::{Epoch, Outcome, Receipt, RefusalReason, ReplyTo};
use sqlx::AnyConnection;

use super::events::store_events;
use super::plan::digest_mac;
use super::{audit, bump_codes, end_code, save_lock};
use crate::crypto::{DataKey, hex};
use crate::error::{Error, Result};
use crate::model::{LockRow, Placement, live_placements, load_placement};

/// What became of one receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// New information was settled.
    Settled,
    /// Nothing new (a receipt seen before, or about a superseded job).
    Stale,
}

/// A recorded job: what it was sealed to do.
pub(crate) struct JobRecord {
    pub(crate) id: String,
    base: i64,
    target: u32,
    recovery: bool,
    digest_mac: String,
    effects: Vec<(String, bool, bool)>,
    pub(crate) outcome: Option<String>,
}

/// id, base, target, recovery, digest_mac, effects, outcome.
type JobColumns = (String, i64, i64, i64, String, String, Option<String>);

const JOB_COLUMNS: &str = "id, base, target, recovery, digest_mac, effects, outcome";

fn job_record(row: JobColumns) -> Result<JobRecord> {
    let (id, base, target, recovery, digest_mac, effects, outcome) = row;
    Ok(JobRecord {
        id,
        base,
        target: u32::try_from(target).map_err(|e| Error::internal("job target", e))?,
        recovery: recovery != 0,
        digest_mac,
        effects: serde_json::from_str(&effects)?,
        outcome,
    })
}

/// The job `job_id` (hex) of `lock_id`, if the server sealed it.
pub(crate) async fn load_job(
    conn: &mut AnyConnection,
    lock_id: &str,
    job_id: &str,
) -> Result<Option<JobRecord>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND lock_id = $2");
    let row: Option<JobColumns> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(job_id.to_owned())
        .bind(lock_id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(job_record).transpose()
}

/// The newest job of `lock_id` whose target table has this digest MAC at `version`.
async fn job_reaching(
    conn: &mut AnyConnection,
    lock_id: &str,
    digest_mac: &str,
    version: u32,
) -> Result<Option<JobRecord>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE lock_id = $1 AND target = $2 AND digest_mac = $3 ORDER BY issued_at DESC"
    );
    let row: Option<JobColumns> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(lock_id.to_owned())
        .bind(i64::from(version))
        .bind(digest_mac.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(job_record).transpose()
}

async fn mark_job(conn: &mut AnyConnection, job_id: &str, outcome: &str) -> Result<()> {
    sqlx::query("UPDATE jobs SET outcome = $1 WHERE id = $2")
        .bind(outcome.to_owned())
        .bind(job_id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The digest of the table the lock confirmed.
async fn confirmed_digest(
    conn: &mut AnyConnection,
    key: &DataKey,
    lock: &LockRow,
) -> Result<[u8; 32]> {
    let placements = live_placements(conn, &lock.id).await?;
    let mut table = Vec::new();
    for p in placements.iter().filter(|p| p.conf_present) {
        table.push((p.slot, p.entry(key, p.conf_enabled)?));
    }
    Ok(digest_of(table.iter().map(|(slot, entry)| (*slot, entry))))
}

/// Settles what a job did: the lock now holds the job's target table.
async fn apply_effects(
    conn: &mut AnyConnection,
    lock: &mut LockRow,
    job: &JobRecord,
    touched: &mut Vec<String>,
) -> Result<()> {
    let listed: std::collections::HashSet<&str> =
        job.effects.iter().map(|(id, _, _)| id.as_str()).collect();
    for (id, present, enabled) in &job.effects {
        if let Some(mut p) = load_placement(conn, id).await? {
            p.conf_present = *present;
            p.conf_enabled = *enabled && *present;
            settle_failure_flags(&mut p);
            p.save(conn).await?;
            touched.push(p.code_id.clone());
        }
    }
    // Anything the server believed was on the lock but the job's table does
    // not list is gone (a recovery job cleared it; a delta job never omits one).
    for mut p in live_placements(conn, &lock.id).await? {
        if p.conf_present && !listed.contains(p.id.as_str()) {
            p.conf_present = false;
            p.conf_enabled = false;
            p.save(conn).await?;
            touched.push(p.code_id.clone());
        }
    }
    lock.confirmed_version = job.target;
    Ok(())
}

/// A placement that reached the lock is no longer failed.
fn settle_failure_flags(p: &mut Placement) {
    if p.conf_present && p.ending.as_deref() == Some("failed") {
        p.ending = Some("replaced".to_owned());
    }
}

/// Takes back what writes inside this settlement changed in the lock's row
/// (a one-time PIN ended by its use raises the desired version), so saving
/// the lock does not undo it.
async fn refresh_wants(conn: &mut AnyConnection, lock: &mut LockRow) -> Result<()> {
    let fresh = crate::model::load_lock(conn, &lock.property_id, &lock.id).await?;
    lock.desired_version = fresh.desired_version;
    lock.attention = fresh.attention;
    Ok(())
}

/// The lock named its life in a fresh status: a new one (it lost its
/// storage) restarts the acknowledgement of its events, and ends the
/// one-time PINs it held: it no longer knows which were spent, and the
/// recovery that rebuilds its table must not arm them again. True when the
/// life is new to the server.
async fn enter_life(
    conn: &mut AnyConnection,
    seq: i64,
    lock: &mut LockRow,
    epoch: Epoch,
    touched: &mut Vec<String>,
) -> Result<bool> {
    let epoch = epoch.to_string();
    if lock.epoch.as_deref() == Some(epoch.as_str()) {
        return Ok(false);
    }
    if lock.epoch.is_some() {
        let held: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT code_id FROM placements WHERE lock_id = $1 AND one_time = 1 AND conf_present = 1",
        )
        .bind(lock.id.clone())
        .fetch_all(&mut *conn)
        .await?;
        for (code_id,) in held {
            end_code(conn, seq, &lock.property_id, &code_id, "expired", touched).await?;
        }
        audit(
            conn,
            seq,
            &lock.property_id,
            &lock.id,
            "lock_reset",
            None,
            None,
            None,
            Some("the lock started a new life: its events count from 1 again"),
        )
        .await?;
    }
    lock.epoch = Some(epoch);
    lock.audit_ack = 0;
    Ok(true)
}

/// Settles a fresh status (the server issued its challenge for this visit):
/// the lock's life and events, and where it is. A lock at its confirmed
/// version and digest is in sync; one at the target of a job whose receipt
/// was lost settles that job; anywhere else it needs a recovery job.
pub async fn settle_status(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    lock: &mut LockRow,
    status: &Receipt,
) -> Result<()> {
    let mut touched = Vec::new();
    // The status was asked for with the position of the life the server
    // knew; in a new life its events start elsewhere.
    let new_life = enter_life(conn, seq, lock, status.epoch, &mut touched).await?;
    store_events(
        conn,
        seq,
        lock,
        status.epoch,
        &status.events,
        !new_life,
        &mut touched,
    )
    .await?;
    refresh_wants(conn, lock).await?;
    lock.seen_version = lock.seen_version.max(status.version);
    let in_sync = status.version == lock.confirmed_version
        && confirmed_digest(conn, key, lock).await? == status.digest;
    let lost = if in_sync {
        None
    } else {
        job_reaching(
            conn,
            &lock.id,
            &digest_mac(key, &status.digest),
            status.version,
        )
        .await?
        .filter(|job| job.target > lock.confirmed_version)
    };
    if in_sync {
        lock.needs_recovery = false;
    } else if let Some(job) = lost {
        apply_effects(conn, lock, &job, &mut touched).await?;
        mark_job(conn, &job.id, "applied").await?;
        lock.needs_recovery = false;
    } else if !lock.needs_recovery {
        lock.needs_recovery = true;
        audit(
            conn,
            seq,
            &lock.property_id,
            &lock.id,
            "recovery_started",
            None,
            None,
            None,
            Some(&format!("lock reports version {}", status.version)),
        )
        .await?;
    }
    lock.change_seq = seq;
    bump_codes(conn, seq, &touched).await?;
    save_lock(conn, lock).await
}

/// Settles one opened job receipt of `lock`: its events, and what the job
/// did if the server has not settled it yet. A receipt of a job already
/// settled, or from an earlier life of the lock, settles nothing but its
/// events, and a version mismatch starts no recovery (the next visit's fresh
/// status decides).
pub async fn settle_receipt(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    lock: &mut LockRow,
    receipt: &Receipt,
) -> Result<Settled> {
    let ReplyTo::Job(job_id) = receipt.reply_to else {
        return Ok(Settled::Stale);
    };
    let mut touched: Vec<String> = Vec::new();
    let mut settled = Settled::Stale;
    // A job receipt carries the lock's oldest unacknowledged events.
    if store_events(
        conn,
        seq,
        lock,
        receipt.epoch,
        &receipt.events,
        true,
        &mut touched,
    )
    .await?
    {
        settled = Settled::Settled;
        refresh_wants(conn, lock).await?;
    }
    let current_life = lock.epoch.as_deref() == Some(receipt.epoch.to_string().as_str());
    let job = load_job(conn, &lock.id, &hex(&job_id.0))
        .await?
        .filter(|job| job.outcome.is_none() && current_life);
    if let Some(job) = job {
        lock.seen_version = lock.seen_version.max(receipt.version);
        match receipt.outcome {
            Outcome::Applied => {
                applied(conn, key, seq, lock, &job, receipt, &mut touched).await?;
            }
            Outcome::Refused(reason) => {
                mark_job(conn, &job.id, &format!("refused:{}", reason.code())).await?;
                if job.recovery || job.base == i64::from(lock.confirmed_version) {
                    refused(conn, seq, lock, &job, reason, &mut touched).await?;
                }
            }
            Outcome::VersionMismatch | Outcome::Status => {
                mark_job(conn, &job.id, "version_mismatch").await?;
            }
        }
        settled = Settled::Settled;
    }
    if settled == Settled::Settled {
        lock.change_seq = seq;
        bump_codes(conn, seq, &touched).await?;
        save_lock(conn, lock).await?;
    }
    Ok(settled)
}

/// The lock applied `job`.
async fn applied(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    lock: &mut LockRow,
    job: &JobRecord,
    receipt: &Receipt,
    touched: &mut Vec<String>,
) -> Result<()> {
    mark_job(conn, &job.id, "applied").await?;
    if job.target <= lock.confirmed_version {
        // An acknowledgement, or a job a later status already settled.
        return Ok(());
    }
    apply_effects(conn, lock, job, touched).await?;
    if job.digest_mac != digest_mac(key, &receipt.digest) || receipt.version != job.target {
        lock.needs_recovery = true;
    } else if job.recovery {
        lock.needs_recovery = false;
    }
    audit(
        conn,
        seq,
        &lock.property_id,
        &lock.id,
        "job_applied",
        None,
        None,
        None,
        Some(&format!("version {}", job.target)),
    )
    .await
}

/// The lock refused a job and changed nothing.
async fn refused(
    conn: &mut AnyConnection,
    seq: i64,
    lock: &mut LockRow,
    job: &JobRecord,
    reason: RefusalReason,
    touched: &mut Vec<String>,
) -> Result<()> {
    audit(
        conn,
        seq,
        &lock.property_id,
        &lock.id,
        "job_refused",
        None,
        None,
        None,
        Some(reason.code()),
    )
    .await?;
    match reason {
        // Not the codes' fault: the next visit seals a fresh job.
        RefusalReason::Expired => Ok(()),
        // The server's picture of the lock is wrong: rebuild it.
        RefusalReason::SlotEmpty | RefusalReason::InvalidJob if !job.recovery => {
            lock.needs_recovery = true;
            Ok(())
        }
        _ => fail_new_codes(conn, seq, lock, job, reason, touched).await,
    }
}

/// The codes a refused job would have added fail with the lock's reason; the
/// codes they replace stay.
async fn fail_new_codes(
    conn: &mut AnyConnection,
    seq: i64,
    lock: &mut LockRow,
    job: &JobRecord,
    reason: RefusalReason,
    touched: &mut Vec<String>,
) -> Result<()> {
    let mut failed_any = false;
    for (id, present, _) in &job.effects {
        let Some(mut p) = load_placement(conn, id).await? else {
            continue;
        };
        if !*present || p.conf_present || !p.want_present {
            continue;
        }
        p.want_present = false;
        p.want_enabled = false;
        p.ending = Some("failed".to_owned());
        p.reason = Some(reason.code().to_owned());
        p.save(conn).await?;
        touched.push(p.code_id.clone());
        failed_any = true;
        audit(
            conn,
            seq,
            &lock.property_id,
            &lock.id,
            "code_failed",
            Some(p.slot),
            Some(&p.code_id),
            None,
            Some(reason.code()),
        )
        .await?;
        if let Some(old_id) = &p.replaces
            && let Some(mut old) = load_placement(conn, old_id).await?
            && old.conf_present
            && old.ending.as_deref() == Some("replaced")
        {
            old.want_present = true;
            old.want_enabled = old.conf_enabled;
            old.ending = None;
            old.save(conn).await?;
        }
    }
    if !failed_any {
        // Nothing new to blame and the lock still refuses: stop and ask a
        // person instead of sending the same job again. (Otherwise the next
        // visit carries what is left of the desired table.)
        lock.attention = Some(format!("the lock refuses its table: {}", reason.code()));
    }
    Ok(())
}
