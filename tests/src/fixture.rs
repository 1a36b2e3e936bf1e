//! A world of processes: a real `keyway-server` on the world's database
//! (SQLite in its directory, or PostgreSQL with `KEYWAY_TEST_DATABASE_URL`),
//! Maple Court set up in process with the typed admin functions
//! ([`crate::property`]), `keyway-ble-sim serve` running the property's
//! locks behind a simulated BlueZ on a private bus, and a [`NetSwitch`] in
//! front of the server so a test can cut the phone's network and restore it.
//! The end-to-end scenarios, the `keyway` client's tests and the
//! `keyway-fixture` launcher of the binding tests run in it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::admin::Admin;
use crate::binaries::ensure_binaries;
use crate::database::TestDb;
use crate::error::{KitError, KitResult};
use crate::netswitch::NetSwitch;
use crate::process::{first_line, stop_child};
use crate::property::Plan;

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
    /// The user (`alice`, ...) whose phone core the simulator's bench
    /// attaches to the server (`serve --with-server`), if any.
    pub phone: Option<String>,
}

impl FixtureOptions {
    /// A server and the simulator on a bus of its own.
    pub fn with_simulator() -> Self {
        Self {
            simulator: true,
            bus: None,
            phone: None,
        }
    }

    /// A server and the simulator, whose bench carries `user`'s phone core.
    pub fn with_phone_of(user: &str) -> Self {
        Self {
            phone: Some(user.to_owned()),
            ..Self::with_simulator()
        }
    }

    /// A server only.
    pub fn server_only() -> Self {
        Self {
            simulator: false,
            bus: None,
            phone: None,
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

/// The simulator as a process, once it said where it serves.
struct SimProcess {
    child: Child,
    control: String,
    bus: String,
}

impl Fixture {
    /// Sets up the property and starts everything.
    pub fn start(options: FixtureOptions) -> KitResult<Self> {
        let bin = ensure_binaries()?;
        let dir = tempfile::tempdir().map_err(|e| KitError::file("create", "a directory", e))?;
        let d = dir.path();
        let db = TestDb::from_env(d)?;
        let plan = Plan::story();
        let property = Admin::open(d, &db)?.set_up(&plan)?;

        let mut server = Command::new(bin.join("keyway-server"))
            .current_dir(d)
            .envs(db.env.iter().map(|(k, v)| (k, v)))
            .env("KEYWAY_LOG", "info")
            .env("KEYWAY_SWEEP_INTERVAL_SECS", "5")
            // Webhooks to a receiver the test runs on this machine, retried
            // within a second.
            .env("KEYWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP", "true")
            .env("KEYWAY_WEBHOOK_INTERVAL_MS", "100")
            .env("KEYWAY_WEBHOOK_BACKOFF_MS", "300")
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| KitError::Spawn {
                program: bin.join("keyway-server"),
                source,
            })?;
        let stderr = server.stderr.take();
        let Some(direct) = stderr.and_then(|s| first_line(s, "listening on ")) else {
            stop_child(&mut server);
            return Err(KitError::NotReady("the server"));
        };
        let direct = direct
            .split("listening on ")
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_owned();
        let upstream = direct.trim_start_matches("http://").to_owned();
        let net = Arc::new(NetSwitch::start(&upstream).map_err(KitError::Listen)?);

        let sim = if options.simulator {
            let provisioning = d.join(&plan.provisioning);
            let config = crate::corridor::sim_toml(&property, &provisioning);
            let path = d.join("sim.toml");
            std::fs::write(&path, config).map_err(|e| KitError::file("write", &path, e))?;
            let phone = match &options.phone {
                Some(user) => {
                    let token = property
                        .tokens
                        .get(user)
                        .ok_or_else(|| KitError::UnknownUser(user.clone()))?;
                    Some((format!("http://{}", net.address()), token.clone()))
                }
                None => None,
            };
            let sim = start_sim(
                &bin.join("keyway-ble-sim"),
                d,
                options.bus.as_deref(),
                phone
                    .as_ref()
                    .map(|(url, token)| (url.as_str(), token.as_str())),
            );
            match sim {
                Ok(sim) => Some(sim),
                Err(e) => {
                    stop_child(&mut server);
                    return Err(e);
                }
            }
        } else {
            None
        };
        let info = FixtureInfo {
            server_url: format!("http://{}", net.address()),
            server_direct_url: direct,
            sim_url: sim.as_ref().map(|s| s.control.clone()),
            bus_address: sim.as_ref().map(|s| s.bus.clone()),
            control_url: None,
            property_id: property.property_id,
            units: property.units,
            locks: property.locks,
            tokens: property.tokens,
            dir: d.to_owned(),
        };
        Ok(Self {
            info,
            net,
            server,
            sim: sim.map(|s| s.child),
            _dir: dir,
        })
    }

    /// The environment a test process gets: `KEYWAY_FIXTURE_JSON` (a file
    /// with [`FixtureInfo`]), `KEYWAY_SERVER_URL`, `KEYWAY_SIM_URL`,
    /// `DBUS_SYSTEM_BUS_ADDRESS`, `KEYWAY_CONTROL_URL`, and per user
    /// `KEYWAY_TOKEN_<USER>` and per lock `KEYWAY_LOCK_<NAME>`.
    pub fn env(&self) -> KitResult<Vec<(String, String)>> {
        let path = self.info.dir.join("fixture.json");
        let json = serde_json::to_string_pretty(&self.info)?;
        std::fs::write(&path, json).map_err(|e| KitError::file("write", &path, e))?;
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
        if let Some(sim) = &mut self.sim {
            stop_child(sim);
        }
        stop_child(&mut self.server);
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts `keyway-ble-sim serve` on `dir/sim.toml` and waits until it
/// says where its bus and its control API are.
fn start_sim(
    program: &std::path::Path,
    dir: &std::path::Path,
    bus: Option<&str>,
    phone: Option<(&str, &str)>,
) -> KitResult<SimProcess> {
    let mut command = Command::new(program);
    command.args(["serve", "--config", "sim.toml", "--http", "127.0.0.1:0"]);
    if let Some(bus) = bus {
        command.args(["--bus", bus]);
    }
    if let Some((server, token)) = phone {
        command
            .args(["--with-server", server])
            .env("KEYWAY_SIM_TOKEN", token);
    }
    let mut child = command
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| KitError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    let lines = child.stdout.take().map(crate::process::lines);
    let mut bus = None;
    let mut control = None;
    if let Some(lines) = lines {
        while bus.is_none() || control.is_none() {
            let Ok(line) = lines.recv_timeout(Duration::from_secs(60)) else {
                break;
            };
            if let Some(rest) = line.strip_prefix("export DBUS_SYSTEM_BUS_ADDRESS=") {
                bus = Some(rest.trim_matches('\'').to_owned());
            } else if let Some(rest) = line.strip_prefix("control API: ") {
                control = Some(rest.trim().to_owned());
            }
        }
    }
    match (bus, control) {
        (Some(bus), Some(control)) => Ok(SimProcess {
            child,
            control,
            bus,
        }),
        _ => {
            stop_child(&mut child);
            Err(KitError::NotReady("the simulator"))
        }
    }
}
