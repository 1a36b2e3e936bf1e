//! The narrator: prints each step, each thing that happens and each check
//! (or, with `--json`, collects them for one report at the end), and stops
//! the story at the first check that fails.

use std::fmt::Display;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

/// Why the demo stopped early.
#[derive(Debug)]
pub(crate) struct Stop(pub(crate) String);

impl<E: Display> From<E> for Stop {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

/// One step, as `--json` reports it.
#[derive(Debug, Serialize)]
struct StepRecord {
    title: String,
    checks: Vec<String>,
    ok: bool,
    failure: Option<String>,
}

/// The Portal as the report gives it: where it is and how the manager
/// signs in.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PortalAccess {
    /// The Portal's address.
    pub(crate) url: String,
    /// The manager's sign-in address.
    pub(crate) email: String,
    /// The manager's password (set for this run only).
    pub(crate) password: String,
}

/// The narrator.
pub(crate) struct Story {
    /// Whether the report is JSON (nothing is printed until the end).
    pub(crate) json: bool,
    started: Instant,
    steps: Vec<StepRecord>,
    checks: usize,
    portal: Option<PortalAccess>,
}

impl Story {
    /// A story not started yet.
    pub(crate) fn new(json: bool) -> Self {
        Self {
            json,
            started: Instant::now(),
            steps: Vec::new(),
            checks: 0,
            portal: None,
        }
    }

    /// Starts a step.
    pub(crate) fn step(&mut self, title: &str) {
        self.steps.push(StepRecord {
            title: title.to_owned(),
            checks: Vec::new(),
            ok: true,
            failure: None,
        });
        if !self.json {
            println!("\n{:>2}. {title}", self.steps.len());
        }
    }

    /// Says what happens.
    pub(crate) fn say(&self, text: impl Display) {
        if !self.json {
            println!("    {text}");
        }
    }

    /// Records where the Portal is, and says it.
    pub(crate) fn portal(&mut self, access: PortalAccess) {
        self.say(format!(
            "the Portal: {}  (manager's sign-in: {} / {})",
            access.url, access.email, access.password
        ));
        self.portal = Some(access);
    }

    /// Passes when `ok`; otherwise reports `what` with `got` and stops.
    pub(crate) fn check(
        &mut self,
        ok: bool,
        what: impl Display,
        got: impl Display,
    ) -> Result<(), Stop> {
        let what = what.to_string();
        if ok {
            self.checks += 1;
            if !self.json {
                println!("    \u{2713} {what}");
            }
            if let Some(step) = self.steps.last_mut() {
                step.checks.push(what);
            }
            Ok(())
        } else {
            let failure = format!("{what}: got {got}");
            if !self.json {
                println!("    \u{2717} {failure}");
            }
            if let Some(step) = self.steps.last_mut() {
                step.ok = false;
                step.failure = Some(failure.clone());
            }
            Err(Stop(failure))
        }
    }

    /// A spinner while the phone works (hidden with `--json`).
    pub(crate) fn spinner(&self, message: &str) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    }

    /// Prints the outcome (the report, with `--json`); whether every step
    /// behaved.
    pub(crate) fn finish(&self, result: &Result<(), Stop>, out_dir: &Path) -> bool {
        let seconds = self.started.elapsed().as_secs_f64();
        let ok = result.is_ok();
        if self.json {
            let report = json!({
                "ok": ok,
                "steps": self.steps,
                "checks": self.checks,
                "seconds": (seconds * 10.0).round() / 10.0,
                "out_dir": out_dir,
                "portal": self.portal,
                "error": result.as_ref().err().map(|s| s.0.clone()),
            });
            println!("{report}");
        } else {
            match result {
                Ok(()) => println!(
                    "\nEvery step behaved: {} steps, {} checks, {seconds:.1} s. Files: {}",
                    self.steps.len(),
                    self.checks,
                    out_dir.display()
                ),
                Err(Stop(message)) => {
                    println!("\nThe demo stopped at step {}: {message}", self.steps.len());
                }
            }
        }
        ok
    }
}
