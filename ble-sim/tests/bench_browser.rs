//! The QA bench in a real browser: a real `keyway-ble-sim serve` on the
//! Maple Court configuration and Debian's Chromium driven by playwright-core
//! (`tests/bench/bench.test.mjs` under `node --test`): the floor plan and the
//! phone dragged in and out of range, a delivery through the phone's engine,
//! keypad entries granted, denied and locked out, a power cut, a recording
//! replayed by `keyway-ble-sim run` to the same result, a scenario played
//! step by step, the package room's kiosk, and cross-site writes refused.
//! `cargo xtask test` runs it in its browser step;
//! `KEYWAY_BENCH_SCREENSHOTS=docs/simulator` writes the screenshots of
//! docs/simulator.md.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const CHROMIUM: &str = "/usr/bin/chromium";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keyway-ble-sim"))
}

/// `keyway-ble-sim serve`, stopped when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(state: &Path) -> Self {
        let mut child = sim()
            .args(["serve", "--config"])
            .arg(workspace().join("ble-sim/config/maple-court.toml"))
            .args(["--http", "127.0.0.1:0", "--state-dir"])
            .arg(state)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start keyway-ble-sim serve");
        let stdout = child.stdout.take().expect("its output");
        let mut lines = BufReader::new(stdout).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("control API: ").map(str::to_owned))
            .expect("serve prints its control address");
        // Keep reading so the simulator never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tap_count(output: &str, what: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        line.trim()
            .strip_prefix(&format!("# {what} "))
            .and_then(|n| n.trim().parse().ok())
    })
}

#[test]
fn the_bench_works_in_a_real_browser_and_its_recording_replays() {
    let playwright = workspace().join("server-stub/tests/portal/node_modules/playwright-core");
    assert!(
        playwright.is_dir(),
        "playwright-core is not installed: run .ci/install-deps"
    );
    let chromium = std::env::var("KEYWAY_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run .ci/install-deps (Debian's chromium)"
    );
    let dir = tempfile::tempdir().unwrap();
    let screenshots = match std::env::var("KEYWAY_BENCH_SCREENSHOTS") {
        Ok(d) if !d.is_empty() => workspace().join(d),
        _ => dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&screenshots).unwrap();
    let served = Served::start(&dir.path().join("state"));

    let started = Instant::now();
    let output = Command::new("node")
        .args(["--test", "--test-reporter=tap", "bench.test.mjs"])
        .current_dir(workspace().join("ble-sim/tests/bench"))
        .env("BENCH_URL", &served.url)
        .env("BENCH_OUT", dir.path())
        .env("BENCH_SCREENSHOTS", &screenshots)
        .env("KEYWAY_CHROMIUM", &chromium)
        .env("PLAYWRIGHT_CORE", &playwright)
        .output()
        .expect("run node (.ci/install-deps installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let (pass, fail) = (tap_count(&stdout, "pass"), tap_count(&stdout, "fail"));
    let summary = format!(
        "bench browser tests: {} passed, {} failed in {:.1} s",
        pass.unwrap_or(0),
        fail.unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    assert!(
        output.status.success() && fail == Some(0) && pass.is_some_and(|n| n > 0),
        "{summary} (node exited with {})",
        output.status
    );
    drop(served);

    // What was clicked replays to the same result on a fresh simulator.
    let recorded = dir.path().join("recorded.toml");
    let replay = sim().arg("run").arg(&recorded).output().unwrap();
    let report = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "the replay failed:\n{report}");
    assert!(report.contains(" 0 failed"), "{report}");
    for step in [
        "deliver 1 change(s) to Unit 4B",
        "power off Unit 4B",
        "check Unit 4B",
    ] {
        assert!(
            report.contains(step),
            "{step} is not in the replay:\n{report}"
        );
    }
}
