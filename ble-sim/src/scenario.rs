//! Scripted scenarios: a TOML file of steps (move the phone, deliver jobs,
//! type on keypads, move clocks, inject faults, cut power) each with what it
//! must produce. The runner plays the server (it issues visit challenges,
//! checks the lock's statuses, seals jobs for the lock's session with the
//! keys of the provisioning file and opens the receipts) and the phone (the
//! real delivery engine over btleplug and the simulated BlueZ), then reports
//! every step. Format and examples: `docs/simulator.md`, `ble-sim/scenarios/`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use keyway_delivery::{
    Backoff, DeliveryConfig, DeliveryEngine, DeliveryFailure, DeliveryOutcome, LockTransport,
    VisitReport, resolve,
};
use keyway_lock::Entry;
use keyway_protocol::{AuditEvent, AuditKind, LockId, Op, Outcome};
use serde::Deserialize;

use crate::config::{ConfigError, Resolved, SimConfig};
use crate::harness::Harness;
use crate::played::{Plan, PlayedServer};
use crate::radio::Faults;

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows.
    pub name: String,
    /// Longer explanation, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// The simulator configuration, relative to the scenario file.
    pub config: PathBuf,
    /// The steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One step: an action and what it must produce.
#[derive(Debug, Clone, Deserialize)]
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
        #[serde(default)]
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
        #[serde(default)]
        expect_receipt: Option<String>,
        /// Job lifetime on the lock's clock (default a week).
        #[serde(default)]
        expires_in_seconds: Option<i64>,
        /// Hand the lock the job sealed for an earlier visit instead of
        /// sealing one for this visit's session (what a phone that kept an
        /// old job would try): the lock refuses it with `no_session`.
        #[serde(default)]
        replay_previous: bool,
    },
    /// Type on a keypad: a whole `code` (and enter), or `keys` one by one
    /// (digits, `#` enter, `*` clear).
    Keypad {
        /// Lock name or id.
        lock: String,
        /// A whole code.
        #[serde(default)]
        code: Option<String>,
        /// Keys one by one.
        #[serde(default)]
        keys: Option<String>,
        /// `granted`, `denied`, `denied:<reason>`, `locked_out` or `none`
        /// (the last entry, for `keys`).
        expect: String,
    },
    /// Move (`advance_seconds`) or set (`set`) a lock's clock.
    Clock {
        /// Lock name or id.
        lock: String,
        /// Seconds to move forward.
        #[serde(default)]
        advance_seconds: Option<i64>,
        /// A reading to set (records `clock_set`).
        #[serde(default)]
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
        #[serde(default)]
        blocked: bool,
    },
    /// Scan through btleplug and check which locks are in range.
    Scan {
        /// Locks that must be heard in range.
        #[serde(default)]
        in_range: Vec<String>,
        /// Locks that must be out of range (weak or not heard).
        #[serde(default)]
        out_of_range: Vec<String>,
    },
    /// Visit the lock with nothing to deliver (the server settles its status)
    /// and check the events the status carried.
    Status {
        /// Lock name or id.
        lock: String,
        /// Audit event types that must be among its events.
        #[serde(default)]
        events: Vec<String>,
    },
    /// Check a lock's state as the simulator sees it.
    Check {
        /// Lock name or id.
        lock: String,
        /// The state version.
        #[serde(default)]
        version: Option<u32>,
        /// How many slots are occupied.
        #[serde(default)]
        slots: Option<usize>,
        /// Whether the keypad is locked out.
        #[serde(default)]
        locked_out: Option<bool>,
        /// Whether the phone hears it.
        #[serde(default)]
        heard: Option<bool>,
        /// Audit event types that must appear in its log.
        #[serde(default)]
        audit_contains: Vec<String>,
        /// How many times each event type must appear (`{ job_applied = 1 }`).
        #[serde(default)]
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

/// One step's result.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Step number, from 1.
    pub number: usize,
    /// What the step did (never a code).
    pub action: String,
    /// Whether it behaved.
    pub passed: bool,
    /// What happened, or what was expected and what came.
    pub detail: String,
}

/// A scenario's results.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// Every step.
    pub steps: Vec<StepReport>,
}

impl ScenarioReport {
    /// Whether every step behaved.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.passed)
    }

    /// Steps that did not behave.
    pub fn failures(&self) -> usize {
        self.steps.iter().filter(|s| !s.passed).count()
    }
}

impl fmt::Display for ScenarioReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario: {}", self.name)?;
        for step in &self.steps {
            let mark = if step.passed { "ok  " } else { "FAIL" };
            writeln!(
                f,
                "  {mark} {:>2}. {}: {}",
                step.number, step.action, step.detail
            )?;
        }
        let failed = self.failures();
        writeln!(f, "{} passed, {} failed", self.steps.len() - failed, failed)
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

