//! Project automation for Keyway, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask test`: installs what is missing (`.ci/install-deps`), then
//!   formatting, clippy (the workspace with every target), every Rust test under cargo-nextest with the time
//!   limits of `.config/nextest.toml` (the btleplug transport and the
//!   simulator included: they need `dbus-daemon` and `bluetoothctl`), the doc
//!   tests, the harness self-test, the browser tests of the Portal and the
//!   QA bench (Debian's Chromium driven by playwright-core), and the Python, Kotlin and Swift binding tests;
//!   prints each runner's summary and a total. Exits non-zero on any failure.
//!   The server's tests then run a second time against a private PostgreSQL
//!   cluster that xtask starts and removes (see [`pg`]). Last, the mobile
//!   library is built as apps get it and must stay within
//!   [`MOBILE_LIBRARY_BUDGET`].
//! - `cargo xtask faults`: every fault suite (the server killed mid-request on
//!   SQLite and PostgreSQL, the lock's power-loss suites), with more rounds
//!   than `cargo xtask test` runs. A suite is one line in [`FAULT_SUITES`].
//! - `cargo xtask fuzz [SECONDS] [TARGET…]`: every fuzz target (or those
//!   named) for a bounded time, through `fuzz/run.sh` (docs/fuzzing.md).
//! - `cargo xtask pg start [--durable]` / `cargo xtask pg stop`: a private
//!   PostgreSQL cluster for benchmarks and by-hand runs; `start` prints its URL.
//! - `cargo xtask bindings`: builds the mobile library, generates the Kotlin,
//!   Swift and Python bindings into `target/bindings`, and runs the Python,
//!   Kotlin and Swift binding tests, each under `keyway-fixture` (a real
//!   server with a fresh database, a property, and the simulated locks on a
//!   private bus); Swift is compiled and run in a Debian 13 root (see [`swift`]).
//! - `cargo xtask size`: the mobile library's size check alone (in
//!   `cargo xtask test` it is followed by the Python binding tests run again
//!   on that shipped library).
//! - `cargo xtask bench`: the criterion benchmarks behind `docs/performance.md`
//!   (the server's load benchmark is `bench/load.sh`).
//! - `cargo xtask demo`: installs the system packages the demo needs
//!   (`.ci/install-deps --demo`: pkg-config, libdbus-1-dev, dbus), then
//!   `cargo run --release -p keyway-demo` (the demo's own binary,
//!   `tests/demo`; extra arguments such as `--portal` are passed on).
//! - `cargo xtask fresh [--rebuild] [--only WORD]`: the README's two commands
//!   in a minimal Debian 12 root made with debootstrap, as on a new user's
//!   machine; reports each command's time (see [`fresh`], docs/ci.md).
//! - `cargo xtask harness`: the harness self-test alone (a test failing in a
//!   worker thread ends in seconds; a hung test is terminated).
//! - `cargo xtask browser` (or `portal`): the browser tests alone, the
//!   Portal's and the QA bench's (`KEYWAY_PORTAL_SCREENSHOTS=docs/portal`
//!   and `KEYWAY_BENCH_SCREENSHOTS=docs/simulator` write the screenshots of
//!   docs/portal.md and docs/simulator.md).

mod bindings;
mod counting;
mod fresh;
mod pg;
mod swift;

