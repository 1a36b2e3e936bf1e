//! The QA bench: the simulated building in a browser, served by
//! `keyway-ble-sim serve` on the control API's own address (same binary, no
//! front-end build). It owns the pages (the dashboard and the package
//! room's kiosk), the live updates, the bench's own actions (delivering a
//! code through the phone's real delivery engine), recording a session as a
//! scenario and playing a scenario step by step. Every other click is a
//! request to the control API (`crate::api`), so what the bench does, curl
//! can do, and a recording hears it either way. Guide: `docs/simulator.md`.

mod assets;
mod events;
mod pages;
mod phone;
mod phone_view;
mod playback;
mod views;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use keyway_delivery::ble::BleTransport;
use keyway_delivery::{DeliveryEngine, TransportError};
use tokio::sync::OnceCell;

use crate::api::Control;
use crate::played::PlayedServer;
use crate::scenario::{Player, scenario_delivery_config};

pub use phone::PhoneCore;
pub use playback::Playback;

/// The bench's state beside the control API's.
#[derive(Debug)]
pub struct Bench {
    /// The configuration file the simulator runs (recordings name it).
    config: PathBuf,
    /// The server the bench plays for deliveries (it holds every lock's key).
    played: PlayedServer,
    /// The phone's delivery engine over btleplug, made at the first delivery.
    engine: OnceCell<DeliveryEngine>,
    /// The scenario opened for playing step by step.
    playback: Mutex<Option<Playback>>,
    /// A real phone core attached to a server (`serve --with-server`).
    phone: Option<Arc<PhoneCore>>,
}

impl Bench {
    /// A bench for the simulator started from `config`, playing the server
    /// with `played`.
    pub fn new(config: PathBuf, played: PlayedServer) -> Self {
        Self {
            config,
            played,
            engine: OnceCell::new(),
            playback: Mutex::new(None),
            phone: None,
        }
    }

    /// The bench with a real phone core, whose state the dashboard shows.
    pub fn with_phone(mut self, phone: Arc<PhoneCore>) -> Self {
        self.phone = Some(phone);
        self
    }

    /// The delivery engine (btleplug on this process's system bus, which
    /// `serve` points at the simulated BlueZ).
    async fn engine(&self) -> Result<&DeliveryEngine, TransportError> {
        self.engine
            .get_or_try_init(|| async {
                let transport = BleTransport::new().await?;
                Ok(DeliveryEngine::new(
                    Arc::new(transport),
                    scenario_delivery_config(),
                ))
            })
            .await
    }

    /// A player of scenario steps on `control`'s simulator.
    async fn player<'a>(&'a self, control: &'a Control) -> Result<Player<'a>, TransportError> {
        Ok(Player {
            sim: &control.sim,
            engine: self.engine().await?,
            server: &self.played,
        })
    }

    fn playback(&self) -> std::sync::MutexGuard<'_, Option<Playback>> {
        self.playback.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the bench's handlers share.
#[derive(Debug, Clone)]
struct BenchState {
    control: Control,
    bench: Arc<Bench>,
}

/// The control API and the bench on one router.
pub fn router(control: Control, bench: Arc<Bench>) -> Router {
    let state = BenchState {
        control: control.clone(),
        bench,
    };
    let bench_routes = Router::new()
        .route("/", get(pages::dashboard))
        .route("/kiosk", get(pages::kiosk))
        .route("/bench/fragments/{part}", get(pages::fragment))
        .route("/bench/events", get(events::stream))
        .route("/bench/assets/{file}", get(assets::serve))
        .route("/bench/locks/{lock}/deliver", post(playback::deliver))
        .route("/bench/kiosk/forgot-pin", post(pages::forgot_pin))
        .route("/bench/phone", post(pages::phone_action))
        .route("/bench/phone/backup", post(pages::phone_backup))
        .route("/bench/recording", post(playback::start_recording))
        .route("/bench/recording/stop", post(playback::stop_recording))
        .route("/bench/playback", post(playback::open))
        .route("/bench/playback/next", post(playback::next))
        .with_state(state);
    crate::api::routes()
        .with_state(control)
        .merge(bench_routes)
        .layer(axum::middleware::from_fn(assets::headers))
}
