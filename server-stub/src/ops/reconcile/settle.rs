//! Settling what locks say: a fresh status (the lock's life, its events,
//! where it is) and job receipts (what a job did). Both run inside the
//! property's write; a receipt seen before settles nothing.

use keyway_api::WebhookEventType;
use keyway_protocol::digest_of;
use keyway_protocol::{Epoch, Outcome, Receipt, RefusalReason, ReplyTo};

use super::events::store_events;
use super::plan::digest_mac;
use super::{bump_codes, end_code};
use crate::crypto::hex;
use crate::db::Write;
use crate::db::audit::{self, ServerEntry};
use crate::db::codes::{Placement, placements};
use crate::db::jobs::{self, JobRecord};
use crate::db::locks::{self, LockRow};
use crate::db::offline;
use crate::error::Result;

/// What became of one receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// New information was settled.
    Settled,
    /// Nothing new (a receipt seen before, or about a superseded job).
    Stale,
}

/// The digest of the table the lock confirmed.
async fn confirmed_digest(w: &mut Write, lock: &LockRow) -> Result<[u8; 32]> {
    let live = placements::live(w, &lock.id).await?;
    let key = w.key().clone();
    let mut table = Vec::new();
    for p in live.iter().filter(|p| p.conf_present) {
        table.push((p.slot, p.entry(&key, p.conf_enabled)?));
    }
    Ok(digest_of(table.iter().map(|(slot, entry)| (*slot, entry))))
}

