//! Scripted scenarios: a TOML file of steps (move the phone, deliver jobs,
//! type on keypads, hold key cards to readers, move clocks, inject faults, cut power) each with what it
//! must produce. The runner plays the server (it issues visit challenges,
//! checks the lock's statuses, seals jobs for the lock's session with the
//! keys of the provisioning file and opens the receipts) and the phone (the
//! real delivery engine over btleplug and the simulated BlueZ), then reports
//! every step. Format and examples: `docs/simulator.md`, `ble-sim/scenarios/`.

mod report;
mod steps;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use keyway_delivery::{Backoff, DeliveryConfig};
use keyway_protocol::{AuditEvent, AuditKind, Op};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Resolved, SimConfig};
use crate::radio::Faults;

pub use report::{ScenarioReport, StepReport};
pub(crate) use steps::{Player, entry_code};
pub use steps::{StepFailure, run};

/// A scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows.
    pub name: String,
    /// Longer explanation, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The simulator configuration, relative to the scenario file.
    pub config: PathBuf,
    /// The steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One step: an action and what it must produce.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Move the phone to (x, y) metres.
    MovePhone {
        /// Metres east.
        x: f64,
        /// Metres north.
        y: f64,
    },
    /// Pin a lock's RSSI (or release it with no `rssi`).
    SetRssi {
        /// Lock name or id.
        lock: String,
        /// dBm.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rssi: Option<i16>,
    },
    /// Visit the lock through btleplug: the runner, as the server, seals a
    /// job with `ops` from the version the lock's status shows to the next,
    /// for the session the status opened (no `ops`: it sends no job).
    Deliver {
        /// Lock name or id.
        lock: String,
        /// The operations (`docs/lock-protocol.md`; JSON/TOML form of `Op`).
        ops: Vec<Op>,
        /// The visit's outcome code (`delivered`, `checked` (nothing to
        /// send), `out_of_range`, `lock_refused`, `connection_lost`, ...).
        #[serde(default = "delivered")]
        expect: String,
        /// The receipt's outcome (`applied`, `version_mismatch`,
        /// `refused:<reason>`), when delivered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_receipt: Option<String>,
        /// Job lifetime on the lock's clock (default a week).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_in_seconds: Option<i64>,
        /// Hand the lock the job sealed for an earlier visit instead of
        /// sealing one for this visit's session (what a phone that kept an
        /// old job would try): the lock refuses it with `no_session`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        replay_previous: bool,
    },
    /// Type on a keypad: a whole `code` (and enter), or `keys` one by one
    /// (digits, `#` enter, `*` clear).
    Keypad {
        /// Lock name or id.
        lock: String,
        /// A whole code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// Keys one by one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keys: Option<String>,
        /// `granted`, `denied`, `denied:<reason>`, `locked_out` or `none`
        /// (the last entry, for `keys`).
        expect: String,
    },
    /// Hold a key card to a lock's reader.
    Card {
        /// Lock name or id.
        lock: String,
        /// The card's id, as the reader reads it.
        card: String,
        /// `granted`, `denied`, `denied:<reason>` or `locked_out`.
        expect: String,
    },
    /// Move (`advance_seconds`) or set (`set`) a lock's clock.
    Clock {
        /// Lock name or id.
        lock: String,
        /// Seconds to move forward.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        advance_seconds: Option<i64>,
        /// A reading to set (records `clock_set`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        set: Option<Timestamp>,
    },
    /// Replace a lock's faults (`docs/simulator.md`, "Faults").
    Faults {
        /// Lock name or id.
        lock: String,
        /// The faults.
        #[serde(default)]
        faults: Faults,
    },
    /// `off`, `on` or `cycle` a lock's power.
    Power {
        /// Lock name or id.
        lock: String,
        /// `off`, `on` or `cycle`.
        action: String,
    },
    /// Power the adapter on or off, or block it (rfkill).
    Adapter {
        /// On or off.
        powered: bool,
        /// Blocked.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        blocked: bool,
    },
    /// Scan through btleplug and check which locks are in range.
    Scan {
        /// Locks that must be heard in range.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        in_range: Vec<String>,
        /// Locks that must be out of range (weak or not heard).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        out_of_range: Vec<String>,
    },
    /// Visit the lock with nothing to deliver (the server settles its status)
    /// and check the events the status carried.
    Status {
        /// Lock name or id.
        lock: String,
        /// Audit event types that must be among its events.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        events: Vec<String>,
    },
    /// Check a lock's state as the simulator sees it.
    Check {
        /// Lock name or id.
        lock: String,
        /// The state version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
        /// How many slots are occupied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slots: Option<usize>,
        /// Whether the keypad is locked out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        locked_out: Option<bool>,
        /// Whether the phone hears it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heard: Option<bool>,
        /// Audit event types that must appear in its log.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        audit_contains: Vec<String>,
        /// How many times each event type must appear (`{ job_applied = 1 }`).
        #[serde(default, skip_serializing_if = "HashMap::is_empty")]
        audit_counts: HashMap<String, usize>,
    },
}

fn delivered() -> String {
    "delivered".into()
}

/// Why a scenario cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed.
    #[error("malformed scenario {path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Its simulator configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Scenario {
    /// Reads a scenario and the configuration it names.
    pub fn load(path: &Path) -> Result<(Self, Resolved), ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let scenario: Self = toml::from_str(&text).map_err(|e| ScenarioError::Malformed {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let config = SimConfig::load(&base.join(&scenario.config))?;
        Ok((scenario, config))
    }
}

/// The delivery settings scenarios run with: short scans, quick retries.
pub fn scenario_delivery_config() -> DeliveryConfig {
    DeliveryConfig {
        scan_time: Duration::from_millis(250),
        connect_timeout: Duration::from_secs(5),
        response_timeout: Duration::from_secs(3),
        attempts: 3,
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
            jitter: 0.5,
        },
        ..DeliveryConfig::default()
    }
}

/// The snake_case name of an audit event type, as in the API's JSON.
pub fn event_type(event: &AuditEvent) -> String {
    serde_json::to_value(event.kind)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_owned)))
        .unwrap_or_default()
}

/// Whether an audit event is of the named type.
pub fn is_event(event: &AuditEvent, name: &str) -> bool {
    event_type(event) == name && !matches!(event.kind, AuditKind::Unknown { .. })
}
