//! The shipped scenarios pass through the real binary, and a scenario whose
//! expectation fails makes it exit non-zero with a readable report.

use std::path::PathBuf;
use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keyway-ble-sim"))
}

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[test]
fn the_shipped_scenarios_pass() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "scenarios: {files:?}");
    let out = sim().arg("run").args(&files).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report.matches("scenario: ").count(), files.len());
    assert!(!report.contains("FAIL"), "{report}");
}

#[test]
fn a_failed_expectation_exits_non_zero_with_a_report_and_no_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/maple-court.toml");
    let scenario = dir.path().join("wrong.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"
name = "A wrong expectation"
config = "{}"

[[step]]
do = "keypad"
lock = "Unit 4B"
code = "918273"
expect = "granted"

[[step]]
do = "check"
lock = "Unit 4B"
version = 0
"#,
            config.display()
        ),
    )
    .unwrap();
    let out = sim().arg("run").arg(&scenario).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains(
            "FAIL  1. type a 6-digit code on Unit 4B: expected granted, got denied:unknown_code"
        ),
        "{report}"
    );
    assert!(report.contains("ok    2. check Unit 4B"), "{report}");
    assert!(report.contains("1 passed, 1 failed"), "{report}");
    let everything = format!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !everything.contains("918273"),
        "a code leaked: {everything}"
    );
}

#[test]
fn a_malformed_scenario_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.toml");
    std::fs::write(
        &scenario,
        "name = \"x\"\nconfig = \"nowhere.toml\"\n[[step]]\ndo = \"fly\"\n",
    )
    .unwrap();
    let out = sim().arg("run").arg(&scenario).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed scenario"));
}
