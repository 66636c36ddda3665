//! The transfer store: durable saga state, changed only by compare-and-set,
//! in a port for each of its consumers (records, reads, leases, reversal
//! holds) and `TransferRepository`, the four together.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use super::StoreError;
use crate::model::{
    Cursor, DeclineReason, IdempotencyKey, LeaseOwner, MemberId, Page, Points, Resolution, ReviewReason, Transfer,
    TransferId, TransferKind, TransferState,
};

#[derive(Debug, Error)]
pub enum InsertTransferError {
    /// The sender already used this idempotency key; here is that transfer.
    #[error("idempotency key already used by transfer {}", .0.id)]
    KeyTaken(Box<Transfer>),
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

/// Move transfer `id` from `from` to `to`, if it is still in `from` and its
/// lease is still held by `owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub id: TransferId,
    /// The transfer's kind, which decides the legal edges: a store can refuse
    /// an illegal move without reading the transfer first.
    pub kind: TransferKind,
    pub from: TransferState,
    pub to: TransferState,
    pub decline: Option<DeclineReason>,
    /// Why it goes to `needs_review`; once set, kept.
    pub review: Option<ReviewReason>,
    /// An operator's decision that ends a review.
    pub resolution: Option<Resolution>,
    pub owner: LeaseOwner,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Error)]
pub enum TransitionError {
    #[error("no such transfer")]
    NotFound,
    /// Someone else moved the transfer or took its lease; here it is as it stands.
    #[error("transfer {} is {} or leased to another driver", .0.id, .0.state.as_str())]
    Conflict(Box<Transfer>),
    /// The saga has no such edge; a bug in the caller.
    #[error("no transition from {} to {}", .from.as_str(), .to.as_str())]
    Illegal { from: TransferState, to: TransferState },
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

/// Which of a member's transfers a history page lists; all when default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub direction: Option<Direction>,
    /// Only transfers in one of these states; any state when empty.
    pub states: Vec<TransferState>,
    /// Created at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Created before this.
    pub until: Option<DateTime<Utc>>,
}

/// Transfers created at or after `since` and before `until`; an end left
/// open is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Window {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|since| at >= since) && self.until.is_none_or(|until| at < until)
    }
}

/// Sent by the member, or received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Sent,
    Received,
}

impl HistoryFilter {
    /// Whether `member`'s history under this filter lists `transfer`.
    pub fn lists(&self, member: MemberId, transfer: &Transfer) -> bool {
        let side = match self.direction {
            None => transfer.sender == member || transfer.recipient == member,
            Some(Direction::Sent) => transfer.sender == member,
            Some(Direction::Received) => transfer.recipient == member,
        };
        side && (self.states.is_empty() || self.states.contains(&transfer.state))
            && self.since.is_none_or(|since| transfer.created_at >= since)
            && self.until.is_none_or(|until| transfer.created_at < until)
    }
}

/// Records transfers and moves them: every change to a transfer's state
/// goes through here, which is why announcing changes wraps this alone.
#[async_trait]
pub trait TransferRecords: Send + Sync + std::fmt::Debug {
    /// Adds a transfer; (sender, idempotency key) is unique.
    async fn insert(&self, transfer: &Transfer) -> Result<(), InsertTransferError>;

    /// The compare-and-set every saga step goes through. Moving to
    /// `needs_review` also ends the lease: nobody drives a parked transfer,
    /// and an operator may take it up at once.
    async fn transition(&self, transition: &Transition) -> Result<Transfer, TransitionError>;
}

/// Reads transfers: members' histories, the support desk's queues,
/// reconciliation and recovery's counts.
#[async_trait]
pub trait TransferReads: Send + Sync + std::fmt::Debug {
    async fn get(&self, id: TransferId) -> Result<Option<Transfer>, StoreError>;

    async fn by_idempotency_key(&self, sender: MemberId, key: &IdempotencyKey) -> Result<Option<Transfer>, StoreError>;

