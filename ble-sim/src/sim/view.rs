//! The simulator's state as the control API shows it.

use jiff::Timestamp;
use keyway_codes::schedule::Schedule;
use keyway_codes::{AccessPoint, CodeKind};
use keyway_protocol::{AuditEvent, LockId};
use serde::Serialize;

use super::World;
use super::lock::SimLock;
use crate::radio::{Faults, LinkStats, Position};

/// One slot as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SlotView {
    /// The slot number.
    pub slot: u16,
    /// The code (shown to QA in API answers, never logged); none for a key card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A key card's key, 32 hex digits (the lock never holds the card's id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_key: Option<String>,
    /// Whose credential it is.
    pub kind: CodeKind,
    /// When it opens.
    pub schedule: Schedule,
    /// Enabled.
    pub enabled: bool,
    /// One-time.
    pub one_time: bool,
    /// A one-time code or card already used.
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

/// One lock as the control API shows it, from the world.
pub(super) fn view(world: &World, lock: &SimLock) -> LockView {
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
                code: s.entry.credential.code().map(|c| c.as_str().to_owned()),
                card_key: s.entry.credential.card().map(|k| k.to_hex()),
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
