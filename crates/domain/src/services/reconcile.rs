//! Reconciliation: reads the transfer records created in a window and asks
//! the provider, by reference, what it actually applied, then reports every
//! disagreement. A final state implies exactly which references exist:
//!
//! | transfer | `:debit` | `:credit` |
//! |---|---|---|
//! | share completed | sender, amount | credit to recipient, amount |
//! | share reversed | sender, amount | credit to sender (the refund), amount |
//! | share rejected | none | none |
//! | grant completed | – | credit to recipient, amount |
//! | grant rejected | – | none |
//!
//! The provider keeps one transaction per reference, so "exists" is "applied
//! exactly once". Unfinished transfers are listed, not judged: recovery
//! finishes them; so are those waiting in `needs_review` for a person.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use thiserror::Error;

use crate::model::{
    Cursor, Legs, MovementKind, ProviderAccountId, ProviderReference, ProviderTransaction, Transfer, TransferId,
    TransferState,
};
use crate::ports::{Deadline, PointsProvider, ProviderError, StoreError, TransferReads, Window};

/// What one reference should hold: nothing, or this movement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    reference: ProviderReference,
    movement: Option<(ProviderAccountId, MovementKind)>,
}

/// A disagreement between a transfer record and the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub transfer: TransferId,
    pub state: TransferState,
    pub reference: ProviderReference,
    pub problem: String,
}

/// The outcome of one reconciliation pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    pub transfers: u64,
    pub by_state: BTreeMap<&'static str, u64>,
    /// Points credited by completed grants, and taken by completed
    /// withdrawals: the provider's total balance should have grown by the
    /// one less the other, since shares and reversals only move points.
    pub granted_points: u128,
    pub withdrawn_points: u128,
    pub unfinished: Vec<TransferId>,
    /// Transfers in `needs_review`: `pointshare transfers resolve` ends them.
    pub needing_review: Vec<TransferId>,
    pub mismatches: Vec<Mismatch>,
}

#[derive(Debug, Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the provider could not answer for {reference}: {error}")]
    Provider { reference: ProviderReference, error: ProviderError },
}

#[derive(Debug)]
pub struct ReconcileService {
    transfers: Arc<dyn TransferReads>,
    provider: Arc<dyn PointsProvider>,
    /// Time given to each lookup (with its retries).
    lookup_budget: Duration,
}

const PAGE: usize = 200;

impl ReconcileService {
    pub fn new(transfers: Arc<dyn TransferReads>, provider: Arc<dyn PointsProvider>, lookup_budget: Duration) -> Self {
        ReconcileService { transfers, provider, lookup_budget }
    }

    /// Compares every transfer created in `window`, with up to `concurrency`
    /// transfers' provider lookups in flight: the operator weighs speed
    /// against the provider's limits. Lookups finish out of order and pages
    /// are read ahead, so one slow answer holds up only its own transfer. The
    /// report lists transfers in the store's order. `checked` is told of each
    /// transfer as its lookups end (a progress bar).
    pub async fn run(
        &self,
        window: Window,
        concurrency: usize,
        checked: &(dyn Fn() + Sync),
    ) -> Result<Reconciliation, ReconcileError> {
        // `Some(cursor)` while pages remain; `None` once the last was read.
        let pages = futures::stream::try_unfold(Some(None), |after: Option<Option<Cursor>>| async move {
            let Some(after) = after else { return Ok(None) };
            let page = self.transfers.scan(window, after, PAGE).await?;
            Ok::<_, ReconcileError>(Some((page.items, page.next.map(Some))))
        });
        let checked = pages
            .map_ok(|items| futures::stream::iter(items.into_iter().map(Ok::<_, ReconcileError>)))
            .try_flatten()
            .enumerate()
            .map(|(n, transfer)| async move {
                let transfer = transfer?;
                let mismatches = self.check(&transfer).await?;
                checked();
                Ok::<_, ReconcileError>((n, transfer, mismatches))
            })
            .buffer_unordered(concurrency.max(1));
        let mut unfinished = Vec::new();
        let mut needing_review = Vec::new();
        let mut mismatches = Vec::new();
        let mut report = checked
            .try_fold(Reconciliation::default(), |mut report, (n, transfer, found)| {
                report.transfers += 1;
                *report.by_state.entry(transfer.state.as_str()).or_default() += 1;
                if transfer.state.is_in_saga() {
                    unfinished.push((n, transfer.id));
                }
                if transfer.state == TransferState::NeedsReview {
                    needing_review.push((n, transfer.id));
                }
                if transfer.state == TransferState::Completed {
                    match transfer.kind.legs() {
                        Legs::CreditOnly => report.granted_points += u128::from(transfer.amount.get()),
                        Legs::DebitOnly => report.withdrawn_points += u128::from(transfer.amount.get()),
                        Legs::DebitThenCredit => {}
                    }
                }
                mismatches.extend(found.into_iter().map(|m| (n, m)));
                futures::future::ready(Ok(report))
            })
            .await?;
        unfinished.sort_by_key(|(n, _)| *n);
        needing_review.sort_by_key(|(n, _)| *n);
        mismatches.sort_by_key(|(n, _)| *n);
        report.unfinished = unfinished.into_iter().map(|(_, id)| id).collect();
        report.needing_review = needing_review.into_iter().map(|(_, id)| id).collect();
        report.mismatches = mismatches.into_iter().map(|(_, m)| m).collect();
        Ok(report)
    }

