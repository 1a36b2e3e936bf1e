//! Test harness: a real `keyway-server` process on a real TCP port with a real
//! SQLite file in a temporary directory, set up with the real `admin`
//! commands, its log output captured line by line.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyway_core::lock::Lock;
use keyway_core::protocol::LockId;
use keyway_core::provisioning::ProvisioningFile;
use reqwest::blocking::Client;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_keyway-server");

/// Runs `keyway-server admin --json ...` in `dir`.
pub fn admin(dir: &Path, args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .current_dir(dir)
        .env("KEYWAY_LOG", "warn")
        .arg("admin")
        .arg("--json")
        .args(args)
        .output()
        .expect("run admin");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "admin {args:?} failed: {text} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("admin output {text}: {e}"))
}

/// A running server.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub logs: Arc<Mutex<Vec<String>>>,
    pub dir: PathBuf,
}

impl Server {
    /// Starts the server in `dir` on a free port and waits until it listens.
    pub fn start(dir: &Path, extra_env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command
            .current_dir(dir)
            .env("KEYWAY_LOG", "debug")
            .env("KEYWAY_SWEEP_INTERVAL_SECS", "1")
            .env("KEYWAY_NOTIFY_INTERVAL_MS", "100")
            .env("KEYWAY_NOTIFY_BACKOFF_SECS", "1")
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start server");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", logs.lock().unwrap()));
        Self {
            child,
            base,
            logs,
            dir: dir.to_owned(),
        }
    }

    /// Stops the server with SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "server exited with {status}");
        std::thread::sleep(Duration::from_millis(100));
        self.logs.lock().unwrap().clone()
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A property set up with the admin commands.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub server: Option<Server>,
    pub property: String,
    pub unit_4b: String,
    pub unit_5c: String,
    pub lock_4b: String,
    pub lock_5c: String,
    pub entrance: String,
    pub package_room: String,
    /// API tokens by name: alice (4B), bob (5C), sam (staff), mia (manager),
    /// and in another property: zed (manager), yan (resident).
    pub tokens: std::collections::HashMap<String, String>,
    pub users: std::collections::HashMap<String, String>,
    pub other_property: String,
    pub other_lock: String,
    pub client: Client,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_env(&[])
    }

    pub fn with_env(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let property = admin(
            d,
            &[
                "property",
                "create",
                "--name",
                "Maple Court",
                "--time-zone",
                "America/New_York",
                "--affiliated",
                "1440,94110",
            ],
        )["property_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let p = ["--property", property.as_str()];
        let lock = |args: &[&str]| {
            let mut all = vec!["lock", "create", "--provisioning", "maple.json"];
            all.extend_from_slice(&p);
            all.extend_from_slice(args);
            admin(d, &all)
        };
        let l4b = lock(&["--name", "Unit 4B", "--unit", "4B"]);
        let l5c = lock(&["--name", "Unit 5C", "--unit", "5C"]);
        let entrance = lock(&[
            "--name",
            "Main entrance",
            "--access-point",
            "community_entrance",
        ]);
        let package = lock(&["--name", "Package room", "--access-point", "package_room"]);
        let mut tokens = std::collections::HashMap::new();
        let mut users = std::collections::HashMap::new();
        let mut user = |name: &str, property: &str, role: &str, unit: Option<&str>| {
            let mut args = vec![
                "user",
                "create",
                "--property",
                property,
                "--name",
                name,
                "--role",
                role,
            ];
            if let Some(unit) = unit {
                args.extend_from_slice(&["--unit", unit]);
            }
            let out = admin(d, &args);
            tokens.insert(name.to_owned(), out["token"].as_str().unwrap().to_owned());
            users.insert(name.to_owned(), out["user_id"].as_str().unwrap().to_owned());
        };
        user("alice", &property, "resident", Some("4B"));
        user("bob", &property, "resident", Some("5C"));
        user("sam", &property, "staff", None);
        user("mia", &property, "manager", None);
        let other = admin(d, &["property", "create", "--name", "Oak Tower"])["property_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let other_lock = admin(
            d,
            &[
                "lock",
                "create",
                "--property",
                &other,
                "--name",
                "Oak 1A",
                "--unit",
                "1A",
                "--provisioning",
                "oak.json",
            ],
        );
        user("zed", &other, "manager", None);
        user("yan", &other, "resident", Some("1A"));
        let server = Server::start(d, env);
        Self {
            unit_4b: l4b["unit_id"].as_str().unwrap().to_owned(),
            unit_5c: l5c["unit_id"].as_str().unwrap().to_owned(),
            lock_4b: l4b["lock_id"].as_str().unwrap().to_owned(),
            lock_5c: l5c["lock_id"].as_str().unwrap().to_owned(),
            entrance: entrance["lock_id"].as_str().unwrap().to_owned(),
            package_room: package["lock_id"].as_str().unwrap().to_owned(),
            other_lock: other_lock["lock_id"].as_str().unwrap().to_owned(),
            dir,
            server: Some(server),
            property,
            tokens,
            users,
            other_property: other,
            client: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// Restarts the server on the same directory.
    pub fn restart(&mut self) -> Vec<String> {
        let logs = self.server.take().unwrap().stop();
        self.server = Some(Server::start(self.dir.path(), &[]));
        logs
    }

    /// Logs `name` in as a new device; returns the device token.
    pub fn login(&self, name: &str, device: &str) -> String {
        let (status, body) = self.call_raw(
            None,
            Method::POST,
            "/v1/login",
            Some(json!({"token": self.tokens[name], "device_name": device})),
            None,
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        body["device_token"].as_str().unwrap().to_owned()
    }

    /// A request; returns status and JSON body (Null when not JSON).
    pub fn call_raw(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.server().url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = idem {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().expect("request");
        let status = response.status();
        let text = response.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A GET.
    pub fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call_raw(Some(token), Method::GET, path, None, None)
    }

    /// A write with a fresh idempotency key.
    pub fn write(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.call_raw(Some(token), method, path, Some(body), Some(&fresh_key()))
    }

    /// A write that must succeed; returns the body.
    pub fn ok(&self, token: &str, method: Method, path: &str, body: Value) -> Value {
        let (status, value) = self.write(token, method, path, body);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// The provisioning file of the first property.
    pub fn provisioning(&self) -> ProvisioningFile {
        ProvisioningFile::parse(
            &std::fs::read_to_string(self.dir.path().join("maple.json")).unwrap(),
        )
        .unwrap()
    }

    /// The real lock firmware for `lock_id`, factory-new.
    pub fn firmware(&self, lock_id: &str) -> Lock {
        let file = self.provisioning();
        let id: LockId = lock_id.parse().unwrap();
        let lock = file.locks.iter().find(|l| l.lock_id == id).unwrap();
        Lock::new(lock.lock_config(), &lock.root_key)
    }

    pub fn delivery_log(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("keyway-deliveries.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub fn fresh_key() -> String {
    format!("k-{}", rand::random::<u64>())
}

/// Polls `check` until it returns Some or 30 s pass.
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The state of `code` on `lock`.
pub fn state_on(code: &Value, lock: &str) -> String {
    code["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lock_id"] == lock)
        .map(|l| l["state"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("code not on lock {lock}: {code}"))
}
