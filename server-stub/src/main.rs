//! `keyway-server`: `serve` runs the HTTP API; `admin` creates properties,
//! locks, users and tokens. See `docs/server.md`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keyway_server::admin::{self, AdminArgs};
use keyway_server::app::{self, ServeArgs};

/// The Keyway server: door codes, locks and package-room access.
#[derive(Debug, Parser)]
#[command(name = "keyway-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the HTTP API until SIGINT or SIGTERM.
    Serve(Box<ServeArgs>),
    /// Creates properties, locks, users and API tokens (no server needed).
    Admin(Box<AdminArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::new().filter_or("KEYWAY_LOG", "info"));
    // The HTTP client's debug lines name the hosts it connects to (webhook
    // receivers, the SMS gateway): kept at info unless asked for by name.
    if !std::env::var("KEYWAY_LOG").is_ok_and(|v| v.contains("reqwest") || v.contains("hyper")) {
        logger
            .filter_module("reqwest", log::LevelFilter::Info)
            .filter_module("hyper_util", log::LevelFilter::Info);
    }
    logger
        .format(|out, record| {
            use std::io::Write;
            let now = jiff::Timestamp::now();
            let now = now.round(jiff::Unit::Millisecond).unwrap_or(now);
            writeln!(
                out,
                "{now} {:5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve(args) => match runtime.block_on(app::serve(*args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                log::error!("{message}");
                ExitCode::FAILURE
            }
        },
        Command::Admin(args) => runtime.block_on(admin::run(*args)),
    }
}
