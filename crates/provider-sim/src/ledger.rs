//! The provider's ledger, in memory, following provider-api.md exactly: the
//! reference is checked before anything else, then the account, its status and
//! its funds. The fake provider and the provider simulator both serve it.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use thiserror::Error;

use pointshare_domain::ports::{Clock, Movement, Rejection};
use pointshare_domain::{
    AccountStatus, HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
    ProviderTransactionId,
};

/// The provider's refusals, one per error code of provider-api.md that the
/// ledger itself decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LedgerError {
    #[error("no such account")]
    AccountNotFound,
    #[error("the reference was used before with a different account, kind or amount")]
    ReferenceConflict,
    #[error("the balance is lower than the amount")]
    InsufficientFunds,
    #[error("the account is frozen or closed")]
    AccountInactive,
    #[error("the balance would exceed what an account can hold")]
    BalanceOverflow,
}

impl LedgerError {
    /// The domain's refusal this is, if it is one (an overflow is not: no
    /// correct sequence of transfers reaches it).
    pub fn rejection(self) -> Option<Rejection> {
        match self {
            LedgerError::AccountNotFound => Some(Rejection::AccountNotFound),
            LedgerError::ReferenceConflict => Some(Rejection::ReferenceConflict),
            LedgerError::InsufficientFunds => Some(Rejection::InsufficientFunds),
            LedgerError::AccountInactive => Some(Rejection::AccountInactive),
            LedgerError::BalanceOverflow => None,
        }
    }
}

/// `GET /v1/_sandbox/ledger`: the sum every correct sequence of transfers keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSummary {
    pub accounts: usize,
    pub total_balance: u128,
    pub transactions: usize,
}

#[derive(Debug)]
pub struct Ledger {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    accounts: HashMap<ProviderAccountId, ProviderAccount>,
    by_holder: HashMap<HolderRef, ProviderAccountId>,
    transactions: HashMap<ProviderReference, ProviderTransaction>,
    /// In the order applied, for tests that read the whole history.
    journal: Vec<ProviderReference>,
    opened: u64,
}

