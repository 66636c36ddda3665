//! The transfer saga of design.md: one provider step at a time, each result
//! recorded by compare-and-set before the next step starts.
//!
//! References derive from the transfer id (`<id>:debit`, `<id>:credit`,
//! `<id>:refund`), so any driver — the request that created the transfer, or
//! recovery after a crash — can repeat a step without applying it twice.

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

use super::transfers::day_key;
use crate::model::{
    DeclineReason, LeaseOwner, Memo, ProviderAccountId, ProviderReference, ProviderTransaction, Transfer, TransferKind,
    TransferState,
};
use crate::ports::{
    BalanceCache, CachedBalance, Clock, DailyTotals, Deadline, Movement, PointsProvider, ProviderError, Rejection,
    TransferRepository, Transition, TransitionError,
};

#[derive(Debug)]
pub struct SagaDriver {
    transfers: Arc<dyn TransferRepository>,
    /// Given back what a transfer reserved when it ends having moved nothing.
    totals: Arc<dyn DailyTotals>,
    provider: Arc<dyn PointsProvider>,
    cache: Arc<dyn BalanceCache>,
    clock: Arc<dyn Clock>,
    balance_ttl: Duration,
    /// The most replicas' clocks may differ: calls stop this long before a lease ends.
    clock_skew: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Debit,
    Credit,
}

/// The provider call a transfer's state calls for, and where each answer leads.
#[derive(Debug)]
struct Step {
    direction: Direction,
    movement: Movement,
    on_applied: TransferState,
    /// `None`: a rejection leaves the transfer where it is (a refund refused).
    on_rejected: Option<TransferState>,
    /// Which side's account a rejection speaks of.
    payer_side: bool,
}

impl SagaDriver {
    pub fn new(
        transfers: Arc<dyn TransferRepository>,
        totals: Arc<dyn DailyTotals>,
        provider: Arc<dyn PointsProvider>,
        cache: Arc<dyn BalanceCache>,
        clock: Arc<dyn Clock>,
        balance_ttl: Duration,
        clock_skew: Duration,
    ) -> Self {
        SagaDriver { transfers, totals, provider, cache, clock, balance_ttl, clock_skew }
    }

    /// Drives `transfer`, whose lease `owner` holds, until it is terminal, the
    /// deadline leaves no room for another attempt, or another driver takes it
    /// over. Returns the transfer as it then stands; a non-terminal one is
    /// "processing" and recovery will finish it.
    pub async fn drive(
        &self,
        mut transfer: Transfer,
        owner: &LeaseOwner,
        deadline: Deadline,
    ) -> anyhow::Result<Transfer> {
        while let Some(step) = next_step(&transfer)? {
            let Some(lease_left) = self.lease_left(&transfer, owner) else {
                tracing::warn!(transfer = %transfer.id, "the lease ran out before the next provider call; leaving it to its next holder");
                return Ok(transfer);
            };
            let answer = self.call(&step, deadline.capped(lease_left)).await;
            let (to, decline) = match answer {
                Ok(transaction) => {
                    self.remember_balance(&transaction).await;
                    (step.on_applied, None)
                }
                Err(ProviderError::Rejected(rejection)) => match step.on_rejected {
                    Some(to) => (to, Some(decline_reason(rejection, step.payer_side))),
                    None => {
                        tracing::error!(
                            transfer = %transfer.id, %rejection,
                            "refund refused by the provider; the transfer stays refunding until it can be refunded"
                        );
                        return Ok(transfer);
                    }
                },
                Err(error) => {
                    tracing::warn!(transfer = %transfer.id, %error, "saga step unfinished; leaving it to recovery");
                    return Ok(transfer);
                }
            };
            let transition = Transition {
                id: transfer.id,
                from: transfer.state,
                to,
                decline: decline.or(transfer.decline),
                owner: owner.clone(),
                at: self.clock.now(),
            };
            transfer = match self.transfers.transition(&transition).await {
                Ok(moved) if matches!(moved.state, TransferState::Rejected | TransferState::Reversed) => {
                    self.release(&moved).await;
                    moved
                }
                Ok(moved) => moved,
                Err(TransitionError::Conflict(current)) => {
                    tracing::info!(transfer = %transfer.id, state = current.state.as_str(), "transfer moved by another driver");
                    return Ok(*current);
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("recording step of transfer {}", transfer.id));
                }
            };
        }
        Ok(transfer)
    }

    /// How long `owner` may still call the provider for this transfer: until
    /// its lease ends by this process's clock, less the clock skew allowed
    /// between replicas (another replica's clock may see the lease end that
    /// much sooner). `None` once that has passed. The store's compare-and-set
    /// refuses a stale driver's *record*; this keeps a driver that stalled
    /// past its lease (a pause, a slow call) from sending another provider
    /// *call*, and no call it sends outlives its lease.
    fn lease_left(&self, transfer: &Transfer, owner: &LeaseOwner) -> Option<Duration> {
        let lease = transfer.lease.as_ref().filter(|lease| &lease.owner == owner)?;
        let left = (lease.until - self.clock.now()).to_std().ok()?.checked_sub(self.clock_skew)?;
        (!left.is_zero()).then_some(left)
    }

    /// One call per step: retrying within the deadline is the provider
    /// adapter's (with its budget and breaker); what is still unfinished after
    /// it is recovery's.
    async fn call(&self, step: &Step, deadline: Deadline) -> Result<ProviderTransaction, ProviderError> {
        match step.direction {
            Direction::Debit => self.provider.debit(&step.movement, deadline).await,
            Direction::Credit => self.provider.credit(&step.movement, deadline).await,
        }
    }

    /// A transfer that ended having moved nothing no longer counts against its
    /// sender's day. Only the driver whose transition ended it gets here, so
    /// it is given back once. If this fails the allowance stays smaller than
    /// it should until the day ends: the safe side.
    async fn release(&self, transfer: &Transfer) {
        if let Err(error) = self.totals.release(&day_key(transfer), transfer.amount).await {
            tracing::warn!(%error, transfer = %transfer.id, "could not give back a daily reservation");
        }
    }

    /// Every applied movement tells us the account's new balance; keep it, so
    /// the next read is fresh without another provider call. The cache keeps
    /// the newest by `as_of`, so an older answer arriving late changes nothing.
    async fn remember_balance(&self, transaction: &ProviderTransaction) {
        let balance = CachedBalance { balance: transaction.balance_after, as_of: transaction.created_at };
        if let Err(error) = self.cache.put(&transaction.account_id, balance, self.balance_ttl).await {
            tracing::warn!(%error, account = %transaction.account_id, "could not cache a balance");
        }
    }
}

