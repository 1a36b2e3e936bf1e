//! The simulator as the simulated BlueZ sees it: advertisement reports,
//! the adapter's power and discovery sessions, and links (connect, frames
//! written, notifications, disconnect) with the faults that act on them.

use keyway_protocol::LockId;
use keyway_protocol::frame::split;
use rand::RngExt;

use super::lock::LinkState;
use super::{AdapterState, Sim, World};
use crate::radio::CutPoint;

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

/// What a new link gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkParams {
    /// The ATT MTU.
    pub mtu: u16,
    /// How long connecting takes (the delay fault), milliseconds.
    pub delay_ms: u64,
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

impl World {
    /// The radio drops links to locks it no longer hears (supervision
    /// timeout).
    pub(super) fn drop_unheard_links(&mut self) {
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

impl Sim {
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
