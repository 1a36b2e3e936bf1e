//! Tap to Active: from a resident's tap (a generated code) to the lock's
//! receipt settled on the server, with the phone in range of the unit door,
//! on the testkit's world in this process: the real server, the real phone
//! core over btleplug, the simulated locks with air time in real time at a
//! 30 ms connection interval and MTU 185. Reports the median and p95 of the
//! whole and of its two steps: the request (tap to Pending, the server's
//! answer) and the delivery round (Pending to Active: scan until the lock
//! with work is heard, one visit, receipts up, states pulled), and of the
//! first visit's Bluetooth steps (scan, connect, status, the server sealing
//! the jobs, jobs and receipts, disconnect), timed by wrapping the real
//! btleplug transport ([`timeline`]).
//!
//! Every sample, the quantiles and the conditions are also written to
//! `target/bench/results/tap-to-active.json` for `bench/plot.sh`.
//!
//! Run: `cargo bench -p keyway-testkit --bench tap_to_active [-- RUNS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyway_api::CodeState;
use keyway_ble_sim::bus::PrivateBus;
use keyway_ble_sim::harness;
use keyway_ble_sim::radio::{Position, RadioConfig};
use keyway_client::{Client, ClientConfig, NewCode};
use keyway_testkit::bench_results;
use keyway_testkit::corridor::AT_HOME;
use keyway_testkit::live::LiveWorld;
use keyway_testkit::property::Plan;

mod timeline;
use timeline::{Timed, Timeline, VisitSteps};

/// Runs when none are given.
const DEFAULT_RUNS: usize = 30;

/// One run's times.
struct Run {
    request: Duration,
    delivery: Duration,
    /// The first round's first visit, step by step.
    steps: Option<VisitSteps>,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}

/// Prints one line; returns the samples (in run order) and the same
/// quantiles for the results file.
fn report(what: &str, times: Vec<Duration>) -> serde_json::Value {
    let mut sorted = times.clone();
    sorted.sort();
    let (median, p95) = (ms(quantile(&sorted, 0.5)), ms(quantile(&sorted, 0.95)));
    let max = ms(sorted.last().copied().unwrap_or_default());
    println!("{what:<28} median {median:>7.1} ms   p95 {p95:>7.1} ms   max {max:>7.1} ms");
    serde_json::json!({
        "samples_ms": times.into_iter().map(ms).collect::<Vec<_>>(),
        "median_ms": median,
        "p95_ms": p95,
        "max_ms": max,
    })
}

async fn one_run(client: &Client, timeline: &Timeline, unit: &str, n: usize) -> Run {
    timeline.take();
    let tapped = Instant::now();
    let mut new = NewCode::resident();
    new.name = Some(format!("bench {n}"));
    let code = client
        .generate_code(new)
        .await
        .expect("the code is accepted");
    let pending = Instant::now();
    let mut steps = None;
    loop {
        client.deliver_nearby().await.expect("a delivery round");
        if steps.is_none() {
            steps = timeline::first_visit(&timeline.take());
        }
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
        steps,
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
        let timeline = Timeline::default();
        client.set_transport(Arc::new(Timed {
            inner: world.bluetooth().await.expect("btleplug"),
            timeline: timeline.clone(),
        }));
        client
            .login(&world.property.tokens["alice"])
            .await
            .expect("Alice logs in");
        let unit = world.property.locks["unit_4b"].clone();
        // Settle what the set-up left (the doors' first versions).
        client.deliver_nearby().await.expect("a first round");
        let mut all = Vec::with_capacity(runs);
        for n in 0..runs {
            all.push(one_run(&client, &timeline, &unit, n).await);
        }
        let radio = world.sim.radio();
        println!(
            "tap to Active, {runs} runs, phone in range, {} ms connection interval, MTU {}, air time in real time",
            radio.connection_interval_ms, radio.mtu
        );
        let total = report("tap to Active", all.iter().map(|r| r.request + r.delivery).collect());
        let request = report("  request (tap to Pending)", all.iter().map(|r| r.request).collect());
        let delivery = report("  delivery (Pending to Active)", all.iter().map(|r| r.delivery).collect());
        let visits: Vec<VisitSteps> = all.iter().filter_map(|r| r.steps).collect();
        println!("the first visit of each round, step by step ({} of {runs} runs):", visits.len());
        let step = |what: &str, of: fn(&VisitSteps) -> Duration| {
            report(what, visits.iter().map(of).collect())
        };
        let steps = serde_json::json!({
            "scan": step("    scan until heard", |v| v.scan),
            "connect": step("    connect (and open visit)", |v| v.connect),
            "status": step("    status round trip", |v| v.status),
            "server": step("    server seals the jobs", |v| v.server),
            "job_and_receipt": step("    jobs and receipts", |v| v.job_and_receipt),
            "disconnect": step("    disconnect", |v| v.disconnect),
            "rest": report(
                "    the rest of the delivery",
                all.iter()
                    .filter_map(|r| r.steps.map(|v| r.delivery.saturating_sub(v.total())))
                    .collect(),
            ),
        });
        println!("    (the rest: other locks' visits, receipts up, states pulled)");
        let results = serde_json::json!({
            "bench": "tap_to_active",
            "runs": runs,
            "connection_interval_ms": radio.connection_interval_ms,
            "mtu": radio.mtu,
            "realtime": radio.realtime,
            "database": "sqlite",
            "tap_to_active": total,
            "request": request,
            "delivery": delivery,
            "visit_steps": steps,
        });
        let dir = bench_results::results_dir(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
        match bench_results::write(&dir, "tap-to-active.json", results) {
            Ok(path) => eprintln!("wrote {}", path.display()),
            Err(e) => eprintln!("could not write the results to {}: {e}", dir.display()),
        }
        world.stop().await;
    });
}