fn next_step(transfer: &Transfer) -> anyhow::Result<Option<Step>> {
    let movement = |account: &ProviderAccountId, reference: ProviderReference, memo: Option<Memo>| Movement {
        account: account.clone(),
        reference,
        amount: transfer.amount,
        memo,
    };
    let sender_account =
        || transfer.sender_account.as_ref().with_context(|| format!("share {} has no sender account", transfer.id));
    let memo = transfer.memo.clone();
    let step = match (transfer.kind, transfer.state) {
        (_, state) if state.is_terminal() => return Ok(None),
        (TransferKind::Share, TransferState::Accepted) => Step {
            direction: Direction::Debit,
            movement: movement(sender_account()?, transfer.debit_reference(), memo),
            on_applied: TransferState::Debited,
            on_rejected: Some(TransferState::Rejected),
            payer_side: true,
        },
        (TransferKind::Share, TransferState::Debited) => Step {
            direction: Direction::Credit,
            movement: movement(&transfer.recipient_account, transfer.credit_reference(), memo),
            on_applied: TransferState::Completed,
            on_rejected: Some(TransferState::Refunding),
            payer_side: false,
        },
        (TransferKind::Share, TransferState::Refunding) => Step {
            direction: Direction::Credit,
            movement: movement(sender_account()?, transfer.refund_reference(), None),
            on_applied: TransferState::Reversed,
            on_rejected: None,
            payer_side: true,
        },
        (TransferKind::Grant, TransferState::Accepted) => Step {
            direction: Direction::Credit,
            movement: movement(&transfer.recipient_account, transfer.credit_reference(), memo),
            on_applied: TransferState::Completed,
            on_rejected: Some(TransferState::Rejected),
            payer_side: false,
        },
        (kind, state) => {
            anyhow::bail!("transfer {} is a {kind:?} in state {state:?}, which the saga never reaches", transfer.id)
        }
    };
    Ok(Some(step))
}

fn decline_reason(rejection: Rejection, payer_side: bool) -> DeclineReason {
    match (rejection, payer_side) {
        (Rejection::InsufficientFunds, _) => DeclineReason::InsufficientFunds,
        (Rejection::ReferenceConflict, _) => DeclineReason::ReferenceConflict,
        (Rejection::AccountInactive, true) => DeclineReason::SenderAccountInactive,
        (Rejection::AccountInactive, false) => DeclineReason::RecipientAccountInactive,
        (Rejection::AccountNotFound, true) => DeclineReason::SenderAccountNotFound,
        (Rejection::AccountNotFound, false) => DeclineReason::RecipientAccountNotFound,
    }
}
