//! `keyway-ble-sim`: simulated Keyway locks for QA.
//!
//! - `keyway-ble-sim serve --config FILE`: runs the locks behind a simulated
//!   BlueZ on a private D-Bus bus (or `--bus ADDRESS`) and the HTTP control
//!   API with the QA bench at `/`; prints the address to export as
//!   `DBUS_SYSTEM_BUS_ADDRESS`. `--with-server URL --token TOKEN` attaches a
//!   resident's phone core that syncs with that server and delivers here.
//! - `keyway-ble-sim run SCENARIO.toml...`: runs scripted scenarios and exits
//!   non-zero with a report when an expectation fails.
//!
//! Exit codes: 0 success, 1 a scenario step failed, 2 bad usage or
//! configuration, 3 the bus, BlueZ or HTTP server could not start.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use keyway_ble_sim::api::Control;
use keyway_ble_sim::bench::{Bench, PhoneCore};
use keyway_ble_sim::bus::PrivateBus;
use keyway_ble_sim::config::SimConfig;
use keyway_ble_sim::harness::{self, Harness};
use keyway_ble_sim::scenario::{self, Scenario};

#[derive(Parser)]
#[command(
    name = "keyway-ble-sim",
    version,
    about = "Simulated Keyway locks for QA"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the locks of a configuration until interrupted.
    Serve {
        /// The simulator configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Serve on this D-Bus bus instead of starting a private one.
        #[arg(long, env = "KEYWAY_SIM_BUS")]
        bus: Option<String>,
        /// Where the control API listens.
        #[arg(long, default_value = "127.0.0.1:7878")]
        http: SocketAddr,
        /// Keep lock state here (overrides the configuration's `state_dir`).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Attach a resident's phone core that syncs with this keyway-server
        /// and delivers to the simulated locks (the bench shows it).
        #[command(flatten)]
        phone: PhoneArgs,
    },
    /// Run scenario files and report every step.
    Run {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
}

