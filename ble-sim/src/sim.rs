//! The simulated world: locks running the real firmware
//! (`keyway_core::lock::Lock`) with their clocks, storage, keypads and power,
//! the phone's position, the adapter, and the radio between them.
//!
//! Everything goes through [`Sim`]: the control API, the scenario runner and
//! the simulated BlueZ call it, and it wakes the BlueZ side
//! ([`Sim::changed`]) after every change so scans see locks appear, vanish
//! and change version.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use keyway_core::lock::{Entry, Key, Lock, LockConfig, LockState};
use keyway_core::protocol::frame::split;
use keyway_core::protocol::{AuditEvent, AuditKind, LockId};
use keyway_core::provisioning::ProvisionedLock;
use keyway_core::schedule::Schedule;
use keyway_core::{AccessPoint, CodeKind};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use tokio::sync::Notify;

use crate::clock::SimClock;
use crate::config::Resolved;
use crate::radio::{BdAddr, CutPoint, Faults, LinkStats, Position, RadioConfig};
use crate::store::{Persisted, Store, StoreError};

/// Why a control request was refused. Nothing changed. Each has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No lock has that id or name.
    #[error("no lock `{0}`")]
    UnknownLock(String),
    /// Keys other than digits, `#` (enter) and `*` (clear).
    #[error("keys must be digits, `#` (enter) or `*` (clear)")]
    InvalidKeys,
    /// A value out of range.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The lock has no power.
    #[error("lock {0} has no power")]
    LockOff(LockId),
    /// The lock's storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SimError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownLock(_) => "unknown_lock",
            Self::InvalidKeys => "invalid_keys",
            Self::InvalidValue(_) => "invalid_value",
            Self::LockOff(_) => "lock_off",
            Self::Store(_) => "storage_failed",
        }
    }
}

/// Why the radio refused a BlueZ operation (mapped to `org.bluez.Error.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal {
    /// The adapter is off.
    AdapterOff,
    /// The lock is not heard (out of range or without power).
    NotHeard,
    /// A refuse-connect fault fired.
    Refused,
    /// Already connected.
    AlreadyConnected,
    /// No link.
    NotConnected,
    /// A frame longer than the MTU allows.
    TooLong(usize),
    /// An unknown lock.
    Unknown,
}

/// What happens to the link after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// The link stays up.
    Stay,
    /// The link drops (fault).
    Drop,
    /// The lock lost power and booted again; the link is gone.
    PowerCut,
}

/// The lock's reaction to one frame from the phone.
#[derive(Debug, Clone)]
pub struct FrameResult {
    /// Frames to notify, in order.
    pub notify: Vec<Vec<u8>>,
    /// Delay before notifying, milliseconds.
    pub delay_ms: u64,
    /// What happens to the link.
    pub after: After,
}

/// What a lock's radio sends besides its payload: the address it
/// advertises under, rotated with the advertisement's nonce (a resolvable
/// private address), and where its RSSI walk stands.
#[derive(Debug)]
struct Advertiser {
    /// The identity resolving key behind its addresses.
    irk: [u8; 16],
    /// The rotation nonce the address was drawn for.
    nonce: Vec<u8>,
    /// The address it advertises under.
    address: BdAddr,
    /// The RSSI walk's offset from the distance model, dB.
    rssi_offset: i16,
    /// When the last link ended.
    link_ended: Option<std::time::Instant>,
    /// The address before the last rotation, if it rotated as a link ended:
    /// the lock answers its phone there for a while (directed advertising).
    previous: Option<BdAddr>,
}

