//! The radio between the phone and the locks: where they stand, how strongly
//! the phone hears each lock, the link's MTU and connection interval, what
//! crossed the link (frames, bytes, simulated air time), and the faults QA can
//! inject.
//!
//! Signal model (log-distance path loss), the same one the phone's range
//! threshold is documented against (`keyway_delivery::DEFAULT_MIN_RSSI`):
//! `rssi = tx_power_1m - 10 * path_loss_exponent * log10(distance in m)`.
//! With the defaults (-59 dBm at 1 m, exponent 2) a lock 9.1 m (30 ft) away is
//! heard at -78 dBm; beyond `sensitivity` (-100 dBm, about 90 m) it is not
//! heard at all and vanishes from scans.
//!
//! Advertising model: while the phone discovers, it hears one advertisement
//! from every lock in range each `advertising_interval_ms` (a lock with a
//! link does not advertise). Each report's RSSI is the distance model plus a
//! bounded random walk of at most `rssi_spread_db` either way (seedable with
//! `seed`); a pinned RSSI is reported exactly. A lock advertises under a
//! resolvable private address ([`BdAddr::resolvable`]) drawn anew with each
//! rotation nonce of its advertisement.
//!
//! Air time model: one link-layer packet per direction per connection event,
//! so a request of `n` frames takes `n` connection events and its response of
//! `m` frames another `m` (the lock answers only once the whole request is in).

use crate::sim::SimError;
use serde::{Deserialize, Serialize};

/// A point on the floor plan, in metres.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Metres east.
    #[serde(default)]
    pub x: f64,
    /// Metres north.
    #[serde(default)]
    pub y: f64,
}

impl Position {
    /// Distance to `other` in metres.
    pub fn distance(&self, other: &Position) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

/// The radio's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadioConfig {
    /// RSSI heard at 1 m, dBm.
    pub tx_power_1m: f64,
    /// Path loss exponent (2 in free space, 3-4 through walls).
    pub path_loss_exponent: f64,
    /// Weaker than this (dBm) a lock is not heard at all.
    pub sensitivity: i16,
    /// The ATT MTU every link negotiates (23-517).
    pub mtu: u16,
    /// The connection interval, milliseconds (7.5-4000).
    pub connection_interval_ms: f64,
    /// Pace notifications by the connection interval in real time (slower,
    /// closer to a real lock); off by default.
    pub realtime: bool,
    /// How often each lock advertises, milliseconds (20-10240): a
    /// discovering phone gets a report from every lock in range this often.
    pub advertising_interval_ms: f64,
    /// Each report's RSSI wanders (a bounded random walk) at most this many
    /// dB either side of the distance model (0-20; 0: exactly the model).
    pub rssi_spread_db: u8,
    /// Seeds the RSSI walk, for repeatable runs (absent: a random seed).
    pub seed: Option<u64>,
    /// BlueZ's `TemporaryTimeout`, seconds: a device neither connected nor
    /// heard for this long is removed (0: never). BlueZ's default is 30.
    pub temporary_timeout_s: f64,
    /// How long, milliseconds, devices keep their `RSSI` property after the
    /// last discovery session ends. BlueZ drops it at once, as the default
    /// (0) does; a longer hold only helps clients that read RSSI after
    /// stopping their scan, which a real BlueZ would not.
    pub rssi_hold_ms: u64,
}

impl Default for RadioConfig {
    fn default() -> Self {
        Self {
            tx_power_1m: -59.0,
            path_loss_exponent: 2.0,
            sensitivity: -100,
            mtu: 185,
            connection_interval_ms: 30.0,
            realtime: false,
            advertising_interval_ms: 200.0,
            rssi_spread_db: 3,
            seed: None,
            temporary_timeout_s: 30.0,
            rssi_hold_ms: 0,
        }
    }
}

impl RadioConfig {
    /// The RSSI heard at `distance` metres (closer than 10 cm counts as 10 cm).
    pub fn rssi_at(&self, distance: f64) -> i16 {
        let d = distance.max(0.1);
        let rssi = self.tx_power_1m - 10.0 * self.path_loss_exponent * d.log10();
        rssi.round().clamp(-127.0, 20.0) as i16
    }

