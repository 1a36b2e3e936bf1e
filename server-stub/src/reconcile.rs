//! Reconciliation: what each lock should hold, what it confirmed, and the one
//! sealed job that brings it from one to the other.
//!
//! Per lock the server keeps the desired slot table (placements with
//! `want_*`, at `desired_version`) and the confirmed one (`conf_*`, at
//! `confirmed_version`). There is at most one current job: a delta from the
//! confirmed version to the desired version, sealed again whenever the desired
//! table moves or the job nears expiry. Every sealed job is recorded with its
//! full effect (the target table) and expected digest, so a receipt for any
//! job, even a superseded one, settles exactly what the lock did. Nothing
//! waits on an "adding" state: a refusal fails the new codes with the lock's
//! reason (the old code stays), and a version mismatch or a digest that
//! matches no known job leads to one recovery job (clear all, then the whole
//! desired table, target above every version seen).

use jiff::Timestamp;
use keyway_core::lock::digest_of;
use keyway_core::protocol::{
    AuditEvent, AuditKind, BaseVersion, Job, JobId, Op, Outcome, Receipt, RefusalReason, ReplyTo,
};
use sqlx::AnyConnection;

use crate::crypto::{DataKey, hex, new_id};
use crate::error::{ApiError, ApiResult};
use crate::model::{LockRow, Placement, live_placements, load_lock, load_placement};
use crate::store::now_secs;

/// How long a sealed job stays valid on the lock's clock.
pub const JOB_LIFETIME_SECS: i64 = 7 * 86_400;
/// A job with less than this left is sealed again.
pub const RESEAL_BEFORE_SECS: i64 = 86_400;

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
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, property_id, lock_id, source, lock_seq, at, kind, slot, code_id, actor, detail, recorded_seq) VALUES ($1, $2, $3, 'server', NULL, $4, $5, $6, $7, $8, $9, $10)",
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
pub async fn allocate_slot(conn: &mut AnyConnection, lock: &LockRow) -> ApiResult<u16> {
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
            ApiError::conflict(
                "lock_full",
                format!(
                    "the lock \"{}\" has no free slot; delete a code first",
                    lock.name
                ),
            )
        })
}

/// The desired table of a lock moved: raise its desired version; the job is
/// sealed by [`flush_touched`] before the write commits.
pub async fn touch_lock(conn: &mut AnyConnection, lock_id: &str) -> ApiResult<()> {
    pending_touch(conn, lock_id).await
}

struct Plan {
    ops: Vec<Op>,
    effects: Vec<(String, bool, bool)>,
    digest: [u8; 32],
}

async fn plan(
    conn: &mut AnyConnection,
    key: &DataKey,
    lock: &LockRow,
    recovery: bool,
) -> ApiResult<Plan> {
    let placements = live_placements(conn, &lock.id).await?;
    let mut removes = Vec::new();
    let mut changes = Vec::new();
    let mut puts = Vec::new();
    let mut target = Vec::new();
    let mut effects = Vec::new();
    for p in &placements {
        effects.push((p.id.clone(), p.want_present, p.want_enabled));
        if p.want_present {
            let entry = p.entry(key, p.want_enabled)?;
            target.push((p.slot, entry.clone()));
            if recovery || !p.conf_present {
                puts.push(Op::Put {
                    slot: p.slot,
                    entry,
                });
            } else if p.want_enabled != p.conf_enabled {
                changes.push(if p.want_enabled {
                    Op::Enable { slot: p.slot }
                } else {
                    Op::Disable { slot: p.slot }
                });
            }
        } else if p.conf_present && !recovery {
            removes.push(Op::Remove { slot: p.slot });
        }
    }
    target.sort_by_key(|(slot, _)| *slot);
    let digest = digest_of(target.iter().map(|(slot, entry)| (*slot, entry)));
    let mut ops = Vec::new();
    if recovery {
        ops.push(Op::ClearAll);
    }
    ops.extend(removes);
    ops.extend(changes);
    ops.extend(puts);
    Ok(Plan {
        ops,
        effects,
        digest,
    })
}

