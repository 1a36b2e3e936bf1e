//! Playing a scenario's steps: one function per kind of step, each returning
//! what happened or the [`StepFailure`] that makes the step fail.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use keyway_delivery::{
    DeliveryEngine, DeliveryFailure, DeliveryOutcome, LockTransport, VisitReport, resolve,
};
use keyway_lock::Entry;
use keyway_protocol::{LockId, Op, Outcome, Receipt};

use super::{ScenarioReport, Step, StepReport, event_type, scenario_delivery_config};
use crate::harness::Harness;
use crate::played::{Plan, PlayedError, PlayedServer};
use crate::radio::{Faults, Position};
use crate::sim::{Sim, SimError};

/// Why a step did not behave.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    /// The simulator refused the action.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The played server could not scan or open what the lock sent.
    #[error(transparent)]
    Played(#[from] PlayedError),
    /// The step itself is malformed (`code` and `keys` both given, ...).
    #[error("{0}")]
    Malformed(&'static str),
    /// The step's outcome is not the one it expects.
    #[error("expected {expected}, got {got}")]
    Unexpected {
        /// What the step expected.
        expected: String,
        /// What came.
        got: String,
    },
    /// A value the step checks differs.
    #[error("expected {what} {expected}, got {got}")]
    Mismatch {
        /// What was checked.
        what: String,
        /// What the step expected.
        expected: String,
        /// What came.
        got: String,
    },
    /// Another expectation is not met, in words.
    #[error("{0}")]
    Unmet(String),
}

type StepResult = Result<String, StepFailure>;

/// Runs `scenario` against the harness's simulator through `transport`.
pub async fn run(
    scenario: &super::Scenario,
    harness: &Harness,
    transport: Arc<dyn LockTransport>,
) -> ScenarioReport {
    let engine = DeliveryEngine::new(transport, scenario_delivery_config());
    let server = harness.played_server();
    let player = Player {
        sim: &harness.sim,
        engine: &engine,
        server: &server,
    };
    let mut steps = Vec::with_capacity(scenario.steps.len());
    for (i, step) in scenario.steps.iter().enumerate() {
        let (action, result) = player.step(step).await;
        let (passed, detail) = match result {
            Ok(detail) => (true, detail),
            Err(failure) => (false, failure.to_string()),
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

fn expect_eq<T: PartialEq + fmt::Debug>(
    what: &str,
    expected: T,
    got: T,
) -> Result<(), StepFailure> {
    if expected == got {
        Ok(())
    } else {
        Err(StepFailure::Mismatch {
            what: what.to_owned(),
            expected: format!("{expected:?}"),
            got: format!("{got:?}"),
        })
    }
}

pub(crate) fn entry_code(entry: Option<&Entry>) -> String {
    match entry {
        None => "none".into(),
        Some(Entry::Granted { .. } | Entry::GrantedOffline { .. }) => "granted".into(),
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

/// `got` if it is the entry `expect` names (`denied` stands for any denial).
fn expected(expect: &str, got: String) -> StepResult {
    if expect == got || (expect == "denied" && got.starts_with("denied:")) {
        Ok(got)
    } else {
        Err(StepFailure::Unexpected {
            expected: expect.to_owned(),
            got,
        })
    }
}

fn outcome_code(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied => "applied".into(),
        Outcome::VersionMismatch => "version_mismatch".into(),
        Outcome::Refused(reason) => format!("refused:{}", reason.code()),
        Outcome::Status => "status".into(),
    }
}

/// The three parties a step acts on: the simulated building, the phone's
/// delivery engine and the played server.
pub(crate) struct Player<'a> {
    pub(crate) sim: &'a Sim,
    pub(crate) engine: &'a DeliveryEngine,
    pub(crate) server: &'a PlayedServer,
}

/// What a `deliver` step asks for.
struct Delivery<'a> {
    lock: &'a str,
    ops: &'a [Op],
    expect: &'a str,
    expect_receipt: Option<&'a str>,
    expires_in_seconds: Option<i64>,
    replay_previous: bool,
}

/// What a `check` step asks about.
struct Check<'a> {
    version: Option<u32>,
    slots: Option<usize>,
    locked_out: Option<bool>,
    heard: Option<bool>,
    audit_contains: &'a [String],
    audit_counts: &'a HashMap<String, usize>,
}

impl Player<'_> {
    /// Plays one step: its action, for the report, and its result.
    pub(crate) async fn step(&self, step: &Step) -> (String, StepResult) {
        let sim = self.sim;
        match step {
            Step::MovePhone { x, y } => (
                format!("move the phone to ({x}, {y})"),
                done(sim.move_phone(Position { x: *x, y: *y }), "moved"),
            ),
            Step::SetRssi { lock, rssi } => (
                format!("set RSSI of {lock} to {rssi:?}"),
                done(sim.set_rssi(lock, *rssi), "set"),
            ),
            Step::Deliver {
                lock,
                ops,
                expect,
                expect_receipt,
                expires_in_seconds,
                replay_previous,
            } => {
                let delivery = Delivery {
                    lock,
                    ops,
                    expect,
                    expect_receipt: expect_receipt.as_deref(),
                    expires_in_seconds: *expires_in_seconds,
                    replay_previous: *replay_previous,
                };
                (delivery.action(), self.deliver(&delivery).await)
            }
            Step::Keypad {
                lock,
                code,
                keys,
                expect,
            } => self.keypad(lock, code.as_deref(), keys.as_deref(), expect),
            Step::Card { lock, card, expect } => (
                format!("hold a key card to {lock}"),
                self.sim
                    .present_card(lock, card)
                    .map_err(StepFailure::from)
                    .and_then(|entry| expected(expect, entry_code(Some(&entry)))),
            ),
            Step::Clock {
                lock,
                advance_seconds,
                set,
            } => {
                let result = match (advance_seconds, set) {
                    (Some(s), None) => sim.advance_clock(lock, *s).map_err(Into::into),
                    (None, Some(t)) => sim.set_clock(lock, *t).map_err(Into::into),
                    _ => Err(StepFailure::Malformed(
                        "give exactly one of `advance_seconds` and `set`",
                    )),
                };
                (
                    format!("move the clock of {lock}"),
                    result.map(|t| format!("now {t}")),
                )
            }
            Step::Faults { lock, faults } => (
                format!("inject faults on {lock}"),
                self.faults(lock, *faults),
            ),
            Step::Power { lock, action } => {
                (format!("power {action} {lock}"), self.power(lock, action))
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
            } => ("scan".into(), self.scan(in_range, out_of_range).await),
            Step::Status { lock, events } => (
                format!("visit {lock} for its status"),
                self.status(lock, events).await,
            ),
            Step::Check {
                lock,
                version,
                slots,
                locked_out,
                heard,
                audit_contains,
                audit_counts,
            } => {
                let check = Check {
                    version: *version,
                    slots: *slots,
                    locked_out: *locked_out,
                    heard: *heard,
                    audit_contains,
                    audit_counts,
                };
                (format!("check {lock}"), self.check(lock, &check))
            }
        }
    }

    fn lock_id(&self, lock: &str) -> Result<LockId, StepFailure> {
        Ok(self.sim.lock(lock)?.id)
    }

    /// Visits `id` (or reports it out of range when the scan does not hear it).
    async fn visit(&self, id: LockId) -> Result<VisitReport, StepFailure> {
        match self.server.sighting(self.engine, id).await? {
            Some(seen) => Ok(self.engine.visit(&seen, self.server).await),
            None => Ok(VisitReport {
                lock_id: id,
                outcome: DeliveryOutcome::Failed(DeliveryFailure::OutOfRange { rssi: None }),
                attempts: 0,
                advertised_version: 0,
            }),
        }
    }

    /// Plays a delivery: the visit's report and the receipts it brought.
    async fn visit_with(
        &self,
        delivery: &Delivery<'_>,
    ) -> Result<(VisitReport, Vec<Receipt>), StepFailure> {
        let id = self.lock_id(delivery.lock)?;
        self.server.plan(id, delivery.plan());
        let report = self.visit(id).await;
        let receipts = match &report {
            Ok(r) => self
                .server
                .receipts(id, &r.outcome)
                .map_err(StepFailure::from),
            Err(_) => Ok(Vec::new()),
        };
        self.server.plan(id, Plan::Nothing);
        Ok((report?, receipts?))
    }

    /// Delivers `ops` to `lock` as a `deliver` step would and says what
    /// came of it: the visit's outcome code and the last receipt's, the
    /// expectations a recording of it carries.
    pub(crate) async fn deliver_observed(
        &self,
        lock: &str,
        ops: &[Op],
    ) -> Result<(String, Option<String>), StepFailure> {
        let delivery = Delivery {
            lock,
            ops,
            expect: "",
            expect_receipt: None,
            expires_in_seconds: None,
            replay_previous: false,
        };
        let (report, receipts) = self.visit_with(&delivery).await?;
        let receipt = receipts.last().map(|r| outcome_code(&r.outcome));
        Ok((report.outcome.code().to_owned(), receipt))
    }

    async fn deliver(&self, delivery: &Delivery<'_>) -> StepResult {
        let (report, receipts) = self.visit_with(delivery).await?;
        let got = report.outcome.code();
        if got != delivery.expect {
            return Err(StepFailure::Unexpected {
                expected: delivery.expect.to_owned(),
                got: format!("{got} ({:?})", report.outcome),
            });
        }
        let mut detail = format!("{got} after {} attempt(s)", report.attempts);
        for receipt in receipts {
            let code = outcome_code(&receipt.outcome);
            if let Some(want) = delivery.expect_receipt
                && code != want
            {
                return Err(StepFailure::Mismatch {
                    what: "receipt".into(),
                    expected: want.to_owned(),
                    got: code,
                });
            }
            detail = format!("{detail}, receipt {code}, version {}", receipt.version);
        }
        Ok(detail)
    }

    fn keypad(
        &self,
        lock: &str,
        code: Option<&str>,
        keys: Option<&str>,
        expect: &str,
    ) -> (String, StepResult) {
        let (action, got) = match (code, keys) {
            (Some(code), None) => (
                format!("type a {}-digit code on {lock}", code.len()),
                self.sim
                    .enter_code(lock, code)
                    .map(|e| entry_code(e.as_ref()))
                    .map_err(StepFailure::from),
            ),
            (None, Some(keys)) => (
                format!("press {} key(s) on {lock}", keys.len()),
                self.sim
                    .press(lock, keys)
                    .map(|entries| entry_code(entries.last().map(|r| &r.entry)))
                    .map_err(StepFailure::from),
            ),
            _ => (
                format!("keypad on {lock}"),
                Err(StepFailure::Malformed(
                    "give exactly one of `code` and `keys`",
                )),
            ),
        };
        (action, got.and_then(|got| expected(expect, got)))
    }

    fn faults(&self, lock: &str, faults: Faults) -> StepResult {
        self.sim.set_faults(lock, faults)?;
        Ok(format!("{faults:?}"))
    }

    fn power(&self, lock: &str, action: &str) -> StepResult {
        let (on, off) = match action {
            "off" => (false, true),
            "on" => (true, false),
            "cycle" => (true, true),
            _ => {
                return Err(StepFailure::Unmet(format!(
                    "unknown power action `{action}` (off, on, cycle)"
                )));
            }
        };
        self.sim.power(lock, on, off)?;
        Ok(action.to_owned())
    }

    async fn scan(&self, in_range: &[String], out_of_range: &[String]) -> StepResult {
        let heard = self.engine.scan().await.map_err(PlayedError::from)?;
        let sightings = resolve(&heard, &self.server.advert_keys());
        let min = self.engine.config().min_rssi;
        let close = |id: LockId| sightings.iter().any(|s| s.lock_id == id && s.in_range(min));
        for lock in in_range {
            if !close(self.lock_id(lock)?) {
                return Err(StepFailure::Unmet(format!("{lock} is not in range")));
            }
        }
        for lock in out_of_range {
            if close(self.lock_id(lock)?) {
                return Err(StepFailure::Unmet(format!("{lock} is in range")));
            }
        }
        Ok(format!("heard {} lock(s)", sightings.len()))
    }

    async fn status(&self, lock: &str, events: &[String]) -> StepResult {
        let id = self.lock_id(lock)?;
        let before = self.server.statuses(id).len();
        let report = self.visit(id).await?;
        if let DeliveryOutcome::Failed(failure) = &report.outcome {
            return Err(StepFailure::Unmet(failure.code().to_owned()));
        }
        let statuses = self.server.statuses(id);
        let (receipt, _) = statuses
            .get(before)
            .ok_or_else(|| StepFailure::Unmet("no status reached the server".into()))?;
        let types: Vec<String> = receipt.events.iter().map(event_type).collect();
        for want in events {
            if !types.contains(want) {
                return Err(StepFailure::Unmet(format!(
                    "no {want} event among {types:?}"
                )));
            }
        }
        Ok(format!("version {}, events {types:?}", receipt.version))
    }

    fn check(&self, lock: &str, check: &Check<'_>) -> StepResult {
        let view = self.sim.lock(lock)?;
        if let Some(v) = check.version {
            expect_eq("version", v, view.version)?;
        }
        if let Some(n) = check.slots {
            expect_eq("slots", n, view.slots.len())?;
        }
        if let Some(l) = check.locked_out {
            expect_eq("locked_out", l, view.locked_out_until.is_some())?;
        }
        if let Some(h) = check.heard {
            expect_eq("heard", h, view.heard)?;
        }
        let types: Vec<String> = view.audit.iter().map(event_type).collect();
        for want in check.audit_contains {
            if !types.contains(want) {
                return Err(StepFailure::Unmet(format!(
                    "no {want} event in the audit log"
                )));
            }
        }
        for (want, count) in check.audit_counts {
            let got = types.iter().filter(|t| *t == want).count();
            expect_eq(&format!("{want} events"), *count, got)?;
        }
        Ok(format!(
            "version {}, {} slot(s), {} audit event(s)",
            view.version,
            view.slots.len(),
            view.audit.len()
        ))
    }
}

impl Delivery<'_> {
    fn action(&self) -> String {
        if self.replay_previous {
            format!("replay a job sealed for an earlier visit to {}", self.lock)
        } else {
            format!("deliver {} change(s) to {}", self.ops.len(), self.lock)
        }
    }

    /// What the played server hands the lock at this visit.
    fn plan(&self) -> Plan {
        if self.replay_previous {
            Plan::Replay
        } else if self.ops.is_empty() {
            Plan::Nothing
        } else {
            Plan::Seal {
                ops: self.ops.to_vec(),
                expires_in: self.expires_in_seconds.unwrap_or(7 * 86_400),
                mutate: None,
            }
        }
    }
}

/// A simulator action that returns nothing, reported as `detail`.
fn done(result: Result<(), SimError>, detail: &str) -> StepResult {
    result?;
    Ok(detail.to_owned())
}