impl Advertiser {
    fn new(root_key: &keyway_core::protocol::RootKey) -> Self {
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
struct LinkState {
    frames_received: u32,
    request_frames: u64,
}

/// One simulated lock.
#[derive(Debug)]
pub(crate) struct SimLock {
    provisioned: ProvisionedLock,
    config: LockConfig,
    position: Position,
    firmware: Lock,
    clock: SimClock,
    history: Vec<AuditEvent>,
    store: Store,
    powered: bool,
    rssi_override: Option<i16>,
    faults: Faults,
    link: Option<LinkState>,
    stats: LinkStats,
    last_notified: Vec<u8>,
    advertiser: Advertiser,
}

impl SimLock {
    fn id(&self) -> LockId {
        self.provisioned.lock_id
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn persisted(&self) -> Persisted {
        Persisted {
            state: self.firmware.state().clone(),
            clock: self.clock,
            history: self.history.clone(),
        }
    }

    /// Copies new audit events into the history and writes the state.
    fn persist(&mut self) -> Result<(), StoreError> {
        self.sync_history();
        let result = self.store.save(&self.persisted());
        if let Err(e) = &result {
            log::error!("lock {}: {e}", self.id());
        }
        result
    }

    fn sync_history(&mut self) {
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
    fn boot(&mut self) -> Result<(), StoreError> {
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
    fn advertise(&mut self) -> Vec<u8> {
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
    fn just_disconnected(&self, now: std::time::Instant) -> bool {
        self.advertiser
            .link_ended
            .is_some_and(|t| now.duration_since(t) < RECONNECT_WINDOW)
    }

    /// Whether the lock answers a connection at `address`: the address it
    /// advertises, or, shortly after a link ended, the one it had then.
    fn answers_at(&self, address: &str) -> bool {
        self.advertiser.address.to_string() == address
            || (self.just_disconnected(now_instant())
                && self
                    .advertiser
                    .previous
                    .is_some_and(|p| p.to_string() == address))
    }

    fn cut_power(&mut self) {
        self.powered = false;
        // The firmware's memory is gone; what counts is on disk.
        self.end_link();
    }

    /// The link ends (or there was none); the firmware forgets its session.
    /// Returns whether a link was up.
    fn end_link(&mut self) -> bool {
        self.firmware.disconnected();
        let was = self.link.take().is_some();
        if was {
            self.advertiser.link_ended = Some(std::time::Instant::now());
        }
        was
    }
}

/// The adapter as the world keeps it.
#[derive(Debug)]
pub(crate) struct Adapter {
    pub(crate) powered: bool,
    pub(crate) blocked: bool,
    /// D-Bus clients (unique names) discovering.
    pub(crate) discovering: BTreeSet<String>,
}

/// The adapter as BlueZ and the control API show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AdapterState {
    /// Powered on.
    pub powered: bool,
    /// Blocked (rfkill): clients cannot power it on.
    pub blocked: bool,
    /// At least one client is discovering.
    pub discovering: bool,
}

/// What a new link gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkParams {
    /// The ATT MTU.
    pub mtu: u16,
    /// How long connecting takes (the delay fault), milliseconds.
    pub delay_ms: u64,
}

/// A lock's clock as the control API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClockReading {
    /// What the clock reads.
    pub now: Timestamp,
    /// Whether it is frozen.
    pub frozen: bool,
}

/// Everything the simulator simulates.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) locks: Vec<SimLock>,
    pub(crate) phone: Position,
    pub(crate) radio: RadioConfig,
    pub(crate) adapter: Adapter,
    /// Draws the RSSI walks.
    rng: StdRng,
}

impl World {
    fn index(&self, key: &str) -> Result<usize, SimError> {
        self.locks
            .iter()
            .position(|l| {
                l.id().to_string() == key.to_ascii_lowercase() || l.provisioned.name == key
            })
            .ok_or_else(|| SimError::UnknownLock(key.chars().take(64).collect()))
    }

    fn by_id(&self, id: LockId) -> Option<usize> {
        self.locks.iter().position(|l| l.id() == id)
    }

    fn rssi(&self, lock: &SimLock) -> i16 {
        lock.rssi_override
            .unwrap_or_else(|| self.radio.rssi_at(self.phone.distance(&lock.position)))
    }

    fn heard(&self, lock: &SimLock) -> bool {
        self.adapter.powered && lock.powered && self.rssi(lock) >= self.radio.sensitivity
    }

    /// The radio drops links to locks it no longer hears (supervision
    /// timeout).
    fn drop_unheard_links(&mut self) {
        for i in 0..self.locks.len() {
            if self.locks[i].link.is_some() && !self.heard(&self.locks[i]) {
                let lock = &mut self.locks[i];
                lock.end_link();
                log::info!("lock {}: link lost (out of range)", lock.id());
            }
        }
    }

    /// One advertisement from lock `i`, if the phone hears it: the RSSI walk
    /// takes a step (a pinned RSSI stays exact).
    fn report(&mut self, i: usize) -> Option<Report> {
        let lock = &self.locks[i];
        if !self.adapter.powered || !lock.powered || lock.link.is_some() {
            return None;
        }
        let spread = i16::from(self.radio.rssi_spread_db);
        let rssi = match lock.rssi_override {
            Some(pinned) => pinned,
            None => {
                let step: i16 = self.rng.random_range(-2..=2);
                let model = self.rssi(lock);
                let lock = &mut self.locks[i];
                let offset = (lock.advertiser.rssi_offset + step).clamp(-spread, spread);
                lock.advertiser.rssi_offset = offset;
                (model + offset).clamp(-127, 20)
            }
        };
        if rssi < self.radio.sensitivity {
            return None;
        }
        let lock = &mut self.locks[i];
        let advertisement = lock.advertise();
        Some(Report {
            lock_id: lock.id(),
            address: lock.advertiser.address.to_string(),
            name: lock.provisioned.name.clone(),
            rssi,
            advertisement,
        })
    }

    fn count_events(&mut self, i: usize, frames: u64) {
        let interval = self.radio.connection_interval_ms;
        let stats = &mut self.locks[i].stats;
        stats.connection_events += frames;
        stats.air_time_ms = stats.connection_events as f64 * interval;
    }
}

/// One advertisement the phone heard, for the BlueZ side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The lock.
    pub lock_id: LockId,
    /// The address it advertised under (`XX:XX:XX:XX:XX:XX`).
    pub address: String,
    /// Its name.
    pub name: String,
    /// How strongly the phone heard this advertisement.
    pub rssi: i16,
    /// Manufacturer data payload under the company id.
    pub advertisement: Vec<u8>,
}

/// One slot as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SlotView {
    /// The slot number.
    pub slot: u16,
    /// The code (shown to QA in API answers, never logged).
    pub code: String,
    /// The code's kind.
    pub kind: CodeKind,
    /// When it opens.
    pub schedule: Schedule,
    /// Enabled.
    pub enabled: bool,
    /// One-time.
    pub one_time: bool,
    /// A one-time code already used.
    pub consumed: bool,
}

