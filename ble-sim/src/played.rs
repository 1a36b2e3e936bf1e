//! The server's half of a visit, played in process with the locks' root keys:
//! what the scenario runner, the benchmark and the btleplug tests stand
//! behind the real delivery engine when no Keyway server runs.
//!
//! Like the real server it issues single-use challenges, checks that each
//! status answers one, and seals the job it wants for the session the status
//! opened, from the version the status shows. What it wants is a [`Plan`]
//! per lock; a `Seal` plan counts as done once a status or receipt shows the
//! lock at the job's target, so a visit after a lost receipt gets nothing
//! twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use jiff::SignedDuration;
use keyway_delivery::{
    DeliveryEngine, DeliveryOutcome, LockSighting, TransportError, VisitError, VisitServer,
    VisitTicket, resolve,
};
use keyway_protocol::{
    AdvertKey, BaseVersion, Job, JobId, LockId, LockKeys, Op, Outcome, Receipt, RootKey,
};

/// Changes a sealed job before it is handed out (tests of altered jobs).
pub type Mutate = Arc<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

/// What the played server wants of one lock at its next visits.
#[derive(Clone, Default)]
pub enum Plan {
    /// Nothing: a visit settles the status and sends no job.
    #[default]
    Nothing,
    /// One job with these operations, from the version the status shows to
    /// the next, valid `expires_in` seconds on the lock's clock; `mutate`
    /// alters the envelope before it goes out.
    Seal {
        /// The operations.
        ops: Vec<Op>,
        /// The job's lifetime.
        expires_in: i64,
        /// A change to the sealed bytes.
        mutate: Option<Mutate>,
    },
    /// The envelope of the last job sealed for this lock, as it was (sealed
    /// for an earlier session): what a phone that kept an old job would hand
    /// the lock.
    Replay,
    /// These envelopes, as they are (a job kept from long ago).
    Envelopes(Vec<Vec<u8>>),
}

impl Plan {
    /// A job with `ops`, valid a week.
    pub fn seal(ops: Vec<Op>) -> Self {
        Self::Seal {
            ops,
            expires_in: 7 * 86_400,
            mutate: None,
        }
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nothing => f.write_str("Nothing"),
            Self::Seal { ops, .. } => write!(f, "Seal({} ops)", ops.len()),
            Self::Replay => f.write_str("Replay"),
            Self::Envelopes(e) => write!(f, "Envelopes({})", e.len()),
        }
    }
}

/// What the played server knows of one lock.
#[derive(Default)]
struct Known {
    plan: Plan,
    /// The target of the job the current `Seal` plan was sealed into.
    sealed_target: Option<u32>,
    audit_ack: u32,
    last_job: Option<(Job, Vec<u8>)>,
    statuses: Vec<(Receipt, Vec<u8>)>,
}

/// The server, played with the locks' keys.
pub struct PlayedServer {
    keys: HashMap<LockId, LockKeys>,
    locks: Mutex<HashMap<LockId, Known>>,
    challenges: Mutex<HashMap<String, (LockId, [u8; 16])>>,
}