/// Settles what a job did: the lock now holds the job's target table.
async fn apply_effects(
    w: &mut Write,
    lock: &mut LockRow,
    job: &JobRecord,
    touched: &mut Vec<String>,
) -> Result<()> {
    let listed: std::collections::HashSet<&str> =
        job.effects.iter().map(|(id, _, _)| id.as_str()).collect();
    for (id, present, enabled) in &job.effects {
        if let Some(mut p) = placements::load(w, id).await? {
            p.conf_present = *present;
            p.conf_enabled = *enabled && *present;
            settle_failure_flags(&mut p);
            placements::save(w, &p).await?;
            touched.push(p.code_id.clone());
        }
    }
    // Anything the server believed was on the lock but the job's table does
    // not list is gone (a recovery job cleared it; a delta job never omits one).
    for mut p in placements::live(w, &lock.id).await? {
        if p.conf_present && !listed.contains(p.id.as_str()) {
            p.conf_present = false;
            p.conf_enabled = false;
            placements::save(w, &p).await?;
            touched.push(p.code_id.clone());
        }
    }
    for code_id in offline::confirm_revoked(w, &job.revokes).await? {
        touched.push(code_id);
    }
    lock.confirmed_version = job.target;
    let data = serde_json::json!({ "lock": crate::ops::webhooks::lock_data(lock) });
    crate::ops::webhooks::emit(w, WebhookEventType::LockVersionConfirmed, data).await
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
/// Retires the lock's backup codes that are no longer needed and tops its
/// pool up ([`crate::ops::backups::settle`]); the desired version follows.
async fn settle_backups(
    w: &mut Write,
    lock: &mut LockRow,
    touched: &mut Vec<String>,
) -> Result<()> {
    crate::ops::backups::settle(w, lock, touched).await?;
    lock.desired_version = locks::load(w, &lock.property_id, &lock.id)
        .await?
        .desired_version;
    Ok(())
}

async fn refresh_wants(w: &mut Write, lock: &mut LockRow) -> Result<()> {
    let fresh = locks::load(w, &lock.property_id, &lock.id).await?;
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
    w: &mut Write,
    lock: &mut LockRow,
    epoch: Epoch,
    touched: &mut Vec<String>,
) -> Result<bool> {
    let epoch = epoch.to_string();
    if lock.epoch.as_deref() == Some(epoch.as_str()) {
        return Ok(false);
    }
    if lock.epoch.is_some() {
        for code_id in placements::one_time_codes_on(w, &lock.id).await? {
            end_code(w, &code_id, "expired", touched).await?;
        }
        crate::ops::codes::offline::lock_reset(w, lock, touched).await?;
        let entry = ServerEntry {
            kind: "lock_reset",
            detail: Some("the lock started a new life: its events count from 1 again"),
            ..ServerEntry::default()
        };
        audit::record(w, &lock.id, entry).await?;
    }
    lock.epoch = Some(epoch);
    lock.audit_ack = 0;
    Ok(true)
}

/// Settles a fresh status (the server issued its challenge for this visit):
/// the lock's life and events, and where it is. A lock at its confirmed
/// version and digest is in sync; one at the target of a job whose receipt
/// was lost settles that job; anywhere else it needs a recovery job.
pub async fn settle_status(w: &mut Write, lock: &mut LockRow, status: &Receipt) -> Result<()> {
    let (seq, key) = (w.seq(), w.key().clone());
    let mut touched = Vec::new();
    // The status was asked for with the position of the life the server
    // knew; in a new life its events start elsewhere.
    let new_life = enter_life(w, lock, status.epoch, &mut touched).await?;
    store_events(
        w,
        lock,
        status.epoch,
        &status.events,
        !new_life,
        &mut touched,
    )
    .await?;
    refresh_wants(w, lock).await?;
    lock.seen_version = lock.seen_version.max(status.version);
    let in_sync = status.version == lock.confirmed_version
        && confirmed_digest(w, lock).await? == status.digest;
    let lost = if in_sync {
        None
    } else {
        jobs::reaching(
            w,
            &lock.id,
            &digest_mac(&key, &status.digest),
            status.version,
        )
        .await?
        .filter(|job| job.target > lock.confirmed_version)
    };
    if in_sync {
        lock.needs_recovery = false;
    } else if let Some(job) = lost {
        apply_effects(w, lock, &job, &mut touched).await?;
        jobs::set_outcome(w, &job.id, "applied").await?;
        lock.needs_recovery = false;
    } else if !lock.needs_recovery {
        lock.needs_recovery = true;
        let detail = format!("lock reports version {}", status.version);
        let entry = ServerEntry {
            kind: "recovery_started",
            detail: Some(&detail),
            ..ServerEntry::default()
        };
        audit::record(w, &lock.id, entry).await?;
    }
    settle_backups(w, lock, &mut touched).await?;
    lock.change_seq = seq;
    bump_codes(w, &touched).await?;
    locks::save_state(w, lock).await
}

/// Settles one opened job receipt of `lock`: its events, and what the job
/// did if the server has not settled it yet. A receipt of a job already
/// settled, or from an earlier life of the lock, settles nothing but its
/// events, and a version mismatch starts no recovery (the next visit's fresh
/// status decides).
pub async fn settle_receipt(
    w: &mut Write,
    lock: &mut LockRow,
    receipt: &Receipt,
) -> Result<Settled> {
    let ReplyTo::Job(job_id) = receipt.reply_to else {
        return Ok(Settled::Stale);
    };
    let mut touched: Vec<String> = Vec::new();
    let mut settled = Settled::Stale;
    // A job receipt carries the lock's oldest unacknowledged events.
    if store_events(w, lock, receipt.epoch, &receipt.events, true, &mut touched).await? {
        settled = Settled::Settled;
        refresh_wants(w, lock).await?;
    }
    let current_life = lock.epoch.as_deref() == Some(receipt.epoch.to_string().as_str());
    let job = jobs::load(w, &lock.id, &hex(&job_id.0))
        .await?
        .filter(|job| job.outcome.is_none() && current_life);
    if let Some(job) = job {
        lock.seen_version = lock.seen_version.max(receipt.version);
        match receipt.outcome {
            Outcome::Applied => {
                applied(w, lock, &job, receipt, &mut touched).await?;
            }
            Outcome::Refused(reason) => {
                jobs::set_outcome(w, &job.id, &format!("refused:{}", reason.code())).await?;
                if job.recovery || job.base == i64::from(lock.confirmed_version) {
                    refused(w, lock, &job, reason, &mut touched).await?;
                }
            }
            Outcome::VersionMismatch | Outcome::Status => {
                jobs::set_outcome(w, &job.id, "version_mismatch").await?;
            }
        }
        settled = Settled::Settled;
    }
    if settled == Settled::Settled {
        settle_backups(w, lock, &mut touched).await?;
        lock.change_seq = w.seq();
        bump_codes(w, &touched).await?;
        locks::save_state(w, lock).await?;
    }
    Ok(settled)
}

/// The lock applied `job`.
async fn applied(
    w: &mut Write,
    lock: &mut LockRow,
    job: &JobRecord,
    receipt: &Receipt,
    touched: &mut Vec<String>,
) -> Result<()> {
    jobs::set_outcome(w, &job.id, "applied").await?;
    if job.target <= lock.confirmed_version {
        // An acknowledgement, or a job a later status already settled.
        return Ok(());
    }
    apply_effects(w, lock, job, touched).await?;
    if job.digest_mac != digest_mac(w.key(), &receipt.digest) || receipt.version != job.target {
        lock.needs_recovery = true;
    } else if job.recovery {
        lock.needs_recovery = false;
    }
    let detail = format!("version {}", job.target);
    let entry = ServerEntry {
        kind: "job_applied",
        detail: Some(&detail),
        ..ServerEntry::default()
    };
    audit::record(w, &lock.id, entry).await
}

/// The lock refused a job and changed nothing.
async fn refused(
    w: &mut Write,
    lock: &mut LockRow,
    job: &JobRecord,
    reason: RefusalReason,
    touched: &mut Vec<String>,
) -> Result<()> {
    let entry = ServerEntry {
        kind: "job_refused",
        detail: Some(reason.code()),
        ..ServerEntry::default()
    };
    audit::record(w, &lock.id, entry).await?;
    match reason {
        // Not the codes' fault: the next visit seals a fresh job.
        RefusalReason::Expired => Ok(()),
        // The server's picture of the lock is wrong: rebuild it.
        RefusalReason::SlotEmpty | RefusalReason::InvalidJob if !job.recovery => {
            lock.needs_recovery = true;
            Ok(())
        }
        _ => fail_new_codes(w, lock, job, reason, touched).await,
    }
}

/// The codes a refused job would have added fail with the lock's reason; the
/// codes they replace stay.
async fn fail_new_codes(
    w: &mut Write,
    lock: &mut LockRow,
    job: &JobRecord,
    reason: RefusalReason,
    touched: &mut Vec<String>,
) -> Result<()> {
    let mut failed_any = false;
    for (id, present, _) in &job.effects {
        let Some(mut p) = placements::load(w, id).await? else {
            continue;
        };
        if !*present || p.conf_present || !p.want_present {
            continue;
        }
        p.want_present = false;
        p.want_enabled = false;
        p.ending = Some("failed".to_owned());
        p.reason = Some(reason.code().to_owned());
        placements::save(w, &p).await?;
        touched.push(p.code_id.clone());
        failed_any = true;
        let entry = ServerEntry {
            kind: "code_failed",
            slot: Some(p.slot),
            code_id: Some(&p.code_id),
            detail: Some(reason.code()),
            ..ServerEntry::default()
        };
        audit::record(w, &lock.id, entry).await?;
        if let Some(old_id) = &p.replaces
            && let Some(mut old) = placements::load(w, old_id).await?
            && old.conf_present
            && old.ending.as_deref() == Some("replaced")
        {
            old.want_present = true;
            old.want_enabled = old.conf_enabled;
            old.ending = None;
            placements::save(w, &old).await?;
        }
    }
    if !failed_any {
        // Nothing new to blame and the lock still refuses: stop and ask a
        // person instead of sending the same job again. (Otherwise the next
        // visit carries what is left of the desired table.)
        lock.attention = Some(format!("the lock refuses its table: {}", reason.code()));
        let data = serde_json::json!({ "lock": crate::ops::webhooks::lock_data(lock) });
        crate::ops::webhooks::emit(w, WebhookEventType::LockNeedsAttention, data).await?;
    }
    Ok(())
}