/// The bench's phone core.
#[derive(clap::Args, Clone)]
struct PhoneArgs {
    /// The keyway-server the phone core talks to.
    #[arg(long = "with-server", requires = "token")]
    server: Option<String>,
    /// The resident's API token (an operator issues it).
    #[arg(long, env = "KEYWAY_SIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The phone core's data directory (default: a temporary one).
    #[arg(long)]
    phone_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` narrates what the locks do; `run` keeps to its report.
    let default = match cli.command {
        Command::Serve { .. } => "keyway_ble_sim=info,keyway_delivery=info",
        Command::Run { .. } => "warn",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format(|out, record| {
            use std::io::Write;
            writeln!(
                out,
                "[{} {} {}] {}",
                jiff::Timestamp::now()
                    .round(jiff::Unit::Millisecond)
                    .unwrap_or_else(|_| jiff::Timestamp::now()),
                record.level(),
                record.target(),
                record.args()
            )
        })
        .init();
    match cli.command {
        Command::Serve {
            config,
            bus,
            http,
            state_dir,
            phone,
        } => serve(config, bus, http, state_dir, phone),
        Command::Run { scenarios } => run(scenarios),
    }
}

fn serve(
    config: PathBuf,
    bus: Option<String>,
    http: SocketAddr,
    state_dir: Option<PathBuf>,
    phone: PhoneArgs,
) -> ExitCode {
    let mut resolved = match SimConfig::load(&config) {
        Ok(resolved) => resolved,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            return ExitCode::from(2);
        }
    };
    if state_dir.is_some() {
        resolved.state_dir = state_dir;
    }
    // Start our own bus before any thread, unless given one.
    let private = match &bus {
        Some(_) => None,
        None => match PrivateBus::start() {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("error [bus_unavailable]: {e}");
                return ExitCode::from(3);
            }
        },
    };
    let address = bus.unwrap_or_else(|| {
        private
            .as_ref()
            .map(|b| b.address().to_owned())
            .unwrap_or_default()
    });
    // The bench's deliveries go through btleplug, which reads the system
    // bus's address once: point it at the simulated BlueZ before any thread.
    harness::set_system_bus_address(&address);
    let config = std::path::absolute(&config).unwrap_or(config);
    let runtime = match harness::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error [runtime]: {e}");
            return ExitCode::from(3);
        }
    };
    runtime.block_on(async move {
        let h = match Harness::start(&address, &resolved).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error [sim_unavailable]: {e}");
                return ExitCode::from(3);
            }
        };
        let listener = match tokio::net::TcpListener::bind(http).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error [http_unavailable]: cannot listen on {http}: {e}");
                return ExitCode::from(3);
            }
        };
        let bound = listener.local_addr().unwrap_or(http);
        println!(
            "keyway-ble-sim: {} lock(s) served as org.bluez (adapter hci0)",
            h.sim.lock_ids().len()
        );
        for (id, name) in h.sim.lock_ids() {
            println!("  {id}  {name}");
        }
        println!("export DBUS_SYSTEM_BUS_ADDRESS='{address}'");
        println!("control API: http://{bound}");
        println!("bench: http://{bound}/ (the package room's kiosk: http://{bound}/kiosk)");
        let control = Control::new(h.sim.clone());
        let mut bench = Bench::new(config, h.played_server());
        let _phone_dir;
        if let (Some(server), Some(token)) = (&phone.server, &phone.token) {
            let dir = match &phone.phone_dir {
                Some(dir) => dir.clone(),
                None => match tempfile::tempdir() {
                    Ok(temp) => {
                        let path = temp.path().to_owned();
                        _phone_dir = temp;
                        path
                    }
                    Err(e) => {
                        eprintln!("error [phone_unavailable]: {e}");
                        return ExitCode::from(3);
                    }
                },
            };
            match attach_phone(&h, server, token, &dir).await {
                Ok(core) => {
                    core.run();
                    bench = bench.with_phone(core);
                }
                Err(code) => return code,
            }
        }
        let bench = Arc::new(bench);
        let app = keyway_ble_sim::bench::router(control, bench);
        let server = axum::serve(listener, app).with_graceful_shutdown(shutdown());
        if let Err(e) = server.await {
            eprintln!("error [http_failed]: {e}");
            return ExitCode::from(3);
        }
        h.shutdown().await;
        // Whoever started us may have stopped reading: never panic on it.
        let _ = writeln!(std::io::stdout(), "keyway-ble-sim: stopped");
        ExitCode::SUCCESS
    })
}

/// The bench's phone core, logged in; prints why not (never the token).
async fn attach_phone(
    h: &Harness,
    server: &str,
    token: &str,
    dir: &std::path::Path,
) -> Result<Arc<PhoneCore>, ExitCode> {
    let transport = match h.transport().await {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            return Err(ExitCode::from(3));
        }
    };
    match PhoneCore::attach(server, token, dir, transport).await {
        Ok(core) => {
            let _ = writeln!(
                std::io::stdout(),
                "phone core: logged in to {server}, delivering in range"
            );
            Ok(core)
        }
        Err(e) => {
            eprintln!("error [{}]: the phone core cannot log in: {e}", e.code());
            Err(ExitCode::from(3))
        }
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn run(paths: Vec<PathBuf>) -> ExitCode {
    let mut loaded = Vec::new();
    for path in &paths {
        match Scenario::load(path) {
            Ok(s) => loaded.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    // libdbus keeps the first system bus address it sees: set it first.
    let bus = match harness::system_bus() {
        Ok(bus) => bus,
        Err(e) => {
            eprintln!("error [bus_unavailable]: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = match harness::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error [runtime]: {e}");
            return ExitCode::from(3);
        }
    };
    let failed = runtime.block_on(async {
        let mut failed = 0;
        for (scenario, config) in &loaded {
            let h = match Harness::start(bus.address(), config).await {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error [sim_unavailable]: {e}");
                    return None;
                }
            };
            let transport = match h.transport().await {
                Ok(t) => Arc::new(t),
                Err(e) => {
                    eprintln!("error [{}]: {e}", e.code());
                    return None;
                }
            };
            let report = scenario::run(scenario, &h, transport).await;
            print!("{report}");
            if !report.passed() {
                failed += 1;
            }
            h.shutdown().await;
        }
        Some(failed)
    });
    match failed {
        Some(0) => ExitCode::SUCCESS,
        Some(n) => {
            eprintln!("{n} scenario(s) failed");
            ExitCode::FAILURE
        }
        None => ExitCode::from(3),
    }
}