/// One lock as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LockView {
    /// The lock's id.
    pub id: LockId,
    /// Its name.
    pub name: String,
    /// The door it guards.
    pub access_point: AccessPoint,
    /// Where it stands.
    pub position: Position,
    /// Whether it has power.
    pub powered: bool,
    /// The RSSI the phone hears it at.
    pub rssi: i16,
    /// Whether the phone hears it at all.
    pub heard: bool,
    /// Whether a link is up.
    pub connected: bool,
    /// The Bluetooth address it advertises under now (it changes with the
    /// advertisement's rotation nonce, except during a connection).
    pub address: String,
    /// The state version.
    pub version: u32,
    /// The slot table digest, hex.
    pub digest: String,
    /// The lock's clock.
    pub clock: Timestamp,
    /// Whether the clock is frozen.
    pub clock_frozen: bool,
    /// Whether the keypad has an enter key.
    pub enter_key: bool,
    /// Slots.
    pub capacity: u16,
    /// The keypad's lockout end, if locked out.
    pub locked_out_until: Option<Timestamp>,
    /// Wrong entries since the last lockout (successes reset nothing).
    pub wrong_since_lockout: u32,
    /// Audit events the server has not acknowledged.
    pub unacknowledged_events: usize,
    /// The occupied slots.
    pub slots: Vec<SlotView>,
    /// The whole audit log, oldest first.
    pub audit: Vec<AuditEvent>,
    /// Armed faults.
    pub faults: Faults,
    /// Link statistics.
    pub stats: LinkStats,
}

/// One completed keypad entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeypadResult {
    /// Keys pressed before this entry completed (from 1).
    pub after_keys: usize,
    /// What the lock did.
    pub entry: Entry,
}

/// The simulator.
#[derive(Debug)]
pub struct Sim {
    world: Mutex<World>,
    changed: Notify,
    _temp_state: Option<tempfile::TempDir>,
}

