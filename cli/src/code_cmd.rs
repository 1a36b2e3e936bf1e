//! `keyway code check` and `keyway code generate`: the policy engine on the
//! command line, with no server involved.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use keyway_codes::code::{Code, FormatError};
use keyway_codes::{generate_distinct, secure_rng};
use serde::Serialize;

use crate::context_args::ContextArgs;
use crate::output::{Failure, REFUSED, ReportedViolation, SUCCESS, print_json};

/// Codes, offline.
#[derive(Debug, Subcommand)]
pub(crate) enum CodeCommand {
    /// Check a code against every rule; exit 0 if acceptable, 1 if not.
    Check(CheckArgs),
    /// Generate codes that pass every rule, one a line.
    Generate(GenerateArgs),
}

/// Options of `keyway code check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The code to check.
    code: String,
    #[command(flatten)]
    context: ContextArgs,
}

/// Options of `keyway code generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    #[command(flatten)]
    context: ContextArgs,
    /// How many distinct codes to generate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,
}

/// The JSON answer of `keyway code check`.
#[derive(Debug, Serialize)]
struct CheckReport {
    ok: bool,
    violations: Vec<ReportedViolation>,
}

impl CodeCommand {
    /// Runs the subcommand and returns the process exit code. With `json`,
    /// `check` prints `{"ok": bool, "violations": [{"rule", "message"}]}` and
    /// `generate` a JSON array of codes.
    pub(crate) fn run(self, json: bool) -> ExitCode {
        match self {
            Self::Check(args) => check(args, json),
            Self::Generate(args) => generate(args, json),
        }
    }
}

fn check(args: CheckArgs, json: bool) -> ExitCode {
    let violations: Vec<ReportedViolation> = match Code::parse(&args.code) {
        Err(error) => vec![ReportedViolation {
            rule: FormatError::CODE,
            message: error.to_string(),
        }],
        Ok(code) => match args.context.context().check(&code) {
            Ok(()) => Vec::new(),
            Err(rejection) => rejection.violations.iter().map(Into::into).collect(),
        },
    };
    let ok = violations.is_empty();
    if json {
        print_json(&CheckReport { ok, violations });
    } else if ok {
        println!("{} is acceptable.", args.code);
    } else {
        println!("Refused: {} rule(s) broken.", violations.len());
        let width = violations.iter().map(|v| v.rule.len()).max().unwrap_or(0);
        for v in &violations {
            println!("  {:width$}  {}", v.rule, v.message);
        }
    }
    ExitCode::from(if ok { SUCCESS } else { REFUSED })
}

fn generate(args: GenerateArgs, json: bool) -> ExitCode {
    let ctx = args.context.context();
    let codes =
        secure_rng().and_then(|mut rng| generate_distinct(&ctx, args.count as usize, &mut rng));
    match codes {
        Ok(codes) => {
            if json {
                print_json(&codes);
            } else {
                for code in &codes {
                    println!("{}", code.as_str());
                }
            }
            ExitCode::from(SUCCESS)
        }
        Err(error) => Failure::new(error.code(), error.to_string()).report(json),
    }
}
