//! `AuditService`: every privileged act is recorded here before it is
//! acknowledged, each record chained to the one before by its hash; `verify`
//! walks the whole chain and names the first record that does not follow.

use std::sync::Arc;

use thiserror::Error;

use crate::model::{AuditEntry, AuditRecord};
use crate::ports::{AppendError, AuditFilter, AuditLog, Clock, StoreError};

/// How many times a record is placed again after others took its place: each
/// retry means another record was stored, so this many in a row is a store
/// that refuses every place, not a race.
const PLACEMENT_TRIES: usize = 64;

#[derive(Debug, Error)]
pub enum AuditError {
    /// The record could not be stored: the act must not be acknowledged.
    #[error("the audit log cannot be written: {0}")]
    Unavailable(#[from] StoreError),
}

/// One page of records, newest first, and the `seq` to ask for the next below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    pub next_before: Option<u64>,
}

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records read.
    pub records: u64,
    /// The first record that does not follow the one before it (altered,
    /// inserted, or after a gap), if any.
    pub first_break: Option<u64>,
}

#[derive(Debug)]
pub struct AuditService {
    log: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
}

impl AuditService {
    pub fn new(log: Arc<dyn AuditLog>, clock: Arc<dyn Clock>) -> Self {
        AuditService { log, clock }
    }

    /// Stores `entry` at the end of the chain and returns its record; the
    /// record already stored if its act was recorded before.
    pub async fn record(&self, entry: AuditEntry) -> Result<AuditRecord, AuditError> {
        for _ in 0..PLACEMENT_TRIES {
            let last = self.log.last().await?;
            let seq = last.as_ref().map_or(1, |record| record.seq + 1);
            let record = AuditRecord::chain(entry.clone(), seq, self.clock.now(), last.as_ref());
            match self.log.append(&record).await {
                Ok(()) => return Ok(record),
                Err(AppendError::Recorded(record)) => return Ok(*record),
                Err(AppendError::SeqTaken(_)) => continue,
                Err(AppendError::Unexpected(error)) => return Err(error.into()),
            }
        }
        Err(StoreError(anyhow::anyhow!("no place in the audit chain after {PLACEMENT_TRIES} tries")).into())
    }

    /// Records `filter` lists, newest first, below `before` when given.
    pub async fn page(&self, filter: &AuditFilter, before: Option<u64>, limit: usize) -> Result<AuditPage, StoreError> {
        let items = self.log.page(filter, before, limit).await?;
        let next_before = (items.len() == limit).then(|| items.last().map(|record| record.seq)).flatten();
        Ok(AuditPage { items, next_before })
    }

    /// The records after `after` in chain order: an export reads them all, a page at a time.
    pub async fn after(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.log.scan(after, limit).await
    }

    /// Walks the whole chain, `batch` records a read.
    pub async fn verify(&self, batch: usize) -> Result<ChainReport, StoreError> {
        let mut report = ChainReport { records: 0, first_break: None };
        let mut before: Option<AuditRecord> = None;
        loop {
            let after = before.as_ref().map_or(0, |record| record.seq);
            let records = self.log.scan(after, batch).await?;
            let read = records.len();
            for record in records {
                report.records += 1;
                if report.first_break.is_none() && !record.follows(before.as_ref()) {
                    report.first_break = Some(record.seq);
                }
                before = Some(record);
            }
            if read < batch {
                return Ok(report);
            }
        }
    }
}
