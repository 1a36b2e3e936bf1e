//! The phone store's kill test, and delivery through the real btleplug to
//! simulated locks. The phone runs in `keyway-phone-helper` processes (each
//! gets the simulator's bus before its first D-Bus use). The kill test
//! SIGKILLs the helper at every stage of requests, sync and delivery; after a
//! restart no request is lost or sent twice: the server holds exactly the
//! intended codes, the outbox and the receipts drain, and every door ends
//! up with its codes active.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use keyway_client::Stage;
use keyway_testkit::fixture::{Fixture, FixtureOptions};
use serde_json::{Value, json};

fn helper() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keyway-phone-helper"))
}

fn sim_world() -> Fixture {
    Fixture::start(FixtureOptions::with_simulator()).expect("fixture")
}

fn base(f: &Fixture, data: &Path) -> Command {
    let mut command = Command::new(helper());
    command
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            f.info.bus_address.clone().unwrap(),
        )
        .env("KEYWAY_LOG", "warn")
        .arg("--server")
        .arg(&f.info.server_url)
        .arg("--data")
        .arg(data)
        .args(["--scan-ms", "800"]);
    command
}

/// Runs the helper to completion; returns its JSON answer.
fn run(f: &Fixture, data: &Path, args: &[&str]) -> Value {
    let output = base(f, data).args(args).output().expect("helper");
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        output.status.success(),
        "helper {args:?} failed: {text} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(last).unwrap_or_else(|e| panic!("helper output {text}: {e}"))
}

