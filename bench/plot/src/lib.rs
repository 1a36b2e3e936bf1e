//! The figures of `docs/performance.md`, drawn as SVG from what the
//! benchmarks wrote under `target/bench/results/` (`bench/plot.sh`).
//!
//! - [`results`]: the result files, the command that makes each, their
//!   parsing and the series drawn from them.
//! - [`figures`]: the drawings themselves.
//! - [`draw_all`]: every figure whose results are there, into a directory.

use std::path::{Path, PathBuf};

pub mod figures;
pub mod results;

use results::{BACKENDS, ResultsError};

/// What [`draw_all`] did.
#[derive(Debug, Default)]
pub struct Drawn {
    /// The figures written, with their size in bytes.
    pub written: Vec<(PathBuf, usize)>,
    /// Inputs left out of a figure that was still drawn (one growth
    /// backend of two), each saying which command makes it.
    pub notes: Vec<String>,
    /// Figures not drawn, and why (a missing input names its command).
    pub failed: Vec<String>,
}

/// The growth figure's file name.
pub const SYNC_GROWTH_SVG: &str = "sync-growth.svg";
/// The tap-to-Active figure's file name.
pub const TAP_TO_ACTIVE_SVG: &str = "tap-to-active.svg";
/// The delivery figure's file name.
pub const DELIVERY_SVG: &str = "delivery.svg";

/// Draws every figure whose inputs are in `results` into `out` (created if
/// need be); a figure whose inputs are missing or broken is reported, the
/// others are drawn all the same.
pub fn draw_all(results: &Path, out: &Path) -> Drawn {
    let mut drawn = Drawn::default();
    if let Err(e) = std::fs::create_dir_all(out) {
        drawn
            .failed
            .push(format!("cannot create {}: {e}", out.display()));
        return drawn;
    }
    let write = |name: &str, svg: Result<String, String>, drawn: &mut Drawn| {
        let path = out.join(name);
        match svg.and_then(|svg| {
            std::fs::write(&path, &svg)
                .map(|()| svg.len())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        }) {
            Ok(size) => drawn.written.push((path, size)),
            Err(e) => drawn.failed.push(format!("{name}: {e}")),
        }
    };

    // Sync growth: whichever backends were measured.
    let mut series = Vec::new();
    let mut measured = Vec::new();
    let mut missing = Vec::new();
    for backend in BACKENDS {
        match results::read_growth(results, backend) {
            Ok(lines) => {
                measured.push(format!(
                    "{}: {}",
                    figures::backend_name(backend),
                    results::provenance(lines.iter().map(|l| (l.date.as_str(), l.commit.as_str())))
                ));
                series.extend(results::growth_series(&lines));
            }
            Err(e @ ResultsError::Missing { .. }) => missing.push(e.to_string()),
            Err(e) => drawn.failed.push(format!("{SYNC_GROWTH_SVG}: {e}")),
        }
    }
    if series.is_empty() {
        if !missing.is_empty() {
            drawn
                .failed
                .push(format!("{SYNC_GROWTH_SVG}: {}", missing.join("; ")));
        }
    } else {
        drawn.notes.extend(
            missing
                .into_iter()
                .map(|m| format!("{SYNC_GROWTH_SVG} drawn without it: {m}")),
        );
        write(
            SYNC_GROWTH_SVG,
            figures::sync_growth(&series, &measured),
            &mut drawn,
        );
    }

    match results::read_tap_to_active(results) {
        Ok(tap) => write(TAP_TO_ACTIVE_SVG, figures::tap_to_active(&tap), &mut drawn),
        Err(e) => drawn.failed.push(format!("{TAP_TO_ACTIVE_SVG}: {e}")),
    }
    match results::read_delivery(results) {
        Ok(delivery) => write(DELIVERY_SVG, figures::delivery(&delivery), &mut drawn),
        Err(e) => drawn.failed.push(format!("{DELIVERY_SVG}: {e}")),
    }
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_results_nothing_is_drawn_and_each_figure_says_what_to_run() {
        let results = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let drawn = draw_all(results.path(), out.path());
        assert!(drawn.written.is_empty());
        let failed = drawn.failed.join("\n");
        for command in [
            "`bench/growth.sh sqlite`",
            "`bench/growth.sh postgres`",
            "`cargo bench -p keyway-testkit --bench tap_to_active`",
            "`cargo bench -p keyway-ble-sim --bench delivery`",
        ] {
            assert!(failed.contains(command), "{command} not in:\n{failed}");
        }
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    }

    #[test]
    fn one_backend_is_enough_for_the_growth_figure() {
        let results = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let line = |codes: u64, scenario: &str| {
            format!(
                r#"{{"backend":"sqlite","units":{},"codes":{codes},"scenario":"{scenario}","requests_per_sec":9000.0,"p50_ms":1.5,"p90_ms":2.0,"p99_ms":4.0,"non_2xx":0,"seconds":10,"threads":2,"connections":16,"commit":"abc1234","date":"2026-11-28T13:10:29Z"}}"#,
                codes / 10
            )
        };
        let text = [
            line(1_000, "sync-resident-current"),
            line(10_000, "sync-resident-current"),
            line(1_000, "sync-resident-first"),
        ]
        .join("\n");
        std::fs::write(results.path().join("growth-sqlite.jsonl"), text).unwrap();
        let drawn = draw_all(results.path(), out.path());
        assert_eq!(drawn.written.len(), 1, "{drawn:?}");
        assert_eq!(drawn.written[0].0, out.path().join(SYNC_GROWTH_SVG));
        let svg = std::fs::read_to_string(&drawn.written[0].0).unwrap();
        assert!(svg.contains("SQLite: 2026-11-28, commit abc1234"));
        assert!(!svg.contains("PostgreSQL p50"));
        assert_eq!(drawn.notes.len(), 1);
        assert!(drawn.notes[0].contains("`bench/growth.sh postgres`"));
        // The other two figures still say what makes them.
        assert_eq!(drawn.failed.len(), 2, "{:?}", drawn.failed);
    }
}
