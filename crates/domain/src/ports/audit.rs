//! `AuditLog`: the append-only record of privileged acts. The port has no
//! way to change or remove a record: only to add one at the next place in
//! the chain, which one writer wins when several race for it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use super::StoreError;
use crate::model::{Actor, AuditAction, AuditRecord, AuditTarget};

#[derive(Debug, Error)]
pub enum AppendError {
    /// Another record took this place first: read the last one again.
    #[error("audit record {0} is taken")]
    SeqTaken(u64),
    /// This act is recorded already (its `act` is unique); here is its record.
    #[error("the act is recorded already, as record {}", .0.seq)]
    Recorded(Box<AuditRecord>),
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

/// Which records a page lists; every one when default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<Actor>,
    pub target: Option<AuditTarget>,
    pub action: Option<AuditAction>,
    /// Recorded at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Recorded before this.
    pub until: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Whether the filter lists `record`.
    pub fn lists(&self, record: &AuditRecord) -> bool {
        let entry = &record.entry;
        self.actor.as_ref().is_none_or(|actor| &entry.actor == actor)
            && self.target.is_none_or(|target| entry.target == target)
            && self.action.is_none_or(|action| entry.action == action)
            && self.since.is_none_or(|since| record.at >= since)
            && self.until.is_none_or(|until| record.at < until)
    }
}

#[async_trait]
pub trait AuditLog: Send + Sync + std::fmt::Debug {
    /// The record with the highest `seq`, if any.
    async fn last(&self) -> Result<Option<AuditRecord>, StoreError>;

    /// Adds `record` at its `seq`, unless a record holds that `seq` or the
    /// same act already.
    async fn append(&self, record: &AuditRecord) -> Result<(), AppendError>;

    /// The records `filter` lists, newest first, with a `seq` below `before`
    /// when given; at most `limit`.
    async fn page(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    /// The records after `seq` `after`, in chain order; at most `limit`.
    async fn scan(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
}