/// Runs the helper until it pauses at `stage`'s `n`-th occurrence, then
/// SIGKILLs it. Returns false if it finished without reaching that point.
fn run_until_killed(f: &Fixture, data: &Path, args: &[&str], stage: Stage, n: u32) -> bool {
    let mut child = base(f, data)
        .arg("--kill-at")
        .arg(format!("{}:{n}", stage.as_str()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("helper");
    let stdout = child.stdout.take().unwrap();
    let mut paused = false;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if line.starts_with("PAUSED ") {
            paused = true;
            child.kill().expect("SIGKILL");
            break;
        }
    }
    let status = child.wait().expect("wait");
    if paused {
        assert!(status.code().is_none(), "killed by a signal");
    }
    paused
}

fn move_phone(f: &Fixture, x: f64) {
    let sim = f.info.sim_url.clone().unwrap();
    let response = reqwest::blocking::Client::new()
        .put(format!("{sim}/phone"))
        .json(&json!({"x": x, "y": 0.0}))
        .send()
        .unwrap();
    assert!(response.status().is_success());
}

fn server_get(f: &Fixture, path: &str, user: &str) -> Value {
    reqwest::blocking::Client::new()
        .get(format!("{}{path}", f.info.server_direct_url))
        .bearer_auth(&f.info.tokens[user])
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn slots_on(f: &Fixture, lock: &str) -> usize {
    let sim = f.info.sim_url.clone().unwrap();
    let body: Value = reqwest::blocking::get(format!("{sim}/locks/{lock}"))
        .unwrap()
        .json()
        .unwrap();
    body["slots"].as_array().map(Vec::len).unwrap_or(0)
}

/// The script: requests, a sync, deliveries. Each intent is done only if
/// the store does not show it done, so a restart resumes it.
const SCRIPT: &str = r#"[
  {"pick": "4821", "name": "k1"},
  {"pick": "5930", "name": "k2"},
  {"generate": "guest", "name": "g1"},
  {"generate": "resident", "name": "r1"},
  {"sync": true},
  {"deliver": true},
  {"disable": "k1"},
  {"change": "k2", "to": "6047"},
  {"deliver": true},
  {"sync": true}
]"#;

/// Checks that the world holds exactly what the script intends.
fn assert_intended(f: &Fixture, data: &Path, context: &str) {
    // Finish: what a phone does when it comes back (sync, deliver, sync).
    run(f, data, &["sync"]);
    run(f, data, &["deliver"]);
    run(f, data, &["sync"]);
    let status = run(f, data, &["status"]);
    assert_eq!(status["outbox"], json!([]), "{context}: outbox drained");
    assert_eq!(status["receipts"], 0, "{context}: receipts uploaded");
    let codes = server_get(f, "/v1/codes", "alice");
    let codes = codes["codes"].as_array().unwrap();
    let mut names: Vec<&str> = codes.iter().filter_map(|c| c["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["g1", "k1", "k2", "r1"],
        "{context}: each code once: {codes:?}"
    );
    let by = |name: &str| codes.iter().find(|c| c["name"] == name).unwrap();
    assert_eq!(by("k1")["enabled"], false, "{context}");
    assert_eq!(by("k2")["value"], "6047", "{context}");
    for code in codes {
        for lock in code["locks"].as_array().unwrap() {
            let want = if code["name"] == "k1" {
                "disabled"
            } else {
                "active"
            };
            assert_eq!(lock["state"], want, "{context}: {code}");
        }
    }
    // The doors hold exactly the live codes: k1, k2 (new digits only), g1, r1
    // on the unit door; r1 on the entrance.
    assert_eq!(slots_on(f, &f.info.locks["unit_4b"]), 4, "{context}");
    assert_eq!(slots_on(f, &f.info.locks["entrance"]), 1, "{context}");
    // The phone's view agrees with the server's.
    let local = status["codes"].as_array().unwrap();
    assert_eq!(local.len(), 4, "{context}: {local:?}");
    assert!(
        local
            .iter()
            .all(|c| c["pending"].is_null() && c["failure"].is_null())
    );
}

fn script_file(dir: &Path) -> PathBuf {
    let path = dir.join("script.json");
    std::fs::write(&path, SCRIPT).unwrap();
    path
}

#[test]
fn delivery_through_btleplug_turns_pending_codes_active() {
    let f = sim_world();
    let data = tempfile::tempdir().unwrap();
    run(&f, data.path(), &["login", &f.info.tokens["alice"]]);
    let script = data.path().join("one.json");
    std::fs::write(&script, r#"[{"pick": "4821", "name": "k1"}]"#).unwrap();
    let status = run(&f, data.path(), &["script", script.to_str().unwrap()]);
    assert_eq!(status["codes"][0]["locks"][0]["state"], "pending");
    // Out of range: nothing delivered.
    let report = run(&f, data.path(), &["deliver"]);
    assert!(
        report["locks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["outcome"] == "out_of_range"),
        "{report}"
    );
    let status = run(&f, data.path(), &["status"]);
    assert_eq!(status["codes"][0]["locks"][0]["state"], "pending");
    move_phone(&f, 101.0);
    let report = run(&f, data.path(), &["deliver"]);
    let unit = report["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lock_id"] == f.info.locks["unit_4b"].as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(unit["outcome"], "delivered");
    assert_eq!(report["synced"], true);
    let status = run(&f, data.path(), &["status"]);
    assert_eq!(
        status["codes"][0]["locks"][0]["state"], "active",
        "{status}"
    );
    // The keypad opens with it.
    let sim = f.info.sim_url.clone().unwrap();
    let entry: Value = reqwest::blocking::Client::new()
        .post(format!("{sim}/locks/{}/keypad", f.info.locks["unit_4b"]))
        .json(&json!({"code": "4821"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(entry["entry"]["result"], "granted", "{entry}");
    // The keypad event flows back: the lock advertises pending events, the
    // next visit brings its status to the server (which answers with a job
    // that only acknowledges them), and the server's audit trail has it.
    let report = run(&f, data.path(), &["deliver"]);
    assert!(
        report["locks"].as_array().unwrap().iter().any(|l| {
            l["lock_id"] == f.info.locks["unit_4b"].as_str() && l["outcome"] == "delivered"
        }),
        "{report}"
    );
    let audit = server_get(
        &f,
        &format!("/v1/locks/{}/audit", f.info.locks["unit_4b"]),
        "mia",
    );
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "code_used"),
        "{audit}"
    );
}

#[test]
fn an_uninterrupted_run_does_exactly_what_the_script_says() {
    let f = sim_world();
    move_phone(&f, 101.0);
    let data = tempfile::tempdir().unwrap();
    run(&f, data.path(), &["login", &f.info.tokens["alice"]]);
    let script = script_file(data.path());
    run(&f, data.path(), &["script", script.to_str().unwrap()]);
    assert_intended(&f, data.path(), "no kill");
}

/// Kill points: each stage, at a few of its occurrences.
fn kill_points() -> Vec<(Stage, u32)> {
    vec![
        (Stage::Queueing, 2),
        (Stage::OutboxCommitted, 1),
        (Stage::OutboxCommitted, 4),
        (Stage::Sending, 1),
        (Stage::Sending, 3),
        (Stage::Answered, 1),
        (Stage::Answered, 5),
        (Stage::AnswerCommitted, 2),
        (Stage::DeltaApplying, 1),
        (Stage::DeltaApplying, 3),
        (Stage::DeltaCommitted, 2),
        (Stage::ReceiptsCollected, 1),
        (Stage::ReceiptsCollected, 2),
        (Stage::ReceiptsStored, 1),
        (Stage::ReceiptsUploaded, 1),
    ]
}

#[test]
fn killed_at_any_point_no_request_is_lost_or_sent_twice() {
    let only = std::env::var("KEYWAY_KILL_POINTS").ok();
    for (stage, n) in kill_points() {
        let name = format!("{}:{n}", stage.as_str());
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|p| p == name))
        {
            continue;
        }
        let f = sim_world();
        move_phone(&f, 101.0);
        let data = tempfile::tempdir().unwrap();
        run(&f, data.path(), &["login", &f.info.tokens["alice"]]);
        let script = script_file(data.path());
        let script = script.to_str().unwrap();
        assert!(
            run_until_killed(&f, data.path(), &["script", script], stage, n),
            "{name}: the run never reached this point"
        );
        // Restarted, the helper resumes the script from what the store shows.
        run(&f, data.path(), &["script", script]);
        assert_intended(&f, data.path(), &name);
        eprintln!("kill at {name}: ok");
        drop(f);
        std::thread::sleep(Duration::from_millis(50));
    }
}
