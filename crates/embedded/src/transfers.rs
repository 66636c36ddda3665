//! `InMemoryTransfers`: transfers in a map, with the unique idempotency key,
//! compare-and-set transitions and leases the store enforces.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::HashMap;

use pointshare_domain::ports::{
    HistoryFilter, InsertTransferError, ReversalHolds, StoreError, TakeOverError, TransferLeases, TransferReads,
    TransferRecords, Transition, TransitionError, Window,
};
use pointshare_domain::{
    Cursor, IdempotencyKey, Lease, LeaseOwner, MemberId, Page, Points, StateChange, Transfer, TransferId, TransferKind,
    TransferState,
};

#[derive(Debug, Default)]
pub struct InMemoryTransfers {
    transfers: Mutex<HashMap<TransferId, Transfer>>,
}

impl InMemoryTransfers {
    /// Every transfer, oldest first; for tests that check them all.
    pub fn all(&self) -> Vec<Transfer> {
        let mut all: Vec<_> = self.transfers.lock().values().cloned().collect();
        all.sort_by_key(|t| (t.created_at, t.id));
        all
    }

    /// A page of the transfers `wanted` picks, newest first, strictly after `after`.
    fn newest_first(&self, wanted: impl Fn(&Transfer) -> bool, after: Option<Cursor>, limit: usize) -> Page<Transfer> {
        let transfers = self.transfers.lock();
        let mut picked: Vec<_> = transfers
            .values()
            .filter(|t| wanted(t))
            .filter(|t| after.is_none_or(|c| (t.created_at, t.id) < (c.created_at, c.id)))
            .cloned()
            .collect();
        picked.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
        let more = picked.len() > limit;
        picked.truncate(limit);
        let next = if more { picked.last().map(Transfer::cursor) } else { None };
        Page { items: picked, next }
    }
}

#[async_trait]
impl TransferRecords for InMemoryTransfers {
    async fn insert(&self, transfer: &Transfer) -> Result<(), InsertTransferError> {
        let mut transfers = self.transfers.lock();
        let same_key =
            transfers.values().find(|t| t.sender == transfer.sender && t.idempotency_key == transfer.idempotency_key);
        if let Some(existing) = same_key {
            return Err(InsertTransferError::KeyTaken(Box::new(existing.clone())));
        }
        transfers.insert(transfer.id, transfer.clone());
        Ok(())
    }

    async fn transition(&self, transition: &Transition) -> Result<Transfer, TransitionError> {
        let mut transfers = self.transfers.lock();
        if !transition.from.can_become(transition.to, transition.kind) {
            return Err(TransitionError::Illegal { from: transition.from, to: transition.to });
        }
        let transfer = transfers.get_mut(&transition.id).ok_or(TransitionError::NotFound)?;
        let leased_to_caller = transfer.lease.as_ref().is_some_and(|lease| lease.owner == transition.owner);
        if transfer.state != transition.from || transfer.kind != transition.kind || !leased_to_caller {
            return Err(TransitionError::Conflict(Box::new(transfer.clone())));
        }
        transfer.state = transition.to;
        transfer.changes.push(StateChange { at: transition.at, state: transition.to, by: transition.owner.clone() });
        transfer.decline = transition.decline;
        transfer.review = transition.review.or(transfer.review);
        transfer.resolution = transition.resolution.or(transfer.resolution);
        transfer.updated_at = transition.at;
        if transition.to == TransferState::NeedsReview {
            transfer.lease = None;
        }
        Ok(transfer.clone())
    }
}

#[async_trait]
impl TransferReads for InMemoryTransfers {
    async fn get(&self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        Ok(self.transfers.lock().get(&id).cloned())
    }

    async fn by_idempotency_key(&self, sender: MemberId, key: &IdempotencyKey) -> Result<Option<Transfer>, StoreError> {
        let transfers = self.transfers.lock();
        Ok(transfers.values().find(|t| t.sender == sender && &t.idempotency_key == key).cloned())
    }

