//! Visits: how a phone at a lock gets the lock its job. The phone asks for a
//! visit ([`open`]): a single-use challenge bound to the caller and the lock.
//! The lock answers a status request with that challenge by sealing its
//! status (and opening a session); the phone presents it ([`present`]), and
//! the server settles it and seals the lock's job for that session, all
//! before the phone leaves the lock.
//!
//! So the server settles a status only if it is fresh (its challenge is one
//! it issued minutes ago, for this lock, to this caller, never presented
//! before, and the server learned nothing new of the lock since it issued
//! it) and only from a caller who may reach the lock; a replayed or withheld
//! status settles nothing and starts no recovery. The seal and the challenge are
//! checked before the property's write lock is taken, and visits are
//! rate-limited per user, so a flood of them never holds it for long.

use keyway_api::{VisitAnswer, VisitOpened, decode_bytes, encode_bytes};
use ring::digest::{SHA256, digest};

use crate::auth::Caller;
use crate::clock::{now_secs, ts};
use crate::crypto::{hex, new_id, random_bytes};
use crate::db::locks::{self, LockRow};
use crate::db::visits::{self, NewVisit, VisitRow};
use crate::db::{Context, Store};
use crate::error::{Error, Result};
use crate::ops::limits::rate_limit;
use crate::ops::reconcile::{seal_for_session, settle_status};

/// How long a challenge may wait for its status.
pub const VISIT_LIFETIME_SECS: i64 = 300;
/// Visits a user may open per minute.
pub const VISITS_PER_MINUTE: i64 = 60;

/// Opens a visit of `lock_id` for `caller` (who must be allowed to reach it).
pub async fn open(store: &Store, caller: &Caller, lock_id: &str) -> Result<VisitOpened> {
    let mut read = store.read().await?;
    let lock = locks::load(&mut read, &caller.property_id, lock_id).await?;
    if !caller.may_reach_lock(&lock) {
        return Err(Error::not_found("lock"));
    }
    drop(read);
    rate_limit(
        store,
        &format!("visit:{}", caller.user_id),
        60,
        VISITS_PER_MINUTE,
    )
    .await?;
    let id = new_id("vis");
    let challenge = hex(&random_bytes::<16>()?);
    let now = now_secs();
    let expires_at = now + VISIT_LIFETIME_SECS;
    let visit = NewVisit {
        id: id.clone(),
        property_id: caller.property_id.clone(),
        lock_id: lock.id.clone(),
        principal: caller.principal.clone(),
        challenge: challenge.clone(),
        lock_state: known_state(&lock),
        created_at: now,
        expires_at,
    };
    crate::db::insert(&mut store.read().await?, &[visit]).await?;
    Ok(VisitOpened {
        visit_id: id,
        lock_id: lock.id,
        challenge,
        since_seq: lock.audit_ack,
        expires_at: ts(expires_at),
    })
}

/// What the server knows of a lock's state: its life, confirmed version and
/// the events it has.
fn known_state(lock: &LockRow) -> String {
    format!(
        "{}:{}:{}",
        lock.epoch.as_deref().unwrap_or("-"),
        lock.confirmed_version,
        lock.audit_ack
    )
}

async fn load_visit(cx: &mut impl Context, caller: &Caller, visit_id: &str) -> Result<VisitRow> {
    visits::load(cx, &caller.property_id, visit_id)
        .await?
        .filter(|visit| visit.principal == caller.principal)
        .ok_or_else(|| Error::not_found("visit"))
}

/// The stored answer to a status presented again (a retry); another status
/// for a visit already answered is refused.
fn answered(visit: &VisitRow, hash: &str) -> Result<Option<VisitAnswer>> {
    match (&visit.answer, &visit.status_hash) {
        (Some(answer), Some(stored)) if stored == hash => Ok(Some(serde_json::from_str(answer)?)),
        (_, Some(_)) => Err(Error::conflict(
            "visit_used",
            "this visit's status was presented already; open a new visit",
        )),
        _ => Ok(None),
    }
}

/// Settles the lock's sealed status for `visit_id` and answers with the job
/// sealed for the session it opened.
pub async fn present(
    store: &Store,
    caller: &Caller,
    visit_id: &str,
    status_b64: &str,
) -> Result<VisitAnswer> {
    let sealed =
        decode_bytes(status_b64).ok_or_else(|| Error::invalid("`status` is not base64"))?;
    let hash = hex(digest(&SHA256, &sealed).as_ref());
    let mut read = store.read().await?;
    let visit = load_visit(&mut read, caller, visit_id).await?;
    if let Some(answer) = answered(&visit, &hash)? {
        return Ok(answer);
    }
    if visit.expires_at <= now_secs() {
        return Err(Error::conflict(
            "visit_expired",
            "this visit's challenge expired; open a new visit",
        ));
    }
    let mut challenge = [0u8; 16];
    crate::crypto::unhex(&visit.challenge)
        .filter(|bytes| bytes.len() == 16)
        .map(|bytes| challenge.copy_from_slice(&bytes))
        .ok_or_else(|| Error::internal("visit challenge", "not 32 hex digits"))?;
    // Everything that can be checked without the write lock is, first.
    let status = {
        let lock = locks::load(&mut read, &caller.property_id, &visit.lock_id).await?;
        if !caller.may_reach_lock(&lock) {
            return Err(Error::not_found("visit"));
        }
        lock.keys(store.key())?
            .open_status(&sealed, challenge)
            .map_err(|e| {
                Error::unprocessable(
                    "bad_status",
                    format!("the status does not answer this visit ({})", e.code()),
                )
            })?
    };
    drop(read);
    let mut w = store
        .begin_write(&caller.property_id)
        .await?
        .ok_or_else(|| Error::not_found("property"))?;
    if !visits::claim(&mut w, visit_id, &hash, now_secs()).await? {
        // Presented at the same moment by a retry: its answer is the answer.
        drop(w);
        let visit = load_visit(&mut store.read().await?, caller, visit_id).await?;
        return answered(&visit, &hash)?.ok_or_else(|| {
            Error::conflict("visit_used", "this visit is being answered; try again")
        });
    }
    let mut lock = locks::load(&mut w, &caller.property_id, &visit.lock_id).await?;
    if known_state(&lock) != visit.lock_state {
        // Another phone's visit or receipt told the server more since this
        // challenge was issued: this status may be older than that. The
        // visit is spent; the phone opens a new one.
        w.commit().await?;
        return Err(Error::conflict(
            "visit_stale",
            "the server learned more of this lock since the visit was opened; open a new visit",
        ));
    }
    settle_status(&mut w, &mut lock, &status).await?;
    let job = seal_for_session(&mut w, &mut lock, &status).await?;
    let answer = VisitAnswer {
        target_version: job.as_ref().map_or(lock.confirmed_version, |j| j.target),
        jobs: job.iter().map(|j| encode_bytes(&j.envelope)).collect(),
    };
    visits::set_answer(&mut w, visit_id, serde_json::to_string(&answer)?).await?;
    w.commit().await?;
    Ok(answer)
}

/// Forgets visits whose challenge expired a day ago or more.
pub async fn forget_spent(store: &Store, now: i64) -> Result<()> {
    visits::forget_expired_before(&mut store.read().await?, now - 86_400).await
}
