//! The simulated world: locks running the real firmware
//! (`keyway_lock::Lock`) with their clocks, storage, keypads and power,
//! the phone's position, the adapter, and the radio between them.
//!
//! Everything goes through [`Sim`]: the control API, the scenario runner and
//! the simulated BlueZ call it, and it wakes the BlueZ side
//! ([`Sim::changed`]) after every change so scans see locks appear, vanish
//! and change version. This module owns the world and the control
//! operations; `lock` owns one lock (firmware, storage, power, its radio's
//! address and RSSI walk), `link` what the simulated BlueZ asks of the world
//! (advertisement reports, discovery sessions, links and frames), `view` the
//! control API's picture of a lock.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;
use keyway_lock::{Entry, Key, Lock, LockConfig, LockState};
use keyway_protocol::{AuditKind, LockId};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use tokio::sync::Notify;

mod link;
mod lock;
mod view;

pub use link::{After, FrameResult, LinkParams, LinkRefusal, Report};
pub use view::{LockView, SlotView};

use lock::{Advertiser, SimLock};

use crate::clock::SimClock;
use crate::config::Resolved;
use crate::radio::{Faults, LinkStats, Position, RadioConfig};
use crate::store::{Store, StoreError};

/// Why a control request was refused. Nothing changed. Each has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No lock has that id or name.
    #[error("no lock `{0}`")]
    UnknownLock(String),
    /// Keys other than digits, `#` (enter) and `*` (clear).
    #[error("keys must be digits, `#` (enter) or `*` (clear)")]
    InvalidKeys,
    /// Not a key card id (1 to 64 printable characters).
    #[error("a key card id is 1 to 64 printable characters")]
    InvalidCard,
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
            Self::InvalidCard => "invalid_card",
            Self::InvalidValue(_) => "invalid_value",
            Self::LockOff(_) => "lock_off",
            Self::Store(_) => "storage_failed",
        }
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
        config.radio.validate()?;
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
        let config = LockConfig::from(&provisioned);
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
        world.locks.iter().map(|l| view::view(&world, l)).collect()
    }

    /// One lock by id (hex) or name.
    pub fn lock(&self, key: &str) -> Result<LockView, SimError> {
        let world = self.world();
        let i = world.index(key)?;
        Ok(view::view(&world, &world.locks[i]))
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

    /// Holds the key card `card_id` to a lock's card reader; the lock's
    /// decision. An id no reader could read (empty, too long, control
    /// characters) is refused and changes nothing. The id is never logged.
    pub fn present_card(&self, key: &str, card_id: &str) -> Result<Entry, SimError> {
        keyway_protocol::credential::card_id(card_id).map_err(|_| SimError::InvalidCard)?;
        self.with_lock(key, |world, i| {
            let lock = &mut world.locks[i];
            if !lock.powered {
                return Err(SimError::LockOff(lock.id()));
            }
            let now = lock.now();
            let entry = lock.firmware.present_card(card_id, now);
            log::info!("lock {}: key card {}", lock.id(), entry_word(&entry));
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
        radio.validate()?;
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
}

fn entry_word(entry: &Entry) -> &'static str {
    match entry {
        Entry::Granted { .. } | Entry::GrantedOffline { .. } => "granted",
        Entry::Denied { .. } => "denied",
        Entry::LockedOut { .. } => "refused (locked out)",
    }
}