    /// Checks the values are physically sensible.
    pub fn validate(&self) -> Result<(), SimError> {
        let invalid = |message: String| Err(SimError::InvalidValue(message));
        if !(23..=517).contains(&self.mtu) {
            return invalid(format!("mtu {} is not 23-517", self.mtu));
        }
        if !(7.5..=4000.0).contains(&self.connection_interval_ms) {
            return invalid("connection_interval_ms is not 7.5-4000".into());
        }
        if !self.tx_power_1m.is_finite() || !(0.5..=10.0).contains(&self.path_loss_exponent) {
            return invalid("tx_power_1m must be finite and path_loss_exponent 0.5-10".into());
        }
        if !(20.0..=10_240.0).contains(&self.advertising_interval_ms) {
            return invalid("advertising_interval_ms is not 20-10240".into());
        }
        if self.rssi_spread_db > 20 {
            return invalid("rssi_spread_db is at most 20".into());
        }
        if !(0.0..=86_400.0).contains(&self.temporary_timeout_s) {
            return invalid("temporary_timeout_s is not 0-86400".into());
        }
        if self.rssi_hold_ms > 60_000 {
            return invalid("rssi_hold_ms is at most 60000".into());
        }
        Ok(())
    }
}

/// A Bluetooth device address, most significant byte first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BdAddr(pub [u8; 6]);

impl BdAddr {
    /// The resolvable private address a device holding identity resolving
    /// key `irk` shows for `nonce`: 24 bits of `prand` (the top two `01`,
    /// the rest from the nonce) and 24 bits of `hash(irk, prand)`. Only a
    /// holder of `irk` can tell two such addresses belong to one device.
    pub fn resolvable(irk: &[u8; 16], nonce: &[u8]) -> Self {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, irk);
        let seed = ring::hmac::sign(&key, &[b"prand".as_slice(), nonce].concat());
        let mut prand = [0u8; 3];
        prand.copy_from_slice(&seed.as_ref()[..3]);
        prand[0] = (prand[0] & 0x3f) | 0x40;
        let hash = ring::hmac::sign(&key, &prand);
        let mut bytes = [0u8; 6];
        bytes[..3].copy_from_slice(&prand);
        bytes[3..].copy_from_slice(&hash.as_ref()[..3]);
        Self(bytes)
    }
}

impl std::fmt::Display for BdAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

/// Where a power cut falls relative to the lock's write of its new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CutPoint {
    /// The new state was written to a temporary file but not yet renamed in.
    BeforeCommit,
    /// The new state is on disk; the answer never left.
    AfterCommit,
}

/// Cut the lock's power once `after_frames` frames of a connection have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerCut {
    /// Frames received on the link before the cut (from 1).
    pub after_frames: u32,
    /// Where the cut falls if that frame completed a request.
    #[serde(default = "before_commit")]
    pub at: CutPoint,
}

fn before_commit() -> CutPoint {
    CutPoint::BeforeCommit
}

/// Faults injected into one lock's radio. One-shot faults clear once they fire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Drop the link right after this many frames of a connection arrived
    /// (one-shot). The lock handles that last frame; its answer is lost.
    pub drop_after_frames: Option<u32>,
    /// Delay each connection and each answer by this many milliseconds.
    pub delay_ms: u64,
    /// Flip the last byte of this frame of the next connection (from 1; one-shot).
    pub corrupt_frame: Option<u32>,
    /// Refuse this many connection attempts (`org.bluez.Error.Failed`).
    pub refuse_connects: u32,
    /// Cut the lock's power mid-job (one-shot); it boots again at once from
    /// what its storage holds.
    pub power_cut: Option<PowerCut>,
}

/// What crossed one lock's links since the simulator started (or the stats
/// were reset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkStats {
    /// Connections made.
    pub connections: u64,
    /// Frames written by the phone.
    pub frames_up: u64,
    /// Frames notified by the lock.
    pub frames_down: u64,
    /// Bytes written by the phone (ATT payloads).
    pub bytes_up: u64,
    /// Bytes notified by the lock.
    pub bytes_down: u64,
    /// Request/response exchanges completed by the lock.
    pub round_trips: u64,
    /// Connection events used by frames (one frame per direction per event).
    pub connection_events: u64,
    /// `connection_events` times the connection interval, milliseconds.
    pub air_time_ms: f64,
}
