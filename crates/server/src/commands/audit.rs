//! `pointshare audit verify`: walks the audit log's hash chain in the
//! configured store, record by record, and names the first record that does
//! not follow the one before it (altered, removed or inserted after the fact).

use std::sync::Arc;

use pointshare_domain::ports::SystemClock;
use pointshare_domain::services::{AuditService, ChainReport};

use crate::settings::Settings;
use crate::wiring;

/// Records read at a time.
const BATCH: usize = 1_000;

/// Walks the whole chain; errors when there is no store this command can reach.
pub async fn verify(settings: Settings) -> anyhow::Result<ChainReport> {
    if settings.store.is_none() {
        anyhow::bail!(
            "POINTSHARE_MONGODB_URI is unset: the server's audit log is in its own memory, out of this command's reach"
        );
    }
    let store = wiring::store(&settings, wiring::Reach::Now).await?;
    let audit = AuditService::new(store.audit, Arc::new(SystemClock));
    Ok(audit.verify(BATCH).await?)
}

/// What an operator reads of a report.
pub fn said(report: &ChainReport) -> String {
    match report.first_break {
        None => format!("the audit chain holds: {} records, each following the one before", report.records),
        Some(seq) => format!(
            "the audit chain breaks at record {seq} of {}: it does not follow the record before it (altered, removed or inserted after the fact)",
            report.records
        ),
    }
}
