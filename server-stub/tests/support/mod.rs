//! Test harness: a real `keyway-server` process on a real TCP port with a
//! real database, its log output captured line by line, in the testkit's
//! world (`keyway-testkit`): the world's database (a SQLite file in a
//! temporary directory or, when `KEYWAY_TEST_DATABASE_URL` names a
//! PostgreSQL server — `cargo xtask test` starts one — a fresh database on
//! that server for each test, so tests stay parallel on both) and Maple
//! Court set up in process with the server's typed admin functions
//! (`keyway_testkit::property`, with the server suites' plan: a door for
//! 5C and a second property).

#![allow(dead_code, unreachable_pub, unused_imports)]

mod contract;
pub mod portal;
pub mod table;
mod visits;

pub use contract::Contract;
pub use visits::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyway_lock::{Lock, LockConfig};
use keyway_protocol::LockId;
use keyway_protocol::provisioning::ProvisioningFile;
pub use keyway_testkit::admin::Admin;
use keyway_testkit::database::TestDb as KitDb;
use keyway_testkit::property::Plan;
use reqwest::blocking::Client;
use reqwest::{Method, StatusCode};
use rustix::process::Signal;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_keyway-server");

/// A test's database: the testkit's, and a look inside it.
#[derive(Clone, Debug)]
pub struct TestDb(pub KitDb);

impl std::ops::Deref for TestDb {
    type Target = KitDb;

    fn deref(&self) -> &KitDb {
        &self.0
    }
}

impl TestDb {
    /// A fresh database for a test working in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self(KitDb::from_env(dir).unwrap_or_else(|e| panic!("the test database: {e}")))
    }

    /// A connection pool for looking inside (tests only read, or set up what
    /// the API cannot).
    pub fn inspect(&self) -> Inspector {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = runtime.block_on(connect(&self.url));
        Inspector { runtime, pool }
    }
}

/// Direct access to a test's database.
pub struct Inspector {
    runtime: tokio::runtime::Runtime,
    pub pool: sqlx::AnyPool,
}

impl Inspector {
    /// All rows of a query.
    pub fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        self.runtime
            .block_on(
                sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&self.pool),
            )
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs a future on the inspector's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for Inspector {
    fn drop(&mut self) {
        self.runtime.block_on(self.pool.close());
    }
}

async fn connect(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"))
}

/// A running server. When it stops, every answer it gave to the API's
/// paths (its request log) is checked against the OpenAPI document: an
/// answer the document does not list fails the test.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub logs: Arc<Mutex<Vec<String>>>,
    pub dir: PathBuf,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts the server in `dir` on `db` on a free port and waits until it
    /// listens.
    pub fn start(dir: &Path, db: &TestDb, extra_env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command
            .current_dir(dir)
            .envs(db.env.iter().map(|(k, v)| (k, v)))
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
        let mut readers = Vec::new();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        }));
        let stdout = child.stdout.take().unwrap();
        let sink = logs.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        }));
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", logs.lock().unwrap()));
        Self {
            child,
            base,
            logs,
            dir: dir.to_owned(),
            readers,
        }
    }

    /// Stops the server with SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> Vec<String> {
        signal(&self.child, Signal::TERM).expect("send SIGTERM to the server");
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

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGKILL to the server without reaping it, through a shared
    /// reference (threads may still be using the server); [`Server::kill`]
    /// or dropping it reaps it.
    pub fn kill_now(&self) {
        signal(&self.child, Signal::KILL).expect("send SIGKILL to the server");
    }

    /// Kills the server with SIGKILL (no shutdown, no flush) and reaps it.
    pub fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if std::thread::panicking() {
            return;
        }
        let undocumented = Contract::get().undocumented(&self.logs.lock().unwrap());
        assert!(
            undocumented.is_empty(),
            "answers the OpenAPI document does not list (document them in the handler's #[utoipa::path] or in api/openapi.rs): {undocumented:?}"
        );
    }
}

