//! Sync latency as the database grows, per backend and scenario.

use plotters::prelude::*;

use super::*;

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
