//! The benchmarks' result files and the series drawn from them. Owns the
//! file names under `target/bench/results/`, the command that makes each,
//! their parsing and the grouping into plotted series; nothing here draws.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `bench/growth.sh BACKEND`'s series: JSON lines, one per size and scenario.
pub fn growth_file(backend: &str) -> String {
    format!("growth-{backend}.jsonl")
}

/// The tap-to-Active benchmark's samples.
pub const TAP_TO_ACTIVE_FILE: &str = "tap-to-active.json";

/// The delivery benchmark's rows.
pub const DELIVERY_FILE: &str = "delivery.json";

/// The backends `bench/growth.sh` measures, in the order figures show them.
pub const BACKENDS: [&str; 2] = ["sqlite", "postgres"];

/// The command that makes `file` (one of the names above).
pub fn command_for(file: &str) -> String {
    match file {
        TAP_TO_ACTIVE_FILE => "cargo bench -p keyway-testkit --bench tap_to_active".to_owned(),
        DELIVERY_FILE => "cargo bench -p keyway-ble-sim --bench delivery".to_owned(),
        _ => match file
            .strip_prefix("growth-")
            .and_then(|f| f.strip_suffix(".jsonl"))
        {
            Some(backend) => format!("bench/growth.sh {backend}"),
            None => format!("(no benchmark writes {file})"),
        },
    }
}

/// Why a series could not be read.
#[derive(Debug)]
pub enum ResultsError {
    /// The file is not there: its benchmark has not run (into this directory).
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// The benchmark command that writes it.
        command: String,
    },
    /// The file is there but could not be read or parsed.
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line (1-based) for JSON lines, else `None`.
        line: Option<usize>,
        /// What was wrong.
        reason: String,
    },
}

impl fmt::Display for ResultsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { path, command } => {
                write!(f, "{} is missing: `{command}` makes it", path.display())
            }
            Self::Invalid {
                path,
                line: Some(line),
                reason,
            } => write!(f, "{} line {line}: {reason}", path.display()),
            Self::Invalid {
                path,
                line: None,
                reason,
            } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for ResultsError {}

fn read(dir: &Path, file: &str) -> Result<(PathBuf, String), ResultsError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path, text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ResultsError::Missing {
            path,
            command: command_for(file),
        }),
        Err(e) => Err(ResultsError::Invalid {
            path,
            line: None,
            reason: e.to_string(),
        }),
    }
}

/// One scenario of `bench/load.sh` at one database size (one JSON line).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LoadLine {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Units in the seeded property.
    pub units: u64,
    /// Codes in the seeded property.
    pub codes: u64,
    /// The wrk scenario (`sync-resident-current`, …).
    pub scenario: String,
    /// Requests a second; `None` when wrk printed none.
    pub requests_per_sec: Option<f64>,
    /// Median latency, milliseconds.
    pub p50_ms: Option<f64>,
    /// 90th percentile latency, milliseconds.
    pub p90_ms: Option<f64>,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: Option<f64>,
    /// Responses that were not 2xx.
    #[serde(default)]
    pub non_2xx: u64,
    /// The commit measured (`git describe --always --dirty`).
    pub commit: String,
    /// When, UTC.
    pub date: String,
}

/// Parses JSON lines (blank lines skipped); `path` only names errors.
pub fn parse_load_lines(path: &Path, text: &str) -> Result<Vec<LoadLine>, ResultsError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| ResultsError::Invalid {
                path: path.to_owned(),
                line: Some(i + 1),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Reads `growth-BACKEND.jsonl` from `dir`.
pub fn read_growth(dir: &Path, backend: &str) -> Result<Vec<LoadLine>, ResultsError> {
    let (path, text) = read(dir, &growth_file(backend))?;
    let lines = parse_load_lines(&path, &text)?;
    if lines.is_empty() {
        return Err(ResultsError::Invalid {
            path,
            line: None,
            reason: format!(
                "no measurement in it (did `{}` stop early?)",
                command_for(&growth_file(backend))
            ),
        });
    }
    Ok(lines)
}

/// One size of a growth series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrowthPoint {
    /// Codes in the database.
    pub codes: u64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
}

