//! The real `keyway` binary as a resident's desktop client, against a real
//! server and the simulated locks (the fixture's simulator on its own bus,
//! reached through btleplug in each `keyway` process): login, doors, every
//! kind of request, delivery in and out of range, offline requests, watch,
//! logout — with `--json` and the documented exit codes.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use keyway_testkit::fixture::{Fixture, FixtureOptions};
use serde_json::{Value, json};

struct Cli<'a> {
    f: &'a Fixture,
    data: &'a Path,
}

impl Cli<'_> {
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyway"));
        command
            .env("KEYWAY_DATA_DIR", self.data)
            .env_remove("KEYWAY_SERVER")
            .env("KEYWAY_LOG", "warn")
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                self.f.info.bus_address.clone().unwrap(),
            );
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("keyway runs")
    }

    /// Runs with `--json`; returns the exit code and the JSON document.
    fn json(&self, args: &[&str]) -> (i32, Value) {
        let out = self.command().arg("--json").args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stdout is not one JSON document ({e}): {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), value)
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (code, value) = self.json(args);
        assert_eq!(code, 0, "{args:?}: {value}");
        value
    }
}

fn sim(f: &Fixture, method: reqwest::Method, path: &str, body: Value) -> Value {
    reqwest::blocking::Client::new()
        .request(method, format!("{}{path}", f.info.sim_url.clone().unwrap()))
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn states(code: &Value) -> Vec<String> {
    code["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["state"].as_str().unwrap().to_owned())
        .collect()
}

fn find<'a>(codes: &'a Value, id: &str) -> &'a Value {
    codes["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {codes}"))
}

