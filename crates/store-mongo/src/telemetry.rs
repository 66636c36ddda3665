//! The adapter's metrics, through the `metrics` facade: whoever installs a
//! recorder (the server's Prometheus exporter) sees them. Names and labels
//! live here only. Each repository call is also a `store` span (its
//! `#[tracing::instrument]`, at debug level: made only when the trace
//! exporter, or a debug log, wants it).

use std::time::Instant;

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

const UNREADABLE: &str = "pointshare_store_documents_unreadable_total";
const DURATION: &str = "pointshare_store_call_duration_seconds";

/// Gives each metric its help text, and starts the counters at zero so a
/// dashboard shows 0 rather than no data.
pub(crate) fn describe() {
    describe_counter!(
        UNREADABLE,
        "Stored documents this binary could not read (a state or a value a newer version wrote, or a damaged record), by collection: skipped by history pages and recovery, each time they are met."
    );
    counter!(UNREADABLE, "collection" => "transfers").absolute(0);
    describe_histogram!(
        DURATION,
        Unit::Seconds,
        "Time the store took to answer one repository call (its round trips to MongoDB together), by operation (collection.method)."
    );
}

/// Times one repository call until dropped (its span is the method's own).
pub(crate) fn timed(operation: &'static str) -> Timed {
    Timed { operation, started: Instant::now() }
}

pub(crate) struct Timed {
    operation: &'static str,
    started: Instant,
}

impl Drop for Timed {
    fn drop(&mut self) {
        histogram!(DURATION, "operation" => self.operation).record(self.started.elapsed());
    }
}

/// A document of `collection` skipped because it could not be read.
pub(crate) fn unreadable(collection: &'static str, id: Option<&str>, error: &anyhow::Error) {
    tracing::warn!(collection, id, error = format!("{error:#}"), "skipped a stored document this binary cannot read");
    counter!(UNREADABLE, "collection" => collection).increment(1);
}