/// One backend's latency for one scenario as the database grows.
#[derive(Debug, Clone, PartialEq)]
pub struct GrowthSeries {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The scenario.
    pub scenario: String,
    /// By growing size; one point a size (the last line measured wins).
    pub points: Vec<GrowthPoint>,
}

/// Groups lines by backend and scenario (in the order first seen), each
/// sorted by size. Lines without both latencies are left out.
pub fn growth_series(lines: &[LoadLine]) -> Vec<GrowthSeries> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut by: BTreeMap<(String, String), BTreeMap<u64, GrowthPoint>> = BTreeMap::new();
    for line in lines {
        let (Some(p50_ms), Some(p99_ms)) = (line.p50_ms, line.p99_ms) else {
            continue;
        };
        let key = (line.backend.clone(), line.scenario.clone());
        if !by.contains_key(&key) {
            order.push(key.clone());
        }
        by.entry(key).or_default().insert(
            line.codes,
            GrowthPoint {
                codes: line.codes,
                p50_ms,
                p99_ms,
            },
        );
    }
    order
        .into_iter()
        .map(|key| {
            let points = by.remove(&key).unwrap_or_default().into_values().collect();
            GrowthSeries {
                backend: key.0,
                scenario: key.1,
                points,
            }
        })
        .collect()
}

/// Where and when a series was measured: its distinct dates (the day only)
/// and commits, in the order first seen, as `2026-11-28, commit abc1234`.
pub fn provenance<'a>(stamps: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut days: Vec<&str> = Vec::new();
    let mut commits: Vec<&str> = Vec::new();
    for (date, commit) in stamps {
        let day = date.get(..10).unwrap_or(date);
        if !days.contains(&day) {
            days.push(day);
        }
        if !commits.contains(&commit) {
            commits.push(commit);
        }
    }
    let plural = if commits.len() > 1 {
        "commits"
    } else {
        "commit"
    };
    format!("{}, {plural} {}", days.join(" to "), commits.join(", "))
}

/// One quantity of the tap-to-Active benchmark: every run and its summary.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Samples {
    /// Each run's time in run order, milliseconds.
    pub samples_ms: Vec<f64>,
    /// The median, milliseconds (the benchmark's own rounding of ranks).
    pub median_ms: f64,
    /// The 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// The slowest run, milliseconds.
    pub max_ms: f64,
}

/// `tap-to-active.json`: the runs and their conditions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TapToActive {
    /// Runs measured.
    pub runs: usize,
    /// The simulated radio's connection interval, milliseconds.
    pub connection_interval_ms: f64,
    /// The simulated link's MTU.
    pub mtu: u16,
    /// From the tap to the receipt settled on the server.
    pub tap_to_active: Samples,
    /// From the tap to the server's answer (Pending).
    pub request: Samples,
    /// From Pending to Active (a delivery round).
    pub delivery: Samples,
    /// The commit measured.
    pub commit: String,
    /// When, UTC.
    pub date: String,
}

/// Reads `tap-to-active.json` from `dir`.
pub fn read_tap_to_active(dir: &Path) -> Result<TapToActive, ResultsError> {
    let (path, text) = read(dir, TAP_TO_ACTIVE_FILE)?;
    let parsed: TapToActive = parse_json(&path, &text)?;
    if parsed.tap_to_active.samples_ms.is_empty() {
        return Err(ResultsError::Invalid {
            path,
            line: None,
            reason: "no sample in it".into(),
        });
    }
    Ok(parsed)
}

/// The empirical distribution: samples sorted, each with the share of runs
/// at or under it (0 to 1].
pub fn cdf(samples: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, v)| (v, (i + 1) as f64 / n))
        .collect()
}

/// How changes travel in the delivery benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Pattern {
    /// Keyway's visit: one status, every change in one sealed job.
    #[serde(rename = "visit")]
    Visit,
    /// A challenge, one command and its status, for each change.
    #[serde(rename = "per-op")]
    PerOp,
}

