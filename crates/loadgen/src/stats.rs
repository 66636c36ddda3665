//! What the requests did: per scenario, an HDR histogram of latencies (from
//! the intended start) and the failures by kind; over the run, one histogram
//! per second of intended start, for the chart of percentiles over time.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;

use crate::mix::Scenario;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Ok,
    /// Any other status.
    Status(u16),
    /// No answer within the request timeout.
    Timeout,
    /// The connection failed.
    Transport,
}

impl Outcome {
    fn error_label(&self) -> Option<String> {
        match self {
            Self::Ok => None,
            Self::Status(status) => Some(status.to_string()),
            Self::Timeout => Some("timeout".into()),
            Self::Transport => Some("connection".into()),
        }
    }
}

#[derive(Debug)]
struct ScenarioStats {
    latencies: Histogram<u64>,
    errors: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub struct Recorder {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    scenarios: BTreeMap<Scenario, ScenarioStats>,
    per_second: Vec<Histogram<u64>>,
}

/// Latencies are kept in microseconds, up to an hour, to 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl Recorder {
    /// Records a request that was meant to start `offset` into the run and took `latency`.
    pub fn record(&self, scenario: Scenario, offset: Duration, latency: Duration, outcome: &Outcome) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        let second = usize::try_from(offset.as_secs()).unwrap_or(usize::MAX);
        let mut state = self.state.lock();
        let stats = state
            .scenarios
            .entry(scenario)
            .or_insert_with(|| ScenarioStats { latencies: histogram(), errors: BTreeMap::new() });
        stats.latencies.saturating_record(micros);
        if let Some(label) = outcome.error_label() {
            *stats.errors.entry(label).or_default() += 1;
        }
        if state.per_second.len() <= second {
            state.per_second.resize_with(second + 1, histogram);
        }
        state.per_second[second].saturating_record(micros);
    }

    pub fn errors(&self) -> u64 {
        self.state.lock().scenarios.values().flat_map(|s| s.errors.values()).sum()
    }

    pub fn summary(&self) -> (Vec<ScenarioSummary>, Vec<SecondSummary>) {
        let state = self.state.lock();
        let scenarios = state
            .scenarios
            .iter()
            .map(|(scenario, stats)| {
                let errors: u64 = stats.errors.values().sum();
                ScenarioSummary {
                    scenario: scenario.name().to_owned(),
                    count: stats.latencies.len(),
                    ok: stats.latencies.len() - errors,
                    errors: stats.errors.clone(),
                    latency_ms: Percentiles::of(&stats.latencies),
                }
            })
            .collect();
        let seconds = state
            .per_second
            .iter()
            .enumerate()
            .map(|(second, latencies)| SecondSummary {
                second: second as u64,
                count: latencies.len(),
                latency_ms: Percentiles::of(latencies),
            })
            .collect();
        (scenarios, seconds)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    fn of(latencies: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Percentiles {
            p50: ms(latencies.value_at_quantile(0.5)),
            p90: ms(latencies.value_at_quantile(0.9)),
            p99: ms(latencies.value_at_quantile(0.99)),
            p999: ms(latencies.value_at_quantile(0.999)),
            max: ms(latencies.max()),
            mean: latencies.mean() / 1000.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub count: u64,
    pub ok: u64,
    /// Failures by status code, `timeout` or `connection`.
    pub errors: BTreeMap<String, u64>,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SecondSummary {
    /// Seconds into the run, by intended start.
    pub second: u64,
    pub count: u64,
    pub latency_ms: Percentiles,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_outcomes_and_latencies_by_scenario_and_second() {
        let recorder = Recorder::default();
        for millis in 1..=100 {
            recorder.record(Scenario::View, Duration::from_millis(10), Duration::from_millis(millis), &Outcome::Ok);
        }
        recorder.record(Scenario::Share, Duration::from_millis(1500), Duration::from_secs(2), &Outcome::Status(503));
        recorder.record(Scenario::Share, Duration::from_millis(1600), Duration::from_secs(30), &Outcome::Timeout);
        let (scenarios, seconds) = recorder.summary();
        let view = &scenarios[0];
        assert_eq!((view.scenario.as_str(), view.count, view.ok), ("view", 100, 100));
        assert!((view.latency_ms.p50 - 50.0).abs() < 0.1 && (view.latency_ms.p99 - 99.0).abs() < 0.1, "{view:?}");
        let share = &scenarios[1];
        assert_eq!((share.count, share.ok), (2, 0));
        assert_eq!(share.errors, BTreeMap::from([("503".to_owned(), 1), ("timeout".to_owned(), 1)]));
        assert_eq!(seconds.iter().map(|s| s.count).collect::<Vec<_>>(), [100, 2]);
        assert_eq!(recorder.errors(), 2);
    }
}
