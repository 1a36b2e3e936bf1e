//! The bench with a resident's real phone core (`serve --with-server`) in a
//! real browser: the testkit's world as processes (a real keyway-server with
//! Maple Court, the simulator attached to it as Alice's phone) and Debian's
//! Chromium driven by playwright-core (`tests/bench/phone.test.mjs`): a code
//! Alice generates, and a courier's key card the manager assigns through the
//! server, each carried by the phone core and decided by the simulated lock;
//! a guest code that works offline opening a door the phone never reached,
//! a backup code for a delivery code still pending there, and their uses on
//! the panel after the phone passes. `cargo xtask test` runs it in its
//! browser step; `KEYWAY_BENCH_SCREENSHOTS=docs/simulator` writes the phone
//! panel's screenshot of docs/simulator.md.

use std::ffi::OsStr;

use keyway_testkit::browser::{run_node_tests, workspace};
use keyway_testkit::corridor::{AT_PACKAGE_ROOM, UNIT_X};
use keyway_testkit::fixture::{Fixture, FixtureOptions};

#[test]
fn the_benchs_phone_core_delivers_a_code_the_resident_generated() {
    let dir = tempfile::tempdir().unwrap();
    let screenshots = match std::env::var("KEYWAY_BENCH_SCREENSHOTS") {
        Ok(d) if !d.is_empty() => workspace().join(d),
        _ => dir.path().to_owned(),
    };
    std::fs::create_dir_all(&screenshots).unwrap();
    let world = Fixture::start(FixtureOptions::with_phone_of("alice")).expect("the world starts");
    let sim = world.info.sim_url.clone().expect("the simulator runs");
    let unit_x = UNIT_X.to_string();
    let package_x = AT_PACKAGE_ROOM.to_string();
    let run = run_node_tests(
        &workspace().join("ble-sim/tests/bench"),
        "phone.test.mjs",
        &[
            ("BENCH_URL", OsStr::new(&sim)),
            ("UNIT_X", OsStr::new(&unit_x)),
            ("PACKAGE_ROOM_X", OsStr::new(&package_x)),
            ("SERVER_URL", OsStr::new(&world.info.server_direct_url)),
            ("MANAGER_TOKEN", OsStr::new(&world.info.tokens["mia"])),
            ("BENCH_SCREENSHOTS", screenshots.as_os_str()),
        ],
    )
    .expect("node and the browser run");
    let summary = run.summary("bench phone browser tests");
    println!("{summary}");
    assert!(run.ok(), "{summary}");
    world.stop();
}