impl Pattern {
    /// The figure's name for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Visit => "a visit (Keyway)",
            Self::PerOp => "per-op challenge-response",
        }
    }
}

/// One row of the delivery benchmark.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeliveryRow {
    /// How the changes travelled.
    pub pattern: Pattern,
    /// The link's MTU.
    pub mtu: u16,
    /// Changes delivered.
    pub changes: u64,
    /// Request/response exchanges.
    pub round_trips: u64,
    /// Frames written by the phone.
    pub frames_up: u64,
    /// Frames notified by the lock.
    pub frames_down: u64,
    /// Bytes written by the phone.
    pub bytes_up: u64,
    /// Bytes notified by the lock.
    pub bytes_down: u64,
    /// Simulated air time, milliseconds.
    pub air_time_ms: f64,
    /// This machine's wall time, milliseconds (median of the repeats).
    pub wall_ms: f64,
}

/// `delivery.json`: the rows and their conditions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Delivery {
    /// The simulated radio's connection interval, milliseconds.
    pub connection_interval_ms: f64,
    /// Repeats behind each wall time.
    pub repeats: usize,
    /// One per pattern, MTU and number of changes.
    pub rows: Vec<DeliveryRow>,
    /// The commit measured.
    pub commit: String,
    /// When, UTC.
    pub date: String,
}

/// Reads `delivery.json` from `dir`.
pub fn read_delivery(dir: &Path) -> Result<Delivery, ResultsError> {
    let (path, text) = read(dir, DELIVERY_FILE)?;
    let parsed: Delivery = parse_json(&path, &text)?;
    if parsed.rows.is_empty() {
        return Err(ResultsError::Invalid {
            path,
            line: None,
            reason: "no row in it".into(),
        });
    }
    Ok(parsed)
}

/// One pattern at one MTU, by number of changes.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySeries {
    /// How the changes travelled.
    pub pattern: Pattern,
    /// The link's MTU.
    pub mtu: u16,
    /// The rows, by growing number of changes.
    pub rows: Vec<DeliveryRow>,
}

