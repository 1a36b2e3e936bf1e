//! The job for a visit: what brings the lock from its confirmed table to the
//! desired one (or rebuilds it), sealed for the session the lock's fresh
//! status opened, and recorded with its effect.

use jiff::Timestamp;
use keyway_protocol::digest_of;
use keyway_protocol::{BaseVersion, Job, JobId, Op, Receipt};

use crate::clock::now_secs;
use crate::crypto::{DataKey, hex};
use crate::db::codes::placements;
use crate::db::jobs::NewJob;
use crate::db::locks::{self, LockRow};
use crate::db::{Context, Write};
use crate::error::{Error, Result};

/// How long a sealed job stays valid on the lock's clock. The session (two
/// minutes, one connection) is what keeps a job from applying later; the
/// expiry is a second fence that tolerates a lock's clock drifting by days.
pub const JOB_LIFETIME_SECS: i64 = 7 * 86_400;

/// MAC domain of job digests: a slot table digest hashes the codes, so it is
/// stored keyed (a digest of one 4-digit code is undone by trying all 10,000).
const DIGEST_MAC: &str = "job-digest";

/// The keyed MAC of a slot table digest, as jobs store it.
pub fn digest_mac(key: &DataKey, digest: &[u8; 32]) -> String {
    key.lookup_mac(DIGEST_MAC, &hex(digest))
}

/// A job sealed for a visit.
#[derive(Debug, Clone)]
pub struct SealedJob {
    /// The envelope for the lock.
    pub envelope: Vec<u8>,
    /// The version the lock reaches once it applies.
    pub target: u32,
}

/// The operations from the confirmed table to the desired one (or, for a
/// recovery, from nothing), what each placement ends up as, and the digest
/// of the target table.
struct Plan {
    ops: Vec<Op>,
    effects: Vec<(String, bool, bool)>,
    revokes: Vec<String>,
    digest: [u8; 32],
}

async fn plan(cx: &mut impl Context, lock: &LockRow, recovery: bool) -> Result<Plan> {
    let placements = placements::live(cx, &lock.id).await?;
    let key = cx.key().clone();
    let mut removes = Vec::new();
    let mut changes = Vec::new();
    let mut puts = Vec::new();
    let mut target = Vec::new();
    let mut effects = Vec::new();
    for p in &placements {
        effects.push((p.id.clone(), p.want_present, p.want_enabled));
        if p.want_present {
            let entry = p.entry(&key, p.want_enabled)?;
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
    // Revocations the lock has not confirmed (a recovery carries them all:
    // a lock that lost its storage lost them).
    let mut revokes = Vec::new();
    for row in crate::ops::codes::offline::pending_revocations(cx, &lock.id).await? {
        ops.push(Op::RevokeOffline(row.offline));
        revokes.push(row.id);
    }
    Ok(Plan {
        ops,
        effects,
        revokes,
        digest,
    })
}

/// Seals the job for the session `status` opened (the status is settled
/// already, so the lock is at its confirmed version unless it needs a
/// recovery), records it, and saves the lock. With nothing to change, a job
/// that only acknowledges the events the server just stored (so the lock
/// forgets them), or none.
pub async fn seal_for_session(
    w: &mut Write,
    lock: &mut LockRow,
    status: &Receipt,
) -> Result<Option<SealedJob>> {
    let seq = w.seq();
    let recovery = lock.needs_recovery && lock.attention.is_none();
    let plan = if lock.attention.is_some() {
        None
    } else {
        Some(plan(w, lock, recovery).await?)
    };
    let changes = plan.as_ref().is_some_and(|p| recovery || !p.ops.is_empty());
    if !changes && lock.desired_version != lock.confirmed_version {
        // What was wanted was undone before it reached the lock.
        lock.desired_version = lock.confirmed_version;
        lock.change_seq = seq;
    }
    let events_held = !status.events.is_empty() || status.events_pending;
    let job = match plan {
        Some(plan) if changes => {
            let floor = if recovery {
                lock.seen_version.max(lock.confirmed_version)
            } else {
                lock.confirmed_version
            };
            lock.desired_version = lock.desired_version.max(floor.saturating_add(1));
            lock.change_seq = seq;
            let base = if recovery {
                BaseVersion::Any
            } else {
                BaseVersion::Exact(lock.confirmed_version)
            };
            Some((base, lock.desired_version, plan))
        }
        _ if events_held => Some((
            BaseVersion::Exact(lock.confirmed_version),
            lock.confirmed_version,
            Plan {
                ops: Vec::new(),
                effects: Vec::new(),
                revokes: Vec::new(),
                digest: status.digest,
            },
        )),
        _ => None,
    };
    let sealed = match job {
        Some((base, target, plan)) => {
            Some(seal_and_record(w, lock, status, base, target, plan).await?)
        }
        None => None,
    };
    locks::save_state(w, lock).await?;
    Ok(sealed)
}

async fn seal_and_record(
    w: &mut Write,
    lock: &LockRow,
    status: &Receipt,
    base: BaseVersion,
    target: u32,
    plan: Plan,
) -> Result<SealedJob> {
    let key = w.key().clone();
    let now = now_secs();
    let time = |at: i64| Timestamp::from_second(at).unwrap_or(Timestamp::UNIX_EPOCH);
    let job = Job {
        job_id: JobId(crate::crypto::random_bytes::<16>()?),
        session: status.session,
        base,
        target,
        issued_at: time(now),
        expires_at: time(now + JOB_LIFETIME_SECS),
        audit_ack: lock.audit_ack,
        ops: plan.ops,
    };
    let envelope = lock
        .keys(&key)?
        .seal_job(&job)
        .map_err(|e| Error::internal("sealing a job", e))?;
    let record = NewJob {
        id: hex(&job.job_id.0),
        lock_id: lock.id.clone(),
        base: match base {
            BaseVersion::Exact(v) => i64::from(v),
            BaseVersion::Any => -1,
        },
        target,
        recovery: base == BaseVersion::Any,
        digest_mac: digest_mac(&key, &plan.digest),
        effects: plan.effects,
        revokes: plan.revokes,
        issued_at: now,
        expires_at: now + JOB_LIFETIME_SECS,
    };
    crate::db::insert(w, &[record]).await?;
    Ok(SealedJob { envelope, target })
}
