//! Project automation for Keyway, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask test`: formatting, clippy (the workspace with every target,
//!   then keyway-core's lesser feature sets), then every test in the workspace
//!   (the btleplug transport and the simulator included: they need
//!   `dbus-daemon` and `bluetoothctl`, which `.ci/install-deps` installs);
//!   prints each runner's summary and a total. Exits non-zero on any failure.
//! - `cargo xtask bench`: the criterion benchmarks behind `docs/performance.md`.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("bench") => run("cargo", &["bench", "--workspace"]),
        _ => {
            eprintln!("usage: cargo xtask <test|bench>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Every check CI runs, in the order that fails fastest.
fn test() -> Result<(), String> {
    step("cargo fmt --check");
    run("cargo", &["fmt", "--all", "--check"])?;
    step("cargo clippy");
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The workspace build unifies features (the simulator turns on keyway-core's
    // `ble`), so check the core's other feature sets on their own: the lock side
    // must build without the phone side, and delivery without btleplug.
    for features in ["", "delivery"] {
        step(&format!(
            "cargo clippy -p keyway-core --features '{features}'"
        ));
        run(
            "cargo",
            &[
                "clippy",
                "-p",
                "keyway-core",
                "--no-default-features",
                "--features",
                features,
                "--lib",
                "--",
                "-D",
                "warnings",
            ],
        )?;
    }
    step("cargo test");
    let totals = run_tests(&["test", "--workspace", "--no-fail-fast"])?;
    println!(
        "\nxtask summary: {} passed, {} failed, {} ignored across {} test binaries",
        totals.passed, totals.failed, totals.ignored, totals.binaries
    );
    if totals.failed > 0 {
        return Err(format!("{} test(s) failed", totals.failed));
    }
    Ok(())
}

fn step(name: &str) {
    println!("\n==> {name}");
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
    binaries: u64,
}

/// Runs `cargo <args>`, echoing its output and adding up libtest's
/// `test result:` lines.
fn run_tests(args: &[&str]) -> Result<Totals, String> {
    let mut child = Command::new("cargo")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    let mut totals = Totals::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading test output: {e}"))?;
            println!("{line}");
            if let Some(summary) = line.strip_prefix("test result: ") {
                totals.binaries += 1;
                totals.passed += count(summary, "passed");
                totals.failed += count(summary, "failed");
                totals.ignored += count(summary, "ignored");
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo: {e}"))?;
    if !status.success() && totals.failed == 0 {
        return Err(format!("`cargo {}` failed ({status})", args.join(" ")));
    }
    Ok(totals)
}

/// The number before `label` in a libtest summary (`ok. 5 passed; 0 failed; ...`).
fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .filter_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label)
        })
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}
