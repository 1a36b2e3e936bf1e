//! `keyway`: the desktop client of Keyway for residents' flows, QA and
//! scripts, on the same phone core the mobile apps use, and the offline
//! policy tools. It links neither the server nor the lock simulator: the
//! demo of the whole story is its own binary, `keyway-demo` (`cargo xtask
//! demo`).
//!
//! Exit codes: 0 success; 1 refused or failed (a code that breaks rules, a
//! refusal by the server); 2 usage error;
//! 3 not logged in, or the server refused this computer's credentials;
//! 4 the server could not be reached (queued requests stay queued);
//! 5 Bluetooth is unavailable. `docs/cli.md` documents every command.

mod client_cmd;
mod code_cmd;
mod context_args;
mod output;
mod render;
mod settings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keyway: door access codes for apartment buildings.
#[derive(Debug, Parser)]
#[command(name = "keyway", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 refused or failed, 2 usage error, 3 not logged in, 4 server unreachable, 5 Bluetooth unavailable."
)]
struct Cli {
    #[command(flatten)]
    global: settings::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Client(client_cmd::ClientCommand),
    /// Check and generate door codes with the policy engine, offline (no
    /// server, no login).
    #[command(subcommand)]
    Code(code_cmd::CodeCommand),
    /// The demo moved to its own binary: says so (exit code 2).
    #[command(hide = true)]
    Demo {
        /// Whatever was given after `demo`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, warnings only unless KEYWAY_LOG says otherwise; no
    // log line carries a code, a key or a token.
    env_logger::Builder::from_env(env_logger::Env::new().filter_or("KEYWAY_LOG", "warn")).init();
    quiet_known_btleplug_panic();
    match cli.command {
        Command::Code(command) => command.run(cli.global.json),
        Command::Client(command) => client_cmd::run(command, &cli.global),
        Command::Demo { .. } => output::Failure::usage(
            "demo_moved",
            "the demo is its own binary now: run `cargo xtask demo` (or `keyway-demo`)",
        )
        .report(cli.global.json),
    }
}

/// bluez-async 0.9 (under btleplug) unwraps the removal of a D-Bus match rule
/// in a task it spawns when an event stream is dropped; when D-Bus answers
/// "No match with that id found" that task panics. Nothing depends on it
/// (the stream is gone either way), so its panic is logged at debug level
/// instead of printing a backtrace into the client's output. Every other
/// panic goes to the default hook.
fn quiet_known_btleplug_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let known = info.location().is_some_and(|l| {
            l.file().contains("bluez-async") && l.file().ends_with("messagestream.rs")
        });
        if known {
            log::debug!("ignored a panic in bluez-async's match-rule cleanup: {info}");
        } else {
            default(info);
        }
    }));
}
