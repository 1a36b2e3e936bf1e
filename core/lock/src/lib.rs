//! The lock side of Keyway: what a lock's firmware does with protocol
//! messages, keypad entries and key cards held to its reader. It depends on
//! the protocol only, never on the phone side; the simulator
//! (`keyway-ble-sim`) runs it for every simulated lock.
//!
//! A [`Lock`] answers a status request by opening a session, applies only
//! jobs sealed for its current session, each whole or not at all, answers a
//! repeated job with the very same receipt, refuses jobs for the wrong base
//! version with its current version and digest, enforces schedules, one-time
//! use and the wrong-entry budget (shared by the keypad and the card reader)
//! with its own clock, keeps an audit log that receipts carry to the server
//! until the server acknowledges it, and writes an advertisement only
//! holders of its advertising key can read.
//!
//! The caller owns time (`now` on every call) and persistence: [`LockState`]
//! is plain data to store after each call that changed it. Sessions and the
//! advertisement's rotation nonce are not stored: a power cut ends both.

mod access;
mod keypad;
mod offline;
mod table;

use std::collections::VecDeque;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use keypad::{DenyReason, Entry, Key, KeypadState, LockoutPolicy};
pub use keyway_protocol::provisioning::DEFAULT_CAPACITY;
pub use offline::{OFFLINE_LIST_CAPACITY, OfflineList, OfflineMark};
pub use table::{SlotTable, StoredSlot};

use keyway_protocol::advert::ROTATION_SECS;
use keyway_protocol::frame::Reassembler;
use keyway_protocol::provisioning::ProvisionedLock;
use keyway_protocol::receipt::MAX_EVENTS_PER_RECEIPT;
use keyway_protocol::{
    Advertisement, AuditEvent, AuditKind, BaseVersion, Epoch, ErrorCode, Job, JobId, LockId,
    LockKeys, Message, OfflineKey, Op, Outcome, Receipt, RefusalReason, ReplyTo, RootKey,
    SESSION_LIFETIME_SECS, SealError, SessionId,
};

/// Unacknowledged audit events a lock keeps; the oldest go first.
pub const AUDIT_CAPACITY: usize = 1024;
/// Receipts a lock remembers to answer a repeated job identically.
pub const RECENT_RECEIPTS: usize = 16;

/// What a lock is: its identity and hardware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockConfig {
    /// The lock's id.
    pub lock_id: LockId,
    /// How many slots it has.
    pub capacity: u16,
    /// Whether the keypad has an enter key.
    pub enter_key: bool,
    /// The wrong-attempt lockout.
    pub lockout: LockoutPolicy,
}

impl From<&ProvisionedLock> for LockConfig {
    /// The firmware configuration of a provisioned lock.
    fn from(lock: &ProvisionedLock) -> Self {
        Self {
            lock_id: lock.lock_id,
            capacity: lock.capacity,
            enter_key: lock.enter_key,
            lockout: LockoutPolicy::default(),
        }
    }
}

impl LockConfig {
    /// A lock with the default capacity, an enter key and the default lockout.
    pub fn new(lock_id: LockId) -> Self {
        Self {
            lock_id,
            capacity: DEFAULT_CAPACITY,
            enter_key: true,
            lockout: LockoutPolicy::default(),
        }
    }
}

/// A receipt remembered for a repeated job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentReceipt {
    /// The job it answered.
    pub job_id: JobId,
    /// The sealed receipt, byte for byte.
    pub sealed: Vec<u8>,
}

/// Everything a lock keeps across power cycles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockState {
    /// This life of the lock, drawn when the state starts empty; audit
    /// sequence numbers count within it.
    #[serde(default)]
    pub epoch: Epoch,
    /// The state version: the target of the last applied job.
    pub version: u32,
    /// The slots.
    pub slots: SlotTable,
    /// Audit events the server has not acknowledged, oldest first.
    pub audit: VecDeque<AuditEvent>,
    /// The sequence number of the next audit event.
    pub next_seq: u32,
    /// The highest sequence number the server acknowledged.
    pub audit_ack: u32,
    /// Receipts of recent jobs.
    pub recent: VecDeque<RecentReceipt>,
    /// Wrong attempts and lockout.
    pub keypad: KeypadState,
    /// Revoked and spent offline codes whose windows have not ended.
    #[serde(default)]
    pub offline: OfflineList,
}

/// The session a status request opened: jobs sealed for it apply until the
/// link drops or it expires.
#[derive(Debug, Clone, Copy)]
struct Session {
    id: SessionId,
    opened: Timestamp,
}

/// The advertisement's current rotation nonce and the state it was drawn for.
#[derive(Debug, Clone, Copy)]
struct AdvertNonce {
    nonce: [u8; 6],
    drawn: Timestamp,
    state: (u32, bool, bool),
}

/// One lock's firmware.
#[derive(Debug)]
pub struct Lock {
    config: LockConfig,
    keys: LockKeys,
    offline_key: OfflineKey,
    state: LockState,
    reassembler: Reassembler,
    session: Option<Session>,
    advert: Option<AdvertNonce>,
}