/// Runs `scenario` against the harness's simulator through `transport`.
pub async fn run(
    scenario: &Scenario,
    harness: &Harness,
    transport: Arc<dyn LockTransport>,
) -> ScenarioReport {
    let engine = DeliveryEngine::new(transport, scenario_delivery_config());
    let server = harness.played_server();
    let mut steps = Vec::with_capacity(scenario.steps.len());
    for (i, step) in scenario.steps.iter().enumerate() {
        let (action, result) = run_step(step, harness, &engine, &server).await;
        let (passed, detail) = match result {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        steps.push(StepReport {
            number: i + 1,
            action,
            passed,
            detail,
        });
    }
    ScenarioReport {
        name: scenario.name.clone(),
        steps,
    }
}

type StepResult = Result<String, String>;

fn expect_eq<T: PartialEq + fmt::Debug>(what: &str, expected: T, got: T) -> Result<(), String> {
    if expected == got {
        Ok(())
    } else {
        Err(format!("expected {what} {expected:?}, got {got:?}"))
    }
}

fn entry_code(entry: Option<&Entry>) -> String {
    match entry {
        None => "none".into(),
        Some(Entry::Granted { .. }) => "granted".into(),
        Some(Entry::Denied { reason }) => format!(
            "denied:{}",
            serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
        Some(Entry::LockedOut { .. }) => "locked_out".into(),
    }
}

fn entry_matches(expect: &str, got: &str) -> bool {
    expect == got || (expect == "denied" && got.starts_with("denied:"))
}

fn outcome_code(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied => "applied".into(),
        Outcome::VersionMismatch => "version_mismatch".into(),
        Outcome::Refused(reason) => format!("refused:{}", reason.code()),
        Outcome::Status => "status".into(),
    }
}

/// The snake_case name of an audit event type, as in the API's JSON.
pub fn event_type(event: &AuditEvent) -> String {
    serde_json::to_value(event.kind)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_owned)))
        .unwrap_or_default()
}

/// Visits `id` (or reports it out of range when the scan does not hear it).
async fn visit(
    engine: &DeliveryEngine,
    server: &PlayedServer,
    id: LockId,
) -> Result<VisitReport, String> {
    match server.sighting(engine, id).await? {
        Some(seen) => Ok(engine.visit(&seen, server).await),
        None => Ok(VisitReport {
            lock_id: id,
            outcome: DeliveryOutcome::Failed(DeliveryFailure::OutOfRange { rssi: None }),
            attempts: 0,
            advertised_version: 0,
        }),
    }
}