use bindings::*;
use counting::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The variable that points the server's tests at a PostgreSQL server; each
/// test creates its own database there.
const TEST_DATABASE_VAR: &str = "KEYWAY_TEST_DATABASE_URL";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("faults") => faults(),
        Some("harness") => harness_self_test().and_then(|totals| match totals.failed {
            0 => Ok(()),
            n => Err(format!("{n} harness check(s) failed")),
        }),
        Some("browser") | Some("portal") => match browser_tests().failed {
            0 => Ok(()),
            n => Err(format!("{n} browser test(s) failed")),
        },
        Some("pg") => pg_command(&args[1..]),
        Some("fuzz") => run(Command::new(root().join("fuzz/run.sh")).args(&args[1..])),
        Some("bindings") => install().and_then(|()| bindings()).map(|_| ()),
        Some("size") => mobile_library_size().and_then(|check| match check.failed {
            0 => Ok(()),
            _ => Err(check.line),
        }),
        Some("bench") => run(Command::new("cargo").args(["bench", "--workspace"])),
        Some("demo") => demo(&args[1..]),
        Some("fresh") => fresh::fresh(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test|faults|harness|browser|fuzz [SECONDS] [TARGET…]|pg start [--durable]|pg stop|bindings|size|bench|demo|fresh [--rebuild] [--only WORD]>"
            );
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
    install()?;
    step("cargo fmt --check");
    run(Command::new("cargo").args(["fmt", "--all", "--check"]))?;
    step("cargo clippy");
    run(Command::new("cargo").args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("cargo nextest run --workspace");
    // The binaries the end-to-end tests start are the ones this build makes
    // (without it each test process would run its own `cargo build`). The
    // Portal's browser tests are a step of their own, below.
    let rust = run_counting(
        nextest("default")
            .args(["--workspace", "-E", NOT_BROWSER])
            .env("KEYWAY_BIN_DIR", target_dir().join("debug")),
        Stream::Stderr,
        nextest_line,
    )?;
    // nextest does not run doc tests.
    step("cargo test --doc --workspace");
    let doc = run_counting(
        Command::new("cargo").args(["test", "--doc", "--workspace", "--no-fail-fast"]),
        Stream::Stdout,
        libtest_line,
    )?;
    let harness = harness_self_test()?;
    let browser = browser_tests();
    let postgres = server_tests_on_postgres(&[])?;
    let bindings = bindings()?;
    let size = mobile_library_size()?;
    let shipped = shipped_library_tests()?;
    println!("\n==> summary");
    println!(
        "rust: {} passed, {} failed, {} skipped across {} test binaries",
        rust.passed, rust.failed, rust.skipped, rust.binaries
    );
    println!(
        "rust doc tests: {} passed, {} failed, {} ignored across {} libraries",
        doc.passed, doc.failed, doc.skipped, doc.binaries
    );
    println!(
        "harness self-test: {} passed, {} failed",
        harness.passed, harness.failed
    );
    println!(
        "browser tests (Portal and bench): {} passed, {} failed",
        browser.passed, browser.failed
    );
    println!(
        "server on postgresql: {} passed, {} failed, {} skipped across {} test binaries",
        postgres.passed, postgres.failed, postgres.skipped, postgres.binaries
    );
    println!(
        "python bindings: {} passed, {} failed",
        bindings.python.passed, bindings.python.failed
    );
    println!(
        "kotlin bindings: {} passed, {} failed",
        bindings.kotlin.passed, bindings.kotlin.failed
    );
    println!(
        "swift bindings: {} passed, {} failed{}",
        bindings.swift.passed,
        bindings.swift.failed,
        if bindings.swift.skipped > 0 {
            " (skipped: no Swift root on this machine)"
        } else {
            ""
        }
    );
    println!("{}", size.line);
    println!(
        "python bindings on the shipped library: {} passed, {} failed",
        shipped.passed, shipped.failed
    );
    let failed = size.failed
        + shipped.failed
        + rust.failed
        + doc.failed
        + harness.failed
        + browser.failed
        + postgres.failed
        + bindings.python.failed
        + bindings.kotlin.failed
        + bindings.swift.failed;
    if failed > 0 {
        return Err(format!("{failed} test(s) failed"));
    }
    Ok(())
}

/// The nextest filter that leaves out the browser tests (the Portal's and
/// the QA bench's), which run as their own step ([`browser_tests`]).
const NOT_BROWSER: &str = "not binary(/_browser$/)";

/// The browser tests: the Portal's and the QA bench's.
const BROWSER: &str = "binary(/_browser$/)";

/// The browser tests (server-stub/tests/portal_browser.rs: a real server;
/// ble-sim/tests/bench_browser.rs: a real simulator; each with Debian's
/// Chromium driven by playwright-core under `node --test`),
/// through the same runner, their output shown; counted from node's TAP
/// summary (`# pass N`, `# fail N`). A run that fails before the browser
/// starts (no Chromium, no playwright-core) counts as one failure.
fn browser_tests() -> Totals {
    step("browser tests: the Portal and the QA bench (Chromium driven by playwright-core)");
    let started = Instant::now();
    let mut command = nextest("default");
    command.args(["--workspace", "-E", BROWSER, "--no-capture"]);
    let totals = match run_counting(&mut command, Stream::Stdout, tap_line) {
        Ok(totals) if totals.passed + totals.failed > 0 => totals,
        Ok(_) => {
            println!("FAILED: the browser tests reported no summary");
            Totals {
                failed: 1,
                ..Totals::default()
            }
        }
        Err(message) => {
            println!("FAILED: {message}");
            Totals {
                failed: 1,
                ..Totals::default()
            }
        }
    };
    println!(
        "browser tests: {} passed, {} failed in {:.1} s",
        totals.passed,
        totals.failed,
        started.elapsed().as_secs_f64()
    );
    totals
}

