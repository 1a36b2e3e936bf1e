//! One simulated lock: the real firmware with its clock, storage, power and
//! faults, its link state, and what its radio sends besides the payload (a
//! rotating resolvable private address, the RSSI walk).

use jiff::Timestamp;
use keyway_lock::{Lock, LockConfig, LockState};
use keyway_protocol::provisioning::ProvisionedLock;
use keyway_protocol::{AuditEvent, AuditKind, LockId};

use crate::clock::SimClock;
use crate::radio::{BdAddr, Faults, LinkStats, Position};
use crate::store::{Persisted, Store, StoreError};

/// What a lock's radio sends besides its payload: the address it
/// advertises under, rotated with the advertisement's nonce (a resolvable
/// private address), and where its RSSI walk stands.
#[derive(Debug)]
pub(super) struct Advertiser {
    /// The identity resolving key behind its addresses.
    pub(super) irk: [u8; 16],
    /// The rotation nonce the address was drawn for.
    pub(super) nonce: Vec<u8>,
    /// The address it advertises under.
    pub(super) address: BdAddr,
    /// The RSSI walk's offset from the distance model, dB.
    pub(super) rssi_offset: i16,
    /// When the last link ended.
    pub(super) link_ended: Option<std::time::Instant>,
    /// The address before the last rotation, if it rotated as a link ended:
    /// the lock answers its phone there for a while (directed advertising).
    pub(super) previous: Option<BdAddr>,
}

impl Advertiser {
    pub(super) fn new(root_key: &keyway_protocol::RootKey) -> Self {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, root_key.expose_bytes());
        let mut irk = [0u8; 16];
        irk.copy_from_slice(&ring::hmac::sign(&key, b"keyway-sim irk").as_ref()[..16]);
        Self {
            irk,
            nonce: Vec::new(),
            address: BdAddr([0; 6]),
            rssi_offset: 0,
            link_ended: None,
            previous: None,
        }
    }
}

/// How long after a link ends a lock still answers its phone at the address
/// it had: directed advertising to the last central, as peripherals do so a
/// phone can reconnect (a visit retrying after a dropped link) though the
/// address scanners see has rotated.
const RECONNECT_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

fn now_instant() -> std::time::Instant {
    std::time::Instant::now()
}

#[derive(Debug, Default)]
pub(super) struct LinkState {
    pub(super) frames_received: u32,
    pub(super) request_frames: u64,
}

/// One simulated lock.
#[derive(Debug)]
pub(crate) struct SimLock {
    pub(super) provisioned: ProvisionedLock,
    pub(super) config: LockConfig,
    pub(super) position: Position,
    pub(super) firmware: Lock,
    pub(super) clock: SimClock,
    pub(super) history: Vec<AuditEvent>,
    pub(super) store: Store,
    pub(super) powered: bool,
    pub(super) rssi_override: Option<i16>,
    pub(super) faults: Faults,
    pub(super) link: Option<LinkState>,
    pub(super) stats: LinkStats,
    pub(super) last_notified: Vec<u8>,
    pub(super) advertiser: Advertiser,
}

impl SimLock {
    pub(super) fn id(&self) -> LockId {
        self.provisioned.lock_id
    }

    pub(super) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(super) fn persisted(&self) -> Persisted {
        Persisted {
            state: self.firmware.state().clone(),
            clock: self.clock,
            history: self.history.clone(),
        }
    }

    /// Copies new audit events into the history and writes the state.
    pub(super) fn persist(&mut self) -> Result<(), StoreError> {
        self.sync_history();
        let result = self.store.save(&self.persisted());
        if let Err(e) = &result {
            log::error!("lock {}: {e}", self.id());
        }
        result
    }

    pub(super) fn sync_history(&mut self) {
        let last = self.history.last().map_or(0, |e| e.seq);
        let new: Vec<AuditEvent> = self
            .firmware
            .state()
            .audit
            .iter()
            .filter(|e| e.seq > last)
            .copied()
            .collect();
        self.history.extend(new);
    }

    /// Power comes back: the firmware starts from what storage holds.
    pub(super) fn boot(&mut self) -> Result<(), StoreError> {
        let stored = self.store.load()?;
        let (state, clock, history) = match stored {
            Some(p) => (p.state, p.clock, p.history),
            None => (LockState::default(), self.clock, Vec::new()),
        };
        self.firmware = Lock::with_state(self.config.clone(), &self.provisioned.root_key, state);
        self.clock = clock;
        self.history = history;
        self.link = None;
        self.powered = true;
        let now = self.now();
        self.firmware.record(AuditKind::PowerRestored, now);
        self.persist()
    }

    /// The payload the firmware advertises now. Its address follows the
    /// payload's rotation nonce, except while a link is up: a connection
    /// keeps its address until it ends.
    pub(super) fn advertise(&mut self) -> Vec<u8> {
        let now = self.now();
        let payload = self.firmware.advertising_payload(now);
        let nonce = payload.get(1..7).unwrap_or_default();
        if self.link.is_none() && nonce != self.advertiser.nonce.as_slice() {
            let old = self.advertiser.address;
            self.advertiser.nonce = nonce.to_vec();
            self.advertiser.address = BdAddr::resolvable(&self.advertiser.irk, nonce);
            self.advertiser.previous = Some(old).filter(|_| self.just_disconnected(now_instant()));
            log::debug!(
                "lock {}: advertising as {}",
                self.id(),
                self.advertiser.address
            );
        }
        payload
    }

    /// Whether the last link ended less than the reconnect window ago.
    pub(super) fn just_disconnected(&self, now: std::time::Instant) -> bool {
        self.advertiser
            .link_ended
            .is_some_and(|t| now.duration_since(t) < RECONNECT_WINDOW)
    }

    /// Whether the lock answers a connection at `address`: the address it
    /// advertises, or, shortly after a link ended, the one it had then.
    pub(super) fn answers_at(&self, address: &str) -> bool {
        self.advertiser.address.to_string() == address
            || (self.just_disconnected(now_instant())
                && self
                    .advertiser
                    .previous
                    .is_some_and(|p| p.to_string() == address))
    }

    pub(super) fn cut_power(&mut self) {
        self.powered = false;
        // The firmware's memory is gone; what counts is on disk.
        self.end_link();
    }

    /// The link ends (or there was none); the firmware forgets its session.
    /// Returns whether a link was up.
    pub(super) fn end_link(&mut self) -> bool {
        self.firmware.disconnected();
        let was = self.link.take().is_some();
        if was {
            self.advertiser.link_ended = Some(std::time::Instant::now());
        }
        was
    }
}
