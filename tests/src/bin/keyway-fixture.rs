//! `keyway-fixture`: starts the testkit's world as processes
//! (`keyway_testkit::fixture`: the server on a fresh database, Maple Court set
//! up with the typed admin functions, the lock simulator on a private bus, a
//! cuttable network in front of the server), runs one command in it, and
//! tears everything down. The command's exit code is the launcher's.
//!
//! ```sh
//! keyway-fixture [--no-sim] [--json FILE] -- python3 -m pytest tests/
//! ```
//!
//! The command gets `KEYWAY_FIXTURE_JSON` (the file with every id, token and
//! URL), `KEYWAY_SERVER_URL`, `KEYWAY_SIM_URL`, `DBUS_SYSTEM_BUS_ADDRESS`,
//! `KEYWAY_CONTROL_URL`, `KEYWAY_TOKEN_<USER>` and `KEYWAY_LOCK_<NAME>`.
//! `POST $KEYWAY_CONTROL_URL/network/down` cuts the network between phones
//! and the server (connections refused); `/network/up` restores it.

use std::process::{Command, ExitCode};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use keyway_testkit::fixture::{Fixture, FixtureOptions};
use keyway_testkit::netswitch::NetSwitch;

fn usage() -> ExitCode {
    eprintln!("usage: keyway-fixture [--no-sim] [--json FILE] -- COMMAND [ARGS...]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut simulator = true;
    let mut json_out = None;
    let mut command = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--no-sim" => simulator = false,
            "--json" => {
                i += 1;
                match args.get(i) {
                    Some(path) => json_out = Some(path.clone()),
                    None => return usage(),
                }
            }
            "--" => {
                command = Some(args[i + 1..].to_vec());
                break;
            }
            _ => return usage(),
        }
        i += 1;
    }
    let Some(command) = command.filter(|c| !c.is_empty()) else {
        return usage();
    };
    let mut fixture = match Fixture::start(FixtureOptions {
        simulator,
        bus: None,
        phone: None,
    }) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("keyway-fixture: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keyway-fixture: {e}");
            return ExitCode::from(3);
        }
    };
    let net = fixture.net.clone();
    let control = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let app = Router::new()
            .route("/network", get(network_state))
            .route("/network/down", post(network_down))
            .route("/network/up", post(network_up))
            .with_state(net.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok::<_, std::io::Error>(format!("http://{address}"))
    });
    match control {
        Ok(url) => fixture.info.control_url = Some(url),
        Err(e) => {
            eprintln!("keyway-fixture: control API: {e}");
            return ExitCode::from(3);
        }
    }
    let env = match fixture.env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("keyway-fixture: {e}");
            return ExitCode::from(3);
        }
    };
    if let Some(path) = json_out
        && let Err(e) = std::fs::write(
            &path,
            serde_json::to_string_pretty(&fixture.info).unwrap_or_default(),
        )
    {
        eprintln!("keyway-fixture: writing {path}: {e}");
        return ExitCode::from(3);
    }
    let status = Command::new(&command[0])
        .args(&command[1..])
        .envs(env)
        .status();
    drop(fixture);
    runtime.shutdown_background();
    match status {
        Ok(status) => match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("keyway-fixture: cannot run {}: {e}", command[0]);
            ExitCode::from(3)
        }
    }
}

async fn network_state(State(net): State<Arc<NetSwitch>>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"up": net.is_up()}))
}

async fn network_down(State(net): State<Arc<NetSwitch>>) -> axum::Json<serde_json::Value> {
    let switch = net.clone();
    let _ = tokio::task::spawn_blocking(move || switch.set_up(false)).await;
    axum::Json(serde_json::json!({"up": false}))
}

async fn network_up(State(net): State<Arc<NetSwitch>>) -> axum::Json<serde_json::Value> {
    let switch = net.clone();
    let _ = tokio::task::spawn_blocking(move || switch.set_up(true)).await;
    axum::Json(serde_json::json!({"up": true}))
}
