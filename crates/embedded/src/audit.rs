//! `InMemoryAuditLog`: the chain in a vector, in `seq` order, with the
//! uniqueness of `seq` and of each act a store's indexes would give.

use async_trait::async_trait;
use parking_lot::Mutex;

use pointshare_domain::AuditRecord;
use pointshare_domain::ports::{AppendError, AuditFilter, AuditLog, StoreError};

#[derive(Debug, Default)]
pub struct InMemoryAuditLog {
    records: Mutex<Vec<AuditRecord>>,
}

#[async_trait]
impl AuditLog for InMemoryAuditLog {
    async fn last(&self) -> Result<Option<AuditRecord>, StoreError> {
        Ok(self.records.lock().last().cloned())
    }

    async fn append(&self, record: &AuditRecord) -> Result<(), AppendError> {
        let mut records = self.records.lock();
        if let Some(recorded) = records.iter().find(|held| held.entry.act == record.entry.act) {
            return Err(AppendError::Recorded(Box::new(recorded.clone())));
        }
        if records.last().is_some_and(|last| last.seq >= record.seq) {
            return Err(AppendError::SeqTaken(record.seq));
        }
        records.push(record.clone());
        Ok(())
    }

    async fn page(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let records = self.records.lock();
        let listed = records.iter().rev().filter(|record| before.is_none_or(|before| record.seq < before));
        Ok(listed.filter(|record| filter.lists(record)).take(limit).cloned().collect())
    }

    async fn scan(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let records = self.records.lock();
        Ok(records.iter().filter(|record| record.seq > after).take(limit).cloned().collect())
    }
}
