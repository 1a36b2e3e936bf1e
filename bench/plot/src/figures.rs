//! The figures of `docs/performance.md`, drawn as SVG text with plotters:
//! sync latency as the database grows, the tap-to-Active distribution, and
//! delivery by a visit against per-op challenge-response. Owns their look
//! (sizes, colours, titles, axis labels, legends, footers); the numbers come
//! from [`crate::results`].

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::results::{
    DELIVERY_FILE, Delivery, GrowthSeries, Pattern, TAP_TO_ACTIVE_FILE, TapToActive, cdf,
    command_for, delivery_series, growth_file,
};

/// Why a figure could not be drawn.
pub type FigureError = String;

const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(40, 40, 40);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const SQLITE: RGBColor = RGBColor(31, 119, 180);
const POSTGRES: RGBColor = RGBColor(214, 95, 14);
const VISIT: RGBColor = RGBColor(44, 140, 44);
const PER_OP: RGBColor = RGBColor(200, 40, 40);

/// The scenarios `bench/growth.sh` runs, in the order panels show them, with
/// their panel titles.
const GROWTH_SCENARIOS: [(&str, &str); 3] = [
    ("sync-resident-current", "resident, cursor up to date"),
    ("sync-resident-first", "resident, first sync"),
    ("sync-manager-delta", "manager, 20 changes behind"),
];

fn err<E: std::fmt::Display>(e: E) -> FigureError {
    e.to_string()
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A backend's name as figures show it (`postgres` is `PostgreSQL`).
pub fn backend_name(backend: &str) -> &str {
    match backend {
        "sqlite" => "SQLite",
        "postgres" => "PostgreSQL",
        other => other,
    }
}

fn backend_color(backend: &str) -> RGBColor {
    if backend == "postgres" {
        POSTGRES
    } else {
        SQLITE
    }
}

/// How a series is drawn: its colour, solid or dashed, circles or triangles.
#[derive(Clone, Copy)]
struct Look {
    color: RGBColor,
    dashed: bool,
}

impl Look {
    fn line(self) -> ShapeStyle {
        self.color.stroke_width(if self.dashed { 1 } else { 2 })
    }
}

/// Draws `points` as a line with a marker at each point.
fn draw_line<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    points: Vec<(X::ValueType, Y::ValueType)>,
    look: Look,
) -> Result<(), FigureError>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
    X::ValueType: Clone + 'static,
    Y::ValueType: Clone + 'static,
{
    if look.dashed {
        chart
            .draw_series(DashedLineSeries::new(points.clone(), 6, 4, look.line()))
            .map_err(err)?;
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| TriangleMarker::new(p, 4, look.color.filled())),
            )
            .map_err(err)?;
    } else {
        chart
            .draw_series(LineSeries::new(points.clone(), look.line()))
            .map_err(err)?;
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, look.color.filled())),
            )
            .map_err(err)?;
    }
    Ok(())
}

/// A row of legend entries across `area`, centred.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Look)],
) -> Result<(), FigureError> {
    let font = (FONT, 13).into_font().color(&INK);
    // Plotters cannot measure text for SVG: about 7 px a character at 13 px.
    let widths: Vec<i32> = entries
        .iter()
        .map(|(label, _)| 30 + 7 * label.chars().count() as i32 + 24)
        .collect();
    let (w, h) = area.dim_in_pixel();
    let mut x = (w as i32 - widths.iter().sum::<i32>()).max(0) / 2;
    let y = h as i32 / 2;
    for ((label, look), width) in entries.iter().zip(widths) {
        if look.dashed {
            for dash in 0..3 {
                let x0 = x + dash * 9;
                area.draw(&PathElement::new(vec![(x0, y), (x0 + 6, y)], look.line()))
                    .map_err(err)?;
            }
            area.draw(&TriangleMarker::new((x + 12, y), 4, look.color.filled()))
                .map_err(err)?;
        } else {
            area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], look.line()))
                .map_err(err)?;
            area.draw(&Circle::new((x + 12, y), 3, look.color.filled()))
                .map_err(err)?;
        }
        area.draw(&Text::new(label.clone(), (x + 30, y - 7), font.clone()))
            .map_err(err)?;
        x += width;
    }
    Ok(())
}

