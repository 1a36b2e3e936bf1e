//! `keyway`: the desktop client of Keyway for residents' flows, QA and scripts.
//!
//! Exit codes: 0 success; 1 the request was refused or could not be done (a code
//! that breaks rules, no code left to generate); 2 usage error.

mod code_cmd;
mod context_args;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keyway: door access codes for apartment buildings.
#[derive(Debug, Parser)]
#[command(name = "keyway", version, about, propagate_version = true)]
#[command(after_help = "Exit codes: 0 success, 1 refused or failed, 2 usage error.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check and generate door codes with the policy engine, offline.
    #[command(subcommand)]
    Code(code_cmd::CodeCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Code(command) => command.run(),
    }
}