/// The variable that arms the harness's own tests (server-stub/tests/harness.rs).
const HARNESS_ARM_VAR: &str = "KEYWAY_HARNESS_SELF_TEST";

/// How long the harness self-test may take in all before it counts as a
/// hang (the runner's time limit did not work).
const HARNESS_LIMIT: Duration = Duration::from_secs(120);

/// The harness self-test: runs the harness's own tests armed, through the
/// same runner and configuration as every other test, and checks that a
/// test failing inside a worker thread ends in seconds as a failure (the
/// shared stop flag works), and that a hung test is terminated by the
/// runner's time limit (`.config/nextest.toml`). One passed or failed check
/// each.
fn harness_self_test() -> Result<Totals, String> {
    step("harness self-test: a test failing in a worker thread, a hung test");
    let started = Instant::now();
    let mut command = nextest("default");
    command
        .args([
            "--workspace",
            "-E",
            "package(keyway-server) & binary(harness)",
        ])
        .env(HARNESS_ARM_VAR, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    // Read on a thread: a hung test would keep the pipe open.
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > HARNESS_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for {command:?}: {e}")),
        }
    };
    let lines: Vec<String> = rx.try_iter().collect();
    let elapsed = started.elapsed().as_secs_f64();
    let outcome = |prefix: &str, test: &str| {
        lines.iter().find_map(|line| {
            let rest = line.trim().strip_prefix(prefix)?;
            line.ends_with(test).then_some(())?;
            let (seconds, _) = rest.trim_start().split_once("s]")?;
            seconds.trim().parse::<f64>().ok()
        })
    };
    let checks = [
        (
            "a test failing in a worker thread ends in seconds, as a failure",
            outcome("FAIL [", "a_failing_worker_ends_its_test").filter(|s| *s < 10.0),
        ),
        (
            "a hung test is terminated by the runner's time limit",
            outcome("TIMEOUT [", "a_hung_test_is_terminated").filter(|s| *s < 15.0),
        ),
    ];
    let mut totals = Totals::default();
    for (what, seconds) in checks {
        match seconds {
            Some(seconds) if status.is_some() => {
                totals.passed += 1;
                println!("ok: {what} ({seconds:.1} s)");
            }
            _ => {
                totals.failed += 1;
                println!("FAILED: {what}");
            }
        }
    }
    match status {
        None => println!(
            "FAILED: the run did not end in {} s and was killed",
            HARNESS_LIMIT.as_secs()
        ),
        Some(status) if status.success() => {
            totals.failed += 1;
            println!("FAILED: the run passed, but both tests fail on purpose");
        }
        Some(_) => {}
    }
    println!(
        "harness self-test: {} passed, {} failed in {elapsed:.1} s",
        totals.passed, totals.failed
    );
    if totals.failed > 0 {
        println!("the self-test run's output:");
        for line in &lines {
            println!("    {line}");
        }
    }
    Ok(totals)
}

/// The README's first command: only what the demo needs, then the demo.
fn demo(extra: &[String]) -> Result<(), String> {
    step(".ci/install-deps --demo");
    run(Command::new(root().join(".ci/install-deps")).arg("--demo"))?;
    step("cargo run --release -p keyway-demo");
    run(Command::new("cargo")
        .args(["run", "--release", "-p", "keyway-demo", "--"])
        .args(extra))
}

/// Runs the server's test suite again against a private PostgreSQL cluster.
fn server_tests_on_postgres(env: &[(&str, &str)]) -> Result<Totals, String> {
    step("server tests on PostgreSQL (private cluster)");
    let cluster = pg::Cluster::start(&format!("test-{}", std::process::id()), false)?;
    println!("cluster: {}", cluster.url());
    let mut command = nextest("default");
    command
        .args(["-p", "keyway-server", "--tests", "-E", NOT_BROWSER])
        .env(TEST_DATABASE_VAR, cluster.url());
    for (key, value) in env {
        command.env(key, value);
    }
    let totals = run_counting(&mut command, Stream::Stderr, nextest_line);
    drop(cluster);
    totals
}