async fn run_step(
    step: &Step,
    harness: &Harness,
    engine: &DeliveryEngine,
    server: &PlayedServer,
) -> (String, StepResult) {
    let sim = &harness.sim;
    let resolve_lock = |lock: &str| -> Result<LockId, String> {
        sim.lock(lock).map(|l| l.id).map_err(|e| e.to_string())
    };
    match step {
        Step::MovePhone { x, y } => (
            format!("move the phone to ({x}, {y})"),
            sim.move_phone(crate::radio::Position { x: *x, y: *y })
                .map(|()| "moved".into())
                .map_err(|e| e.to_string()),
        ),
        Step::SetRssi { lock, rssi } => (
            format!("set RSSI of {lock} to {rssi:?}"),
            sim.set_rssi(lock, *rssi)
                .map(|()| "set".into())
                .map_err(|e| e.to_string()),
        ),
        Step::Deliver {
            lock,
            ops,
            expect,
            expect_receipt,
            expires_in_seconds,
            replay_previous,
        } => {
            let action = if *replay_previous {
                format!("replay a job sealed for an earlier visit to {lock}")
            } else {
                format!("deliver {} change(s) to {lock}", ops.len())
            };
            let result = async {
                let id = resolve_lock(lock)?;
                server.plan(
                    id,
                    if *replay_previous {
                        Plan::Replay
                    } else if ops.is_empty() {
                        Plan::Nothing
                    } else {
                        Plan::Seal {
                            ops: ops.clone(),
                            expires_in: expires_in_seconds.unwrap_or(7 * 86_400),
                            mutate: None,
                        }
                    },
                );
                let report = visit(engine, server, id).await;
                let receipts = report
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|r| server.receipts(id, &r.outcome));
                server.plan(id, Plan::Nothing);
                let (report, receipts) = (report?, receipts?);
                let got = report.outcome.code();
                if got != expect {
                    return Err(format!(
                        "expected {expect}, got {got} ({:?})",
                        report.outcome
                    ));
                }
                let mut detail = format!("{got} after {} attempt(s)", report.attempts);
                for receipt in receipts {
                    let code = outcome_code(&receipt.outcome);
                    if let Some(want) = expect_receipt
                        && &code != want
                    {
                        return Err(format!("expected receipt {want}, got {code}"));
                    }
                    detail = format!("{detail}, receipt {code}, version {}", receipt.version);
                }
                Ok(detail)
            }
            .await;
            (action, result)
        }
        Step::Keypad {
            lock,
            code,
            keys,
            expect,
        } => {
            let (action, got) = match (code, keys) {
                (Some(code), None) => (
                    format!("type a {}-digit code on {lock}", code.len()),
                    sim.enter_code(lock, code)
                        .map(|e| entry_code(e.as_ref()))
                        .map_err(|e| e.to_string()),
                ),
                (None, Some(keys)) => (
                    format!("press {} key(s) on {lock}", keys.len()),
                    sim.press(lock, keys)
                        .map(|entries| entry_code(entries.last().map(|r| &r.entry)))
                        .map_err(|e| e.to_string()),
                ),
                _ => (
                    format!("keypad on {lock}"),
                    Err("give exactly one of `code` and `keys`".into()),
                ),
            };
            let result = got.and_then(|got| {
                if entry_matches(expect, &got) {
                    Ok(got)
                } else {
                    Err(format!("expected {expect}, got {got}"))
                }
            });
            (action, result)
        }
        Step::Clock {
            lock,
            advance_seconds,
            set,
        } => {
            let result = match (advance_seconds, set) {
                (Some(s), None) => sim.advance_clock(lock, *s),
                (None, Some(t)) => sim.set_clock(lock, *t),
                _ => Err(crate::sim::SimError::InvalidValue(
                    "give exactly one of `advance_seconds` and `set`".into(),
                )),
            };
            (
                format!("move the clock of {lock}"),
                result
                    .map(|t| format!("now {t}"))
                    .map_err(|e| e.to_string()),
            )
        }
        Step::Faults { lock, faults } => (
            format!("inject faults on {lock}"),
            sim.set_faults(lock, *faults)
                .map(|()| format!("{faults:?}"))
                .map_err(|e| e.to_string()),
        ),
        Step::Power { lock, action } => {
            let (on, off) = match action.as_str() {
                "off" => (false, true),
                "on" => (true, false),
                "cycle" => (true, true),
                _ => (false, false),
            };
            let result = if on || off {
                sim.power(lock, on, off)
                    .map(|()| action.clone())
                    .map_err(|e| e.to_string())
            } else {
                Err(format!("unknown power action `{action}` (off, on, cycle)"))
            };
            (format!("power {action} {lock}"), result)
        }
        Step::Adapter { powered, blocked } => {
            sim.set_adapter(*powered, *blocked);
            (
                format!("adapter powered={powered} blocked={blocked}"),
                Ok("set".into()),
            )
        }
        Step::Scan {
            in_range,
            out_of_range,
        } => {
            let result = async {
                let heard = engine
                    .scan()
                    .await
                    .map_err(|e| format!("scan failed: {}", e.code()))?;
                let sightings = resolve(&heard, &server.advert_keys());
                let min = engine.config().min_rssi;
                let close =
                    |id: LockId| sightings.iter().any(|s| s.lock_id == id && s.in_range(min));
                for lock in in_range {
                    if !close(resolve_lock(lock)?) {
                        return Err(format!("{lock} is not in range"));
                    }
                }
                for lock in out_of_range {
                    if close(resolve_lock(lock)?) {
                        return Err(format!("{lock} is in range"));
                    }
                }
                Ok(format!("heard {} lock(s)", sightings.len()))
            }
            .await;
            ("scan".into(), result)
        }
        Step::Status { lock, events } => {
            let result = async {
                let id = resolve_lock(lock)?;
                let before = server.statuses(id).len();
                let report = visit(engine, server, id).await?;
                if let DeliveryOutcome::Failed(failure) = &report.outcome {
                    return Err(failure.code().to_owned());
                }
                let statuses = server.statuses(id);
                let (receipt, _) = statuses.get(before).ok_or("no status reached the server")?;
                let types: Vec<String> = receipt.events.iter().map(event_type).collect();
                for want in events {
                    if !types.contains(want) {
                        return Err(format!("no {want} event among {types:?}"));
                    }
                }
                Ok(format!("version {}, events {types:?}", receipt.version))
            }
            .await;
            (format!("visit {lock} for its status"), result)
        }
        Step::Check {
            lock,
            version,
            slots,
            locked_out,
            heard,
            audit_contains,
            audit_counts,
        } => {
            let result = (|| {
                let view = sim.lock(lock).map_err(|e| e.to_string())?;
                if let Some(v) = version {
                    expect_eq("version", *v, view.version)?;
                }
                if let Some(n) = slots {
                    expect_eq("slots", *n, view.slots.len())?;
                }
                if let Some(l) = locked_out {
                    expect_eq("locked_out", *l, view.locked_out_until.is_some())?;
                }
                if let Some(h) = heard {
                    expect_eq("heard", *h, view.heard)?;
                }
                let types: Vec<String> = view.audit.iter().map(event_type).collect();
                for want in audit_contains {
                    if !types.contains(want) {
                        return Err(format!("no {want} event in the audit log"));
                    }
                }
                for (want, count) in audit_counts {
                    let got = types.iter().filter(|t| *t == want).count();
                    expect_eq(&format!("{want} events"), *count, got)?;
                }
                Ok(format!(
                    "version {}, {} slot(s), {} audit event(s)",
                    view.version,
                    view.slots.len(),
                    view.audit.len()
                ))
            })();
            (format!("check {lock}"), result)
        }
    }
}

/// Whether an audit event is of the named type.
pub fn is_event(event: &AuditEvent, name: &str) -> bool {
    event_type(event) == name && !matches!(event.kind, AuditKind::Unknown { .. })
}
