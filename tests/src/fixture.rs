//! A whole Keyway world for end-to-end tests: a real `keyway-server` on a
//! fresh SQLite file, a property set up with `keyway-server admin --json`,
//! `keyway-ble-sim serve` running the property's locks behind a simulated
//! BlueZ on a private bus, and a [`NetSwitch`] in front of the server so a
//! test can cut the phone's network and restore it.
//!
//! The property: "Maple Court" (affiliated numbers 1440 and 94110), unit 4B
//! with its door, a community entrance and the package room, residents Alice
//! (4B) and Bob (5C, no door), staff Sam and manager Mia. The locks stand
//! along a corridor at x = 100 m (Unit 4B), 104 m (Main entrance) and 128 m
//! (Package room); the phone starts at the origin, out of range of all.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::netswitch::NetSwitch;

/// What a fixture is made of, as JSON for other languages' tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureInfo {
    /// The server as phones should reach it (through the network switch).
    pub server_url: String,
    /// The server itself (never cut).
    pub server_direct_url: String,
    /// The simulator's control API, when a simulator runs.
    pub sim_url: Option<String>,
    /// The simulator's D-Bus system bus.
    pub bus_address: Option<String>,
    /// The launcher's control API (`POST /network/down`, `/network/up`), when
    /// the launcher runs.
    pub control_url: Option<String>,
    /// The property.
    pub property_id: String,
    /// Unit ids by name ("4B", "5C").
    pub units: BTreeMap<String, String>,
    /// Lock ids: `unit_4b`, `entrance`, `package_room`.
    pub locks: BTreeMap<String, String>,
    /// API tokens by user: `alice`, `bob`, `sam`, `mia`.
    pub tokens: BTreeMap<String, String>,
    /// The data directory (server database, provisioning file, logs).
    pub dir: PathBuf,
}

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureOptions {
    /// Start `keyway-ble-sim serve` on the property's locks.
    pub simulator: bool,
    /// Serve the simulator on this D-Bus bus instead of the private one it
    /// starts itself (a test that runs btleplug in its own process makes
    /// the bus first, before any thread: see [`crate::world`]).
    pub bus: Option<String>,
}

impl FixtureOptions {
    /// A server and the simulator on a bus of its own.
    pub fn with_simulator() -> Self {
        Self {
            simulator: true,
            bus: None,
        }
    }

    /// A server only.
    pub fn server_only() -> Self {
        Self {
            simulator: false,
            bus: None,
        }
    }
}

/// A running world; everything stops when it is dropped.
#[derive(Debug)]
pub struct Fixture {
    /// What it is made of.
    pub info: FixtureInfo,
    /// The network between phones and the server.
    pub net: Arc<NetSwitch>,
    server: Child,
    sim: Option<Child>,
    _dir: tempfile::TempDir,
}

/// Where the workspace's binaries are: `KEYWAY_BIN_DIR`, else beside the
/// running executable (target/debug for binaries, its parent for tests).
pub fn bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("KEYWAY_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    for dir in exe.ancestors().skip(1).take(3) {
        if dir.join("keyway-server").is_file() && dir.join("keyway-ble-sim").is_file() {
            return Ok(dir.to_owned());
        }
    }
    Err("keyway-server and keyway-ble-sim are not built: run `cargo build -p keyway-server -p keyway-ble-sim` (or set KEYWAY_BIN_DIR)".into())
}

/// Builds the server and simulator binaries when running under cargo (a
/// no-op when they are up to date), so `cargo test -p keyway-tests` works
/// alone.
pub fn ensure_binaries() -> Result<PathBuf, String> {
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    if std::env::var_os("KEYWAY_BIN_DIR").is_none()
        && let Some(cargo) = std::env::var_os("CARGO")
    {
        BUILT
            .get_or_init(|| {
                let status = Command::new(cargo)
                    .args([
                        "build",
                        "-q",
                        "-p",
                        "keyway-server",
                        "-p",
                        "keyway-ble-sim",
                        "--bins",
                    ])
                    .status()
                    .map_err(|e| e.to_string())?;
                if status.success() {
                    Ok(())
                } else {
                    Err(format!("building the binaries failed ({status})"))
                }
            })
            .clone()?;
    }
    bin_dir()
}

