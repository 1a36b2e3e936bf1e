//! Recording a QA session as a scenario: every action taken through the
//! control API (the bench's clicks are control requests) while a recording
//! runs becomes a step in the scenario file format `keyway-ble-sim run`
//! replays, each keypad entry and delivery with the answer the lock gave as
//! its expectation. The file opens with a check of every lock as it was
//! when the recording started (a replay starts from the configuration, so a
//! recording begun on a changed world says so at its first step) and ends
//! with a check of every lock as it was at the end.

use std::path::Path;
use std::sync::Mutex;

use crate::scenario::{Scenario, Step};
use crate::sim::Sim;

/// A recording under way.
#[derive(Debug, Default)]
struct Recording {
    /// Checks of every lock as the recording found them.
    baseline: Vec<Step>,
    /// The actions since.
    steps: Vec<Step>,
}

/// The recording under way, if any.
#[derive(Debug, Default)]
pub struct Recorder {
    recording: Mutex<Option<Recording>>,
}

/// A check of every lock's version, occupied slots and keypad lockout now.
fn checks(sim: &Sim) -> Vec<Step> {
    sim.locks()
        .into_iter()
        .map(|lock| Step::Check {
            lock: lock.name,
            version: Some(lock.version),
            slots: Some(lock.slots.len()),
            locked_out: Some(lock.locked_out_until.is_some()),
            heard: None,
            audit_contains: Vec::new(),
            audit_counts: Default::default(),
        })
        .collect()
}

impl Recorder {
    fn recording(&self) -> std::sync::MutexGuard<'_, Option<Recording>> {
        self.recording.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a recording of `sim` (dropping one under way).
    pub fn start(&self, sim: &Sim) {
        *self.recording() = Some(Recording {
            baseline: checks(sim),
            steps: Vec::new(),
        });
    }

    /// Whether a recording runs.
    pub fn is_recording(&self) -> bool {
        self.recording().is_some()
    }

    /// The actions recorded so far (none when no recording runs).
    pub fn steps(&self) -> Vec<Step> {
        self.recording()
            .as_ref()
            .map(|r| r.steps.clone())
            .unwrap_or_default()
    }

    /// Adds `step` when a recording runs. A phone moved twice in a row is
    /// one move, to where it ended (a drag sends many).
    pub fn note(&self, step: Step) {
        let mut recording = self.recording();
        let Some(Recording { steps, .. }) = recording.as_mut() else {
            return;
        };
        if let (Step::MovePhone { .. }, Some(Step::MovePhone { .. })) = (&step, steps.last()) {
            steps.pop();
        }
        steps.push(step);
    }

    /// Ends the recording: the starting checks, the actions, then a check
    /// of each lock as it is now, as a scenario named `name` on the
    /// configuration at `config`. `None` when no recording ran.
    pub fn finish(&self, sim: &Sim, name: &str, config: &Path) -> Option<Scenario> {
        let Recording { baseline, steps } = self.recording().take()?;
        let steps = baseline
            .into_iter()
            .chain(steps)
            .chain(checks(sim))
            .collect();
        Some(Scenario {
            name: name.to_owned(),
            description: Some("Recorded on the keyway-ble-sim bench.".into()),
            config: config.to_owned(),
            steps,
        })
    }
}

/// The scenario as a TOML file `keyway-ble-sim run` reads.
pub fn to_toml(scenario: &Scenario) -> Result<String, toml::ser::Error> {
    toml::to_string(scenario)
}