/// 1, 2 and 5 times the powers of ten from `from` to `to`: a log axis's
/// labels.
fn log_ticks(from: f64, to: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(from.log10().floor());
    while decade <= to {
        for m in [1.0, 2.0, 5.0] {
            let tick = decade * m;
            if (from..=to).contains(&tick) {
                ticks.push(tick);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// One line of small grey text (where and how the figure was measured).
fn footer<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[String],
) -> Result<(), FigureError> {
    let font = (FONT, 12).into_font().color(&MUTED);
    for (i, line) in lines.iter().enumerate() {
        area.draw(&Text::new(
            line.clone(),
            (12, 4 + 16 * i as i32),
            font.clone(),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// Splits a figure into title, legend, plots and footer areas.
struct Layout<DB: DrawingBackend> {
    legend: DrawingArea<DB, Shift>,
    plots: DrawingArea<DB, Shift>,
    footer: DrawingArea<DB, Shift>,
}

fn layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    footer_lines: usize,
) -> Result<Layout<DB>, FigureError> {
    root.fill(&WHITE).map_err(err)?;
    let body = root
        .titled(title, (FONT, 19).into_font().color(&INK))
        .map_err(err)?;
    let (_, h) = body.dim_in_pixel();
    let (legend, rest) = body.split_vertically(28);
    let (plots, footer) = rest.split_vertically(h - 28 - 8 - 16 * footer_lines as u32);
    Ok(Layout {
        legend,
        plots,
        footer,
    })
}

/// Sync latency (p50 and p99) against the number of codes, one panel per
/// scenario, one colour per backend; `measured` names when and on what.
pub fn sync_growth(series: &[GrowthSeries], measured: &[String]) -> Result<String, FigureError> {
    if series.is_empty() {
        return Err("no growth series to draw".into());
    }
    let panels: Vec<(&str, &str)> = GROWTH_SCENARIOS
        .iter()
        .copied()
        .filter(|(name, _)| series.iter().any(|s| s.scenario == *name))
        .chain(
            // Any scenario the figure does not know, after the known ones.
            series
                .iter()
                .filter(|s| GROWTH_SCENARIOS.iter().all(|(n, _)| *n != s.scenario))
                .map(|s| (s.scenario.as_str(), s.scenario.as_str())),
        )
        .fold(Vec::new(), |mut v, p| {
            if !v.contains(&p) {
                v.push(p);
            }
            v
        });
    let points = series.iter().flat_map(|s| &s.points);
    let lo = points.clone().map(|p| p.codes).min().unwrap_or(1_000) as f64;
    let hi = points.clone().map(|p| p.codes).max().unwrap_or(1_000_000) as f64;
    // One y scale for every panel, so they compare at a glance; logarithmic,
    // so a p99 spike of a busy machine leaves the medians readable.
    let bottom = points
        .clone()
        .map(|p| p.p50_ms)
        .fold(f64::MAX, f64::min)
        .max(0.01)
        / 1.5;
    let top = points.map(|p| p.p99_ms).fold(bottom * 10.0, f64::max) * 1.5;
    let mut backends: Vec<&str> = Vec::new();
    for s in series {
        if !backends.contains(&s.backend.as_str()) {
            backends.push(&s.backend);
        }
    }

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 470)).into_drawing_area();
        let mut footer_lines = measured.to_vec();
        footer_lines.push(format!(
            "wrk -t2 -c16 on the same 2-core machine as the server; a shared VM, so runs vary. Drawn by bench/plot.sh from {}.",
            backends
                .iter()
                .map(|b| command_for(&growth_file(b)))
                .collect::<Vec<_>>()
                .join(" and ")
        ));
        let l = layout(
            &root,
            "Sync latency as the database grows (ten codes a unit)",
            footer_lines.len(),
        )?;
        let mut entries = Vec::new();
        for b in &backends {
            let color = backend_color(b);
            entries.push((
                format!("{} p50", backend_name(b)),
                Look {
                    color,
                    dashed: false,
                },
            ));
            entries.push((
                format!("{} p99", backend_name(b)),
                Look {
                    color,
                    dashed: true,
                },
            ));
        }
        legend(&l.legend, &entries)?;
        for (area, (scenario, title)) in l.plots.split_evenly((1, panels.len())).iter().zip(&panels)
        {
            let mut chart = ChartBuilder::on(area)
                .caption(*title, (FONT, 15).into_font().color(&INK))
                .margin(12)
                .x_label_area_size(42)
                .y_label_area_size(48)
                .build_cartesian_2d(
                    (lo / 1.6..hi * 1.6).log_scale(),
                    (bottom..top)
                        .log_scale()
                        .with_key_points(log_ticks(bottom, top)),
                )
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("codes in the database (log scale)")
                .y_desc("latency (ms, log scale)")
                .x_label_formatter(&|v| thousands(v.round() as u64))
                .y_label_formatter(&|v| {
                    if *v >= 1.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.1}")
                    }
                })
                .max_light_lines(0)
                .bold_line_style(RGBColor(225, 225, 225))
                .axis_desc_style((FONT, 13).into_font().color(&INK))
                .label_style((FONT, 11).into_font().color(&INK))
                .draw()
                .map_err(err)?;
            for s in series.iter().filter(|s| s.scenario == *scenario) {
                let color = backend_color(&s.backend);
                let p50 = s
                    .points
                    .iter()
                    .map(|p| (p.codes as f64, p.p50_ms))
                    .collect();
                let p99 = s
                    .points
                    .iter()
                    .map(|p| (p.codes as f64, p.p99_ms))
                    .collect();
                draw_line(
                    &mut chart,
                    p50,
                    Look {
                        color,
                        dashed: false,
                    },
                )?;
                draw_line(
                    &mut chart,
                    p99,
                    Look {
                        color,
                        dashed: true,
                    },
                )?;
            }
        }
        footer(&l.footer, &footer_lines)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The distribution of tap-to-Active times: every run, sorted, as the share
/// of runs done by then, with the median, p95 and the one-second target.
pub fn tap_to_active(tap: &TapToActive) -> Result<String, FigureError> {
    let samples = &tap.tap_to_active;
    if samples.samples_ms.is_empty() {
        return Err("no tap-to-Active sample to draw".into());
    }
    const TARGET_MS: f64 = 1000.0;
    let right = samples.max_ms.max(TARGET_MS) * 1.12;
    let points = cdf(&samples.samples_ms);
    // A step: each run lifts the share at its own time.
    let mut steps = vec![(0.0, 0.0), (points[0].0, 0.0)];
    let mut below = 0.0;
    for &(ms, share) in &points {
        steps.push((ms, below * 100.0));
        steps.push((ms, share * 100.0));
        below = share;
    }
    steps.push((right, 100.0));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 460)).into_drawing_area();
        let footer_lines = vec![
            format!(
                "Median {:.0} ms, p95 {:.0} ms, max {:.0} ms; of which the request (tap to Pending): median {:.1} ms, p95 {:.1} ms.",
                samples.median_ms,
                samples.p95_ms,
                samples.max_ms,
                tap.request.median_ms,
                tap.request.p95_ms
            ),
            format!(
                "{}. Drawn by bench/plot.sh from {}.",
                crate::results::provenance([(tap.date.as_str(), tap.commit.as_str())]),
                command_for(TAP_TO_ACTIVE_FILE)
            ),
        ];
        let l = layout(
            &root,
            &format!(
                "Tap to Active: {} runs, phone in range ({} ms connection interval, MTU {})",
                tap.runs, tap.connection_interval_ms, tap.mtu
            ),
            footer_lines.len(),
        )?;
        legend(
            &l.legend,
            &[(
                "runs done by then (each step is one run)".to_owned(),
                Look {
                    color: SQLITE,
                    dashed: false,
                },
            )],
        )?;
        let mut chart = ChartBuilder::on(&l.plots)
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..right, 0.0..105.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("from the tap to the receipt settled on the server (ms)")
            .y_desc("runs done (%)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .max_light_lines(0)
            .bold_line_style(RGBColor(225, 225, 225))
            .axis_desc_style((FONT, 13).into_font().color(&INK))
            .label_style((FONT, 11).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(steps, SQLITE.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(ms, share)| Circle::new((ms, share * 100.0), 2, SQLITE.filled())),
            )
            .map_err(err)?;
        let marks = [
            (
                samples.median_ms,
                format!("median {:.0} ms", samples.median_ms),
                INK,
                0.0,
            ),
            (
                samples.p95_ms,
                format!("p95 {:.0} ms", samples.p95_ms),
                INK,
                10.0,
            ),
            (TARGET_MS, "target 1 s".to_owned(), MUTED, 0.0),
        ];
        for (x, label, color, lift) in marks {
            chart
                .draw_series(DashedLineSeries::new(
                    [(x, 0.0), (x, 100.0)],
                    5,
                    4,
                    color.stroke_width(1),
                ))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    label,
                    (x + right * 0.006, 30.0 + lift),
                    (FONT, 12).into_font().color(&color),
                )))
                .map_err(err)?;
        }
        footer(&l.footer, &footer_lines)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Round trips and air time to deliver N changes, a visit against per-op
