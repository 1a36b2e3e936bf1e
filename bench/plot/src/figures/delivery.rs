//! Delivery by a visit against per-op challenge-response.

use plotters::prelude::*;

use super::*;

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
pub(super) fn same_trips_note(series: &[crate::results::DeliverySeries]) -> Option<String> {
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
