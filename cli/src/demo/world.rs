//! The demo's world, all inside this process: the operator's `admin`
//! commands on a temporary SQLite file, the Keyway server (its library, on a
//! free local port), and the lock simulator (its library) serving a unit
//! door, the main entrance and the package room as BlueZ devices on the
//! private bus this process was pointed at before it started any thread.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use keyway_ble_sim::Sim;
use keyway_ble_sim::config::{ClockSpec, LockSpec, SimConfig};
use keyway_ble_sim::harness::Harness;
use keyway_ble_sim::radio::{Position, RadioConfig};
use keyway_delivery::ble::BleTransport;
use keyway_server::admin::AdminArgs;
use keyway_server::app::ServeArgs;
use keyway_server::crypto::DataKey;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where the locks stand along the corridor, metres east of the origin.
pub(crate) const UNIT_X: f64 = 100.0;
/// The main entrance, 4 m past the unit door.
pub(crate) const ENTRANCE_X: f64 = 104.0;
/// The package room, down the corridor.
pub(crate) const PACKAGE_ROOM_X: f64 = 128.0;

/// `keyway-server admin …`, parsed as the real command line is.
#[derive(Debug, Parser)]
#[command(name = "admin")]
struct AdminCli {
    #[command(flatten)]
    args: AdminArgs,
}

/// `keyway-server serve …`, parsed as the real command line is.
#[derive(Debug, Parser)]
#[command(name = "serve")]
struct ServeCli {
    #[command(flatten)]
    args: ServeArgs,
}

/// The property's ids.
#[derive(Debug, Clone)]
pub(crate) struct Property {
    /// The unit door's lock id.
    pub(crate) unit: String,
    /// The main entrance.
    pub(crate) entrance: String,
    /// The package room.
    pub(crate) package_room: String,
    /// Alice's API token (resident of 4B).
    pub(crate) alice: String,
    /// Mia's API token (manager).
    pub(crate) mia: String,
}

/// The running server and simulator.
pub(crate) struct World {
    /// The server's base URL.
    pub(crate) server_url: String,
    /// The simulated locks.
    pub(crate) sim: Arc<Sim>,
    /// Where the server keeps its database and its delivery log.
    pub(crate) dir: tempfile::TempDir,
    /// The delivery log of emails and text messages.
    pub(crate) delivery_log: PathBuf,
    harness: Option<Harness>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), keyway_server::app::StartError>>>,
}

/// Runs an operator's admin command on the demo's database.
pub(crate) async fn admin(db: &Path, key: &str, args: &[&str]) -> Result<Value, String> {
    let mut argv = vec![
        "admin".to_owned(),
        "--database".to_owned(),
        db.display().to_string(),
        "--data-key".to_owned(),
        key.to_owned(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let cli = AdminCli::try_parse_from(argv).map_err(|e| e.to_string())?;
    keyway_server::admin::execute_json(cli.args).await
}

fn field(value: &Value, name: &str) -> Result<String, String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("admin output lacks `{name}`"))
}

impl World {
    /// A fresh data directory and data key; nothing runs yet.
    pub(crate) fn fresh_dir() -> Result<(tempfile::TempDir, String), String> {
        let dir = tempfile::Builder::new()
            .prefix("keyway-demo")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let key = DataKey::generate_hex().map_err(|e| e.to_string())?;
        Ok((dir, key))
    }

