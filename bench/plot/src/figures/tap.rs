//! The tap-to-Active distribution (a CDF per run).

use plotters::prelude::*;

use super::*;

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