impl Sim {
    /// Starts every lock of `config`, resuming each from its state file.
    pub fn new(config: &Resolved) -> Result<Self, SimError> {
        config.radio.validate().map_err(SimError::InvalidValue)?;
        let (temp, dir) = match &config.state_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                    path: dir.clone(),
                    source,
                })?;
                (None, dir.clone())
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("keyway-sim-state")
                    .tempdir()
                    .map_err(|source| StoreError::Io {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                let dir = temp.path().to_owned();
                (Some(temp), dir)
            }
        };
        let mut locks = Vec::with_capacity(config.locks.len());
        for resolved in &config.locks {
            let mut lock = Self::start_lock(resolved, &dir)?;
            lock.advertise();
            locks.push(lock);
        }
        Ok(Self {
            world: Mutex::new(World {
                locks,
                phone: config.phone,
                radio: config.radio,
                adapter: Adapter {
                    powered: true,
                    blocked: false,
                    discovering: BTreeSet::new(),
                },
                rng: StdRng::seed_from_u64(config.radio.seed.unwrap_or_else(rand::random)),
            }),
            changed: Notify::new(),
            _temp_state: temp,
        })
    }

    fn start_lock(resolved: &crate::config::ResolvedLock, dir: &Path) -> Result<SimLock, SimError> {
        let provisioned = resolved.provisioned.clone();
        let config = provisioned.lock_config();
        let store = Store::new(dir, provisioned.lock_id);
        let stored = store.load()?;
        let fresh = stored.is_none();
        let (state, clock, history) = match stored {
            Some(p) => (p.state, p.clock, p.history),
            None => (
                LockState::default(),
                SimClock::new(resolved.spec.clock.start, resolved.spec.clock.frozen),
                Vec::new(),
            ),
        };
        let mut lock = SimLock {
            firmware: Lock::with_state(config.clone(), &provisioned.root_key, state),
            config,
            position: Position {
                x: resolved.spec.x,
                y: resolved.spec.y,
            },
            clock,
            history,
            store,
            powered: true,
            rssi_override: None,
            faults: Faults::default(),
            link: None,
            stats: LinkStats::default(),
            last_notified: Vec::new(),
            advertiser: Advertiser::new(&provisioned.root_key),
            provisioned,
        };
        if fresh {
            lock.persist()?;
        }
        Ok(lock)
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves when something changed since the last call.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Something changed: links to locks no longer heard drop, and the
    /// BlueZ side wakes.
    fn touch(&self) {
        self.world().drop_unheard_links();
        self.changed.notify_one();
    }

    fn with_lock<T>(
        &self,
        key: &str,
        f: impl FnOnce(&mut World, usize) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let result = {
            let mut world = self.world();
            let i = world.index(key)?;
            let result = f(&mut world, i);
            // A new state draws a new nonce, and with it a new address.
            if world.locks[i].powered {
                world.locks[i].advertise();
            }
            result
        };
        self.touch();
        result
    }

    /// Every lock's id and name.
    pub fn lock_ids(&self) -> Vec<(LockId, String)> {
        self.world()
            .locks
            .iter()
            .map(|l| (l.id(), l.provisioned.name.clone()))
            .collect()
    }

    /// Every lock, as the control API shows it.
    pub fn locks(&self) -> Vec<LockView> {
        let world = self.world();
        world.locks.iter().map(|l| view(&world, l)).collect()
    }

    /// One lock by id (hex) or name.
    pub fn lock(&self, key: &str) -> Result<LockView, SimError> {
        let world = self.world();
        let i = world.index(key)?;
        Ok(view(&world, &world.locks[i]))
    }

    /// Presses keys one by one: digits, `#` enter, `*` clear. Returns each
    /// entry that completed. The keys are never logged.
    pub fn press(&self, key: &str, keys: &str) -> Result<Vec<KeypadResult>, SimError> {
        let parsed: Vec<Key> = keys
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '0'..='9' => Ok(Key::Digit(c as u8 - b'0')),
                '#' => Ok(Key::Enter),
                '*' => Ok(Key::Clear),
                _ => Err(SimError::InvalidKeys),
            })
            .collect::<Result<_, _>>()?;
        self.with_lock(key, |world, i| {
            let lock = &mut world.locks[i];
            if !lock.powered {
                return Err(SimError::LockOff(lock.id()));
            }
            let mut results = Vec::new();
            for (n, k) in parsed.into_iter().enumerate() {
                let now = lock.now();
                if let Some(entry) = lock.firmware.press(k, now) {
                    log::info!("lock {}: keypad entry {}", lock.id(), entry_word(&entry));
                    results.push(KeypadResult {
                        after_keys: n + 1,
                        entry,
                    });
                }
            }
            lock.persist()?;
            Ok(results)
        })
    }

    /// Types a whole code (and enter, on keypads with one). Returns the entry,
    /// or `None` if the digits completed none. The code is never logged.
    pub fn enter_code(&self, key: &str, code: &str) -> Result<Option<Entry>, SimError> {
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) || code.len() > 16 {
            return Err(SimError::InvalidKeys);
        }
        self.with_lock(key, |world, i| {
            let lock = &mut world.locks[i];
            if !lock.powered {
                return Err(SimError::LockOff(lock.id()));
            }
            let now = lock.now();
            let entry = lock.firmware.enter_code(code, now);
            if let Some(entry) = &entry {
                log::info!("lock {}: keypad entry {}", lock.id(), entry_word(entry));
            }
            lock.persist()?;
            Ok(entry)
        })
    }

    /// Hands one whole request message to a lock's firmware, bypassing the
    /// radio (a wired service port); returns the response message.
    pub fn handle_message(&self, key: &str, request: &[u8]) -> Result<Vec<u8>, SimError> {
        self.with_lock(key, |world, i| {
            let lock = &mut world.locks[i];
            if !lock.powered {
                return Err(SimError::LockOff(lock.id()));
            }
            let now = lock.now();
            let response = lock.firmware.handle(request, now);
            lock.persist()?;
            Ok(response)
        })
    }

    /// Moves the phone.
    pub fn move_phone(&self, to: Position) -> Result<(), SimError> {
        if !to.x.is_finite() || !to.y.is_finite() {
            return Err(SimError::InvalidValue("coordinates must be finite".into()));
        }
        self.world().phone = to;
        self.touch();
        Ok(())
    }

    /// The phone's position.
    pub fn phone(&self) -> Position {
        self.world().phone
    }

    /// Pins the RSSI of one lock (`None`: back to the distance model).
    pub fn set_rssi(&self, key: &str, rssi: Option<i16>) -> Result<(), SimError> {
        if rssi.is_some_and(|r| !(-127..=20).contains(&r)) {
            return Err(SimError::InvalidValue("rssi must be -127 to 20 dBm".into()));
        }
        self.with_lock(key, |world, i| {
            world.locks[i].rssi_override = rssi;
            Ok(())
        })
    }

    /// Moves a lock.
    pub fn move_lock(&self, key: &str, to: Position) -> Result<(), SimError> {
        if !to.x.is_finite() || !to.y.is_finite() {
            return Err(SimError::InvalidValue("coordinates must be finite".into()));
        }
        self.with_lock(key, |world, i| {
            world.locks[i].position = to;
            Ok(())
        })
    }

    /// A lock's clock reading.
    pub fn clock(&self, key: &str) -> Result<ClockReading, SimError> {
        let world = self.world();
        let lock = &world.locks[world.index(key)?];
        Ok(ClockReading {
            now: lock.now(),
            frozen: lock.clock.is_frozen(),
        })
    }

    /// Moves a lock's clock by `seconds` (time passing; no audit event).
    pub fn advance_clock(&self, key: &str, seconds: i64) -> Result<Timestamp, SimError> {
        if seconds.unsigned_abs() > 100 * 365 * 86_400 {
            return Err(SimError::InvalidValue("at most 100 years at a time".into()));
        }
        self.with_lock(key, |world, i| {
            let lock = &mut world.locks[i];
            lock.clock.advance(seconds);
            lock.persist()?;
            Ok(lock.now())
        })
    }

    /// Sets a lock's clock, as a technician would (records `clock_set`).
    pub fn set_clock(&self, key: &str, to: Timestamp) -> Result<Timestamp, SimError> {
        self.with_lock(key, |world, i| {
            let lock = &mut world.locks[i];
            let previous = lock.now();
            lock.clock.set(to);
            let now = lock.now();
            lock.firmware.record(
                AuditKind::ClockSet {
                    previous: previous.as_second(),
                },
                now,
            );
            lock.persist()?;
            Ok(now)
        })
    }

    /// Freezes a lock's clock or lets it run.
    pub fn freeze_clock(&self, key: &str, frozen: bool) -> Result<Timestamp, SimError> {
        self.with_lock(key, |world, i| {
            let lock = &mut world.locks[i];
            lock.clock.set_frozen(frozen);
            lock.persist()?;
            Ok(lock.now())
        })
    }

    /// Replaces a lock's faults.
    pub fn set_faults(&self, key: &str, faults: Faults) -> Result<(), SimError> {
        if faults.delay_ms > 60_000 {
            return Err(SimError::InvalidValue("delay_ms is at most 60000".into()));
        }
        if faults.drop_after_frames == Some(0)
            || faults.corrupt_frame == Some(0)
            || faults.power_cut.is_some_and(|c| c.after_frames == 0)
        {
            return Err(SimError::InvalidValue("frame counts start at 1".into()));
        }
        self.with_lock(key, |world, i| {
            world.locks[i].faults = faults;
            Ok(())
        })
    }

    /// Turns a lock's power off, on, or off and on again. Power on boots the
    /// firmware from storage.
    pub fn power(&self, key: &str, on: bool, off: bool) -> Result<(), SimError> {
        self.with_lock(key, |world, i| {
            let lock = &mut world.locks[i];
            if off && lock.powered {
                lock.cut_power();
            }
            if on && !lock.powered {
                lock.boot()?;
            }
            Ok(())
        })
    }

    /// Turns the adapter on or off; a blocked adapter (rfkill) cannot be
    /// powered on by clients.
    pub fn set_adapter(&self, powered: bool, blocked: bool) {
        {
            let mut world = self.world();
            world.adapter.blocked = blocked;
            world.adapter.powered = powered && !blocked;
            if !world.adapter.powered {
                world.adapter.discovering.clear();
                for lock in &mut world.locks {
                    lock.end_link();
                }
            }
        }
        self.touch();
    }

    /// The radio's parameters.
    pub fn radio(&self) -> RadioConfig {
        self.world().radio
    }

    /// Changes the radio's parameters (new links use the new MTU).
    pub fn set_radio(&self, radio: RadioConfig) -> Result<(), SimError> {
        radio.validate().map_err(SimError::InvalidValue)?;
        {
            let mut world = self.world();
            if let Some(seed) = radio.seed.filter(|s| Some(*s) != world.radio.seed) {
                world.rng = StdRng::seed_from_u64(seed);
            }
            world.radio = radio;
        }
        self.touch();
        Ok(())
    }

    /// A lock's link statistics.
    pub fn stats(&self, key: &str) -> Result<LinkStats, SimError> {
        let world = self.world();
        Ok(world.locks[world.index(key)?].stats)
    }

    /// Zeroes a lock's link statistics.
    pub fn reset_stats(&self, key: &str) -> Result<(), SimError> {
        self.with_lock(key, |world, i| {
            world.locks[i].stats = LinkStats::default();
            Ok(())
        })
    }

    // --- for the simulated BlueZ ---

    /// One advertisement from every lock the phone hears now (none while
    /// the adapter is off; none from a lock with a link): what a discovering
    /// radio gets each advertising interval.
    pub fn advertisement_reports(&self) -> Vec<Report> {
        let mut world = self.world();
        (0..world.locks.len())
            .filter_map(|i| world.report(i))
            .collect()
    }

    /// The adapter: powered, blocked, discovering.
    pub fn adapter(&self) -> AdapterState {
        let world = self.world();
        AdapterState {
            powered: world.adapter.powered,
            blocked: world.adapter.blocked,
            discovering: !world.adapter.discovering.is_empty(),
        }
    }

    /// A client asks to power the adapter on or off.
    pub(crate) fn client_set_powered(&self, powered: bool) -> Result<(), LinkRefusal> {
        {
            let world = self.world();
            if powered && world.adapter.blocked {
                return Err(LinkRefusal::AdapterOff);
            }
        }
        let blocked = self.world().adapter.blocked;
        self.set_adapter(powered, blocked);
        Ok(())
    }

    /// A client starts (true) or stops discovering. Returns false when that
    /// client was already in (or not in) discovery.
    pub(crate) fn set_discovering(&self, client: &str, on: bool) -> Result<bool, LinkRefusal> {
        let changed = {
            let mut world = self.world();
            if on && !world.adapter.powered {
                return Err(LinkRefusal::AdapterOff);
            }
            if on {
                world.adapter.discovering.insert(client.to_owned())
            } else {
                world.adapter.discovering.remove(client)
            }
        };
        self.touch();
        Ok(changed)
    }

    /// A D-Bus client left the bus: its discovery session ends.
    pub(crate) fn client_left(&self, client: &str) {
        if self.world().adapter.discovering.remove(client) {
            self.touch();
        }
    }

    /// The phone connects to a lock at `address`; returns what the link
    /// gets. A lock answers only at the address it advertises now.
    pub(crate) fn connect(&self, id: LockId, address: &str) -> Result<LinkParams, LinkRefusal> {
        let result = {
            let mut world = self.world();
            let i = world.by_id(id).ok_or(LinkRefusal::Unknown)?;
            if !world.adapter.powered {
                return Err(LinkRefusal::AdapterOff);
            }
            let lock = &world.locks[i];
            if !world.heard(lock) || !lock.answers_at(address) {
                return Err(LinkRefusal::NotHeard);
            }
            let mtu = world.radio.mtu;
            let lock = &mut world.locks[i];
            if lock.link.is_some() {
                return Err(LinkRefusal::AlreadyConnected);
            }
            if lock.faults.refuse_connects > 0 {
                lock.faults.refuse_connects -= 1;
                log::info!("lock {id}: refusing a connection (fault)");
                return Err(LinkRefusal::Refused);
            }
            lock.link = Some(LinkState::default());
            lock.stats.connections += 1;
            log::info!("lock {id}: connected");
            Ok(LinkParams {
                mtu,
                delay_ms: lock.faults.delay_ms,
            })
        };
        self.touch();
        result
    }

    /// The link to a lock closes.
    pub(crate) fn disconnect(&self, id: LockId) -> bool {
        let was = {
            let mut world = self.world();
            let Some(i) = world.by_id(id) else {
                return false;
            };
            let lock = &mut world.locks[i];
            let was = lock.end_link();
            // The next advertisement may carry a new nonce, so a new address.
            if lock.powered {
                lock.advertise();
            }
            was
        };
        if was {
            log::info!("lock {id}: disconnected");
        }
        self.touch();
        was
    }

    /// Whether a link to the lock is up.
    pub(crate) fn is_connected(&self, id: LockId) -> bool {
        let world = self.world();
        world
            .by_id(id)
            .is_some_and(|i| world.locks[i].link.is_some())
    }

    /// The last frame notified (what a read of the notify characteristic returns).
    pub(crate) fn last_notified(&self, id: LockId) -> Vec<u8> {
        let world = self.world();
        world
            .by_id(id)
            .map(|i| world.locks[i].last_notified.clone())
            .unwrap_or_default()
    }

    /// Records a frame as notified.
    pub(crate) fn notified(&self, id: LockId, frame: &[u8]) {
        let mut world = self.world();
        if let Some(i) = world.by_id(id) {
            world.locks[i].last_notified = frame.to_vec();
        }
    }

    /// The phone wrote one frame to the lock's write characteristic.
    pub(crate) fn write_frame(&self, id: LockId, frame: &[u8]) -> Result<FrameResult, LinkRefusal> {
        let result = self.write_frame_inner(id, frame);
        self.touch();
        result
    }

    fn write_frame_inner(&self, id: LockId, frame: &[u8]) -> Result<FrameResult, LinkRefusal> {
        let mut world = self.world();
        let i = world.by_id(id).ok_or(LinkRefusal::Unknown)?;
        let mtu = usize::from(world.radio.mtu);
        if frame.len() > mtu.min(512) - 3 {
            return Err(LinkRefusal::TooLong(mtu.min(512) - 3));
        }
        if world.locks[i].link.is_none() {
            return Err(LinkRefusal::NotConnected);
        }
        world.count_events(i, 1);
        let lock = &mut world.locks[i];
        let link = lock.link.as_mut().ok_or(LinkRefusal::NotConnected)?;
        link.frames_received += 1;
        link.request_frames += 1;
        let n = link.frames_received;
        lock.stats.frames_up += 1;
        lock.stats.bytes_up += frame.len() as u64;

        let mut frame = frame.to_vec();
        if lock.faults.corrupt_frame == Some(n) {
            lock.faults.corrupt_frame = None;
            if let Some(last) = frame.last_mut() {
                *last ^= 0x01;
            }
            log::info!("lock {id}: corrupted frame {n} (fault)");
        }
        let cut = lock.faults.power_cut.filter(|c| c.after_frames == n);
        if cut.is_some() {
            lock.faults.power_cut = None;
        }
        let drop = lock.faults.drop_after_frames == Some(n);
        if drop {
            lock.faults.drop_after_frames = None;
        }

        let now = lock.now();
        let before = lock.firmware.state().clone();
        let response = lock.firmware.receive_frame(&frame, now);
        let changed = lock.firmware.state() != &before;

        if let Some(cut) = cut {
            if changed {
                lock.sync_history();
                match cut.at {
                    CutPoint::BeforeCommit => {
                        // The new state reached a temporary file; the rename never ran.
                        if let Ok(staged) = lock.store.stage(&lock.persisted()) {
                            drop_staged(staged);
                        }
                    }
                    CutPoint::AfterCommit => {
                        let _ = lock.persist();
                    }
                }
            }
            log::info!("lock {id}: power cut after frame {n} (fault)");
            lock.cut_power();
            let _ = lock.boot();
            return Ok(FrameResult {
                notify: Vec::new(),
                delay_ms: 0,
                after: After::PowerCut,
            });
        }
        if changed {
            let _ = lock.persist();
        }
        let delay_ms = lock.faults.delay_ms;
        if drop {
            log::info!("lock {id}: dropping the link after frame {n} (fault)");
            lock.end_link();
            return Ok(FrameResult {
                notify: Vec::new(),
                delay_ms,
                after: After::Drop,
            });
        }
        let Some(response) = response else {
            return Ok(FrameResult {
                notify: Vec::new(),
                delay_ms,
                after: After::Stay,
            });
        };
        let frames = split(&response, mtu).unwrap_or_default();
        let link = lock.link.as_mut().ok_or(LinkRefusal::NotConnected)?;
        link.request_frames = 0;
        lock.stats.round_trips += 1;
        lock.stats.frames_down += frames.len() as u64;
        lock.stats.bytes_down += frames.iter().map(|f| f.len() as u64).sum::<u64>();
        let count = frames.len() as u64;
        world.count_events(i, count);
        Ok(FrameResult {
            notify: frames,
            delay_ms,
            after: After::Stay,
        })
    }
}

