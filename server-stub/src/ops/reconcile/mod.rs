//! Reconciliation: what each lock should hold, what it confirmed, and the job
//! that brings it from one to the other, sealed at the door for the lock's
//! session.
//!
//! Per lock the server keeps the desired slot table (placements with
//! `want_*`, at `desired_version`) and the confirmed one (`conf_*`, at
//! `confirmed_version`). A write that moves the desired table only raises
//! `desired_version` ([`crate::db::locks::touch`]); nothing is sealed ahead. When a phone
//! visits the lock ([`crate::ops::visits`]), the lock's fresh status is settled
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

use crate::clock::now_secs;
use crate::db::audit::{self, ServerEntry};
use crate::db::codes::{self, Holds, placements};
use crate::db::locks::{self, LockRow};
use crate::db::{Context, Write};
use crate::error::{Error, Result};
use keyway_api::WebhookEventType;

pub use plan::{JOB_LIFETIME_SECS, SealedJob, seal_for_session};
pub use settle::{Settled, settle_receipt, settle_status};

/// The smallest slot of `lock` that no live placement holds.
pub async fn allocate_slot(cx: &mut impl Context, lock: &LockRow) -> Result<u16> {
    let mut next: i64 = 0;
    for slot in placements::used_slots(cx, &lock.id).await? {
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

/// Marks codes as changed in this write so sync reports them.
pub async fn bump_codes(w: &mut Write, code_ids: &[String]) -> Result<()> {
    codes::stamp(w, &dedup(code_ids), now_secs()).await
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
    w: &mut Write,
    code_id: &str,
    ending: &str,
    touched: &mut Vec<String>,
) -> Result<()> {
    codes::set_status(w, code_id, ending).await?;
    let mut locks = Vec::new();
    for mut p in placements::of_code(w, code_id).await? {
        if !p.want_present {
            continue;
        }
        p.want_present = false;
        p.want_enabled = false;
        p.ending = Some(ending.to_owned());
        placements::save(w, &p).await?;
        locks.push(p.lock_id.clone());
        let kind = match p.holds {
            Holds::Code => format!("code_{ending}"),
            Holds::Card => format!("card_{ending}"),
        };
        let entry = ServerEntry {
            kind: &kind,
            slot: Some(p.slot),
            code_id: Some(code_id),
            ..ServerEntry::default()
        };
        audit::record(w, &p.lock_id, entry).await?;
    }
    locks.extend(crate::ops::codes::offline::end(w, code_id, ending).await?);
    crate::ops::backups::end_for_code(w, code_id, touched).await?;
    touched.push(code_id.to_owned());
    for lock_id in dedup(&locks) {
        locks::touch(w, &lock_id).await?;
    }
    let property_id = w.property_id().to_owned();
    let code = codes::load(w, &property_id, code_id).await?;
    let event = if ending == "deleted" {
        WebhookEventType::CodeDeleted
    } else {
        WebhookEventType::CodeChanged
    };
    crate::ops::webhooks::code_event(w, event, &code).await
}

/// Ends the written property's codes whose windows closed. Returns how
/// many codes expired.
pub async fn sweep_property(w: &mut Write) -> Result<usize> {
    let property_id = w.property_id().to_owned();
    let ended = codes::ended_by(w, &property_id, now_secs()).await?;
    let mut touched = Vec::new();
    for code_id in &ended {
        end_code(w, code_id, "expired", &mut touched).await?;
    }
    Ok(ended.len())
}