impl Lock {
    /// A factory-new lock: version 0, no slots.
    pub fn new(config: LockConfig, root: &RootKey) -> Self {
        Self::with_state(config, root, LockState::default())
    }

    /// A lock resuming from stored state (a state without a life gets one).
    pub fn with_state(config: LockConfig, root: &RootKey, mut state: LockState) -> Self {
        state.next_seq = state.next_seq.max(1);
        if state.epoch.is_unset() {
            state.epoch = Epoch::random();
        }
        Self {
            keys: LockKeys::derive(root, config.lock_id),
            offline_key: OfflineKey::derive(root, config.lock_id),
            config,
            state,
            reassembler: Reassembler::new(),
            session: None,
            advert: None,
        }
    }

    /// The lock's configuration.
    pub fn config(&self) -> &LockConfig {
        &self.config
    }

    /// The state to persist.
    pub fn state(&self) -> &LockState {
        &self.state
    }

    /// The slot table digest.
    pub fn digest(&self) -> [u8; 32] {
        self.state.slots.digest()
    }

    /// What the lock's advertisement says at `now`, as a key holder reads it.
    pub fn advertisement(&self, now: Timestamp) -> Advertisement {
        Advertisement {
            lock_id: self.config.lock_id,
            version: self.state.version,
            events_pending: !self.state.audit.is_empty(),
            locked_out: self.state.keypad.is_locked_out(now),
        }
    }

    /// The manufacturer data to broadcast at `now`: the advertisement sealed
    /// under a rotation nonce that changes whenever what it says changes, at
    /// least every [`ROTATION_SECS`], and when the clock moves back.
    pub fn advertising_payload(&mut self, now: Timestamp) -> Vec<u8> {
        let said = self.advertisement(now);
        let state = (said.version, said.events_pending, said.locked_out);
        let fresh = self.advert.filter(|current| {
            let age = now.as_second() - current.drawn.as_second();
            current.state == state && (0..ROTATION_SECS).contains(&age)
        });
        let current = match fresh {
            Some(current) => current,
            None => {
                let drawn = AdvertNonce {
                    nonce: rand::random(),
                    drawn: now,
                    state,
                };
                self.advert = Some(drawn);
                drawn
            }
        };
        self.keys.advert_key().encode(&said, current.nonce)
    }

    /// The lock's current life.
    pub fn epoch(&self) -> Epoch {
        self.state.epoch
    }

    /// Records an event the hardware observed (power restored, clock set).
    pub fn record(&mut self, kind: AuditKind, now: Timestamp) {
        let seq = self.state.next_seq;
        self.state.next_seq = seq.wrapping_add(1).max(1);
        if self.state.audit.len() >= AUDIT_CAPACITY {
            self.state.audit.pop_front();
        }
        self.state
            .audit
            .push_back(AuditEvent { seq, at: now, kind });
    }

    /// The link dropped: forgets a partly received message and ends the session.
    pub fn disconnected(&mut self) {
        self.reassembler.reset();
        self.session = None;
    }

    /// Takes in one frame written to the write characteristic; returns the
    /// response message (to be framed and notified) once a whole request has
    /// arrived.
    pub fn receive_frame(&mut self, frame: &[u8], now: Timestamp) -> Option<Vec<u8>> {
        match self.reassembler.push(frame) {
            Ok(Some(request)) => Some(self.handle(&request, now)),
            Ok(None) => None,
            Err(_) => Some(Message::Error(ErrorCode::MalformedFrame).encode()),
        }
    }

    /// Answers one whole request message with one response message.
    pub fn handle(&mut self, request: &[u8], now: Timestamp) -> Vec<u8> {
        let response = match Message::decode(request) {
            Err(keyway_protocol::DecodeError::UnsupportedVersion { .. }) => {
                Message::Error(ErrorCode::UnsupportedVersion)
            }
            Err(_) => Message::Error(ErrorCode::MalformedMessage),
            Ok(Message::StatusRequest {
                challenge,
                since_seq,
            }) => match self.status(challenge, since_seq, now) {
                Ok(sealed) => Message::Status(sealed),
                Err(code) => Message::Error(code),
            },
            Ok(Message::Jobs(envelopes)) => {
                let receipts: Result<Vec<_>, _> =
                    envelopes.iter().map(|e| self.apply(e, now)).collect();
                match receipts {
                    Ok(receipts) => Message::Receipts(receipts),
                    Err(code) => Message::Error(code),
                }
            }
            Ok(_) => Message::Error(ErrorCode::MalformedMessage),
        };
        response.encode()
    }

    /// A sealed status receipt echoing `challenge`, with the events after
    /// `since_seq`; it opens a new session (ending any earlier one), which
    /// the receipt names for the server to seal jobs for.
    pub fn status(
        &mut self,
        challenge: [u8; 16],
        since_seq: u32,
        now: Timestamp,
    ) -> Result<Vec<u8>, ErrorCode> {
        let session = Session {
            id: SessionId(rand::random()),
            opened: now,
        };
        self.session = Some(session);
        let receipt = self.receipt(
            ReplyTo::Status(challenge),
            session.id,
            Outcome::Status,
            since_seq,
            now,
        );
        self.keys
            .seal_receipt(&receipt)
            .map_err(|_| ErrorCode::Busy)
    }