impl Ledger {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Ledger { state: Mutex::default(), clock }
    }

    /// Opens the holder's account with `initial_balance`, or returns the
    /// holder's existing account. The flag says whether it was opened now.
    pub fn open_account(&self, holder: &HolderRef, initial_balance: u64) -> (ProviderAccount, bool) {
        let now = self.clock.now();
        let mut state = self.state.lock();
        if let Some(id) = state.by_holder.get(holder) {
            return (state.accounts[id].clone(), false);
        }
        state.opened += 1;
        let id = ProviderAccountId::parse(format!("acc_{}", state.opened)).expect("acc_<n> is a valid account id");
        let account = ProviderAccount {
            account_id: id.clone(),
            balance: initial_balance,
            status: AccountStatus::Active,
            updated_at: now,
        };
        state.accounts.insert(id.clone(), account.clone());
        state.by_holder.insert(holder.clone(), id);
        (account, true)
    }

    pub fn account(&self, id: &ProviderAccountId) -> Result<ProviderAccount, LedgerError> {
        self.state.lock().accounts.get(id).cloned().ok_or(LedgerError::AccountNotFound)
    }

    pub fn set_status(&self, id: &ProviderAccountId, status: AccountStatus) -> Result<ProviderAccount, LedgerError> {
        let now = self.clock.now();
        let mut state = self.state.lock();
        let account = state.accounts.get_mut(id).ok_or(LedgerError::AccountNotFound)?;
        account.status = status;
        account.updated_at = now;
        Ok(account.clone())
    }

    /// Applies a debit or credit. A replay (same reference, account, kind and
    /// amount) returns the original transaction and applies nothing, whatever
    /// the account's balance or status now; the flag says it was a replay.
    pub fn apply(&self, kind: MovementKind, movement: &Movement) -> Result<(ProviderTransaction, bool), LedgerError> {
        let now = self.clock.now();
        let mut state = self.state.lock();
        if let Some(earlier) = state.transactions.get(&movement.reference) {
            let same =
                earlier.account_id == movement.account && earlier.kind == kind && earlier.amount == movement.amount;
            return if same { Ok((earlier.clone(), true)) } else { Err(LedgerError::ReferenceConflict) };
        }
        let account = state.accounts.get_mut(&movement.account).ok_or(LedgerError::AccountNotFound)?;
        if account.status != AccountStatus::Active {
            return Err(LedgerError::AccountInactive);
        }
        let amount = movement.amount.get();
        account.balance = match kind {
            MovementKind::Debit => account.balance.checked_sub(amount).ok_or(LedgerError::InsufficientFunds)?,
            MovementKind::Credit => account.balance.checked_add(amount).ok_or(LedgerError::BalanceOverflow)?,
        };
        account.updated_at = now;
        let balance_after = account.balance;
        let sequence = state.journal.len() + 1;
        let transaction = ProviderTransaction {
            transaction_id: ProviderTransactionId::parse(format!("txn_{sequence}")).expect("txn_<n> is a valid id"),
            reference: movement.reference.clone(),
            account_id: movement.account.clone(),
            kind,
            amount: movement.amount,
            balance_after,
            created_at: now,
        };
        state.transactions.insert(movement.reference.clone(), transaction.clone());
        state.journal.push(movement.reference.clone());
        Ok((transaction, false))
    }

    pub fn transaction(&self, reference: &ProviderReference) -> Option<ProviderTransaction> {
        self.state.lock().transactions.get(reference).cloned()
    }

    /// Every applied transaction, oldest first.
    pub fn transactions(&self) -> Vec<ProviderTransaction> {
        let state = self.state.lock();
        state.journal.iter().map(|reference| state.transactions[reference].clone()).collect()
    }

    pub fn summary(&self) -> LedgerSummary {
        let state = self.state.lock();
        LedgerSummary {
            accounts: state.accounts.len(),
            total_balance: state.accounts.values().map(|a| u128::from(a.balance)).sum(),
            transactions: state.transactions.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pointshare_domain::Points;
    use pointshare_domain::ports::SystemClock;

    fn ledger() -> Ledger {
        Ledger::new(Arc::new(SystemClock))
    }

    fn holder(name: &str) -> HolderRef {
        HolderRef::parse(name).expect("valid holder")
    }

    fn movement(account: &ProviderAccountId, reference: &str, amount: u64) -> Movement {
        Movement {
            account: account.clone(),
            reference: ProviderReference::parse(reference).expect("valid reference"),
            amount: Points::new(amount).expect("valid amount"),
            memo: None,
        }
    }

    #[test]
    fn opening_is_idempotent_by_holder() {
        let ledger = ledger();
        let (first, created) = ledger.open_account(&holder("h1"), 10);
        assert!(created);
        let (again, created) = ledger.open_account(&holder("h1"), 999);
        assert!(!created);
        assert_eq!(again.account_id, first.account_id);
        assert_eq!(again.balance, 10);
        assert_eq!(ledger.summary().accounts, 1);
    }

    #[test]
    fn a_replay_wins_over_every_other_check() {
        let ledger = ledger();
        let (account, _) = ledger.open_account(&holder("h"), 100);
        let debit = movement(&account.account_id, "r:debit", 100);
        let (first, replayed) = ledger.apply(MovementKind::Debit, &debit).expect("applies");
        assert!(!replayed);
        assert_eq!(first.balance_after, 0);
        ledger.set_status(&account.account_id, AccountStatus::Frozen).expect("exists");
        // The balance is now 0 and the account frozen: the replay still answers.
        let (again, replayed) = ledger.apply(MovementKind::Debit, &debit).expect("replays");
        assert!(replayed);
        assert_eq!(again, first);
        assert_eq!(ledger.summary().transactions, 1);
    }

    #[test]
    fn a_reference_reused_differently_conflicts() {
        let ledger = ledger();
        let (account, _) = ledger.open_account(&holder("h"), 100);
        let (other, _) = ledger.open_account(&holder("h2"), 100);
        ledger.apply(MovementKind::Debit, &movement(&account.account_id, "r", 10)).expect("applies");
        for (kind, m) in [
            (MovementKind::Debit, movement(&account.account_id, "r", 11)),
            (MovementKind::Credit, movement(&account.account_id, "r", 10)),
            (MovementKind::Debit, movement(&other.account_id, "r", 10)),
        ] {
            assert_eq!(ledger.apply(kind, &m), Err(LedgerError::ReferenceConflict));
        }
    }

    #[test]
    fn refusals_apply_nothing() {
        let ledger = ledger();
        let (account, _) = ledger.open_account(&holder("h"), 5);
        let missing = ProviderAccountId::parse("acc_missing").expect("valid");
        assert_eq!(ledger.apply(MovementKind::Credit, &movement(&missing, "a", 1)), Err(LedgerError::AccountNotFound));
        assert_eq!(
            ledger.apply(MovementKind::Debit, &movement(&account.account_id, "b", 6)),
            Err(LedgerError::InsufficientFunds)
        );
        ledger.set_status(&account.account_id, AccountStatus::Closed).expect("exists");
        assert_eq!(
            ledger.apply(MovementKind::Credit, &movement(&account.account_id, "c", 1)),
            Err(LedgerError::AccountInactive)
        );
        assert_eq!(ledger.summary().transactions, 0);
        assert_eq!(ledger.summary().total_balance, 5);
        // A refused reference stays free for later use.
        ledger.set_status(&account.account_id, AccountStatus::Active).expect("exists");
        assert!(ledger.apply(MovementKind::Debit, &movement(&account.account_id, "b", 5)).is_ok());
    }
}