#[test]
fn a_resident_drives_every_flow_through_the_keyway_command() {
    let f = Fixture::start(FixtureOptions::with_simulator()).expect("fixture");
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        f: &f,
        data: dir.path(),
    };
    let unit = f.info.locks["unit_4b"].clone();

    // No server known yet: a usage error; not logged in: exit 3.
    let (code, err) = cli.json(&["status"]);
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (2, Some("no_server"))
    );
    let (code, err) = cli.json(&["--server", &f.info.server_url, "status"]);
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (3, Some("not_logged_in"))
    );

    // Login with the API token on stdin (never on the command line).
    let mut child = cli
        .command()
        .args(["--json", "--server", &f.info.server_url, "login"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", f.info.tokens["alice"]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let session: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(session["user"]["role"], "resident");
    assert_eq!(session["doors"], 3);
    // The server is remembered.
    let status = cli.ok(&["status"]);
    assert_eq!(status["queued_requests"], 0);
    assert_eq!(status["server_url"], f.info.server_url.as_str());
    let doors = cli.ok(&["doors"]);
    assert_eq!(doors["doors"].as_array().unwrap().len(), 3);

    // A refused pick: exit 1 with every rule, in JSON and as text.
    let (code, err) = cli.json(&["pick", "1234"]);
    assert_eq!(code, 1);
    assert_eq!(err["error"]["code"], "policy_violation");
    let rules: Vec<&str> = err["error"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["sequential", "common_pin"]);
    let out = cli.run(&["pick", "1234"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("error[policy_violation]") && text.contains("sequential"),
        "{text}"
    );
    let dry = cli.ok(&["pick", "5938", "--dry-run"]);
    assert_eq!(dry["ok"], true);
    assert_eq!(cli.ok(&["status"])["queued_requests"], 0);

    // Requests: a pick, a generated code, guest codes.
    let front = cli.ok(&["pick", "5938", "--name", "Front door"]);
    assert_eq!(states(&front), ["pending"]);
    let front_id = front["id"].as_str().unwrap().to_owned();
    let generated = cli.ok(&["generate"]);
    assert_eq!(states(&generated), ["pending", "pending"]);
    let generated_id = generated["id"].as_str().unwrap().to_owned();
    let walker = cli.ok(&[
        "guest",
        "recurring",
        "--days",
        "weekend",
        "--start",
        "09:00",
        "--end",
        "12:00",
        "--name",
        "Dog walker",
    ]);
    assert_eq!(walker["guest_type"], "recurring");
    assert_eq!(walker["schedule"]["type"], "recurring");
    assert_eq!(
        walker["schedule"]["weekdays"],
        json!(["sat", "sun"]),
        "{walker}"
    );
    let visit = cli.ok(&["guest", "temporary", "--until", "+3h", "--door", "Unit 4B"]);
    assert_eq!(visit["schedule"]["type"], "window");
    let (code, err) = cli.json(&["guest", "temporary"]);
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (2, Some("invalid_argument"))
    );
    let (code, err) = cli.json(&["pick", "5938", "--door", "Garage"]);
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (1, Some("not_found"))
    );

    // Out of range, nothing is delivered; in range, everything turns active.
    let report = cli.ok(&["deliver", "--scan-ms", "800"]);
    assert!(
        report["locks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["outcome"] != "delivered"),
        "{report}"
    );
    sim(
        &f,
        reqwest::Method::PUT,
        "/phone",
        json!({"x": 102.0, "y": 0.0}),
    );
    let report = cli.ok(&["deliver", "--scan-ms", "800"]);
    assert!(
        report["locks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["lock_id"] == unit.as_str() && l["outcome"] == "delivered"),
        "{report}"
    );
    let codes = cli.ok(&["codes"]);
    for id in [&front_id, &generated_id] {
        assert!(
            states(find(&codes, id)).iter().all(|s| s == "active"),
            "{codes}"
        );
    }
    let human = String::from_utf8_lossy(&cli.run(&["codes"]).stdout).into_owned();
    assert!(
        human.contains("Front door") && human.contains("active"),
        "{human}"
    );
    let entry = sim(
        &f,
        reqwest::Method::POST,
        &format!("/locks/{unit}/keypad"),
        json!({"code": "5938"}),
    );
    assert_eq!(entry["entry"]["result"], "granted");

    // Change, disable, enable, delete.
    let changed = cli.ok(&["change", &front_id, "6047"]);
    assert_eq!(changed["value"], "6047");
    assert_eq!(changed["locks"][0]["previous_active"], true);
    let disabled = cli.ok(&["disable", &generated_id]);
    assert_eq!(states(&disabled), ["disabling", "disabling"]);
    cli.ok(&["enable", &generated_id]);
    let walker_id = walker["id"].as_str().unwrap().to_owned();
    let deleted = cli.ok(&["delete", &walker_id]);
    assert_eq!(deleted["status"], "deleted");
    cli.ok(&["deliver", "--scan-ms", "800"]);
    let codes = cli.ok(&["codes"]);
    assert_eq!(states(find(&codes, &front_id)), ["active"]);
    assert!(
        !codes.to_string().contains(&walker_id),
        "the deleted code is gone: {codes}"
    );
    let entry = sim(
        &f,
        reqwest::Method::POST,
        &format!("/locks/{unit}/keypad"),
        json!({"code": "6047"}),
    );
    assert_eq!(entry["entry"]["result"], "granted");

    // Offline: a pick is queued (requested), sync fails with exit 4.
    f.net.set_up(false);
    let queued = cli.ok(&["pick", "7260"]);
    assert_eq!(states(&queued), ["requested"]);
    let (code, err) = cli.json(&["sync"]);
    assert_eq!((code, err["error"]["code"].as_str()), (4, Some("network")));
    f.net.set_up(true);

    // Watch: the queued pick goes out, is delivered and turns active.
    let out = cli.run(&[
        "--json",
        "watch",
        "--every",
        "1",
        "--for",
        "6",
        "--scan-ms",
        "800",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let queued_id = queued["id"].as_str().unwrap();
    assert!(
        lines.iter().any(|e| e["event"] == "code_changed"
            && e["code"]["id"] == queued_id
            && e["code"]["locks"][0]["state"] == "active"),
        "{lines:?}"
    );

    // Logout: the store is empty; exit 3 afterwards.
    cli.ok(&["logout"]);
    let (code, _) = cli.json(&["codes"]);
    assert_eq!(code, 3);
}

#[test]
fn a_guest_code_that_works_offline_opens_the_door_before_any_delivery() {
    let f = Fixture::start(FixtureOptions::with_simulator()).expect("fixture");
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        f: &f,
        data: dir.path(),
    };
    let unit = f.info.locks["unit_4b"].clone();
    let mut child = cli
        .command()
        .args(["--json", "--server", &f.info.server_url, "login"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", f.info.tokens["alice"]).unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));

    let code = cli.ok(&[
        "guest",
        "temporary",
        "--until",
        "+2h",
        "--door",
        "Unit 4B",
        "--offline",
    ]);
    assert_eq!(code["locks"], json!([]), "no job to deliver: {code}");
    let offline = &code["offline"][0];
    assert_eq!(offline["lock_id"], unit.as_str());
    assert_eq!(offline["state"], "active");
    let digits = offline["value"].as_str().unwrap().to_owned();
    assert_eq!(digits.len(), 8);
    let entry = sim(
        &f,
        reqwest::Method::POST,
        &format!("/locks/{unit}/keypad"),
        json!({"code": digits}),
    );
    assert_eq!(entry["entry"]["result"], "granted_offline", "{entry}");
    // As text: each door's digits and the exact window.
    let human = String::from_utf8_lossy(&cli.run(&["codes"]).stdout).into_owned();
    assert!(
        human.contains(&format!("Unit 4B offline: {digits}")) && human.contains("until"),
        "{human}"
    );
    // A permanent code cannot work offline; the phone says so before sending.
    let (exit, err) = cli.json(&["guest", "permanent", "--offline"]);
    assert_eq!(
        (exit, err["error"]["code"].as_str()),
        (1, Some("offline_unsupported")),
        "{err}"
    );
    assert_eq!(cli.ok(&["status"])["queued_requests"], 0);
}

#[test]
fn keyway_demo_points_at_the_demo_binary() {
    let out = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(["--json", "demo", "--out-dir", "x"])
        .output()
        .expect("keyway runs");
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err["error"]["code"], "demo_moved", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cargo xtask demo")
    );
}

#[test]
fn a_plain_http_server_is_refused_before_any_token_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--server", "http://keyway.example.org", "login"][..],
        &["--server", "http://127.0.0.1@keyway.example.org", "status"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_keyway"))
            .env("KEYWAY_DATA_DIR", dir.path())
            .env("KEYWAY_TOKEN", "kwa_not-sent-anywhere")
            .env_remove("KEYWAY_SERVER")
            .arg("--json")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err["error"]["code"], "invalid_argument", "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("https://"), "{message}");
    }
    // Nothing was saved: the refused server is not remembered.
    assert!(!dir.path().join("cli.json").exists());
}
