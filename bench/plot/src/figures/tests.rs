use super::delivery::same_trips_note;
use super::*;
use crate::results::{DeliveryRow, GrowthPoint, Samples};

#[test]
fn log_ticks_are_one_two_five() {
    assert_eq!(log_ticks(1.5, 120.0), [2.0, 5.0, 10.0, 20.0, 50.0, 100.0]);
    assert_eq!(log_ticks(0.4, 1.0), [0.5, 1.0]);
}

#[test]
fn thousands_are_separated() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000), "1,000");
    assert_eq!(thousands(1_000_000), "1,000,000");
    assert_eq!(thousands(12_345), "12,345");
}

fn growth() -> Vec<GrowthSeries> {
    ["sqlite", "postgres"]
        .into_iter()
        .flat_map(|backend| {
            GROWTH_SCENARIOS
                .iter()
                .map(move |(scenario, _)| GrowthSeries {
                    backend: backend.into(),
                    scenario: (*scenario).into(),
                    points: [1_000, 10_000, 100_000]
                        .into_iter()
                        .map(|codes| GrowthPoint {
                            codes,
                            p50_ms: 2.0,
                            p99_ms: 9.0,
                        })
                        .collect(),
                })
        })
        .collect()
}

/// A figure is a small SVG with its title, axis labels and legend.
fn assert_readable(svg: &str, texts: &[&str]) {
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.len() < 120_000, "{} bytes", svg.len());
    for text in texts {
        assert!(svg.contains(text), "{text:?} is not in the figure");
    }
}

#[test]
fn the_growth_figure_has_a_panel_a_scenario_and_both_backends() {
    let svg = sync_growth(&growth(), &["SQLite: 2026-11-28, commit abc".into()]).unwrap();
    assert_readable(
        &svg,
        &[
            "Sync latency as the database grows",
            "resident, cursor up to date",
            "resident, first sync",
            "manager, 20 changes behind",
            "codes in the database (log scale)",
            "latency (ms, log scale)",
            "SQLite p50",
            "PostgreSQL p99",
            "10,000",
            "commit abc",
            "bench/growth.sh postgres",
        ],
    );
}

#[test]
fn coinciding_round_trips_are_noted_only_when_they_coincide() {
    let row = |mtu, round_trips| DeliveryRow {
        pattern: Pattern::Visit,
        mtu,
        changes: 10,
        round_trips,
        frames_up: 1,
        frames_down: 1,
        bytes_up: 1,
        bytes_down: 1,
        air_time_ms: 1.0,
        wall_ms: 1.0,
    };
    let same = delivery_series(&[row(23, 2), row(185, 2)]);
    assert_eq!(
        same_trips_note(&same).as_deref(),
        Some("the same at MTU 23 and 185: the lines coincide")
    );
    assert_eq!(
        same_trips_note(&delivery_series(&[row(23, 2), row(185, 3)])),
        None
    );
    assert_eq!(same_trips_note(&delivery_series(&[row(23, 2)])), None);
}

#[test]
fn nothing_to_draw_is_an_error() {
    assert!(sync_growth(&[], &[]).is_err());
}

#[test]
fn the_tap_figure_marks_median_p95_and_the_target() {
    let samples = Samples {
        samples_ms: vec![280.0, 279.0, 344.0, 300.0],
        median_ms: 290.0,
        p95_ms: 344.0,
        max_ms: 344.0,
    };
    let tap = TapToActive {
        runs: 4,
        connection_interval_ms: 30.0,
        mtu: 185,
        tap_to_active: samples.clone(),
        request: samples.clone(),
        delivery: samples,
        commit: "abc".into(),
        date: "2026-11-28T13:00:00Z".into(),
    };
    let svg = tap_to_active(&tap).unwrap();
    assert_readable(
        &svg,
        &[
            "Tap to Active: 4 runs",
            "MTU 185",
            "median 290 ms",
            "p95 344 ms",
            "target 1 s",
            "runs done (%)",
            "(ms)",
            "2026-11-28, commit abc",
            "cargo bench -p keyway-testkit --bench tap_to_active",
        ],
    );
}

#[test]
fn the_delivery_figure_has_a_line_per_pattern_and_mtu() {
    let rows = [(Pattern::Visit, 2, 0.8), (Pattern::PerOp, 20, 7.8)]
        .into_iter()
        .flat_map(|(pattern, trips, air)| {
            [23u16, 185].into_iter().map(move |mtu| DeliveryRow {
                pattern,
                mtu,
                changes: 10,
                round_trips: trips,
                frames_up: 1,
                frames_down: 1,
                bytes_up: 1,
                bytes_down: 1,
                air_time_ms: air * 1000.0,
                wall_ms: 1.0,
            })
        })
        .collect();
    let svg = delivery(&Delivery {
        connection_interval_ms: 30.0,
        repeats: 5,
        rows,
        commit: "abc".into(),
        date: "2026-11-28T13:00:00Z".into(),
    })
    .unwrap();
    assert_readable(
        &svg,
        &[
            "Round trips",
            "Air time",
            "air time (s)",
            "changes delivered",
            "a visit (Keyway), MTU 23",
            "a visit (Keyway), MTU 185",
            "per-op challenge-response, MTU 23",
            "per-op challenge-response, MTU 185",
            "30 ms interval",
            "the same at MTU 23 and 185: the lines coincide",
        ],
    );
}
