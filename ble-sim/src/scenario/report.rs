//! What a scenario run reports: each step's action, verdict and detail.

use std::fmt;

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