    /// The operator's set-up: the property, its three locks (written to the
    /// provisioning file) and two users.
    pub(crate) async fn set_up(dir: &Path, key: &str) -> Result<Property, String> {
        let db = dir.join("keyway.sqlite");
        let provisioning = dir.join("provisioning.json");
        let provisioning = provisioning.display().to_string();
        admin(
            &db,
            key,
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
        )
        .await?;
        let lock = |name: &'static str, extra: &'static [&'static str]| {
            let db = db.clone();
            let provisioning = provisioning.clone();
            async move {
                let mut args = vec![
                    "lock",
                    "create",
                    "--provisioning",
                    provisioning.as_str(),
                    "--name",
                    name,
                ];
                args.extend_from_slice(extra);
                admin(&db, key, &args).await
            }
        };
        let unit = lock("Unit 4B", &["--unit", "4B"]).await?;
        let entrance = lock("Main entrance", &["--access-point", "community_entrance"]).await?;
        let package = lock("Package room", &["--access-point", "package_room"]).await?;
        let alice = admin(
            &db,
            key,
            &[
                "user", "create", "--name", "Alice", "--role", "resident", "--unit", "4B",
            ],
        )
        .await?;
        let mia = admin(
            &db,
            key,
            &["user", "create", "--name", "Mia", "--role", "manager"],
        )
        .await?;
        Ok(Property {
            unit: field(&unit, "lock_id")?,
            entrance: field(&entrance, "lock_id")?,
            package_room: field(&package, "lock_id")?,
            alice: field(&alice, "token")?,
            mia: field(&mia, "token")?,
        })
    }

    /// Starts the server and the simulator (on the bus at `bus_address`).
    pub(crate) async fn start(
        dir: tempfile::TempDir,
        key: &str,
        property: &Property,
        bus_address: &str,
    ) -> Result<Self, String> {
        let d = dir.path().to_owned();
        let delivery_log = d.join("deliveries.jsonl");
        let db = d.join("keyway.sqlite").display().to_string();
        let log = delivery_log.display().to_string();
        // Every setting is given, so the user's KEYWAY_* variables cannot
        // point the demo elsewhere.
        let serve = ServeCli::try_parse_from([
            "serve",
            "--database",
            db.as_str(),
            "--data-key",
            key,
            "--email-sender",
            "log",
            "--sms-sender",
            "log",
            "--delivery-log",
            log.as_str(),
            "--notify-interval-ms",
            "100",
            "--sweep-interval-secs",
            "5",
        ])
        .map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("cannot listen on a local port: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(keyway_server::app::serve_on(
            serve.args,
            listener,
            async move {
                let _ = stopped.await;
            },
        ));

        let spec = |id: &str, x: f64| -> Result<LockSpec, String> {
            Ok(LockSpec {
                id: id.parse().map_err(|e| format!("lock id: {e}"))?,
                name: None,
                x,
                y: 0.0,
                keypad: None,
                capacity: None,
                // Each lock keeps its own clock, running from the host's time.
                clock: ClockSpec::default(),
            })
        };
        let config = SimConfig {
            provisioning: PathBuf::from("provisioning.json"),
            state_dir: None,
            phone: Position { x: 0.0, y: 0.0 },
            radio: RadioConfig::default(),
            locks: vec![
                spec(&property.unit, UNIT_X)?,
                spec(&property.entrance, ENTRANCE_X)?,
                spec(&property.package_room, PACKAGE_ROOM_X)?,
            ],
        }
        .resolve(&d)
        .map_err(|e| e.to_string())?;
        let harness = Harness::start(bus_address, &config)
            .await
            .map_err(|e| format!("the simulator did not start: {e}"))?;
        let world = Self {
            server_url: format!("http://{address}"),
            sim: harness.sim.clone(),
            dir,
            delivery_log,
            harness: Some(harness),
            stop: Some(stop),
            server: Some(server),
        };
        world.wait_for_server().await?;
        Ok(world)
    }

    async fn wait_for_server(&self) -> Result<(), String> {
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(response) = http
                .get(format!("{}/healthz", self.server_url))
                .send()
                .await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err("the server did not answer /healthz".into())
    }

    /// The phone's Bluetooth: btleplug on this process's (private) system bus.
    pub(crate) async fn bluetooth(&self) -> Result<BleTransport, String> {
        match &self.harness {
            Some(h) => h.transport().await.map_err(|e| e.to_string()),
            None => Err("the simulator is stopped".into()),
        }
    }

    /// Stops the simulator and the server.
    pub(crate) async fn stop(mut self) {
        if let Some(harness) = self.harness.take() {
            harness.shutdown().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// The delivery log's lines (emails and text messages sent so far).
    pub(crate) fn deliveries(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.delivery_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}
