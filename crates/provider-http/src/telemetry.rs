//! The adapter's metrics, through the `metrics` facade: whoever installs a
//! recorder (the server's Prometheus exporter) sees them. Names and labels
//! live here only.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::contract::Operation;

const CALLS: &str = "pointshare_provider_calls_total";
const DURATION: &str = "pointshare_provider_call_duration_seconds";
const RETRIES: &str = "pointshare_provider_retries_total";
const BUDGET_EXHAUSTED: &str = "pointshare_provider_retry_budget_exhausted_total";
const BREAKER_STATE: &str = "pointshare_provider_breaker_state";
const BREAKER_TRANSITIONS: &str = "pointshare_provider_breaker_transitions_total";

/// Gives each metric its help text and unit in the installed recorder.
pub(crate) fn describe() {
    describe_counter!(CALLS, "Attempts sent to the provider (or refused by the breaker), by operation and outcome.");
    describe_histogram!(DURATION, Unit::Seconds, "Time from sending an attempt to the provider to its answer.");
    describe_counter!(RETRIES, "Attempts repeated after a transient failure or an unknown outcome.");
    describe_counter!(BUDGET_EXHAUSTED, "Retries not made because the retry budget was spent.");
    describe_gauge!(BREAKER_STATE, "The provider circuit breaker: 0 closed, 1 half-open, 2 open.");
    describe_counter!(BREAKER_TRANSITIONS, "Times the provider circuit breaker entered each state.");
    // At zero from the start, so a dashboard shows 0 retries rather than no data.
    for operation in Operation::ALL {
        counter!(RETRIES, "operation" => operation.name()).absolute(0);
        counter!(BUDGET_EXHAUSTED, "operation" => operation.name()).absolute(0);
    }
}

/// What became of one attempt, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Rejected,
    RateLimited,
    Transient,
    Unknown,
    Unexpected,
    BreakerOpen,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::RateLimited => "rate_limited",
            Self::Transient => "transient",
            Self::Unknown => "unknown",
            Self::Unexpected => "unexpected",
            Self::BreakerOpen => "breaker_open",
        }
    }
}

pub(crate) fn attempt(operation: &'static str, outcome: Outcome, took: Option<Duration>) {
    counter!(CALLS, "operation" => operation, "outcome" => outcome.as_str()).increment(1);
    if let Some(took) = took {
        histogram!(DURATION, "operation" => operation).record(took);
    }
}

pub(crate) fn retry(operation: &'static str) {
    counter!(RETRIES, "operation" => operation).increment(1);
}

pub(crate) fn budget_exhausted(operation: &'static str) {
    counter!(BUDGET_EXHAUSTED, "operation" => operation).increment(1);
}

/// The breaker entered the state `name`, which the gauge shows as `gauge`.
pub(crate) fn breaker_entered(gauge: f64, name: &'static str) {
    gauge!(BREAKER_STATE).set(gauge);
    counter!(BREAKER_TRANSITIONS, "state" => name).increment(1);
}
