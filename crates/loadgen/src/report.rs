//! The end of a run: a table for the terminal, the same figures as JSON, and
//! an SVG chart of latency percentiles over the run.

use std::path::Path;

use anyhow::Context;
use comfy_table::Table;
use plotters::prelude::*;

use crate::arrival::ArrivalSummary;
use crate::stats::{ScenarioSummary, SecondSummary};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub target: String,
    pub rate: f64,
    pub duration_secs: f64,
    pub scenario: String,
    pub members: usize,
    pub scheduled: u64,
    pub started: u64,
    pub skipped_at_cap: u64,
    pub peak_in_flight: u64,
    pub max_in_flight: u64,
    pub scenarios: Vec<ScenarioSummary>,
    pub timeline: Vec<SecondSummary>,
}

impl Report {
    pub fn arrival(&self) -> ArrivalSummary {
        ArrivalSummary {
            scheduled: self.scheduled,
            started: self.started,
            skipped_at_cap: self.skipped_at_cap,
            peak_in_flight: self.peak_in_flight,
        }
    }

    pub fn errors(&self) -> u64 {
        self.scenarios.iter().map(|s| s.count - s.ok).sum()
    }

    pub fn table(&self) -> String {
        let mut table = Table::new();
        table.set_header(["scenario", "count", "ok", "errors", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"]);
        for s in &self.scenarios {
            let errors = if s.errors.is_empty() {
                "0".to_owned()
            } else {
                s.errors.iter().map(|(kind, n)| format!("{kind}: {n}")).collect::<Vec<_>>().join(", ")
            };
            let l = &s.latency_ms;
            table.add_row([
                s.scenario.clone(),
                s.count.to_string(),
                s.ok.to_string(),
                errors,
                format!("{:.1}", l.p50),
                format!("{:.1}", l.p90),
                format!("{:.1}", l.p99),
                format!("{:.1}", l.p999),
                format!("{:.1}", l.max),
            ]);
        }
        let mut text = format!(
            "{} at {} req/s for {} s: {} scheduled, {} started, peak {} in flight",
            self.target, self.rate, self.duration_secs, self.scheduled, self.started, self.peak_in_flight
        );
        if self.skipped_at_cap > 0 {
            text += &format!(
                "\nWARNING: the in-flight cap ({}) was hit: {} starts were skipped, so the load was lower than asked",
                self.max_in_flight, self.skipped_at_cap
            );
        }
        format!("{text}\n{table}")
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
    }

    pub fn write_svg(&self, path: &Path) -> anyhow::Result<()> {
        let area = SVGBackend::new(path, (900, 480)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_error)?;
        let seconds = self.timeline.len().max(1) as f64;
        let top = self.timeline.iter().map(|s| s.latency_ms.max).fold(1.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("latency over time at {} req/s ({})", self.rate, self.scenario), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..seconds, 0.0..top)
            .map_err(draw_error)?;
        chart.configure_mesh().x_desc("seconds into the run").y_desc("latency (ms)").draw().map_err(draw_error)?;
        let series: [(&str, Pick, RGBColor); 4] = [
            ("p50", |s| s.latency_ms.p50, BLUE),
            ("p90", |s| s.latency_ms.p90, GREEN),
            ("p99", |s| s.latency_ms.p99, RGBColor(230, 120, 0)),
            ("max", |s| s.latency_ms.max, RED),
        ];
        for (name, value, color) in series {
            let points = self.timeline.iter().map(|s| (s.second as f64 + 0.5, value(s)));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(draw_error)?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw().map_err(draw_error)?;
        area.present().map_err(draw_error)?;
        Ok(())
    }
}

/// Reads one percentile of a second's latencies.
type Pick = fn(&SecondSummary) -> f64;

fn draw_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::Scenario;
    use crate::stats::{Outcome, Recorder};
    use std::time::Duration;

    fn report() -> Report {
        let recorder = Recorder::default();
        for n in 0..300u64 {
            let outcome = if n % 100 == 0 { Outcome::Status(503) } else { Outcome::Ok };
            let offset = Duration::from_millis(n * 10);
            recorder.record(Scenario::View, offset, Duration::from_millis(1000 + n), &outcome);
        }
        let (scenarios, timeline) = recorder.summary();
        Report {
            target: "http://127.0.0.1:8080".into(),
            rate: 100.0,
            duration_secs: 3.0,
            scenario: "view".into(),
            members: 2,
            scheduled: 300,
            started: 290,
            skipped_at_cap: 10,
            peak_in_flight: 120,
            max_in_flight: 120,
            scenarios,
            timeline,
        }
    }

    #[test]
    fn the_table_shows_errors_by_status_and_warns_when_the_cap_was_hit() {
        let table = report().table();
        assert!(table.contains("503: 3"), "{table}");
        assert!(table.contains("the in-flight cap (120) was hit: 10 starts were skipped"), "{table}");
    }

    #[test]
    fn json_and_svg_carry_the_figures() {
        let report = report();
        let dir = std::env::temp_dir().join(format!("loadgen-report-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        report.write_json(&dir.join("run.json")).expect("writes json");
        let read: Report =
            serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("reads")).expect("parses back");
        assert_eq!(read, report);
        report.write_svg(&dir.join("run.svg")).expect("draws");
        let svg = std::fs::read_to_string(dir.join("run.svg")).expect("reads");
        assert!(svg.starts_with("<svg") && svg.contains("p99") && svg.contains("<polyline"), "{svg}");
        std::fs::remove_dir_all(dir).expect("cleans up");
    }
}
