//! The adapter's metrics, through the `metrics` facade: whoever installs a
//! recorder (the server's Prometheus exporter) sees them. Names and labels
//! live here only.

use metrics::{counter, describe_counter};

const UNREADABLE: &str = "pointshare_store_documents_unreadable_total";

/// Gives each metric its help text, and starts the counters at zero so a
/// dashboard shows 0 rather than no data.
pub(crate) fn describe() {
    describe_counter!(
        UNREADABLE,
        "Stored documents this binary could not read (a state or a value a newer version wrote, or a damaged record), by collection: skipped by history pages and recovery, each time they are met."
    );
    counter!(UNREADABLE, "collection" => "transfers").absolute(0);
}

/// A document of `collection` skipped because it could not be read.
pub(crate) fn unreadable(collection: &'static str, id: Option<&str>, error: &anyhow::Error) {
    tracing::warn!(collection, id, error = format!("{error:#}"), "skipped a stored document this binary cannot read");
    counter!(UNREADABLE, "collection" => collection).increment(1);
}