/// Groups rows by pattern then MTU (visits first, smaller MTU first), each
/// sorted by number of changes.
pub fn delivery_series(rows: &[DeliveryRow]) -> Vec<DeliverySeries> {
    let mut by: BTreeMap<(Pattern, u16), Vec<DeliveryRow>> = BTreeMap::new();
    for row in rows {
        by.entry((row.pattern, row.mtu))
            .or_default()
            .push(row.clone());
    }
    by.into_iter()
        .map(|((pattern, mtu), mut rows)| {
            rows.sort_by_key(|r| r.changes);
            DeliverySeries { pattern, mtu, rows }
        })
        .collect()
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ResultsError> {
    serde_json::from_str(text).map_err(|e| ResultsError::Invalid {
        path: path.to_owned(),
        line: Some(e.line()),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(backend: &str, codes: u64, scenario: &str, p50: f64, p99: f64) -> String {
        format!(
            r#"{{"backend":"{backend}","units":{},"codes":{codes},"scenario":"{scenario}","requests_per_sec":1000.5,"p50_ms":{p50},"p90_ms":{p99},"p99_ms":{p99},"non_2xx":0,"seconds":10,"threads":2,"connections":16,"commit":"abc1234","date":"2026-11-28T13:10:29Z"}}"#,
            codes / 10
        )
    }

    #[test]
    fn load_lines_parse_as_load_sh_writes_them() {
        let text = format!(
            "{}\n\n{}\n",
            line("sqlite", 1000, "sync-resident-current", 1.2, 5.3),
            r#"{"backend":"sqlite","units":10,"codes":100,"scenario":"create-guest","requests_per_sec":null,"p50_ms":null,"p90_ms":null,"p99_ms":null,"non_2xx":3,"seconds":2,"threads":2,"connections":16,"commit":"abc-dirty","date":"2026-11-28T13:10:44Z"}"#
        );
        let lines = parse_load_lines(Path::new("x.jsonl"), &text).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].codes, 1000);
        assert_eq!(lines[0].units, 100);
        assert_eq!(lines[0].p50_ms, Some(1.2));
        assert_eq!(lines[0].requests_per_sec, Some(1000.5));
        assert_eq!(lines[1].p99_ms, None);
        assert_eq!(lines[1].non_2xx, 3);
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        let text = format!("{}\n{{\"backend\":\n", line("sqlite", 1000, "s", 1.0, 2.0));
        let err = parse_load_lines(Path::new("g.jsonl"), &text).unwrap_err();
        let ResultsError::Invalid { line, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*line, Some(2));
        assert!(err.to_string().starts_with("g.jsonl line 2: "), "{err}");
    }

    #[test]
    fn growth_series_group_by_backend_and_scenario_sorted_by_size() {
        let text = [
            line("sqlite", 10_000, "first", 5.5, 9.0),
            line("sqlite", 1_000, "first", 3.3, 7.0),
            line("postgres", 1_000, "first", 4.5, 8.0),
            line("sqlite", 1_000, "current", 1.2, 2.0),
            // Measured again: the later line wins.
            line("sqlite", 10_000, "first", 6.0, 10.0),
        ]
        .join("\n");
        let series = growth_series(&parse_load_lines(Path::new("g"), &text).unwrap());
        let keys: Vec<_> = series
            .iter()
            .map(|s| (s.backend.as_str(), s.scenario.as_str(), s.points.len()))
            .collect();
        assert_eq!(
            keys,
            [
                ("sqlite", "first", 2),
                ("postgres", "first", 1),
                ("sqlite", "current", 1)
            ]
        );
        assert_eq!(
            series[0].points,
            [
                GrowthPoint {
                    codes: 1_000,
                    p50_ms: 3.3,
                    p99_ms: 7.0
                },
                GrowthPoint {
                    codes: 10_000,
                    p50_ms: 6.0,
                    p99_ms: 10.0
                },
            ]
        );
    }

    #[test]
    fn growth_series_leave_out_unmeasured_lines() {
        let mut lines =
            parse_load_lines(Path::new("g"), &line("sqlite", 1000, "s", 1.0, 2.0)).unwrap();
        lines[0].p99_ms = None;
        assert!(growth_series(&lines).is_empty());
    }

    #[test]
    fn provenance_lists_distinct_days_and_commits() {
        assert_eq!(
            provenance([
                ("2026-11-28T13:00:00Z", "abc"),
                ("2026-11-28T14:00:00Z", "abc")
            ]),
            "2026-11-28, commit abc"
        );
        assert_eq!(
            provenance([
                ("2026-11-28T23:59:00Z", "abc"),
                ("2026-11-29T00:01:00Z", "def")
            ]),
            "2026-11-28 to 2026-11-29, commits abc, def"
        );
    }

    #[test]
    fn cdf_sorts_and_reaches_one() {
        let points = cdf(&[300.0, 100.0, 200.0, 400.0]);
        assert_eq!(
            points,
            [(100.0, 0.25), (200.0, 0.5), (300.0, 0.75), (400.0, 1.0)]
        );
        assert!(cdf(&[]).is_empty());
    }

    const TAP: &str = r#"{
      "bench": "tap_to_active", "runs": 3, "connection_interval_ms": 30.0, "mtu": 185,
      "realtime": true, "database": "sqlite",
      "tap_to_active": {"samples_ms": [280.0, 279.0, 344.0], "median_ms": 280.0, "p95_ms": 344.0, "max_ms": 344.0},
      "request": {"samples_ms": [5.0, 6.0, 7.0], "median_ms": 6.0, "p95_ms": 7.0, "max_ms": 7.0},
      "delivery": {"samples_ms": [275.0, 273.0, 337.0], "median_ms": 275.0, "p95_ms": 337.0, "max_ms": 337.0},
      "date": "2026-11-28T13:00:00Z", "commit": "abc1234"
    }"#;

    #[test]
    fn tap_to_active_reads_its_samples_and_conditions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TAP_TO_ACTIVE_FILE), TAP).unwrap();
        let tap = read_tap_to_active(dir.path()).unwrap();
        assert_eq!(tap.runs, 3);
        assert_eq!(tap.mtu, 185);
        assert_eq!(tap.connection_interval_ms, 30.0);
        assert_eq!(tap.tap_to_active.samples_ms, [280.0, 279.0, 344.0]);
        assert_eq!(tap.tap_to_active.p95_ms, 344.0);
        assert_eq!(tap.request.median_ms, 6.0);
    }

    #[test]
    fn a_missing_file_names_the_benchmark_that_makes_it() {
        let dir = tempfile::tempdir().unwrap();
        let tap = read_tap_to_active(dir.path()).unwrap_err().to_string();
        assert!(
            tap.ends_with("tap-to-active.json is missing: `cargo bench -p keyway-testkit --bench tap_to_active` makes it"),
            "{tap}"
        );
        let delivery = read_delivery(dir.path()).unwrap_err().to_string();
        assert!(
            delivery.contains("`cargo bench -p keyway-ble-sim --bench delivery`"),
            "{delivery}"
        );
        let growth = read_growth(dir.path(), "postgres").unwrap_err().to_string();
        assert!(
            growth
                .contains("growth-postgres.jsonl is missing: `bench/growth.sh postgres` makes it"),
            "{growth}"
        );
    }

    #[test]
    fn an_empty_growth_series_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("growth-sqlite.jsonl"), "").unwrap();
        let err = read_growth(dir.path(), "sqlite").unwrap_err().to_string();
        assert!(err.contains("no measurement"), "{err}");
    }

    fn row(pattern: &str, mtu: u16, changes: u64, round_trips: u64, air: f64) -> String {
        format!(
            r#"{{"pattern":"{pattern}","approach":"x","mtu":{mtu},"changes":{changes},"round_trips":{round_trips},"frames_up":1,"frames_down":2,"bytes_up":3,"bytes_down":4,"air_time_ms":{air},"wall_ms":9.5}}"#
        )
    }

    #[test]
    fn delivery_series_group_by_pattern_and_mtu() {
        let rows = [
            row("per-op", 23, 10, 20, 7800.0),
            row("visit", 185, 1, 2, 120.0),
            row("visit", 23, 10, 2, 990.0),
            row("visit", 23, 1, 2, 810.0),
            row("per-op", 23, 1, 2, 780.0),
        ]
        .join(",");
        let text = format!(
            r#"{{"bench":"delivery","connection_interval_ms":30.0,"repeats":5,"rows":[{rows}],"date":"2026-11-28T13:00:00Z","commit":"abc"}}"#
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DELIVERY_FILE), text).unwrap();
        let delivery = read_delivery(dir.path()).unwrap();
        assert_eq!(delivery.repeats, 5);
        let series = delivery_series(&delivery.rows);
        let shape: Vec<_> = series
            .iter()
            .map(|s| {
                (
                    s.pattern,
                    s.mtu,
                    s.rows
                        .iter()
                        .map(|r| (r.changes, r.round_trips))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (Pattern::Visit, 23, vec![(1, 2), (10, 2)]),
                (Pattern::Visit, 185, vec![(1, 2)]),
                (Pattern::PerOp, 23, vec![(1, 2), (10, 20)]),
            ]
        );
        assert_eq!(series[0].rows[1].air_time_ms, 990.0);
    }

    #[test]
    fn an_unknown_pattern_is_refused() {
        let text = format!(
            r#"{{"connection_interval_ms":30.0,"repeats":5,"rows":[{}],"date":"d","commit":"c"}}"#,
            row("carrier-pigeon", 23, 1, 2, 1.0)
        );
        let err = parse_json::<Delivery>(Path::new("delivery.json"), &text).unwrap_err();
        assert!(err.to_string().contains("carrier-pigeon"), "{err}");
    }
}