    async fn check(&self, transfer: &Transfer) -> Result<Vec<Mismatch>, ReconcileError> {
        let Some(expected) = expectations(transfer) else { return Ok(Vec::new()) };
        let mut mismatches = Vec::new();
        for expected in expected {
            let found = self.lookup(&expected.reference).await?;
            if let Some(problem) = disagreement(transfer, &expected, found.as_ref()) {
                mismatches.push(Mismatch {
                    transfer: transfer.id,
                    state: transfer.state,
                    reference: expected.reference,
                    problem,
                });
            }
        }
        Ok(mismatches)
    }

    async fn lookup(&self, reference: &ProviderReference) -> Result<Option<ProviderTransaction>, ReconcileError> {
        let deadline = Deadline::after(self.lookup_budget);
        let mut answer = self.provider.transaction_by_reference(reference, deadline).await;
        // The adapter retries within the deadline; a last transient answer gets one more chance.
        while matches!(&answer, Err(error) if error.is_retryable()) && !deadline.is_past() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            answer = self.provider.transaction_by_reference(reference, deadline).await;
        }
        answer.map_err(|error| ReconcileError::Provider { reference: reference.clone(), error })
    }
}

/// What a transfer in a final state must have left at the provider; `None`
/// while it is unfinished.
fn expectations(transfer: &Transfer) -> Option<Vec<Expected>> {
    if !transfer.state.is_terminal() {
        return None;
    }
    let sender = transfer.sender_account.clone();
    let recipient = transfer.recipient_account.clone();
    let debit = |applied: bool| Expected {
        reference: transfer.debit_reference(),
        movement: applied.then(|| sender.clone().map(|a| (a, MovementKind::Debit))).flatten(),
    };
    let credit = |to: Option<ProviderAccountId>| Expected {
        reference: transfer.credit_reference(),
        movement: to.map(|account| (account, MovementKind::Credit)),
    };
    Some(match (transfer.kind.legs(), transfer.state) {
        (Legs::CreditOnly, TransferState::Completed) => vec![credit(recipient)],
        (Legs::CreditOnly, _) => vec![credit(None)],
        (Legs::DebitOnly, TransferState::Completed) => vec![debit(true), credit(None)],
        (Legs::DebitOnly, _) => vec![debit(false), credit(None)],
        (Legs::DebitThenCredit, TransferState::Completed) => vec![debit(true), credit(recipient)],
        (Legs::DebitThenCredit, TransferState::Reversed) => vec![debit(true), credit(sender)],
        (Legs::DebitThenCredit, _) => vec![debit(false), credit(None)],
    })
}

fn disagreement(transfer: &Transfer, expected: &Expected, found: Option<&ProviderTransaction>) -> Option<String> {
    match (&expected.movement, found) {
        (None, None) => None,
        (None, Some(found)) => Some(format!(
            "the provider applied {} {} to {} under this reference, but the transfer is {}",
            found.kind.as_str(),
            found.amount,
            found.account_id,
            transfer.state.as_str()
        )),
        (Some(_), None) => Some(format!("missing at the provider, but the transfer is {}", transfer.state.as_str())),
        (Some((account, kind)), Some(found)) => {
            let same = &found.account_id == account && found.kind == *kind && found.amount == transfer.amount;
            (!same).then(|| {
                format!(
                    "the provider applied {} {} to {}; the transfer says {} {} to {}",
                    found.kind.as_str(),
                    found.amount,
                    found.account_id,
                    kind.as_str(),
                    transfer.amount,
                    account
                )
            })
        }
    }
}
