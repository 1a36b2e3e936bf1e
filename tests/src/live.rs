//! A world inside this process: the Keyway server (its library, on a free
//! local port, with the Portal at `/`) on a SQLite file in a temporary
//! directory, Maple Court set up with the typed admin functions, and the
//! lock simulator (its library) serving the property's locks as BlueZ
//! devices on a D-Bus bus. The demo plays its story in one.
//!
//! libdbus (under btleplug) reads `DBUS_SYSTEM_BUS_ADDRESS` once per
//! process: make the bus this process's system bus before any thread starts
//! (`keyway_ble_sim::harness::set_system_bus_address`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keyway_ble_sim::Sim;
use keyway_ble_sim::harness::Harness;
use keyway_delivery::ble::BleTransport;
use keyway_server::app::{ServeArgs, StartError};
use keyway_server::notify::NotifySettings;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::database::TestDb;
use crate::error::{KitError, KitResult};
use crate::property::{self, Plan, Property};

/// The delivery log's file name in the world's directory.
const DELIVERY_LOG: &str = "keyway-deliveries.jsonl";

/// The running server and simulator.
pub struct LiveWorld {
    /// The server's base URL (the API under `/v1`, the Portal at `/`).
    pub server_url: String,
    /// The property.
    pub property: Property,
    /// The simulated locks.
    pub sim: Arc<Sim>,
    /// Where the server keeps its database and its delivery log.
    pub dir: tempfile::TempDir,
    harness: Option<Harness>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), StartError>>>,
}

impl std::fmt::Debug for LiveWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveWorld")
            .field("server_url", &self.server_url)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// The server's settings: every one given, so the user's `KEYWAY_*`
/// variables cannot point the world elsewhere.
fn serve_args(dir: &Path, db: &TestDb) -> ServeArgs {
    ServeArgs {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        db: db.db_args(),
        notify: NotifySettings {
            email_sender: "log".to_owned(),
            sms_sender: "log".to_owned(),
            delivery_log: dir.join(DELIVERY_LOG),
            smtp_url: None,
            email_from: "Keyway <no-reply@keyway.invalid>".to_owned(),
            sms_gateway_url: None,
            sms_gateway_token: None,
            notify_interval_ms: 100,
            notify_max_attempts: 8,
            notify_backoff_secs: 1,
        },
        webhooks: keyway_server::webhooks::WebhookSettings::default(),
        sweep_interval_secs: 5,
        trusted_proxies: Vec::new(),
    }
}

impl LiveWorld {
    /// Sets up the property as `plan` says, then starts the server and the
    /// simulator (on the bus at `bus_address`).
    pub async fn start(bus_address: &str, plan: &Plan) -> KitResult<Self> {
        let dir = tempfile::Builder::new()
            .prefix("keyway-world")
            .tempdir()
            .map_err(|e| KitError::file("create", std::env::temp_dir(), e))?;
        let d = dir.path().to_owned();
        let db = TestDb::sqlite(&d);
        let store = db.open().await?;
        let set_up = property::set_up(&store, &d, plan).await;
        store.close().await;
        let property = set_up?;

        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(KitError::Listen)?;
        let address = listener.local_addr().map_err(KitError::Listen)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(keyway_server::app::serve_on(
            serve_args(&d, &db),
            listener,
            async move {
                // A dropped sender stops the server as a sent stop does.
                let _ = stopped.await;
            },
        ));
        let config = crate::corridor::sim_config(&property, &d, &plan.provisioning)?;
        let harness = match Harness::start(bus_address, &config).await {
            Ok(harness) => harness,
            Err(e) => {
                let _ = stop.send(());
                let _ = server.await;
                return Err(e.into());
            }
        };
        let world = Self {
            server_url: format!("http://{address}"),
            property,
            sim: harness.sim.clone(),
            dir,
            harness: Some(harness),
            stop: Some(stop),
            server: Some(server),
        };
        world.wait_for_server().await?;
        Ok(world)
    }

    async fn wait_for_server(&self) -> KitResult<()> {
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
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(KitError::NotReady("the server"))
    }

    /// The phone's Bluetooth: btleplug on this process's system bus.
    pub async fn bluetooth(&self) -> KitResult<BleTransport> {
        match &self.harness {
            Some(h) => Ok(h.transport().await?),
            None => Err(KitError::Missing("running simulator")),
        }
    }

    /// A server played in process with every lock's key, for the bench's
    /// own deliveries (`keyway_ble_sim::bench`).
    pub fn played_server(&self) -> Option<keyway_ble_sim::played::PlayedServer> {
        self.harness.as_ref().map(Harness::played_server)
    }

    /// The delivery log (emails and text messages sent so far).
    pub fn delivery_log(&self) -> PathBuf {
        self.dir.path().join(DELIVERY_LOG)
    }

    /// The delivery log's lines, each a JSON object.
    pub fn deliveries(&self) -> Vec<Value> {
        std::fs::read_to_string(self.delivery_log())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Stops the simulator and the server.
    pub async fn stop(mut self) {
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
}
