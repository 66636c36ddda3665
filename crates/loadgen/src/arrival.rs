//! The open model: requests start on a fixed schedule whether or not earlier
//! ones have returned, and each is timed from when it was *meant* to start,
//! so a slow server cannot hide its slowness by slowing the load down
//! (coordinated omission). Only the in-flight cap may skip a start, and every
//! skip is counted.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

/// What the schedule did, beside what the requests did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ArrivalSummary {
    /// Requests the schedule called for: rate × duration.
    pub scheduled: u64,
    pub started: u64,
    /// Starts skipped because `max_in_flight` requests were already out.
    pub skipped_at_cap: u64,
    pub peak_in_flight: u64,
}

/// Live counters, for a progress display.
#[derive(Debug, Default)]
pub struct Gauges {
    pub started: AtomicU64,
    pub in_flight: AtomicU64,
}

/// Starts `rate` requests per second for `duration`, each built by `fire`
/// from its sequence number and intended start, and waits for all of them.
pub async fn drive<F, Fut>(
    rate: f64,
    duration: Duration,
    max_in_flight: u64,
    gauges: Arc<Gauges>,
    mut fire: F,
) -> ArrivalSummary
where
    F: FnMut(u64, Instant) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let scheduled = (rate * duration.as_secs_f64()).round() as u64;
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut summary = ArrivalSummary { scheduled, ..ArrivalSummary::default() };
    let mut requests = JoinSet::new();
    let start = Instant::now();
    for sequence in 0..scheduled {
        let intended = start + period.mul_f64(sequence as f64);
        tokio::time::sleep_until(intended).await;
        while requests.try_join_next().is_some() {}
        let in_flight = gauges.in_flight.load(Ordering::Relaxed);
        if in_flight >= max_in_flight {
            summary.skipped_at_cap += 1;
            continue;
        }
        gauges.in_flight.fetch_add(1, Ordering::Relaxed);
        gauges.started.fetch_add(1, Ordering::Relaxed);
        summary.started += 1;
        summary.peak_in_flight = summary.peak_in_flight.max(in_flight + 1);
        let request = fire(sequence, intended);
        let gauges = Arc::clone(&gauges);
        requests.spawn(async move {
            request.await;
            gauges.in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    while requests.join_next().await.is_some() {}
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slow_answers_do_not_slow_the_arrivals() {
        let started = Instant::now();
        let starts = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let record = Arc::clone(&starts);
        let summary = drive(100.0, Duration::from_secs(1), u64::MAX, Arc::default(), move |_, intended| {
            record.lock().push(intended - started);
            // Every answer takes 10 s; the schedule must not wait for any.
            tokio::time::sleep(Duration::from_secs(10))
        })
        .await;
        assert_eq!((summary.scheduled, summary.started, summary.skipped_at_cap), (100, 100, 0));
        assert_eq!(summary.peak_in_flight, 100);
        let starts = starts.lock();
        assert_eq!(starts[99], Duration::from_millis(990), "the last start is on schedule");
    }

    #[tokio::test(start_paused = true)]
    async fn the_cap_skips_starts_and_says_so() {
        let summary = drive(100.0, Duration::from_secs(1), 10, Arc::default(), |_, _| {
            tokio::time::sleep(Duration::from_secs(10))
        })
        .await;
        assert_eq!((summary.started, summary.skipped_at_cap, summary.peak_in_flight), (10, 90, 10));
    }

    #[tokio::test(start_paused = true)]
    async fn finished_requests_free_their_place_under_the_cap() {
        let gauges = Arc::new(Gauges::default());
        let summary = drive(100.0, Duration::from_secs(2), 5, Arc::clone(&gauges), |_, _| {
            tokio::time::sleep(Duration::from_millis(25))
        })
        .await;
        assert_eq!((summary.started, summary.skipped_at_cap), (200, 0));
        assert_eq!(gauges.in_flight.load(Ordering::Relaxed), 0);
    }
}