/// Seals the job that brings `lock` from its confirmed table to the desired
/// one (or clears the job when there is nothing to do), and saves the lock.
pub async fn reseal(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    lock: &mut LockRow,
) -> ApiResult<()> {
    let recovery = lock.needs_recovery;
    let plan = plan(conn, key, lock, recovery).await?;
    let nothing_to_do = !recovery && plan.ops.is_empty();
    if nothing_to_do || lock.attention.is_some() {
        lock.job_id = None;
        lock.job_envelope = None;
        lock.job_target = None;
        lock.job_expires_at = None;
    } else {
        let floor = if recovery {
            lock.seen_version.max(lock.confirmed_version)
        } else {
            lock.confirmed_version
        };
        if lock.desired_version <= floor {
            lock.desired_version = floor.saturating_add(1);
        }
        let now = now_secs();
        let job = Job {
            job_id: JobId(crate::crypto::random_bytes::<16>()?),
            base: if recovery {
                BaseVersion::Any
            } else {
                BaseVersion::Exact(lock.confirmed_version)
            },
            target: lock.desired_version,
            issued_at: Timestamp::from_second(now).unwrap_or(Timestamp::UNIX_EPOCH),
            expires_at: Timestamp::from_second(now + JOB_LIFETIME_SECS)
                .unwrap_or(Timestamp::UNIX_EPOCH),
            audit_ack: lock.audit_ack,
            ops: plan.ops,
        };
        let sealed = lock
            .keys(key)?
            .seal_job(&job)
            .map_err(|e| ApiError::internal("sealing a job", e))?;
        let job_id = hex(&job.job_id.0);
        let effects = serde_json::to_string(&plan.effects)?;
        sqlx::query(
            "INSERT INTO jobs (id, lock_id, base, target, recovery, digest, effects, issued_at, expires_at, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
        )
        .bind(job_id.clone())
        .bind(lock.id.clone())
        .bind(if recovery { -1 } else { i64::from(lock.confirmed_version) })
        .bind(i64::from(job.target))
        .bind(i64::from(recovery))
        .bind(hex(&plan.digest))
        .bind(effects)
        .bind(now)
        .bind(now + JOB_LIFETIME_SECS)
        .execute(&mut *conn)
        .await?;
        lock.job_id = Some(job_id);
        lock.job_envelope = Some(keyway_core::api::encode_bytes(&sealed));
        lock.job_target = Some(job.target);
        lock.job_expires_at = Some(now + JOB_LIFETIME_SECS);
    }
    lock.change_seq = seq;
    save_lock(conn, lock).await
}