fn admin(bin: &Path, dir: &Path, args: &[&str]) -> Result<serde_json::Value, String> {
    let output = Command::new(bin.join("keyway-server"))
        .current_dir(dir)
        .env("KEYWAY_LOG", "warn")
        .arg("admin")
        .arg("--json")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run keyway-server admin: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("admin {args:?} failed: {text}"));
    }
    serde_json::from_str(text.trim()).map_err(|e| format!("admin output: {e}"))
}

fn field(value: &serde_json::Value, name: &str) -> Result<String, String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("admin output lacks `{name}`"))
}

/// Reads a child's output lines on a thread, sending the ones that contain
/// `marker` (the rest go to `sink`'s stderr when `KEYWAY_FIXTURE_VERBOSE` is set).
fn watch_lines(
    stream: impl std::io::Read + Send + 'static,
    marker: &'static str,
    tx: mpsc::Sender<String>,
) {
    let verbose = std::env::var_os("KEYWAY_FIXTURE_VERBOSE").is_some();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if line.contains(marker) {
                let _ = tx.send(line.clone());
            }
            if verbose {
                eprintln!("{line}");
            }
        }
    });
}

impl Fixture {
    /// Sets up the property and starts everything.
    pub fn start(options: FixtureOptions) -> Result<Self, String> {
        let bin = ensure_binaries()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        let property = admin(
            &bin,
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
        )?;
        let property_id = field(&property, "property_id")?;
        let lock = |args: &[&str]| {
            let mut all = vec!["lock", "create", "--provisioning", "provisioning.json"];
            all.extend_from_slice(args);
            admin(&bin, d, &all)
        };
        let unit_4b = lock(&["--name", "Unit 4B", "--unit", "4B"])?;
        let entrance = lock(&[
            "--name",
            "Main entrance",
            "--access-point",
            "community_entrance",
        ])?;
        let package = lock(&["--name", "Package room", "--access-point", "package_room"])?;
        let mut tokens = BTreeMap::new();
        let mut units = BTreeMap::new();
        units.insert("4B".to_owned(), field(&unit_4b, "unit_id")?);
        for (name, role, unit) in [
            ("alice", "resident", Some("4B")),
            ("bob", "resident", Some("5C")),
            ("sam", "staff", None),
            ("mia", "manager", None),
        ] {
            let mut args = vec!["user", "create", "--name", name, "--role", role];
            if let Some(unit) = unit {
                args.extend_from_slice(&["--unit", unit]);
            }
            let out = admin(&bin, d, &args)?;
            tokens.insert(name.to_owned(), field(&out, "token")?);
            if let Some(unit) = unit
                && let Some(id) = out["unit_id"].as_str()
            {
                units.insert(unit.to_owned(), id.to_owned());
            }
        }
        let mut locks = BTreeMap::new();
        locks.insert("unit_4b".to_owned(), field(&unit_4b, "lock_id")?);
        locks.insert("entrance".to_owned(), field(&entrance, "lock_id")?);
        locks.insert("package_room".to_owned(), field(&package, "lock_id")?);

        // The server, on a free port.
        let mut server = Command::new(bin.join("keyway-server"))
            .current_dir(d)
            .env("KEYWAY_LOG", "info")
            .env("KEYWAY_SWEEP_INTERVAL_SECS", "5")
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start keyway-server: {e}"))?;
        let (tx, rx) = mpsc::channel();
        if let Some(stderr) = server.stderr.take() {
            watch_lines(stderr, "listening on ", tx);
        }
        let direct = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line
                .split("listening on ")
                .nth(1)
                .unwrap_or_default()
                .trim()
                .to_owned(),
            Err(_) => {
                let _ = server.kill();
                let _ = server.wait();
                return Err("the server did not start".into());
            }
        };
        let upstream = direct.trim_start_matches("http://").to_owned();
        let net =
            Arc::new(NetSwitch::start(&upstream).map_err(|e| format!("network switch: {e}"))?);

