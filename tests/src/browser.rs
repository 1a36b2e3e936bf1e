//! Browser tests as the Portal's and the QA bench's suites run them:
//! Debian's Chromium driven by playwright-core (which `.ci/install-deps`
//! puts in `server-stub/tests/portal/node_modules`, downloading no browser)
//! under `node --test`, counted from node's TAP summary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::error::{KitError, KitResult};

/// The browser the tests drive unless `KEYWAY_CHROMIUM` names another.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

/// One run of a Node test file.
#[derive(Debug, Clone)]
pub struct BrowserRun {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed (or were cancelled).
    pub failed: u64,
    /// Whether node exited successfully.
    pub exited_ok: bool,
    /// How long it took, in seconds.
    pub seconds: f64,
}

impl BrowserRun {
    /// Whether the run passed: node succeeded, some tests ran, none failed.
    pub fn ok(&self) -> bool {
        self.exited_ok && self.failed == 0 && self.passed > 0
    }

    /// `<what>: N passed, M failed in S s`, the line xtask and CI read.
    pub fn summary(&self, what: &str) -> String {
        format!(
            "{what}: {} passed, {} failed in {:.1} s",
            self.passed, self.failed, self.seconds
        )
    }
}

/// `# pass 12`-style lines of node's TAP summary.
fn tap_count(output: &str, what: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        line.trim()
            .strip_prefix(&format!("# {what} "))
            .and_then(|n| n.trim().parse().ok())
    })
}

/// Runs `file` in `dir` under `node --test` with the browser, playwright-core
/// (`PLAYWRIGHT_CORE`, for suites outside the Portal's folder) and `env`;
/// prints its output.
pub fn run_node_tests(dir: &Path, file: &str, env: &[(&str, &OsStr)]) -> KitResult<BrowserRun> {
    let playwright = workspace().join("server-stub/tests/portal/node_modules/playwright-core");
    if !playwright.is_dir() {
        return Err(KitError::Missing("playwright-core (run .ci/install-deps)"));
    }
    let chromium = std::env::var("KEYWAY_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    if !Path::new(&chromium).exists() {
        return Err(KitError::Missing(
            "Debian's chromium (run .ci/install-deps)",
        ));
    }
    let started = Instant::now();
    let output = Command::new("node")
        .args(["--test", "--test-reporter=tap", file])
        .current_dir(dir)
        .env("KEYWAY_CHROMIUM", &chromium)
        .env("PLAYWRIGHT_CORE", &playwright)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|source| KitError::Spawn {
            program: PathBuf::from("node"),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    Ok(BrowserRun {
        passed: tap_count(&stdout, "pass").unwrap_or(0),
        failed: tap_count(&stdout, "fail").unwrap_or(0)
            + tap_count(&stdout, "cancelled").unwrap_or(0),
        exited_ok: output.status.success(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
