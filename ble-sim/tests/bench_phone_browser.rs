//! The bench with a resident's real phone core (`serve --with-server`) in a
//! real browser: the testkit's world as processes (a real keyway-server with
//! Maple Court, the simulator attached to it as Alice's phone) and Debian's
//! Chromium driven by playwright-core (`tests/bench/phone.test.mjs`).
//! `cargo xtask test` runs it in its browser step.

use std::path::{Path, PathBuf};
use std::process::Command;

use keyway_testkit::corridor::UNIT_X;
use keyway_testkit::fixture::{Fixture, FixtureOptions};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

fn tap_count(output: &str, what: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        line.trim()
            .strip_prefix(&format!("# {what} "))
            .and_then(|n| n.trim().parse().ok())
    })
}

#[test]
fn the_benchs_phone_core_delivers_a_code_the_resident_generated() {
    let playwright = workspace().join("server-stub/tests/portal/node_modules/playwright-core");
    assert!(
        playwright.is_dir(),
        "playwright-core is not installed: run .ci/install-deps"
    );
    let chromium = std::env::var("KEYWAY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let world = Fixture::start(FixtureOptions::with_phone_of("alice")).expect("the world starts");
    let sim = world.info.sim_url.clone().expect("the simulator runs");

    let output = Command::new("node")
        .args(["--test", "--test-reporter=tap", "phone.test.mjs"])
        .current_dir(workspace().join("ble-sim/tests/bench"))
        .env("BENCH_URL", &sim)
        .env("UNIT_X", UNIT_X.to_string())
        .env("KEYWAY_CHROMIUM", &chromium)
        .env("PLAYWRIGHT_CORE", &playwright)
        .output()
        .expect("run node (.ci/install-deps installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let (pass, fail) = (tap_count(&stdout, "pass"), tap_count(&stdout, "fail"));
    assert!(
        output.status.success() && fail == Some(0) && pass.is_some_and(|n| n > 0),
        "bench phone browser tests: {} passed, {} failed (node exited with {})",
        pass.unwrap_or(0),
        fail.unwrap_or(0),
        output.status
    );
    world.stop();
}