/// A fault suite: what it proves, the `cargo nextest run` arguments that
/// run it (cargo's package and target options, then test-name filters), and
/// whether it runs on PostgreSQL as well as on SQLite.
struct FaultSuite {
    name: &'static str,
    args: &'static [&'static str],
    postgres: bool,
}

/// Every fault suite `cargo xtask faults` runs; adding one is one line.
const FAULT_SUITES: &[FaultSuite] = &[
    FaultSuite {
        name: "server killed (SIGKILL) mid-request, restarted on the same database",
        args: &["-p", "keyway-server", "--test", "faults"],
        postgres: true,
    },
    FaultSuite {
        name: "phone killed (SIGKILL) at every stage of requests, sync and delivery",
        args: &["-p", "keyway-testkit", "--test", "kill"],
        postgres: false,
    },
    FaultSuite {
        name: "network between phone and server cut and restored many times",
        args: &["-p", "keyway-testkit", "--test", "network"],
        postgres: false,
    },
    FaultSuite {
        name: "lock power cut mid-job over the real btleplug (simulator)",
        args: &["-p", "keyway-ble-sim", "--test", "btleplug", "power_cut"],
        postgres: false,
    },
    FaultSuite {
        name: "lock state survives a simulator restart and a power cycle",
        args: &["-p", "keyway-ble-sim", "--test", "persistence"],
        postgres: false,
    },
    FaultSuite {
        name: "lock state file: a staged write changes nothing until committed",
        args: &["-p", "keyway-ble-sim", "--lib", "store::"],
        postgres: false,
    },
];

/// Rounds of the server kill suite under `cargo xtask faults` (the plain
/// test run uses the suite's smaller default).
const FAULT_ROUNDS: &str = "40";

/// Every fault suite, each on every database it applies to.
fn faults() -> Result<(), String> {
    install()?;
    let mut results = Vec::new();
    let mut cluster = None;
    for suite in FAULT_SUITES {
        let mut backends = vec!["sqlite"];
        if suite.postgres {
            backends.push("postgresql");
        }
        for backend in backends {
            // Only the suites that run on both databases name the one in use.
            let label = if suite.postgres {
                format!("{} [{backend}]", suite.name)
            } else {
                suite.name.to_owned()
            };
            step(&label);
            let mut command = nextest("faults");
            command
                .args(suite.args)
                .env("KEYWAY_FAULT_ROUNDS", FAULT_ROUNDS);
            if backend == "postgresql" {
                if cluster.is_none() {
                    cluster = Some(pg::Cluster::start(
                        &format!("faults-{}", std::process::id()),
                        false,
                    )?);
                }
                if let Some(cluster) = &cluster {
                    command.env(TEST_DATABASE_VAR, cluster.url());
                }
            }
            let totals = run_counting(&mut command, Stream::Stderr, nextest_line)?;
            results.push((label, totals));
        }
    }
    drop(cluster);
    println!("\n==> fault suites");
    let mut failed = 0;
    for (label, totals) in &results {
        println!(
            "{:>4} passed {:>3} failed  {label}",
            totals.passed, totals.failed
        );
        if totals.passed == 0 {
            println!("      (no test ran: check the suite's filter)");
        }
        failed += totals.failed + u64::from(totals.passed == 0);
    }
    if failed > 0 {
        return Err(format!("{failed} fault test(s) failed or did not run"));
    }
    Ok(())
}

/// `cargo xtask pg start [--durable]` and `cargo xtask pg stop`.
fn pg_command(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("start") => {
            let durable = args.iter().any(|a| a == "--durable");
            let cluster = pg::Cluster::start("manual", durable)?;
            println!("{}", cluster.url());
            cluster.keep();
            Ok(())
        }
        Some("stop") => {
            drop(pg::Cluster::existing("manual")?);
            Ok(())
        }
        _ => Err("usage: cargo xtask pg start [--durable] | cargo xtask pg stop".into()),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn tools_dir() -> PathBuf {
    std::env::var_os("KEYWAY_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("tools"))
}

fn step(name: &str) {
    println!("\n==> {name}");
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

/// `cargo nextest run` with one of `.config/nextest.toml`'s profiles (each
/// test in its own process, with a time limit), never stopping at the first
/// failure.
fn nextest(profile: &str) -> Command {
    let mut command = Command::new("cargo");
    command.args(["nextest", "run", "--profile", profile, "--no-fail-fast"]);
    command
}