async fn save_lock(conn: &mut AnyConnection, lock: &LockRow) -> ApiResult<()> {
    sqlx::query(
        "UPDATE locks SET dirty = 0, desired_version = CASE WHEN desired_version > $1 THEN desired_version ELSE $1 END, confirmed_version = $2, seen_version = $3, needs_recovery = $4, attention = $5, audit_ack = $6, job_id = $7, job_envelope = $8, job_target = $9, job_expires_at = $10, change_seq = $11 WHERE id = $12",
    )
    .bind(i64::from(lock.desired_version))
    .bind(i64::from(lock.confirmed_version))
    .bind(i64::from(lock.seen_version))
    .bind(i64::from(lock.needs_recovery))
    .bind(lock.attention.clone())
    .bind(i64::from(lock.audit_ack))
    .bind(lock.job_id.clone())
    .bind(lock.job_envelope.clone())
    .bind(lock.job_target.map(i64::from))
    .bind(lock.job_expires_at)
    .bind(lock.change_seq)
    .bind(lock.id.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks codes as changed at `seq` so sync reports them.
pub async fn bump_codes(conn: &mut AnyConnection, seq: i64, code_ids: &[String]) -> ApiResult<()> {
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

/// id, base, target, recovery, digest, effects, outcome.
type JobColumns = (String, i64, i64, i64, String, String, Option<String>);

struct JobRecord {
    id: String,
    base: i64,
    target: u32,
    recovery: bool,
    digest: String,
    effects: Vec<(String, bool, bool)>,
    outcome: Option<String>,
}

async fn load_job(
    conn: &mut AnyConnection,
    sql: &'static str,
    a: String,
    b: String,
) -> ApiResult<Option<JobRecord>> {
    let row: Option<JobColumns> = sqlx::query_as(sql)
        .bind(a)
        .bind(b)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|(id, base, target, recovery, digest, effects, outcome)| {
        Ok(JobRecord {
            id,
            base,
            target: u32::try_from(target).map_err(|e| ApiError::internal("job target", e))?,
            recovery: recovery != 0,
            digest,
            effects: serde_json::from_str(&effects)?,
            outcome,
        })
    })
    .transpose()
}

/// A job of `lock_id` whose target table has `digest` at `version`.
async fn job_reaching(
    conn: &mut AnyConnection,
    lock_id: &str,
    digest: &str,
    version: u32,
) -> ApiResult<Option<JobRecord>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM jobs WHERE lock_id = $1 AND digest = $2 AND target = $3 ORDER BY issued_at DESC",
    )
    .bind(lock_id.to_owned())
    .bind(digest.to_owned())
    .bind(i64::from(version))
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some((id,)) => {
            load_job(
                conn,
                "SELECT id, base, target, recovery, digest, effects, outcome FROM jobs WHERE id = $1 AND lock_id = $2",
                id,
                lock_id.to_owned(),
            )
            .await
        }
        None => Ok(None),
    }
}

/// The digest of the table the lock confirmed.
async fn confirmed_digest(
    conn: &mut AnyConnection,
    key: &DataKey,
    lock: &LockRow,
) -> ApiResult<[u8; 32]> {
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
) -> ApiResult<()> {
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

/// What became of one receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// New information was settled.
    Settled,
    /// Nothing new (a receipt seen before, or about a superseded job).
    Stale,
}

