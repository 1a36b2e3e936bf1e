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

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use keyway_testkit::browser::{run_node_tests, workspace};

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

#[test]
fn the_bench_works_in_a_real_browser_and_its_recording_replays() {
    let dir = tempfile::tempdir().unwrap();
    let screenshots = match std::env::var("KEYWAY_BENCH_SCREENSHOTS") {
        Ok(d) if !d.is_empty() => workspace().join(d),
        _ => dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&screenshots).unwrap();
    let served = Served::start(&dir.path().join("state"));

    let run = run_node_tests(
        &workspace().join("ble-sim/tests/bench"),
        "bench.test.mjs",
        &[
            ("BENCH_URL", OsStr::new(&served.url)),
            ("BENCH_OUT", dir.path().as_os_str()),
            ("BENCH_SCREENSHOTS", screenshots.as_os_str()),
        ],
    )
    .expect("node and the browser run");
    let summary = run.summary("bench browser tests");
    println!("{summary}");
    assert!(run.ok(), "{summary}");
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