impl std::fmt::Debug for PlayedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayedServer")
            .field("locks", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl PlayedServer {
    /// A server for `locks` (id and root key each).
    pub fn new(locks: impl IntoIterator<Item = (LockId, RootKey)>) -> Self {
        Self {
            keys: locks
                .into_iter()
                .map(|(id, root)| (id, LockKeys::derive(&root, id)))
                .collect(),
            locks: Mutex::new(HashMap::new()),
            challenges: Mutex::new(HashMap::new()),
        }
    }

    fn locks(&self) -> MutexGuard<'_, HashMap<LockId, Known>> {
        self.locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the next visits to `lock` get.
    pub fn plan(&self, lock: LockId, plan: Plan) {
        let mut locks = self.locks();
        let known = locks.entry(lock).or_default();
        known.plan = plan;
        known.sealed_target = None;
    }

    /// The keys of `lock`.
    pub fn keys(&self, lock: LockId) -> Option<&LockKeys> {
        self.keys.get(&lock)
    }

    /// Every lock's advertising key (a phone that may reach them all).
    pub fn advert_keys(&self) -> Vec<AdvertKey> {
        self.keys.values().map(|k| k.advert_key().clone()).collect()
    }

    /// Scans with `engine` and finds `lock` among what it heard.
    pub async fn sighting(
        &self,
        engine: &DeliveryEngine,
        lock: LockId,
    ) -> Result<Option<LockSighting>, PlayedError> {
        let heard = engine.scan().await?;
        Ok(resolve(&heard, &self.advert_keys())
            .into_iter()
            .find(|s| s.lock_id == lock))
    }

    /// The statuses of `lock` the server settled, in order, opened and sealed.
    pub fn statuses(&self, lock: LockId) -> Vec<(Receipt, Vec<u8>)> {
        self.locks()
            .get(&lock)
            .map(|k| k.statuses.clone())
            .unwrap_or_default()
    }

    /// The last job sealed for `lock`, and its envelope as sealed.
    pub fn last_job(&self, lock: LockId) -> Option<(Job, Vec<u8>)> {
        self.locks().get(&lock).and_then(|k| k.last_job.clone())
    }

    /// Opens the receipts a visit brought back (as the server would), notes
    /// what they say, and returns them.
    pub fn receipts(
        &self,
        lock: LockId,
        outcome: &DeliveryOutcome,
    ) -> Result<Vec<Receipt>, PlayedError> {
        let DeliveryOutcome::Delivered { receipts } = outcome else {
            return Ok(Vec::new());
        };
        let keys = self.keys(lock).ok_or(PlayedError::UnknownLock(lock))?;
        let mut opened = Vec::new();
        for sealed in receipts {
            let receipt = keys
                .open_receipt(sealed)
                .map_err(|e| PlayedError::Receipt(e.code()))?;
            let mut locks = self.locks();
            let known = locks.entry(lock).or_default();
            note_events(known, &receipt);
            if receipt.outcome == Outcome::Applied {
                note_version(known, receipt.version);
            }
            opened.push(receipt);
        }
        Ok(opened)
    }
}

/// Why the played server could not look at a visit.
#[derive(Debug, thiserror::Error)]
pub enum PlayedError {
    /// The scan failed.
    #[error("scan failed: {}", .0.code())]
    Scan(#[from] TransportError),
    /// The lock is not in the provisioning file.
    #[error("no key for lock {0}")]
    UnknownLock(LockId),
    /// A receipt did not open with the lock's keys.
    #[error("receipt does not open: {0}")]
    Receipt(&'static str),
}

fn note_events(known: &mut Known, receipt: &Receipt) {
    if let Some(last) = receipt.events.last() {
        known.audit_ack = known.audit_ack.max(last.seq);
    }
}

/// The lock is at `version`: a `Seal` plan whose job reached it is done.
fn note_version(known: &mut Known, version: u32) {
    if known.sealed_target.is_some_and(|target| version >= target) {
        known.plan = Plan::Nothing;
        known.sealed_target = None;
    }
}

fn refused(code: &str, detail: impl Into<String>) -> VisitError {
    VisitError::Refused {
        code: code.into(),
        detail: detail.into(),
    }
}

#[async_trait]
impl VisitServer for PlayedServer {
    async fn open_visit(&self, lock: LockId) -> Result<VisitTicket, VisitError> {
        if !self.keys.contains_key(&lock) {
            return Err(refused("unknown_lock", format!("no key for lock {lock}")));
        }
        let challenge: [u8; 16] = rand::random();
        let visit_id = format!("visit-{:016x}", rand::random::<u64>());
        self.challenges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(visit_id.clone(), (lock, challenge));
        Ok(VisitTicket {
            visit_id,
            lock_id: lock,
            challenge,
            since_seq: self.locks().get(&lock).map_or(0, |k| k.audit_ack),
        })
    }

    async fn present_status(
        &self,
        ticket: &VisitTicket,
        status: Vec<u8>,
    ) -> Result<Vec<Vec<u8>>, VisitError> {
        let (lock, challenge) = self
            .challenges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&ticket.visit_id)
            .ok_or_else(|| refused("visit_used", "this visit's status was presented already"))?;
        let keys = self
            .keys(lock)
            .ok_or_else(|| refused("unknown_lock", "no key"))?;
        let receipt = keys
            .open_status(&status, challenge)
            .map_err(|e| refused("bad_status", e.code()))?;
        let mut locks = self.locks();
        let known = locks.entry(lock).or_default();
        note_events(known, &receipt);
        note_version(known, receipt.version);
        known.statuses.push((receipt.clone(), status));
        let sealed = match known.plan.clone() {
            Plan::Nothing => return Ok(Vec::new()),
            Plan::Replay => {
                return Ok(known.last_job.iter().map(|(_, e)| e.clone()).collect());
            }
            Plan::Envelopes(envelopes) => return Ok(envelopes),
            Plan::Seal {
                ops,
                expires_in,
                mutate,
            } => {
                let now = receipt.lock_time;
                let job = Job {
                    job_id: JobId::random(),
                    session: receipt.session,
                    base: BaseVersion::Exact(receipt.version),
                    target: receipt.version + 1,
                    issued_at: now,
                    expires_at: now
                        .saturating_add(SignedDuration::from_secs(expires_in))
                        .unwrap_or(now),
                    audit_ack: known.audit_ack,
                    ops,
                };
                let envelope = keys
                    .seal_job(&job)
                    .map_err(|e| refused("sealing", e.code()))?;
                known.sealed_target = Some(job.target);
                known.last_job = Some((job, envelope.clone()));
                match mutate {
                    Some(mutate) => mutate(envelope),
                    None => envelope,
                }
            }
        };
        Ok(vec![sealed])
    }
}