/// Sends `signal` to a child that has not been reaped yet (through rustix:
/// no `kill` program needed).
fn signal(child: &Child, signal: Signal) -> std::io::Result<()> {
    rustix::process::kill_process(rustix::process::Pid::from_child(child), signal)
        .map_err(std::io::Error::from)
}

/// A flag the threads of a multi-threaded test share, so that a failure in
/// any of them (or in the thread that controls them) stops the others: each
/// thread holds a [`StopGuard`] and checks [`Stop::is_set`] in its loop.
#[derive(Debug, Default)]
pub struct Stop(AtomicBool);

impl Stop {
    /// Whether some thread has ended (or failed) and the others should stop.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Tells every thread to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// A guard that sets the flag if its thread panics (a failed assertion
    /// or `expect`) while holding it.
    pub fn guard(&self) -> StopGuard<'_> {
        StopGuard(self)
    }
}

/// Sets its [`Stop`] when dropped by a panic unwinding.
#[derive(Debug)]
pub struct StopGuard<'a>(&'a Stop);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.set();
        }
    }
}

/// A property set up with the admin commands.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub db: TestDb,
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
        let db = TestDb::new(d);
        let p = Admin::open(d, &db)
            .and_then(|admin| admin.set_up(&Plan::server_tests()))
            .unwrap_or_else(|e| panic!("set up Maple Court: {e}"));
        let server = Server::start(d, &db, env);
        Self {
            unit_4b: p.units["4B"].clone(),
            unit_5c: p.units["5C"].clone(),
            lock_4b: p.locks["unit_4b"].clone(),
            lock_5c: p.locks["unit_5c"].clone(),
            entrance: p.locks["entrance"].clone(),
            package_room: p.locks["package_room"].clone(),
            other_lock: p.locks["oak_1a"].clone(),
            other_property: p.other_property.clone().unwrap(),
            property: p.property_id,
            tokens: p.tokens.into_iter().collect(),
            users: p.users.into_iter().collect(),
            dir,
            db,
            server: Some(server),
            client: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    /// The admin functions on this fixture's database.
    pub fn admin(&self) -> Admin {
        Admin::open(self.dir.path(), &self.db)
            .unwrap_or_else(|e| panic!("open the test database: {e}"))
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// Restarts the server on the same directory.
    pub fn restart(&mut self) -> Vec<String> {
        let logs = self.server.take().unwrap().stop();
        self.server = Some(Server::start(self.dir.path(), &self.db, &[]));
        logs
    }

    /// A request with a body sent byte for byte as given; `Err` when no
    /// answer came (the connection failed or broke).
    pub fn send(
        &self,
        server: &Server,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&str>,
        idem: Option<&str>,
    ) -> Result<(StatusCode, String), String> {
        let mut request = self
            .client
            .request(method, server.url(path))
            .bearer_auth(token);
        if let Some(key) = idem {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().map_err(|e| e.to_string())?;
        Ok((status, text))
    }

    /// The data key the test's server processes use.
    pub fn data_key(&self) -> keyway_server::crypto::DataKey {
        let hex = match self.db.env.iter().find(|(k, _)| k == "KEYWAY_DATA_KEY") {
            Some((_, hex)) => hex.clone(),
            None => std::fs::read_to_string(self.dir.path().join("keyway.sqlite.key")).unwrap(),
        };
        keyway_server::crypto::DataKey::from_hex(&hex).unwrap()
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
        self.call_at(self.server(), token, method, path, body, idem)
    }

    /// A request to a given server instance (tests with several).
    pub fn call_at(
        &self,
        server: &Server,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, server.url(path));
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
        Lock::new(LockConfig::from(lock), &lock.root_key)
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

/// `needle` occurs in `haystack` as a whole number or word (not inside a
/// longer run of letters and digits).
pub fn occurs(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}