    async fn history(
        &self,
        member: MemberId,
        filter: &HistoryFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Transfer>, StoreError> {
        Ok(self.newest_first(|t| filter.lists(member, t), after, limit))
    }

    async fn grants(&self, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError> {
        Ok(self.newest_first(|t| t.kind == TransferKind::Grant, after, limit))
    }

    async fn waiting(
        &self,
        state: TransferState,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Transfer>, StoreError> {
        Ok(self.newest_first(|t| t.state == state, after, limit))
    }

    async fn reversals_of(&self, id: TransferId) -> Result<Vec<Transfer>, StoreError> {
        let transfers = self.transfers.lock();
        let mut reversals: Vec<Transfer> = transfers.values().filter(|t| t.reverses == Some(id)).cloned().collect();
        reversals.sort_by_key(|t| (t.created_at, t.id));
        Ok(reversals)
    }

    async fn scan(&self, window: Window, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError> {
        let transfers = self.transfers.lock();
        let mut all: Vec<_> = transfers
            .values()
            .filter(|t| window.contains(t.created_at))
            .filter(|t| after.is_none_or(|c| (t.created_at, t.id) > (c.created_at, c.id)))
            .cloned()
            .collect();
        all.sort_by_key(|t| (t.created_at, t.id));
        let more = all.len() > limit;
        all.truncate(limit);
        let next = if more { all.last().map(Transfer::cursor) } else { None };
        Ok(Page { items: all, next })
    }

    async fn count_unfinished(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let transfers = self.transfers.lock();
        Ok(transfers.values().filter(|t| t.state.is_in_saga() && t.created_at < before).count() as u64)
    }

    async fn count_needing_review(&self) -> Result<u64, StoreError> {
        let transfers = self.transfers.lock();
        Ok(transfers.values().filter(|t| t.state == TransferState::NeedsReview).count() as u64)
    }
}

#[async_trait]
impl TransferLeases for InMemoryTransfers {
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StoreError> {
        let mut transfers = self.transfers.lock();
        let mut due: Vec<_> = transfers
            .values()
            .filter(|t| t.state.is_in_saga() && lease_ended(t, now))
            .map(|t| (t.created_at, t.id))
            .collect();
        due.sort();
        due.truncate(limit);
        let mut claimed = Vec::with_capacity(due.len());
        for (_, id) in due {
            if let Some(transfer) = transfers.get_mut(&id) {
                transfer.lease = Some(Lease { owner: owner.clone(), until });
                transfer.attempts += 1;
                claimed.push(transfer.clone());
            }
        }
        Ok(claimed)
    }

    async fn take_over(
        &self,
        id: TransferId,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Transfer, TakeOverError> {
        let mut transfers = self.transfers.lock();
        let transfer = transfers.get_mut(&id).ok_or(TakeOverError::NotFound)?;
        let own = transfer.lease.as_ref().is_some_and(|lease| &lease.owner == owner);
        if !own && !lease_ended(transfer, now) {
            return Err(TakeOverError::Leased(Box::new(transfer.clone())));
        }
        transfer.lease = Some(Lease { owner: owner.clone(), until });
        Ok(transfer.clone())
    }
}

#[async_trait]
impl ReversalHolds for InMemoryTransfers {
    async fn reserve_reversal(&self, id: TransferId, amount: Points) -> Result<bool, StoreError> {
        let mut transfers = self.transfers.lock();
        let Some(transfer) = transfers.get_mut(&id) else { return Ok(false) };
        if transfer.reversible() < amount.get() {
            return Ok(false);
        }
        transfer.reversed += amount.get();
        Ok(true)
    }

    async fn release_reversal(&self, id: TransferId, amount: Points) -> Result<(), StoreError> {
        if let Some(transfer) = self.transfers.lock().get_mut(&id) {
            transfer.reversed = transfer.reversed.saturating_sub(amount.get());
        }
        Ok(())
    }
}

fn lease_ended(transfer: &Transfer, now: DateTime<Utc>) -> bool {
    transfer.lease.as_ref().is_none_or(|lease| lease.until < now)
}
