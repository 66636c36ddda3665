//! `FakeProvider`: the ledger behind the `PointsProvider` port, in-process,
//! suffering the faults of its `FaultPlan` the way a real provider would.

use async_trait::async_trait;
use std::sync::Arc;

use pointshare_domain::ports::{Clock, Deadline, Movement, PointsProvider, ProviderError};
use pointshare_domain::{
    AccountStatus, HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
};

use crate::{Fault, FaultPlan, Ledger, LedgerError, Operation};

#[derive(Debug)]
pub struct FakeProvider {
    ledger: Arc<Ledger>,
    faults: FaultPlan,
}

impl FakeProvider {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Arc::new(Ledger::new(clock)))
    }

    /// A provider over an existing ledger, e.g. one a simulator also serves.
    pub fn over(ledger: Arc<Ledger>) -> Self {
        FakeProvider { ledger, faults: FaultPlan::default() }
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The faults this provider will suffer: script them or draw them at random.
    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    /// Opens a funded account directly in the ledger, as the sandbox allows.
    pub fn open_funded(&self, holder: &HolderRef, balance: u64) -> ProviderAccount {
        self.ledger.open_account(holder, balance).0
    }

    pub fn set_status(&self, account: &ProviderAccountId, status: AccountStatus) {
        self.ledger.set_status(account, status).expect("the account exists");
    }

    pub fn balance(&self, account: &ProviderAccountId) -> u64 {
        self.ledger.account(account).expect("the account exists").balance
    }

    /// Runs `apply` under the next fault for `operation`.
    async fn serve<T>(
        &self,
        operation: Operation,
        deadline: Deadline,
        apply: impl FnOnce() -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let unknown = || Err(ProviderError::OutcomeUnknown(format!("{operation:?} timed out")));
        // As an adapter does: a call out of time is not made (and meets no fault).
        if deadline.is_past() {
            return Err(ProviderError::Transient {
                message: format!("{operation:?}: the deadline passed before the call"),
                retry_after: None,
            });
        }
        match self.faults.next(operation) {
            None => apply(),
            Some(Fault::Transient) => {
                Err(ProviderError::Transient { message: "503 unavailable (injected)".into(), retry_after: None })
            }
            Some(Fault::RateLimited(wait)) => {
                Err(ProviderError::Transient { message: "429 rate limited (injected)".into(), retry_after: Some(wait) })
            }
            Some(Fault::ApplyThenTimeout) => {
                // Only the side effect matters here; the caller never sees the answer.
                let _applied = apply();
                unknown()
            }
            Some(Fault::TimeoutWithoutApply) => unknown(),
            Some(Fault::Unauthorized) => Err(ProviderError::Unexpected(anyhow::anyhow!("401 unauthorized (injected)"))),
            Some(Fault::Reject(rejection)) => Err(ProviderError::Rejected(rejection)),
            Some(Fault::Delay(delay)) => {
                let remaining = deadline.remaining();
                tokio::time::sleep(delay.min(remaining)).await;
                let answer = apply();
                if delay > remaining { unknown() } else { answer }
            }
        }
    }
}

/// The port's answer for a refusal of the ledger.
pub fn refusal(error: LedgerError) -> ProviderError {
    error.rejection().map_or_else(|| ProviderError::Unexpected(error.into()), ProviderError::Rejected)
}

#[async_trait]
impl PointsProvider for FakeProvider {
    async fn open_account(&self, holder: &HolderRef, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        self.serve(Operation::OpenAccount, deadline, || Ok(self.ledger.open_account(holder, 0).0)).await
    }

    async fn account(&self, id: &ProviderAccountId, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        self.serve(Operation::Account, deadline, || self.ledger.account(id).map_err(refusal)).await
    }

    async fn apply(
        &self,
        kind: MovementKind,
        movement: &Movement,
        deadline: Deadline,
    ) -> Result<ProviderTransaction, ProviderError> {
        let operation = match kind {
            MovementKind::Debit => Operation::Debit,
            MovementKind::Credit => Operation::Credit,
        };
        self.serve(operation, deadline, || {
            self.ledger.apply(kind, movement).map(|(transaction, _replayed)| transaction).map_err(refusal)
        })
        .await
    }

    async fn transaction_by_reference(
        &self,
        reference: &ProviderReference,
        deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        self.serve(Operation::TransactionByReference, deadline, || Ok(self.ledger.transaction(reference))).await
    }
}
