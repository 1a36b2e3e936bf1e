//! `keyway-demo`: the whole Keyway story in one command, checked step by
//! step, on the testkit's world in this process (`keyway_testkit::live`):
//! the server (its library, with the Portal at `/`) on a temporary SQLite
//! file, Maple Court set up with the operator's typed admin functions, and
//! the simulated locks on a private D-Bus bus. The resident's phone is the
//! real phone core (`keyway_client`) talking to the simulated locks
//! through btleplug; the manager is the server's manager API. While it
//! runs it prints the Portal's address and the manager's sign-in; with
//! `--portal` the server stays up after the story until Ctrl-C, with the QA
//! bench (`keyway_ble_sim::bench`) serving the same simulated locks and
//! Alice's phone core, so every step can be done again by clicking.
//!
//! Exit codes: 0 every step behaved; 1 a step did not; 5 no D-Bus bus could
//! be started for the simulated Bluetooth.

mod bench;
mod manage;
mod scenes;
mod story;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use keyway_ble_sim::bus::PrivateBus;
use keyway_ble_sim::harness;
use keyway_testkit::live::LiveWorld;
use keyway_testkit::property::Plan;

use crate::story::{PortalAccess, Stop, Story};

/// A step did not behave.
const FAILED: u8 = 1;
/// No D-Bus bus for the simulated Bluetooth.
const NO_BLUETOOTH: u8 = 5;

/// Plays the whole Keyway story on a server and simulated locks started
/// inside this command; exits non-zero if any step does not behave.
#[derive(Debug, Parser)]
#[command(name = "keyway-demo", version, about)]
struct Args {
    /// Print one JSON report at the end instead of the story.
    #[arg(long)]
    json: bool,
    /// Where the courier's QR codes and a copy of the delivery log are
    /// written [default: <temporary directory>/keyway-demo].
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Keep the server (and its Portal) up after the story, until Ctrl-C.
    #[arg(long)]
    portal: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    env_logger::Builder::from_env(env_logger::Env::new().filter_or("KEYWAY_LOG", "warn")).init();
    // libdbus (under btleplug) reads DBUS_SYSTEM_BUS_ADDRESS once per
    // process: point it at a private bus before any thread starts.
    let bus = match PrivateBus::start() {
        Ok(bus) => bus,
        Err(e) => return fail(args.json, NO_BLUETOOTH, "bus_unavailable", &e),
    };
    harness::set_system_bus_address(bus.address());
    let runtime = match harness::runtime() {
        Ok(runtime) => runtime,
        Err(e) => return fail(args.json, FAILED, "internal", &e),
    };
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("keyway-demo"));
    let ok = runtime.block_on(run(&args, bus.address(), &out_dir));
    drop(runtime);
    drop(bus);
    ExitCode::from(if ok { 0 } else { FAILED })
}

/// Reports a failure to start (JSON on stdout, or text on stderr).
fn fail(json: bool, exit: u8, code: &str, error: &dyn std::fmt::Display) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": false, "error": {"code": code, "message": error.to_string()}})
        );
    } else {
        eprintln!("error[{code}]: {error}");
    }
    ExitCode::from(exit)
}

/// The story from set-up to the end (and the Portal after it, with
/// `--portal`); whether every step behaved.
async fn run(args: &Args, bus: &str, out_dir: &Path) -> bool {
    let mut story = Story::new(args.json);
    if !story.json {
        println!("Keyway demo: Maple Court, three simulated Bluetooth locks, Alice's phone.");
        println!(
            "The server and the locks run inside this command; the phone reaches the locks through btleplug and a simulated BlueZ."
        );
    }
    let world = match set_up(&mut story, bus, out_dir).await {
        Ok(world) => world,
        Err(stop) => return story.finish(&Err(stop), out_dir),
    };
    let result = scenes::play(&mut story, &world, out_dir).await;
    // The copy is a convenience: the story's checks read the log itself.
    let _ = std::fs::copy(world.delivery_log(), out_dir.join("deliveries.jsonl"));
    let ok = story.finish(&result, out_dir);
    if ok && args.portal {
        keep_portal_up(&story, &world).await;
    }
    world.stop().await;
    ok
}

/// Step 1: the operator sets up the property; the server and the locks start.
async fn set_up(story: &mut Story, bus: &str, out_dir: &Path) -> Result<LiveWorld, Stop> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| Stop(format!("cannot create {}: {e}", out_dir.display())))?;
    story.step("The operator and the manager set up the property");
    let plan = Plan {
        manager_sign_in: true,
        ..Plan::story()
    };
    let world = LiveWorld::start(bus, &plan).await?;
    story.say(
        "operator: created Maple Court (America/New_York); 1440 and 94110 are affiliated numbers",
    );
    story.say(
        "operator: locks Unit 4B (unit door), Main entrance (community entrance), Package room",
    );
    story.say("operator: users Alice (resident of 4B), Bob (resident of 5C), Sam (staff) and Mia (manager), each with an API token");
    story.say(format!(
        "server on {} (SQLite in {}); the locks stand along a corridor at {} m, {} m and {} m",
        world.server_url,
        world.dir.path().display(),
        keyway_testkit::corridor::UNIT_X,
        keyway_testkit::corridor::ENTRANCE_X,
        keyway_testkit::corridor::PACKAGE_ROOM_X,
    ));
    if let Some(manager) = &world.property.manager {
        story.portal(PortalAccess {
            url: format!("{}/", world.server_url),
            email: manager.email.clone(),
            password: manager.password.clone(),
        });
    }
    Ok(world)
}

/// Keeps the server up until Ctrl-C, saying where the Portal is.
async fn keep_portal_up(story: &Story, world: &LiveWorld) {
    if let Some(manager) = &world.property.manager
        && !story.json
    {
        println!(
            "\nThe Portal stays up at {}/ — sign in as {} with {} (Ctrl-C to stop).",
            world.server_url, manager.email, manager.password
        );
    }
    let bench = match bench::serve(world).await {
        Ok(bench) => Some(bench),
        Err(e) => {
            eprintln!("error[bench_unavailable]: {e}");
            None
        }
    };
    if let Some(bench) = &bench {
        if story.json {
            println!(
                "{}",
                serde_json::json!({"bench": format!("{}/", bench.url)})
            );
        } else {
            println!(
                "The QA bench (the simulated building, with Alice's phone core) is at {}/ and the package room's kiosk at {}/kiosk.",
                bench.url, bench.url
            );
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error[internal]: cannot wait for Ctrl-C: {e}");
    }
    drop(bench);
}
