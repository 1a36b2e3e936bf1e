//! What the bench's templates print, worked out from the simulator's views:
//! the floor plan's geometry and each lock's card.

use keyway_codes::schedule::Schedule;
use keyway_delivery::DEFAULT_MIN_RSSI;

use crate::radio::{Position, RadioConfig};
use crate::scenario::event_type;
use crate::sim::{LockView, Sim};

/// Width of the floor plan's drawing, in its own units (pixels at 100 %).
const FLOOR_WIDTH: f64 = 900.0;
/// Metres of floor shown around the outermost lock or phone.
const MARGIN_M: f64 = 6.0;
/// Audit events shown per lock.
const AUDIT_SHOWN: usize = 12;

/// The floor plan: locks, the phone and each lock's delivery range.
#[derive(Debug)]
pub(super) struct Floor {
    pub(super) width: f64,
    pub(super) height: f64,
    /// Drawing units per metre.
    pub(super) scale: f64,
    /// The metres east at the drawing's left edge.
    pub(super) west: f64,
    /// The metres north at the drawing's top edge.
    pub(super) north: f64,
    pub(super) phone_x: f64,
    pub(super) phone_y: f64,
    pub(super) phone: Position,
    pub(super) locks: Vec<FloorLock>,
}

/// One lock on the floor plan.
#[derive(Debug)]
pub(super) struct FloorLock {
    pub(super) name: String,
    pub(super) x: f64,
    pub(super) y: f64,
    /// The delivery range's radius in drawing units.
    pub(super) range: f64,
    pub(super) rssi: i16,
    pub(super) heard: bool,
    pub(super) in_range: bool,
    pub(super) powered: bool,
    pub(super) connected: bool,
}

/// The distance at which `radio` hears a lock at the phone's delivery
/// threshold.
fn range_m(radio: &RadioConfig) -> f64 {
    let exponent =
        (radio.tx_power_1m - f64::from(DEFAULT_MIN_RSSI)) / (10.0 * radio.path_loss_exponent);
    10f64.powf(exponent)
}

impl Floor {
    /// The floor plan of `sim` now.
    pub(super) fn of(sim: &Sim) -> Self {
        let locks = sim.locks();
        let phone = sim.phone();
        let xs = locks.iter().map(|l| l.position.x).chain([phone.x]);
        let ys = locks.iter().map(|l| l.position.y).chain([phone.y]);
        let (west, east) = bounds(xs);
        let (south, north) = bounds(ys);
        let scale = FLOOR_WIDTH / (east - west);
        let at = |p: Position| ((p.x - west) * scale, (north - p.y) * scale);
        let range = range_m(&sim.radio()) * scale;
        let (phone_x, phone_y) = at(phone);
        Self {
            width: FLOOR_WIDTH,
            height: ((north - south) * scale).max(160.0),
            scale,
            west,
            north,
            phone_x,
            phone_y,
            phone,
            locks: locks
                .iter()
                .map(|l| {
                    let (x, y) = at(l.position);
                    FloorLock {
                        name: l.name.clone(),
                        x,
                        y,
                        range,
                        rssi: l.rssi,
                        heard: l.heard,
                        in_range: l.heard && l.rssi >= DEFAULT_MIN_RSSI,
                        powered: l.powered,
                        connected: l.connected,
                    }
                })
                .collect(),
        }
    }
}

/// The span of `values` with the margin around it (at least 12 m wide).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
    let (lo, hi) = (lo - MARGIN_M, hi + MARGIN_M);
    let short = (2.0 * MARGIN_M - (hi - lo)).max(0.0) / 2.0;
    (lo - short, hi + short)
}

/// One lock's card.
#[derive(Debug)]
pub(super) struct Card {
    pub(super) lock: LockView,
    pub(super) slots: Vec<SlotLine>,
    pub(super) audit: Vec<AuditLine>,
    pub(super) access_point: String,
    pub(super) locked_out: bool,
}

/// One occupied slot.
#[derive(Debug)]
pub(super) struct SlotLine {
    pub(super) slot: u16,
    pub(super) code: String,
    pub(super) kind: String,
    pub(super) schedule: String,
    pub(super) state: &'static str,
}

/// One audit event.
#[derive(Debug)]
pub(super) struct AuditLine {
    pub(super) seq: u32,
    pub(super) at: String,
    pub(super) what: String,
}

/// A serde value's snake_case name (`resident`, `package_room`).
fn word(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn schedule_text(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Always => "always".into(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

impl Card {
    /// Every lock's card, in the configuration's order.
    pub(super) fn all(sim: &Sim) -> Vec<Self> {
        sim.locks().into_iter().map(Self::of).collect()
    }

    fn of(lock: LockView) -> Self {
        let slots = lock
            .slots
            .iter()
            .map(|s| SlotLine {
                slot: s.slot,
                code: s.code.clone().unwrap_or_else(|| "key card".into()),
                kind: word(s.kind),
                schedule: schedule_text(&s.schedule),
                state: match (s.enabled, s.one_time, s.consumed) {
                    (false, _, _) => "disabled",
                    (true, true, true) => "one-time, used",
                    (true, true, false) => "one-time",
                    (true, false, _) => "enabled",
                },
            })
            .collect();
        let audit = lock
            .audit
            .iter()
            .rev()
            .take(AUDIT_SHOWN)
            .map(|e| AuditLine {
                seq: e.seq,
                at: e.at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                what: event_type(e).replace('_', " "),
            })
            .collect();
        Self {
            access_point: word(lock.access_point).replace('_', " "),
            locked_out: lock.locked_out_until.is_some(),
            slots,
            audit,
            lock,
        }
    }

    /// The lock's clock as the card prints it.
    pub(super) fn clock(&self) -> String {
        self.lock
            .clock
            .strftime("%Y-%m-%d %H:%M:%S UTC")
            .to_string()
    }

    /// The keypad lockout's end, as the card prints it.
    pub(super) fn lockout_until(&self) -> String {
        self.lock
            .locked_out_until
            .map(|t| t.strftime("%H:%M:%S").to_string())
            .unwrap_or_default()
    }

    /// A DOM id for the lock.
    pub(super) fn dom_id(&self) -> String {
        format!("lock-{}", self.lock.id)
    }
}
