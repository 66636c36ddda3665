//! Resolving what automation parked in `needs_review`: an admin or operator
//! says refund or complete, and this finishes the transfer that way after asking
//! the provider what each of its references already holds, so a decision
//! never moves points twice and repeating it changes nothing.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use super::reservations::release_reservation;
use super::time::to_delta;
use super::{AuditError, AuditService};
use crate::model::{
    AuditAction, AuditTarget, Authority, Cursor, LeaseOwner, Legs, MovementKind, Page, ProviderReference,
    ProviderTransaction, Resolution, Transfer, TransferId, TransferState,
};
use crate::ports::{
    BalanceCache, Clock, DailyTotals, Deadline, Movement, PointsProvider, ProviderError, StoreError, TakeOverError,
    TransferStore, Transition,
};

#[derive(Debug, Error)]
pub enum ResolveError {
    #[error("no transfer has this id")]
    NotFound,
    #[error("the transfer is {}, not needs_review", .0.state.as_str())]
    NotInReview(Box<Transfer>),
    #[error("{0}")]
    Busy(String),
    /// The provider's records rule this decision out; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("the provider could not answer: {0}")]
    Provider(#[from] ProviderError),
    /// Resolved, but not recorded in the audit log: not acknowledged; asking
    /// again records it.
    #[error(transparent)]
    AuditUnavailable(#[from] AuditError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug)]
pub struct ReviewService {
    transfers: TransferStore,
    totals: Arc<dyn DailyTotals>,
    provider: Arc<dyn PointsProvider>,
    /// Balances a resolution changed are dropped from it, so members read them afresh.
    cache: Arc<dyn BalanceCache>,
    audit: Arc<AuditService>,
    clock: Arc<dyn Clock>,
    /// How long a resolution holds the transfer against every other driver.
    lease_for: Duration,
}

/// What the provider holds under one of a transfer's references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceHolding {
    pub reference: ProviderReference,
    /// The movement applied under it, if any.
    pub transaction: Option<ProviderTransaction>,
}

/// Where a share's points are, by what its references hold.
enum Found {
    Nothing,
    Debited,
    Completed,
    Refunded,
}

impl ReviewService {
    pub fn new(
        transfers: TransferStore,
        totals: Arc<dyn DailyTotals>,
        provider: Arc<dyn PointsProvider>,
        cache: Arc<dyn BalanceCache>,
        audit: Arc<AuditService>,
        clock: Arc<dyn Clock>,
        lease_for: Duration,
    ) -> Self {
        ReviewService { transfers, totals, provider, cache, audit, clock, lease_for }
    }

    /// The transfers waiting for a person, newest first, after `after`.
    pub async fn queue(&self, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError> {
        self.transfers.reads.waiting(TransferState::NeedsReview, after, limit).await
    }

    /// What the provider holds under each of `transfer`'s references: the
    /// debit (a share's), then the credit (or the refund, which shares it).
    pub async fn holdings(
        &self,
        transfer: &Transfer,
        deadline: Deadline,
    ) -> Result<Vec<ReferenceHolding>, ProviderError> {
        let references = match transfer.kind.legs() {
            Legs::DebitThenCredit => vec![transfer.debit_reference(), transfer.credit_reference()],
            Legs::CreditOnly => vec![transfer.credit_reference()],
            // No credit leg, but a refund by hand would use the credit's reference.
            Legs::DebitOnly => vec![transfer.debit_reference(), transfer.credit_reference()],
        };
        let mut holdings = Vec::new();
        for reference in references {
            let transaction = self.provider.transaction_by_reference(&reference, deadline).await?;
            holdings.push(ReferenceHolding { reference, transaction });
        }
        Ok(holdings)
    }

    /// Finishes transfer `id` as `resolution` says, as `by` (recorded in the
    /// lease owner, the log and the audit log). A transfer already finished
    /// that way is returned as it is. The lease is the decider's by name, so
    /// after a refusal they can try again at once; another driver cannot.
    /// It is in the audit log before it is returned, however many times the
    /// decision is asked for.
    pub async fn resolve(
        &self,
        id: TransferId,
        resolution: Resolution,
        by: &Authority,
        deadline: Deadline,
    ) -> Result<Transfer, ResolveError> {
        let resolved = self.settle(id, resolution, by, deadline).await?;
        let entry = by
            .entry(AuditAction::Resolution, AuditTarget::Transfer(resolved.id), format!("resolution:{}", resolved.id))
            .changed(Some(TransferState::NeedsReview.as_str().to_owned()), resolved.state.as_str().to_owned());
        self.audit.record(entry).await?;
        Ok(resolved)
    }

    async fn settle(
        &self,
        id: TransferId,
        resolution: Resolution,
        by: &Authority,
        deadline: Deadline,
    ) -> Result<Transfer, ResolveError> {
        let owner = LeaseOwner::person(&by.actor);
        let now = self.clock.now();
        let transfer = match self.transfers.leases.take_over(id, &owner, now, now + to_delta(self.lease_for)).await {
            Ok(transfer) => transfer,
            Err(TakeOverError::NotFound) => return Err(ResolveError::NotFound),
            Err(TakeOverError::Leased(current)) if already(&current, resolution) => return Ok(*current),
            // Someone drives it, but it waits for no person: nothing to decide.
            Err(TakeOverError::Leased(current)) if current.state != TransferState::NeedsReview => {
                return Err(ResolveError::NotInReview(current));
            }
            Err(error @ TakeOverError::Leased(_)) => {
                return Err(ResolveError::Busy(format!("{error}; try again once it ends")));
            }
            Err(TakeOverError::Unexpected(error)) => return Err(ResolveError::Unexpected(error.into())),
        };
        if already(&transfer, resolution) {
            return Ok(transfer);
        }
        if transfer.state != TransferState::NeedsReview {
            return Err(ResolveError::NotInReview(Box::new(transfer)));
        }
        let to = self.settle_at_provider(&transfer, resolution, deadline).await?;
        let transition = Transition {
            id: transfer.id,
            kind: transfer.kind,
            from: transfer.state,
            to,
            decline: to.decline_kept(transfer.decline),
            review: None,
            resolution: Some(resolution),
            owner,
            at: self.clock.now(),
        };
        let resolved = self.transfers.records.transition(&transition).await.map_err(anyhow::Error::from)?;
        for account in resolved.sender_account.iter().chain(&resolved.recipient_account) {
            if let Err(error) = self.cache.invalidate(account).await {
                tracing::warn!(%error, %account, "could not drop a balance a resolution changed");
            }
        }
        if matches!(resolved.state, TransferState::Rejected | TransferState::Reversed) {
            release_reservation(self.totals.as_ref(), self.transfers.holds.as_ref(), &resolved).await;
        }
        tracing::warn!(transfer = %resolved.id, by = %by.actor, resolution = resolution.as_str(), state = resolved.state.as_str(), "transfer resolved by hand");
        Ok(resolved)
    }

    /// Makes the provider's records match `resolution` and says which state
    /// that leaves the transfer in.
    async fn settle_at_provider(
        &self,
        transfer: &Transfer,
        resolution: Resolution,
        deadline: Deadline,
    ) -> Result<TransferState, ResolveError> {
        let found = self.where_the_points_are(transfer, deadline).await?;
        let sender = || {
            transfer
                .sender_account
                .clone()
                .ok_or_else(|| ResolveError::Refused("a grant has no sender to refund".into()))
        };
        let recipient = || {
            transfer.recipient_account.clone().ok_or_else(|| ResolveError::Refused("a withdrawal pays nobody".into()))
        };
        let credit =
            |account| Movement { account, reference: transfer.credit_reference(), amount: transfer.amount, memo: None };
        let debit = |account| Movement { reference: transfer.debit_reference(), ..credit(account) };
        match (transfer.kind.legs(), resolution, found) {
            (_, Resolution::Complete, Found::Completed) | (_, Resolution::Refund, Found::Refunded) => {}
            (_, Resolution::Refund, Found::Completed) => {
                return Err(ResolveError::Refused(
                    "the recipient was already credited; only --complete fits what the provider holds".into(),
                ));
            }
            (_, Resolution::Complete, Found::Refunded) => {
                return Err(ResolveError::Refused(
                    "the sender was already refunded under the credit's reference; only --refund fits".into(),
                ));
            }
            (_, Resolution::Refund, Found::Nothing) => return Ok(TransferState::Rejected),
            // A withdrawal that took the points is whole: it has no refund leg.
            (Legs::DebitOnly, Resolution::Refund, Found::Debited) => {
                return Err(ResolveError::Refused(
                    "the member's points were taken already; only --complete fits what the provider holds".into(),
                ));
            }
            (Legs::DebitOnly, Resolution::Complete, Found::Debited) => {}
            (Legs::DebitOnly, Resolution::Complete, Found::Nothing) => {
                self.move_points(MovementKind::Debit, &debit(sender()?), deadline).await?;
            }
            (_, Resolution::Refund, Found::Debited) => {
                self.move_points(MovementKind::Credit, &credit(sender()?), deadline).await?;
            }
            (Legs::DebitThenCredit, Resolution::Complete, Found::Nothing) => {
                self.move_points(MovementKind::Debit, &debit(sender()?), deadline).await?;
                self.move_points(MovementKind::Credit, &credit(recipient()?), deadline).await?;
            }
            (_, Resolution::Complete, Found::Nothing | Found::Debited) => {
                self.move_points(MovementKind::Credit, &credit(recipient()?), deadline).await?;
            }
        }
        Ok(match resolution {
            Resolution::Complete => TransferState::Completed,
            Resolution::Refund => TransferState::Reversed,
        })
    }

    async fn where_the_points_are(&self, transfer: &Transfer, deadline: Deadline) -> Result<Found, ResolveError> {
        let credited = self.lookup(&transfer.credit_reference(), deadline).await?;
        if let Some(credit) = credited {
            let to_recipient = transfer.recipient_account.as_ref() == Some(&credit.account_id);
            let to_sender = transfer.sender_account.as_ref() == Some(&credit.account_id);
            return match (credit.kind, credit.amount == transfer.amount, to_recipient, to_sender) {
                (MovementKind::Credit, true, true, _) => Ok(Found::Completed),
                (MovementKind::Credit, true, _, true) => Ok(Found::Refunded),
                _ => Err(conflict(&credit)),
            };
        }
        if transfer.kind.legs() == Legs::CreditOnly {
            return Ok(Found::Nothing);
        }
        match self.lookup(&transfer.debit_reference(), deadline).await? {
            None => Ok(Found::Nothing),
            Some(debit)
                if debit.kind == MovementKind::Debit
                    && debit.amount == transfer.amount
                    && transfer.sender_account.as_ref() == Some(&debit.account_id) =>
            {
                Ok(Found::Debited)
            }
            Some(other) => Err(conflict(&other)),
        }
    }

    async fn lookup(
        &self,
        reference: &ProviderReference,
        deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ResolveError> {
        Ok(self.provider.transaction_by_reference(reference, deadline).await?)
    }

    async fn move_points(
        &self,
        kind: MovementKind,
        movement: &Movement,
        deadline: Deadline,
    ) -> Result<(), ResolveError> {
        let applied = match kind {
            MovementKind::Debit => self.provider.debit(movement, deadline).await,
            MovementKind::Credit => self.provider.credit(movement, deadline).await,
        };
        match applied {
            Ok(_) => Ok(()),
            Err(ProviderError::Rejected(rejection)) => Err(ResolveError::Refused(format!(
                "the provider refused the {} of {} to {}: {rejection}; the transfer stays in needs_review",
                kind.as_str(),
                movement.amount,
                movement.account
            ))),
            Err(error) => Err(error.into()),
        }
    }
}

/// Whether the transfer already ended the way `resolution` asks.
fn already(transfer: &Transfer, resolution: Resolution) -> bool {
    transfer.resolution == Some(resolution) && transfer.state.is_terminal()
}

fn conflict(found: &ProviderTransaction) -> ResolveError {
    ResolveError::Refused(format!(
        "reference {} holds {} {} to {}, which is not this transfer's; settle it at the provider first",
        found.reference,
        found.kind.as_str(),
        found.amount,
        found.account_id
    ))
}
