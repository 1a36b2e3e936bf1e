//! One process's world for the end-to-end scenarios of the product pages:
//! a private D-Bus bus made this process's system bus (before any thread,
//! since libdbus reads `DBUS_SYSTEM_BUS_ADDRESS` once per process), the
//! [`Fixture`] (a real server, the Maple Court property, the simulator
//! serving its locks on that bus), phones running the real phone core with
//! the real btleplug transport, and plain HTTP for the manager's API, the
//! public forgot-PIN endpoint and the simulator's control API (keypads,
//! the phone's position, lock clocks).
//!
//! Each scenario runs in its own process (the tests use `rusty-fork`) and
//! calls [`World::start`] first.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use keyway_ble_sim::bus::PrivateBus;
use keyway_client::{Client, ClientConfig, DeliveryReport};
use keyway_delivery::ble::BleTransport;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixture::{Fixture, FixtureOptions};

pub use crate::corridor::{AT_HOME, AT_PACKAGE_ROOM, AWAY};

/// A server, the simulated locks on this process's bus, and helpers.
#[derive(Debug)]
pub struct World {
    /// The server, property, simulator and network switch.
    pub f: Fixture,
    /// The runtime phones run on.
    pub rt: tokio::runtime::Runtime,
    http: reqwest::blocking::Client,
    keys: AtomicU64,
    dirs: Mutex<Vec<tempfile::TempDir>>,
    _bus: PrivateBus,
}

/// An HTTP answer: status and JSON body (`Null` when not JSON).
pub type Answer = (u16, Value);

impl World {
    /// Starts a bus and makes it this process's system bus, then the
    /// fixture with the simulator on it. Call it first in the test process.
    pub fn start() -> Self {
        let bus = PrivateBus::start().expect("dbus-daemon starts (apt-get install dbus)");
        keyway_ble_sim::harness::set_system_bus_address(bus.address());
        let f = Fixture::start(FixtureOptions {
            simulator: true,
            bus: Some(bus.address().to_owned()),
            phone: None,
        })
        .expect("fixture");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        Self {
            f,
            rt,
            http: reqwest::blocking::Client::new(),
            keys: AtomicU64::new(0),
            dirs: Mutex::new(Vec::new()),
            _bus: bus,
        }
    }

    /// A lock id by fixture name: `unit_4b`, `entrance`, `package_room`.
    pub fn lock(&self, name: &str) -> String {
        self.f.info.locks[name].clone()
    }

    /// A phone logged in as `user`, with the btleplug transport.
    pub fn phone(&self, user: &str) -> Client {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = ClientConfig::new(&self.f.info.server_url, dir.path(), "scenario phone");
        config.delivery.scan_time = Duration::from_millis(800);
        config.request_timeout = Duration::from_secs(20);
        let phone = Client::open(config).expect("open the phone's store");
        self.dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(dir);
        let transport = self
            .rt
            .block_on(BleTransport::new())
            .expect("btleplug on the simulated BlueZ");
        phone.set_transport(Arc::new(transport));
        self.rt
            .block_on(phone.login(&self.f.info.tokens[user]))
            .expect("login");
        phone
    }

    /// What the app does in the background: a sync, then a delivery round.
    pub fn deliver(&self, phone: &Client) -> DeliveryReport {
        self.rt.block_on(async {
            phone.sync().await.expect("sync");
            phone.deliver_nearby().await.expect("deliver")
        })
    }

    /// The outcome of the delivery at `lock` in `report`, if it visited it.
    pub fn outcome(report: &DeliveryReport, lock: &str) -> Option<String> {
        report
            .locks
            .iter()
            .find(|l| l.lock_id == lock)
            .map(|l| l.outcome.code().to_owned())
    }

    fn sim(&self) -> String {
        self.f.info.sim_url.clone().expect("the simulator runs")
    }

    /// Walks the phone to `x` metres along the corridor.
    pub fn walk_to(&self, x: f64) {
        let response = self
            .http
            .put(format!("{}/phone", self.sim()))
            .json(&json!({"x": x, "y": 0.0}))
            .send()
            .expect("simulator");
        assert!(response.status().is_success());
    }

    /// Types `code` on a lock's keypad; the entry's result (`granted`, or
    /// `denied:<reason>`, `locked_out`, `none`).
    pub fn keypad(&self, lock: &str, code: &str) -> String {
        self.entry(lock, "keypad", json!({ "code": code }))
    }

    /// Holds the key card `card_id` to a lock's reader; the result as
    /// [`World::keypad`] gives it.
    pub fn card(&self, lock: &str, card_id: &str) -> String {
        self.entry(lock, "card", json!({ "card_id": card_id }))
    }

    /// An entry at the lock's `reader` (`keypad` or `card`), in words.
    fn entry(&self, lock: &str, reader: &str, body: Value) -> String {
        let answer: Value = self
            .http
            .post(format!("{}/locks/{lock}/{reader}", self.sim()))
            .json(&body)
            .send()
            .expect("simulator")
            .json()
            .expect("JSON");
        let entry = &answer["entry"];
        match entry["result"].as_str() {
            Some("denied") => format!("denied:{}", entry["reason"].as_str().unwrap_or("?")),
            Some(result) => result.to_owned(),
            None => "none".to_owned(),
        }
    }

    /// Sets a lock's clock.
    pub fn set_clock(&self, lock: &str, to: Timestamp) {
        let response = self
            .http
            .post(format!("{}/locks/{lock}/clock", self.sim()))
            .json(&json!({ "set": to.to_string() }))
            .send()
            .expect("simulator");
        assert!(response.status().is_success());
    }

    /// A call to the server as `user` (their API token as the bearer), with
    /// a fresh idempotency key on writes.
    pub fn call(&self, user: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(
                method.clone(),
                format!("{}{path}", self.f.info.server_direct_url),
            )
            .bearer_auth(&self.f.info.tokens[user]);
        if method != Method::GET {
            let n = self.keys.fetch_add(1, Ordering::Relaxed);
            request = request.header("Idempotency-Key", format!("scenario-{n}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().expect("server");
        let status = response.status().as_u16();
        let body = response.json().unwrap_or(Value::Null);
        (status, body)
    }

    /// A call that must succeed; its body.
    pub fn ok(&self, user: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(user, method.clone(), path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
        answer
    }

    /// `POST /v1/public/forgot-pin` (no token).
    pub fn forgot_pin(&self, body: Value) -> Answer {
        let response = self
            .http
            .post(format!(
                "{}/v1/public/forgot-pin",
                self.f.info.server_direct_url
            ))
            .json(&body)
            .send()
            .expect("server");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// The server's delivery log (emails and text messages), once it holds
    /// at least `count` messages (waits up to 15 s).
    pub fn deliveries(&self, count: usize) -> Vec<Value> {
        let path: PathBuf = self.f.info.dir.join("keyway-deliveries.jsonl");
        let read = || -> Vec<Value> {
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        };
        for _ in 0..150 {
            let lines = read();
            if lines.len() >= count {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        read()
    }
}

/// A code's state on a lock, from a `CodeView` in JSON.
pub fn state_on(code: &Value, lock: &str) -> String {
    code["locks"]
        .as_array()
        .and_then(|locks| locks.iter().find(|l| l["lock_id"] == lock))
        .and_then(|l| l["state"].as_str())
        .unwrap_or("absent")
        .to_owned()
}

/// The rule ids of a `policy_violation` problem.
pub fn rules(problem: &Value) -> Vec<String> {
    problem["violations"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|v| v["rule"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The 6-digit PIN in a message body.
pub fn pin_in(body: &str) -> Option<String> {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}
