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

mod delivery;
mod growth;
mod tap;
#[cfg(test)]
mod tests;

pub use delivery::delivery;
pub use growth::sync_growth;
pub use tap::tap_to_active;