        // The simulator, on the property's locks.
        let mut sim = None;
        let mut sim_url = None;
        let mut bus_address = None;
        if options.simulator {
            let config = format!(
                "provisioning = \"{}\"\n\n[phone]\nx = 0.0\ny = 0.0\n\n\
                 [[lock]]\nid = \"{}\"\nx = 100.0\n\n\
                 [[lock]]\nid = \"{}\"\nx = 104.0\n\n\
                 [[lock]]\nid = \"{}\"\nx = 128.0\n",
                d.join("provisioning.json").display(),
                locks["unit_4b"],
                locks["entrance"],
                locks["package_room"],
            );
            std::fs::write(d.join("sim.toml"), config).map_err(|e| e.to_string())?;
            let mut command = Command::new(bin.join("keyway-ble-sim"));
            command.args(["serve", "--config", "sim.toml", "--http", "127.0.0.1:0"]);
            if let Some(bus) = &options.bus {
                command.args(["--bus", bus]);
            }
            let mut child = command
                .current_dir(d)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("cannot start keyway-ble-sim: {e}"))?;
            let (tx, rx) = mpsc::channel();
            if let Some(stdout) = child.stdout.take() {
                std::thread::spawn(move || {
                    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                        let _ = tx.send(line);
                    }
                });
            }
            let mut bus = None;
            let mut control = None;
            while bus.is_none() || control.is_none() {
                match rx.recv_timeout(Duration::from_secs(60)) {
                    Ok(line) => {
                        if let Some(rest) = line.strip_prefix("export DBUS_SYSTEM_BUS_ADDRESS=") {
                            bus = Some(rest.trim_matches('\'').to_owned());
                        } else if let Some(rest) = line.strip_prefix("control API: ") {
                            control = Some(rest.trim().to_owned());
                        }
                    }
                    Err(_) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        let _ = server.kill();
                        let _ = server.wait();
                        return Err("the simulator did not start".into());
                    }
                }
            }
            sim = Some(child);
            sim_url = control;
            bus_address = bus;
        }
        let info = FixtureInfo {
            server_url: format!("http://{}", net.address()),
            server_direct_url: direct,
            sim_url,
            bus_address,
            control_url: None,
            property_id,
            units,
            locks,
            tokens,
            dir: d.to_owned(),
        };
        Ok(Self {
            info,
            net,
            server,
            sim,
            _dir: dir,
        })
    }

    /// The environment a test process gets: `KEYWAY_FIXTURE_JSON` (a file
    /// with [`FixtureInfo`]), `KEYWAY_SERVER_URL`, `KEYWAY_SIM_URL`,
    /// `DBUS_SYSTEM_BUS_ADDRESS`, `KEYWAY_CONTROL_URL`, and per user
    /// `KEYWAY_TOKEN_<USER>` and per lock `KEYWAY_LOCK_<NAME>`.
    pub fn env(&self) -> Result<Vec<(String, String)>, String> {
        let path = self.info.dir.join("fixture.json");
        let json = serde_json::to_string_pretty(&self.info).map_err(|e| e.to_string())?;
        std::fs::write(&path, json).map_err(|e| e.to_string())?;
        let mut env = vec![
            ("KEYWAY_FIXTURE_JSON".to_owned(), path.display().to_string()),
            ("KEYWAY_SERVER_URL".to_owned(), self.info.server_url.clone()),
        ];
        if let Some(url) = &self.info.sim_url {
            env.push(("KEYWAY_SIM_URL".to_owned(), url.clone()));
        }
        if let Some(bus) = &self.info.bus_address {
            env.push(("DBUS_SYSTEM_BUS_ADDRESS".to_owned(), bus.clone()));
        }
        if let Some(url) = &self.info.control_url {
            env.push(("KEYWAY_CONTROL_URL".to_owned(), url.clone()));
        }
        for (user, token) in &self.info.tokens {
            env.push((
                format!("KEYWAY_TOKEN_{}", user.to_uppercase()),
                token.clone(),
            ));
        }
        for (name, id) in &self.info.locks {
            env.push((format!("KEYWAY_LOCK_{}", name.to_uppercase()), id.clone()));
        }
        Ok(env)
    }

    /// Stops the simulator and the server.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.net.set_up(false);
        for child in self.sim.iter_mut().chain(std::iter::once(&mut self.server)) {
            // SIGTERM for a clean stop (the simulator removes its bus),
            // through rustix: no `kill` program needed. It fails only for a
            // child already reaped, and then the loop below ends at once.
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_child(child),
                rustix::process::Signal::TERM,
            );
            for _ in 0..50 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown();
    }
}
