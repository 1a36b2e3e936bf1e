//! Tap to Active: from a resident's tap (a generated code) to the lock's
//! receipt settled on the server, with the phone in range of the unit door,
//! on the testkit's world in this process: the real server, the real phone
//! core over btleplug, the simulated locks with air time in real time at a
//! 30 ms connection interval and MTU 185. Reports the median and p95 of the
//! whole and of its two steps: the request (tap to Pending, the server's
//! answer) and the delivery round (Pending to Active: scan until the lock
//! with work is heard, one visit, receipts up, states pulled).
//!
//! Run: `cargo bench -p keyway-testkit --bench tap_to_active [-- RUNS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyway_api::CodeState;
use keyway_ble_sim::bus::PrivateBus;
use keyway_ble_sim::harness;
use keyway_ble_sim::radio::{Position, RadioConfig};
use keyway_client::{Client, ClientConfig, NewCode};
use keyway_testkit::corridor::AT_HOME;
use keyway_testkit::live::LiveWorld;
use keyway_testkit::property::Plan;

/// Runs when none are given.
const DEFAULT_RUNS: usize = 30;

/// One run's times.
struct Run {
    request: Duration,
    delivery: Duration,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<28} median {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms",
        quantile(&times, 0.5).as_secs_f64() * 1e3,
        quantile(&times, 0.95).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

async fn one_run(client: &Client, unit: &str, n: usize) -> Run {
    let tapped = Instant::now();
    let mut new = NewCode::resident();
    new.name = Some(format!("bench {n}"));
    let code = client
        .generate_code(new)
        .await
        .expect("the code is accepted");
    let pending = Instant::now();
    loop {
        client.deliver_nearby().await.expect("a delivery round");
        let now = client.code(&code.id).expect("the code is stored");
        if now.state_on(unit) == Some(CodeState::Active) {
            break;
        }
        assert!(
            tapped.elapsed() < Duration::from_secs(60),
            "no delivery in a minute"
        );
    }
    Run {
        request: pending - tapped,
        delivery: pending.elapsed(),
    }
}

fn main() {
    let runs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let bus = PrivateBus::start().expect("dbus-daemon starts");
    harness::set_system_bus_address(bus.address());
    let runtime = harness::runtime().expect("a runtime");
    runtime.block_on(async {
        let world = LiveWorld::start(bus.address(), &Plan::story())
            .await
            .expect("the world starts");
        world
            .sim
            .set_radio(RadioConfig {
                realtime: true,
                ..world.sim.radio()
            })
            .expect("a valid radio");
        world
            .sim
            .move_phone(Position { x: AT_HOME, y: 0.0 })
            .expect("the phone moves");
        let dir = tempfile::tempdir().expect("a directory");
        let client = Client::open(ClientConfig::new(&world.server_url, dir.path(), "bench"))
            .expect("the phone core opens");
        client.set_transport(Arc::new(world.bluetooth().await.expect("btleplug")));
        client
            .login(&world.property.tokens["alice"])
            .await
            .expect("Alice logs in");
        let unit = world.property.locks["unit_4b"].clone();
        // Settle what the set-up left (the doors' first versions).
        client.deliver_nearby().await.expect("a first round");
        let mut all = Vec::with_capacity(runs);
        for n in 0..runs {
            all.push(one_run(&client, &unit, n).await);
        }
        let radio = world.sim.radio();
        println!(
            "tap to Active, {runs} runs, phone in range, {} ms connection interval, MTU {}, air time in real time",
            radio.connection_interval_ms, radio.mtu
        );
        report("tap to Active", all.iter().map(|r| r.request + r.delivery).collect());
        report("  request (tap to Pending)", all.iter().map(|r| r.request).collect());
        report("  delivery (Pending to Active)", all.iter().map(|r| r.delivery).collect());
        world.stop().await;
    });
}