/// challenge-response, one line per pattern and MTU.
pub fn delivery(delivery: &Delivery) -> Result<String, FigureError> {
    let series = delivery_series(&delivery.rows);
    if series.is_empty() {
        return Err("no delivery row to draw".into());
    }
    let most_changes = delivery.rows.iter().map(|r| r.changes).max().unwrap_or(1) as f64;
    let most_trips = delivery
        .rows
        .iter()
        .map(|r| r.round_trips)
        .max()
        .unwrap_or(1) as f64;
    let most_air = delivery
        .rows
        .iter()
        .map(|r| r.air_time_ms / 1000.0)
        .fold(0.1, f64::max);
    let mtus: Vec<u16> = {
        let mut m: Vec<u16> = series.iter().map(|s| s.mtu).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let look = |pattern: Pattern, mtu: u16| Look {
        color: match pattern {
            Pattern::Visit => VISIT,
            Pattern::PerOp => PER_OP,
        },
        dashed: mtus.first() != Some(&mtu),
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 480)).into_drawing_area();
        let footer_lines = vec![
            format!(
                "One simulated lock 2 m away through btleplug; air time from the radio model (one frame per direction per connection event, {} ms interval), connection set-up not counted.",
                delivery.connection_interval_ms
            ),
            format!(
                "{}. Drawn by bench/plot.sh from {}.",
                crate::results::provenance([(delivery.date.as_str(), delivery.commit.as_str())]),
                command_for(DELIVERY_FILE)
            ),
        ];
        let l = layout(
            &root,
            "Delivering changes to a lock: a visit against per-op challenge-response",
            footer_lines.len(),
        )?;
        let entries: Vec<(String, Look)> = series
            .iter()
            .map(|s| {
                (
                    format!("{}, MTU {}", s.pattern.label(), s.mtu),
                    look(s.pattern, s.mtu),
                )
            })
            .collect();
        legend(&l.legend, &entries)?;
        let panels = l.plots.split_evenly((1, 2));
        let x_range = 0.0..most_changes * 1.05;

        let mut trips = ChartBuilder::on(&panels[0])
            .caption("Round trips", (FONT, 15).into_font().color(&INK))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(48)
            .build_cartesian_2d(x_range.clone(), 0.0..most_trips * 1.08)
            .map_err(err)?;
        let mut air = ChartBuilder::on(&panels[1])
            .caption("Air time", (FONT, 15).into_font().color(&INK))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(48)
            .build_cartesian_2d(x_range, 0.0..most_air * 1.08)
            .map_err(err)?;
        for (chart, y_desc) in [(&mut trips, "round trips"), (&mut air, "air time (s)")] {
            chart
                .configure_mesh()
                .x_desc("changes delivered")
                .y_desc(y_desc)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| {
                    if v.fract() == 0.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.1}")
                    }
                })
                .max_light_lines(0)
                .bold_line_style(RGBColor(225, 225, 225))
                .axis_desc_style((FONT, 13).into_font().color(&INK))
                .label_style((FONT, 11).into_font().color(&INK))
                .draw()
                .map_err(err)?;
        }
        for s in &series {
            let points = |f: &dyn Fn(&crate::results::DeliveryRow) -> f64| {
                s.rows
                    .iter()
                    .map(|r| (r.changes as f64, f(r)))
                    .collect::<Vec<_>>()
            };
            draw_line(
                &mut trips,
                points(&|r| r.round_trips as f64),
                look(s.pattern, s.mtu),
            )?;
            draw_line(
                &mut air,
                points(&|r| r.air_time_ms / 1000.0),
                look(s.pattern, s.mtu),
            )?;
        }
        if let Some(note) = same_trips_note(&series) {
            trips
                .draw_series(std::iter::once(Text::new(
                    note,
                    (most_changes * 0.03, most_trips * 0.75),
                    (FONT, 12).into_font().color(&MUTED),
                )))
                .map_err(err)?;
        }
        footer(&l.footer, &footer_lines)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Round trips do not depend on the MTU: when every pattern's are the same
/// at each MTU, the lines lie on each other, and the figure says so.
fn same_trips_note(series: &[crate::results::DeliverySeries]) -> Option<String> {
    let trips = |s: &crate::results::DeliverySeries| {
        s.rows
            .iter()
            .map(|r| (r.changes, r.round_trips))
            .collect::<Vec<_>>()
    };
    let mut mtus: Vec<u16> = series.iter().map(|s| s.mtu).collect();
    mtus.sort_unstable();
    mtus.dedup();
    let same = series.iter().all(|a| {
        series
            .iter()
            .filter(|b| b.pattern == a.pattern)
            .all(|b| trips(a) == trips(b))
    });
    (mtus.len() > 1 && same).then(|| {
        let names: Vec<String> = mtus.iter().map(u16::to_string).collect();
        format!(
            "the same at MTU {}: the lines coincide",
            names.join(" and ")
        )
    })
}

#[cfg(test)]
mod tests {
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
}