fn drop_staged(staged: crate::store::Staged) {
    drop(staged);
}

fn entry_word(entry: &Entry) -> &'static str {
    match entry {
        Entry::Granted { .. } => "granted",
        Entry::Denied { .. } => "denied",
        Entry::LockedOut { .. } => "refused (locked out)",
    }
}

fn view(world: &World, lock: &SimLock) -> LockView {
    let state = lock.firmware.state();
    let now = lock.now();
    LockView {
        id: lock.id(),
        name: lock.provisioned.name.clone(),
        access_point: lock.provisioned.access_point,
        position: lock.position,
        powered: lock.powered,
        rssi: world.rssi(lock),
        heard: world.heard(lock),
        connected: lock.link.is_some(),
        address: lock.advertiser.address.to_string(),
        version: state.version,
        digest: lock
            .firmware
            .digest()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        clock: now,
        clock_frozen: lock.clock.is_frozen(),
        enter_key: lock.config.enter_key,
        capacity: lock.config.capacity,
        locked_out_until: state.keypad.locked_until.filter(|until| now < *until),
        wrong_since_lockout: state.keypad.wrong_since_lockout,
        unacknowledged_events: state.audit.len(),
        slots: state
            .slots
            .iter()
            .map(|(slot, s)| SlotView {
                slot,
                code: s.entry.code.as_str().to_owned(),
                kind: s.entry.kind,
                schedule: s.entry.schedule.clone(),
                enabled: s.entry.enabled,
                one_time: s.entry.one_time,
                consumed: s.consumed,
            })
            .collect(),
        audit: lock.history.clone(),
        faults: lock.faults,
        stats: lock.stats,
    }
}