    /// Transfers the member sent or received that `filter` lists, newest
    /// first by (created_at, id), strictly after `after` when given.
    async fn history(
        &self,
        member: MemberId,
        filter: &HistoryFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Transfer>, StoreError>;

    /// Every grant, newest first by (created_at, id), strictly after `after`
    /// when given: the admins' audit trail.
    async fn grants(&self, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError>;

    /// The transfers in `state`, newest first by (created_at, id), strictly
    /// after `after` when given: the support desk's queues (`needs_review`,
    /// `awaiting_approval`).
    async fn waiting(
        &self,
        state: TransferState,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Transfer>, StoreError>;

    /// The reversals of transfer `id`, oldest first.
    async fn reversals_of(&self, id: TransferId) -> Result<Vec<Transfer>, StoreError>;

    /// Every transfer created within `window`, oldest first by (created_at,
    /// id), strictly after `after` when given: for reconciliation, which
    /// reads them all.
    async fn scan(&self, window: Window, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError>;

    /// How many transfers created before `before` are still in the saga:
    /// those recovery has not finished in the time it should have.
    async fn count_unfinished(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// How many transfers wait in `needs_review` for a person.
    async fn count_needing_review(&self) -> Result<u64, StoreError>;
}

/// Leases transfers to whoever drives them: recovery claims what is due, a
/// request or an operator takes one up.
#[async_trait]
pub trait TransferLeases: Send + Sync + std::fmt::Debug {
    /// Leases up to `limit` transfers still in the saga whose lease ended
    /// before `now` to `owner` until `until`, counts the attempt, and returns
    /// them. Two callers never get the same transfer while its lease runs.
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StoreError>;

    /// Leases transfer `id`, in any state, to `owner` until `until` if its
    /// lease ended before `now` or `owner` holds it already: how an operator
    /// takes one up by hand, and again after a refused attempt.
    async fn take_over(
        &self,
        id: TransferId,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Transfer, TakeOverError>;
}

/// What reversals hold of their original, so reversals of one transfer
/// never add up to more than it.
#[async_trait]
pub trait ReversalHolds: Send + Sync + std::fmt::Debug {
    /// Adds `amount` to what reversals hold of transfer `id` (its
    /// `reversed`), if that stays at most its `amount`, in one atomic step;
    /// `false`, and nothing added, if it would not (or there is no such
    /// transfer). How reversals of one transfer never add up to more than it.
    async fn reserve_reversal(&self, id: TransferId, amount: Points) -> Result<bool, StoreError>;

    /// Gives back what a reversal that moved nothing held of transfer `id`.
    async fn release_reversal(&self, id: TransferId, amount: Points) -> Result<(), StoreError>;
}

/// A whole transfer store, as adapters provide it and the store contract
/// checks it. The domain's services take the parts they use
/// (`TransferStore`), so a decorator wraps only what it changes.
pub trait TransferRepository: TransferRecords + TransferReads + TransferLeases + ReversalHolds {}

impl<T: TransferRecords + TransferReads + TransferLeases + ReversalHolds + ?Sized> TransferRepository for T {}

/// One store's transfers, a part for each consumer. Made from a whole store,
/// then each part may be wrapped on its own: the events decorator wraps
/// `records`, the simulation stalls the parts a frozen replica would.
#[derive(Debug, Clone)]
pub struct TransferStore {
    pub records: Arc<dyn TransferRecords>,
    pub reads: Arc<dyn TransferReads>,
    pub leases: Arc<dyn TransferLeases>,
    pub holds: Arc<dyn ReversalHolds>,
}

impl TransferStore {
    pub fn new(store: Arc<dyn TransferRepository>) -> Self {
        TransferStore { records: store.clone(), reads: store.clone(), leases: store.clone(), holds: store }
    }
}

#[derive(Debug, Error)]
pub enum TakeOverError {
    #[error("no such transfer")]
    NotFound,
    /// Someone holds it; here it is as it stands.
    #[error("transfer {} is leased to {} until {}", .0.id, .0.lease.as_ref().map_or("nobody", |l| l.owner.as_str()), .0.lease.as_ref().map(|l| l.until.to_rfc3339()).unwrap_or_default())]
    Leased(Box<Transfer>),
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}