    /// Whether `session` is the lock's open session at `now`.
    fn in_session(&self, session: SessionId, now: Timestamp) -> bool {
        self.session.is_some_and(|open| {
            let age = now.as_second() - open.opened.as_second();
            open.id == session && (0..SESSION_LIFETIME_SECS).contains(&age)
        })
    }

    /// Opens and applies one sealed job, returning the sealed receipt. A job
    /// that cannot be opened, or was sealed for another session than the open
    /// one, changes nothing and yields an unsealed error code; a job seen
    /// before gets its remembered receipt again.
    pub fn apply(&mut self, envelope: &[u8], now: Timestamp) -> Result<Vec<u8>, ErrorCode> {
        let job = self.keys.open_job(envelope).map_err(|e| match e {
            SealError::WrongLock { .. } => ErrorCode::WrongLock,
            SealError::Malformed(_) | SealError::WrongType { .. } => ErrorCode::MalformedMessage,
            _ => ErrorCode::BadSeal,
        })?;
        if let Some(recent) = self.state.recent.iter().find(|r| r.job_id == job.job_id) {
            return Ok(recent.sealed.clone());
        }
        if !self.in_session(job.session, now) {
            return Err(ErrorCode::NoSession);
        }
        // The job is authentic and current, so its acknowledgement of audit events is too.
        self.acknowledge(job.audit_ack);
        let base_matches = match job.base {
            BaseVersion::Exact(base) => base == self.state.version,
            BaseVersion::Any => job.target > self.state.version,
        };
        let outcome = if base_matches {
            self.outcome_of(&job, now)
        } else {
            // The server learns where the lock is and cuts a new job.
            Outcome::VersionMismatch
        };
        let receipt = self.receipt(
            ReplyTo::Job(job.job_id),
            job.session,
            outcome,
            self.state.audit_ack,
            now,
        );
        let sealed = self
            .keys
            .seal_receipt(&receipt)
            .map_err(|_| ErrorCode::Busy)?;
        if outcome != Outcome::VersionMismatch {
            if self.state.recent.len() >= RECENT_RECEIPTS {
                self.state.recent.pop_front();
            }
            self.state.recent.push_back(RecentReceipt {
                job_id: job.job_id,
                sealed: sealed.clone(),
            });
        }
        Ok(sealed)
    }

    /// Applies a job at its base, or says why not; records what happened
    /// (a job that only acknowledges events records nothing, so it does not
    /// raise `events_pending` again).
    fn outcome_of(&mut self, job: &Job, now: Timestamp) -> Outcome {
        let acknowledgement = job.ops.is_empty() && job.base == BaseVersion::Exact(job.target);
        match self.check_and_apply(&job.base, job.target, &job.ops, job.expires_at, now) {
            Ok(()) if acknowledgement => Outcome::Applied,
            Ok(()) => {
                self.record(
                    AuditKind::JobApplied {
                        version: job.target,
                    },
                    now,
                );
                Outcome::Applied
            }
            Err(reason) => {
                self.record(AuditKind::JobRefused { reason }, now);
                Outcome::Refused(reason)
            }
        }
    }

    fn check_and_apply(
        &mut self,
        base: &BaseVersion,
        target: u32,
        ops: &[Op],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), RefusalReason> {
        let well_formed = match base {
            BaseVersion::Exact(base) => target > *base || (target == *base && ops.is_empty()),
            BaseVersion::Any => matches!(ops.first(), Some(Op::ClearAll)),
        };
        if !well_formed {
            return Err(RefusalReason::InvalidJob);
        }
        if now > expires_at {
            return Err(RefusalReason::Expired);
        }
        let slots = self
            .state
            .slots
            .applied(ops, self.config.capacity, self.config.enter_key)?;
        let offline = self.state.offline.applied(ops, now)?;
        self.state.slots = slots;
        self.state.offline = offline;
        self.state.version = target;
        Ok(())
    }

    fn acknowledge(&mut self, ack: u32) {
        if ack > self.state.audit_ack && ack < self.state.next_seq {
            self.state.audit_ack = ack;
            self.state.audit.retain(|event| event.seq > ack);
        }
    }

    fn receipt(
        &self,
        reply_to: ReplyTo,
        session: SessionId,
        outcome: Outcome,
        since_seq: u32,
        now: Timestamp,
    ) -> Receipt {
        let mut pending = self.state.audit.iter().filter(|e| e.seq > since_seq);
        let events: Vec<AuditEvent> = pending
            .by_ref()
            .take(MAX_EVENTS_PER_RECEIPT)
            .copied()
            .collect();
        Receipt {
            lock_id: self.config.lock_id,
            epoch: self.state.epoch,
            reply_to,
            session,
            outcome,
            version: self.state.version,
            digest: self.digest(),
            lock_time: now,
            events_pending: pending.next().is_some(),
            events,
        }
    }
}

#[cfg(test)]
mod tests;