/// Settles one opened receipt of `lock`: audit events, confirmed state, the
/// next job. Runs inside the property's write transaction.
pub async fn settle_receipt(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    lock: &mut LockRow,
    receipt: &Receipt,
) -> ApiResult<Settled> {
    let mut touched: Vec<String> = Vec::new();
    let mut settled = Settled::Stale;
    if store_events(conn, seq, lock, &receipt.events, &mut touched).await? {
        settled = Settled::Settled;
    }
    lock.seen_version = lock.seen_version.max(receipt.version);
    let digest_hex = hex(&receipt.digest);
    match (receipt.outcome, receipt.reply_to) {
        (Outcome::Applied, ReplyTo::Job(job_id)) => {
            let job = load_job(
                conn,
                "SELECT id, base, target, recovery, digest, effects, outcome FROM jobs WHERE id = $1 AND lock_id = $2",
                hex(&job_id.0),
                lock.id.clone(),
            )
            .await?;
            match job {
                Some(job) if job.outcome.is_none() && job.target > lock.confirmed_version => {
                    apply_effects(conn, lock, &job, &mut touched).await?;
                    mark_job(conn, &job.id, "applied").await?;
                    if job.digest != digest_hex || receipt.version != job.target {
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
                    .await?;
                    settled = Settled::Settled;
                }
                Some(_) => {}
                None => {
                    lock.needs_recovery = true;
                    settled = Settled::Settled;
                }
            }
        }
        (Outcome::Refused(reason), ReplyTo::Job(job_id)) => {
            let job = load_job(
                conn,
                "SELECT id, base, target, recovery, digest, effects, outcome FROM jobs WHERE id = $1 AND lock_id = $2",
                hex(&job_id.0),
                lock.id.clone(),
            )
            .await?;
            if let Some(job) = job {
                let current = job.outcome.is_none()
                    && (job.recovery || job.base == i64::from(lock.confirmed_version));
                if current {
                    mark_job(conn, &job.id, &format!("refused:{}", reason.code())).await?;
                    refused(conn, seq, lock, &job, reason, &mut touched).await?;
                    settled = Settled::Settled;
                }
            }
        }
        (Outcome::VersionMismatch, _) | (Outcome::Status, _) => {
            if receipt.version == lock.confirmed_version {
                if confirmed_digest(conn, key, lock).await? != receipt.digest {
                    lock.needs_recovery = true;
                    settled = Settled::Settled;
                }
            } else {
                // The lock is somewhere else: a job whose receipt was lost, or
                // a state the server cannot explain.
                let job = job_reaching(conn, &lock.id, &digest_hex, receipt.version).await?;
                match job {
                    Some(job)
                        if job.target == receipt.version
                            && receipt.version > lock.confirmed_version =>
                    {
                        apply_effects(conn, lock, &job, &mut touched).await?;
                        mark_job(conn, &job.id, "applied").await?;
                        if job.recovery {
                            lock.needs_recovery = false;
                        }
                    }
                    _ => lock.needs_recovery = true,
                }
                settled = Settled::Settled;
            }
        }
        _ => {}
    }
    if lock.needs_recovery && settled == Settled::Settled {
        audit(
            conn,
            seq,
            &lock.property_id,
            &lock.id,
            "recovery_started",
            None,
            None,
            None,
            Some(&format!("lock reports version {}", receipt.version)),
        )
        .await?;
    }
    bump_codes(conn, seq, &touched).await?;
    save_lock(conn, lock).await?;
    pending_touch_keep_version(conn, &lock.id).await?;
    flush_touched(conn, key, seq, &lock.property_id).await?;
    *lock = load_lock(conn, &lock.property_id, &lock.id).await?;
    Ok(settled)
}

async fn mark_job(conn: &mut AnyConnection, job_id: &str, outcome: &str) -> ApiResult<()> {
    sqlx::query("UPDATE jobs SET outcome = $1 WHERE id = $2")
        .bind(outcome.to_owned())
        .bind(job_id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The lock refused a job and changed nothing.
async fn refused(
    conn: &mut AnyConnection,
    seq: i64,
    lock: &mut LockRow,
    job: &JobRecord,
    reason: RefusalReason,
    touched: &mut Vec<String>,
) -> ApiResult<()> {
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
        // Not the codes' fault: a fresh job (new expiry) follows.
        RefusalReason::Expired => Ok(()),
        // The server's picture of the lock is wrong: rebuild it.
        RefusalReason::SlotEmpty | RefusalReason::InvalidJob if !job.recovery => {
            lock.needs_recovery = true;
            Ok(())
        }
        _ => {
            // The codes this job would have added fail with the lock's reason;
            // the codes they replace stay.
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
                // person instead of sending the same job again.
                lock.attention = Some(format!("the lock refuses its table: {}", reason.code()));
            }
            Ok(())
        }
    }
}

/// Stores a receipt's audit events (each once, by the lock's sequence number)
/// and settles one-time PINs that were used. True when any event was new.
async fn store_events(
    conn: &mut AnyConnection,
    seq: i64,
    lock: &mut LockRow,
    events: &[AuditEvent],
    touched: &mut Vec<String>,
) -> ApiResult<bool> {
    let mut any_new = false;
    for event in events {
        let (kind, slot, detail): (&str, Option<u16>, Option<String>) = match event.kind {
            AuditKind::CodeUsed { slot } => ("code_used", Some(slot), None),
            AuditKind::OneTimeConsumed { slot } => ("one_time_consumed", Some(slot), None),
            AuditKind::WrongCode { consecutive } => {
                ("wrong_code", None, Some(format!("{consecutive} in a row")))
            }
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
        };
        let placement = match slot {
            Some(slot) => slot_placement(conn, &lock.id, slot).await?,
            None => None,
        };
        let inserted = sqlx::query(
            "INSERT INTO audit_log (id, property_id, lock_id, source, lock_seq, at, kind, slot, code_id, actor, detail, recorded_seq) VALUES ($1, $2, $3, 'lock', $4, $5, $6, $7, $8, NULL, $9, $10) ON CONFLICT (lock_id, lock_seq) DO NOTHING",
        )
        .bind(new_id("aud"))
        .bind(lock.property_id.clone())
        .bind(lock.id.clone())
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
        lock.audit_ack = lock.audit_ack.max(event.seq);
        if inserted == 0 {
            continue;
        }
        any_new = true;
        if let (AuditKind::OneTimeConsumed { .. }, Some(p)) = (event.kind, placement) {
            mark_code_used(conn, seq, &lock.property_id, &p.code_id, touched).await?;
        }
    }
    Ok(any_new)
}

async fn slot_placement(
    conn: &mut AnyConnection,
    lock_id: &str,
    slot: u16,
) -> ApiResult<Option<Placement>> {
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

/// A one-time PIN was used at a lock: it is `used` everywhere and leaves every lock.
async fn mark_code_used(
    conn: &mut AnyConnection,
    seq: i64,
    property_id: &str,
    code_id: &str,
    touched: &mut Vec<String>,
) -> ApiResult<()> {
    end_code(conn, seq, property_id, code_id, "used", touched).await
}

/// Ends a code (`used`, `expired`, `deleted`): sets its status and asks every
/// lock to drop it. Returns through `touched` the codes to report; the caller
/// reseals the locks.
pub async fn end_code(
    conn: &mut AnyConnection,
    seq: i64,
    property_id: &str,
    code_id: &str,
    ending: &str,
    touched: &mut Vec<String>,
) -> ApiResult<()> {
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
    // Locks are resealed by the caller (settle_receipt reseals its own lock).
    for lock_id in dedup(&locks) {
        pending_touch(conn, &lock_id).await?;
    }
    Ok(())
}

/// Marks a lock's desired table as moved without sealing yet (the caller's
/// final reseal, or [`flush_touched`], seals it).
async fn pending_touch(conn: &mut AnyConnection, lock_id: &str) -> ApiResult<()> {
    sqlx::query(
        "UPDATE locks SET desired_version = CASE WHEN desired_version > confirmed_version THEN desired_version + 1 ELSE confirmed_version + 1 END, attention = NULL, dirty = 1 WHERE id = $1",
    )
    .bind(lock_id.to_owned())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a lock for resealing without moving its desired version.
async fn pending_touch_keep_version(conn: &mut AnyConnection, lock_id: &str) -> ApiResult<()> {
    sqlx::query("UPDATE locks SET dirty = 1 WHERE id = $1")
        .bind(lock_id.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Seals every lock of the property whose desired table moved without a job.
pub async fn flush_touched(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    property_id: &str,
) -> ApiResult<()> {
    let dirty = crate::model::load_locks_where(conn, property_id, "AND dirty = 1", &[]).await?;
    for mut lock in dirty {
        reseal(conn, key, seq, &mut lock).await?;
    }
    Ok(())
}

/// Ends codes whose windows closed and reseals jobs near expiry, for one
/// property. Returns how many codes expired.
pub async fn sweep_property(
    conn: &mut AnyConnection,
    key: &DataKey,
    seq: i64,
    property_id: &str,
) -> ApiResult<usize> {
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
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM locks WHERE property_id = $1 AND job_id IS NOT NULL AND job_expires_at IS NOT NULL AND job_expires_at < $2",
    )
    .bind(property_id.to_owned())
    .bind(now + RESEAL_BEFORE_SECS)
    .fetch_all(&mut *conn)
    .await?;
    for (lock_id,) in rows {
        let mut lock = load_lock(conn, property_id, &lock_id).await?;
        reseal(conn, key, seq, &mut lock).await?;
    }
    flush_touched(conn, key, seq, property_id).await?;
    Ok(ended.len())
}
