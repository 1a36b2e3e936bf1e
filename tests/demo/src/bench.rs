//! The QA bench beside the Portal after the story (`--portal`): the demo's
//! own simulated locks in a browser, with a phone core logged in as Alice,
//! so a QA engineer can do each step of the story again by clicking
//! (`docs/simulator.md`, "The demo, by clicking").

use std::sync::Arc;

use keyway_ble_sim::api::Control;
use keyway_ble_sim::bench::{Bench, PhoneCore};
use keyway_testkit::live::LiveWorld;
use tokio::task::JoinHandle;

/// The bench while it serves; it stops when dropped.
pub(crate) struct Served {
    /// Its address.
    pub(crate) url: String,
    server: JoinHandle<()>,
    phone: JoinHandle<()>,
    _phone_dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
        self.phone.abort();
    }
}

/// Why the bench could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    /// Something of the world is missing or failed.
    #[error(transparent)]
    World(#[from] keyway_testkit::KitError),
    /// The phone core could not log in.
    #[error("the phone core: {0}")]
    Phone(#[from] keyway_client::ClientError),
    /// A file or the listener failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Serves the bench on a free local port, with Alice's phone core.
pub(crate) async fn serve(world: &LiveWorld) -> Result<Served, BenchError> {
    let dir = world.dir.path();
    // Recordings name this file, so `keyway-ble-sim run` replays them.
    let config = dir.join("sim.toml");
    let provisioning = dir.join(keyway_testkit::property::Plan::story().provisioning);
    std::fs::write(
        &config,
        keyway_testkit::corridor::sim_toml(&world.property, &provisioning),
    )?;
    let played = world
        .played_server()
        .ok_or(keyway_testkit::KitError::Missing("running simulator"))?;
    let token = world
        .property
        .tokens
        .get("alice")
        .ok_or_else(|| keyway_testkit::KitError::UnknownUser("alice".into()))?;
    let phone_dir = tempfile::tempdir()?;
    let transport = Arc::new(world.bluetooth().await?);
    let phone = PhoneCore::attach(&world.server_url, token, phone_dir.path(), transport).await?;
    let phone_task = phone.run();
    let bench = Bench::new(config, played).with_phone(phone);
    let app = keyway_ble_sim::bench::router(Control::new(world.sim.clone()), Arc::new(bench));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            log::warn!("the bench stopped: {e}");
        }
    });
    Ok(Served {
        url,
        server,
        phone: phone_task,
        _phone_dir: phone_dir,
    })
}
