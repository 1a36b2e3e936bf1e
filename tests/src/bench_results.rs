//! Where the benchmarks leave their figures for `bench/plot.sh`: one JSON
//! file per series under `target/bench/results/` (or `KEYWAY_BENCH_RESULTS`),
//! each stamped with the date and the commit it was measured on. The
//! tap-to-Active benchmark (`tests/benches`) and the delivery benchmark
//! (`ble-sim/benches`) write through it; `bench/load.sh` writes its JSON
//! lines beside them.

use std::path::{Path, PathBuf};

/// Names a directory that replaces `target/bench/results`.
pub const RESULTS_ENV: &str = "KEYWAY_BENCH_RESULTS";

/// The results directory: `KEYWAY_BENCH_RESULTS` when set, else
/// `bench/results` in the target directory that holds `target_tmpdir`
/// (a benchmark passes `env!("CARGO_TARGET_TMPDIR")`, `<target>/tmp`).
pub fn results_dir(target_tmpdir: &Path) -> PathBuf {
    match std::env::var_os(RESULTS_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => target_tmpdir
            .parent()
            .unwrap_or(target_tmpdir)
            .join("bench")
            .join("results"),
    }
}

/// The commit the working tree is at (`git describe --always --dirty`, so a
/// measurement of uncommitted changes says so), or `unknown` outside git.
pub fn commit() -> String {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Now, in UTC to the second (`2026-11-28T12:00:00Z`).
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

/// Writes one series, `value` with `date` and `commit` added, as
/// `<dir>/<file>` (replacing the previous run's), and returns its path.
pub fn write(dir: &Path, file: &str, mut value: serde_json::Value) -> std::io::Result<PathBuf> {
    if let Some(object) = value.as_object_mut() {
        object.insert("date".into(), now().into());
        object.insert("commit".into(), commit().into());
    }
    std::fs::create_dir_all(dir)?;
    let path = dir.join(file);
    let mut text = serde_json::to_string_pretty(&value).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_live_beside_the_target_tmpdir() {
        // The variable is read, never set, here: tests share the process.
        if std::env::var_os(RESULTS_ENV).is_none() {
            assert_eq!(
                results_dir(Path::new("/w/target/tmp")),
                Path::new("/w/target/bench/results")
            );
        }
    }

    #[test]
    fn a_series_carries_its_date_and_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "s.json", serde_json::json!({ "runs": 3 })).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["runs"], 3);
        assert!(back["date"].as_str().unwrap().ends_with('Z'), "{back}");
        assert!(!back["commit"].as_str().unwrap().is_empty());
    }
}
