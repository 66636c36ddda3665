//! `FakeProvider`: the ledger behind the `PointsProvider` port, with faults a
//! test can script (the next N calls of one operation) or draw at random from
//! a seed (for property tests).

use async_trait::async_trait;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use pointshare_domain::ports::{Clock, Deadline, Movement, PointsProvider, ProviderError, Rejection};
use pointshare_domain::{
    AccountStatus, HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
};

use crate::{Ledger, LedgerError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    OpenAccount,
    Account,
    Debit,
    Credit,
    TransactionByReference,
}

impl Operation {
    fn mutates(self) -> bool {
        matches!(self, Self::OpenAccount | Self::Debit | Self::Credit)
    }
}

/// What goes wrong with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A 503: nothing applied.
    Transient,
    /// A 429 asking to wait this long.
    RateLimited(Duration),
    /// Applied, but the answer never arrives: outcome unknown.
    ApplyThenTimeout,
    /// Lost on the way: nothing applied, and the caller cannot tell.
    TimeoutWithoutApply,
    /// The provider refuses our credentials (a 401): nothing applied, and no
    /// retry helps until an operator fixes the configuration.
    Unauthorized,
    /// A final refusal, nothing applied.
    Reject(Rejection),
    /// The answer comes this much later. Past the caller's deadline it
    /// behaves as the real provider would: applied, outcome unknown.
    Delay(Duration),
}

/// Chances, per call, of each random fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomFaults {
    pub transient: f64,
    pub apply_then_timeout: f64,
    pub timeout_without_apply: f64,
    /// Every call is delayed by a random duration up to this.
    pub max_delay: Duration,
}

#[derive(Debug)]
struct Faults {
    scripted: HashMap<Operation, VecDeque<Fault>>,
    random: Option<(RandomFaults, StdRng)>,
    calls: HashMap<Operation, u64>,
}

#[derive(Debug)]
pub struct FakeProvider {
    ledger: Arc<Ledger>,
    faults: Mutex<Faults>,
}

impl FakeProvider {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::over(Arc::new(Ledger::new(clock)))
    }

    /// A provider over an existing ledger, e.g. one a simulator also serves.
    pub fn over(ledger: Arc<Ledger>) -> Self {
        FakeProvider {
            ledger,
            faults: Mutex::new(Faults { scripted: HashMap::new(), random: None, calls: HashMap::new() }),
        }
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The next `times` calls of `operation` suffer `fault`, after any already scripted.
    pub fn fail_next(&self, operation: Operation, times: usize, fault: Fault) {
        let mut faults = self.faults.lock();
        faults.scripted.entry(operation).or_default().extend(std::iter::repeat_n(fault, times));
    }

    /// From now on, unscripted calls draw faults at random, reproducibly from `seed`.
    pub fn randomize(&self, seed: u64, chances: RandomFaults) {
        self.faults.lock().random = Some((chances, StdRng::seed_from_u64(seed)));
    }

    /// Stops scripted and random faults.
    pub fn heal(&self) {
        let mut faults = self.faults.lock();
        faults.scripted.clear();
        faults.random = None;
    }

    /// How many calls of `operation` arrived, faulty or not.
    pub fn calls(&self, operation: Operation) -> u64 {
        self.faults.lock().calls.get(&operation).copied().unwrap_or(0)
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

    fn next_fault(&self, operation: Operation) -> Option<Fault> {
        let mut faults = self.faults.lock();
        *faults.calls.entry(operation).or_default() += 1;
        if let Some(fault) = faults.scripted.get_mut(&operation).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        let (chances, rng) = faults.random.as_mut()?;
        let roll: f64 = rng.random();
        let delay = rng.random_range(Duration::ZERO..=chances.max_delay);
        if roll < chances.transient {
            Some(Fault::Transient)
        } else if roll < chances.transient + chances.apply_then_timeout && operation.mutates() {
            Some(Fault::ApplyThenTimeout)
        } else if roll < chances.transient + chances.apply_then_timeout + chances.timeout_without_apply {
            Some(Fault::TimeoutWithoutApply)
        } else if delay > Duration::ZERO {
            Some(Fault::Delay(delay))
        } else {
            None
        }
    }

    /// Runs `apply` under the next fault for `operation`.
    async fn serve<T>(
        &self,
        operation: Operation,
        deadline: Deadline,
        apply: impl FnOnce() -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let unknown = || Err(ProviderError::OutcomeUnknown(format!("{operation:?} timed out")));
        match self.next_fault(operation) {
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

    async fn movement(
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
}

fn refusal(error: LedgerError) -> ProviderError {
    match error {
        LedgerError::AccountNotFound => ProviderError::Rejected(Rejection::AccountNotFound),
        LedgerError::ReferenceConflict => ProviderError::Rejected(Rejection::ReferenceConflict),
        LedgerError::InsufficientFunds => ProviderError::Rejected(Rejection::InsufficientFunds),
        LedgerError::AccountInactive => ProviderError::Rejected(Rejection::AccountInactive),
        LedgerError::BalanceOverflow => ProviderError::Unexpected(anyhow::anyhow!("balance overflow")),
    }
}

#[async_trait]
impl PointsProvider for FakeProvider {
    async fn open_account(&self, holder: &HolderRef, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        self.serve(Operation::OpenAccount, deadline, || Ok(self.ledger.open_account(holder, 0).0)).await
    }

    async fn account(&self, id: &ProviderAccountId, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        self.serve(Operation::Account, deadline, || self.ledger.account(id).map_err(refusal)).await
    }

    async fn debit(&self, movement: &Movement, deadline: Deadline) -> Result<ProviderTransaction, ProviderError> {
        self.movement(MovementKind::Debit, movement, deadline).await
    }

    async fn credit(&self, movement: &Movement, deadline: Deadline) -> Result<ProviderTransaction, ProviderError> {
        self.movement(MovementKind::Credit, movement, deadline).await
    }

    async fn transaction_by_reference(
        &self,
        reference: &ProviderReference,
        deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        self.serve(Operation::TransactionByReference, deadline, || Ok(self.ledger.transaction(reference))).await
    }
}
