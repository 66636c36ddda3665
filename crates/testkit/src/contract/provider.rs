//! The `PointsProvider` contract (provider-api.md): what every implementation
//! of the port must do, whether in-process (`FakeProvider`) or over HTTP
//! (`pointshare-provider-http` against `pointshare-provider-sim`).
//!
//! Run it with `provider_contract!(async { <a fresh ProviderUnderTest> })`.
//! Faults are scripted through the subject's `FaultPlan`; an implementation
//! may hide a transient fault by retrying it itself, so the cases assert what
//! the caller can rely on either way: one reference is applied at most once.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use pointshare_domain::ports::{Deadline, Movement, PointsProvider, ProviderError, Rejection};
use pointshare_domain::{AccountStatus, HolderRef, MovementKind, Points, ProviderAccountId, ProviderReference};

use crate::{FakeProvider, Fault, FaultPlan, Ledger, Operation};

/// An implementation of the port together with the ledger behind it and the
/// faults it will suffer, so cases can arrange and check what happened.
pub trait ProviderUnderTest: Send + Sync {
    fn provider(&self) -> Arc<dyn PointsProvider>;
    fn ledger(&self) -> &Ledger;
    fn faults(&self) -> &FaultPlan;
}

impl ProviderUnderTest for Arc<FakeProvider> {
    fn provider(&self) -> Arc<dyn PointsProvider> {
        Arc::clone(self) as Arc<dyn PointsProvider>
    }

    fn ledger(&self) -> &Ledger {
        FakeProvider::ledger(self)
    }

    fn faults(&self) -> &FaultPlan {
        FakeProvider::faults(self)
    }
}

/// Expands to one `#[tokio::test]` per contract case, each on a fresh
/// subject from `$setup` (an expression giving a future of a `ProviderUnderTest`).
#[macro_export]
macro_rules! provider_contract {
    ($setup:expr) => {
        $crate::provider_contract!(@cases $setup;
            opening_an_account_is_idempotent_by_holder,
            an_unknown_account_is_not_found,
            a_debit_and_a_credit_move_points,
            a_replay_returns_the_original_and_applies_nothing,
            a_reference_reused_for_another_movement_conflicts,
            insufficient_funds_apply_nothing_and_free_the_reference,
            inactive_accounts_refuse_movements,
            a_movement_on_an_unknown_account_is_not_found,
            transactions_are_found_by_reference,
            concurrent_debits_of_one_account_lose_no_update,
            a_transient_failure_repeated_with_the_same_reference_applies_once,
            an_unknown_outcome_repeated_with_the_same_reference_applies_once,
            a_final_rejection_is_not_retried,
        );
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let subject = $setup.await;
                $crate::contract::provider::$case(&subject).await;
            }
        )+
    };
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

fn holder(name: &str) -> HolderRef {
    HolderRef::parse(format!("{name}-{}", uuid_like())).expect("valid holder_ref")
}

/// Unique per call, so cases never collide on a shared provider.
fn uuid_like() -> u64 {
    rand::random()
}

fn reference(name: &str) -> ProviderReference {
    ProviderReference::parse(format!("{name}:{}", uuid_like())).expect("valid reference")
}

fn movement(account: &ProviderAccountId, reference: &ProviderReference, amount: u64) -> Movement {
    Movement {
        account: account.clone(),
        reference: reference.clone(),
        amount: Points::new(amount).expect("valid amount"),
        memo: None,
    }
}

fn funded(subject: &impl ProviderUnderTest, balance: u64) -> ProviderAccountId {
    subject.ledger().open_account(&holder("funded"), balance).0.account_id
}

fn balance(subject: &impl ProviderUnderTest, account: &ProviderAccountId) -> u64 {
    subject.ledger().account(account).expect("the account exists").balance
}

/// Repeats a call with the same arguments while its outcome may still change,
/// as the saga does; a few attempts are enough once faults stop.
async fn until_answered<T, F, Fut>(mut call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let mut answer = call().await;
    for _ in 0..5 {
        match &answer {
            Err(error) if error.is_retryable() => answer = call().await,
            _ => break,
        }
    }
    answer
}

fn assert_rejected<T: std::fmt::Debug>(answer: Result<T, ProviderError>, expected: Rejection) {
    match answer {
        Err(ProviderError::Rejected(rejection)) => assert_eq!(rejection, expected),
        other => panic!("expected the rejection {expected:?}, got {other:?}"),
    }
}

pub async fn opening_an_account_is_idempotent_by_holder(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let holder = holder("open");
    let first = provider.open_account(&holder, deadline()).await.expect("opens");
    assert_eq!(first.balance, 0);
    assert_eq!(first.status, AccountStatus::Active);
    let again = provider.open_account(&holder, deadline()).await.expect("returns the existing account");
    assert_eq!(again.account_id, first.account_id);
    let read = provider.account(&first.account_id, deadline()).await.expect("reads");
    assert_eq!(read, first);
}

pub async fn an_unknown_account_is_not_found(subject: &impl ProviderUnderTest) {
    let missing = ProviderAccountId::parse("acc_never_opened").expect("valid id");
    assert_rejected(subject.provider().account(&missing, deadline()).await, Rejection::AccountNotFound);
}

pub async fn a_debit_and_a_credit_move_points(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let from = funded(subject, 100);
    let to = funded(subject, 5);
    let debit_ref = reference("move:debit");
    let debit = provider.debit(&movement(&from, &debit_ref, 30), deadline()).await.expect("debits");
    assert_eq!((debit.kind, debit.amount.get(), debit.balance_after), (MovementKind::Debit, 30, 70));
    assert_eq!((&debit.account_id, &debit.reference), (&from, &debit_ref));
    let credit = provider.credit(&movement(&to, &reference("move:credit"), 30), deadline()).await.expect("credits");
    assert_eq!((credit.kind, credit.balance_after), (MovementKind::Credit, 35));
    assert_eq!(provider.account(&from, deadline()).await.expect("reads").balance, 70);
    assert_eq!(provider.account(&to, deadline()).await.expect("reads").balance, 35);
}

pub async fn a_replay_returns_the_original_and_applies_nothing(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let account = funded(subject, 50);
    let debit = movement(&account, &reference("replay"), 50);
    let first = provider.debit(&debit, deadline()).await.expect("debits");
    // The balance is now below the amount and the account frozen: the replay answers all the same.
    subject.ledger().set_status(&account, AccountStatus::Frozen).expect("the account exists");
    let again = provider.debit(&debit, deadline()).await.expect("replays");
    assert_eq!(again, first);
    assert_eq!(balance(subject, &account), 0);
}

pub async fn a_reference_reused_for_another_movement_conflicts(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let account = funded(subject, 100);
    let other = funded(subject, 100);
    let used = reference("reused");
    provider.debit(&movement(&account, &used, 10), deadline()).await.expect("debits");
    assert_rejected(provider.debit(&movement(&account, &used, 11), deadline()).await, Rejection::ReferenceConflict);
    assert_rejected(provider.credit(&movement(&account, &used, 10), deadline()).await, Rejection::ReferenceConflict);
    assert_rejected(provider.debit(&movement(&other, &used, 10), deadline()).await, Rejection::ReferenceConflict);
    assert_eq!((balance(subject, &account), balance(subject, &other)), (90, 100));
}

pub async fn insufficient_funds_apply_nothing_and_free_the_reference(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let account = funded(subject, 10);
    let debit = movement(&account, &reference("short"), 11);
    assert_rejected(provider.debit(&debit, deadline()).await, Rejection::InsufficientFunds);
    assert_eq!(provider.transaction_by_reference(&debit.reference, deadline()).await.expect("looks up"), None);
    provider.credit(&movement(&account, &reference("top-up"), 1), deadline()).await.expect("credits");
    provider.debit(&debit, deadline()).await.expect("the same reference applies once funds suffice");
    assert_eq!(balance(subject, &account), 0);
}

pub async fn inactive_accounts_refuse_movements(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    for status in [AccountStatus::Frozen, AccountStatus::Closed] {
        let account = funded(subject, 10);
        subject.ledger().set_status(&account, status).expect("the account exists");
        let read = provider.account(&account, deadline()).await.expect("an inactive account can be read");
        assert_eq!(read.status, status);
        assert_rejected(
            provider.debit(&movement(&account, &reference("in"), 1), deadline()).await,
            Rejection::AccountInactive,
        );
        assert_rejected(
            provider.credit(&movement(&account, &reference("in"), 1), deadline()).await,
            Rejection::AccountInactive,
        );
        assert_eq!(balance(subject, &account), 10);
    }
}

pub async fn a_movement_on_an_unknown_account_is_not_found(subject: &impl ProviderUnderTest) {
    let missing = ProviderAccountId::parse("acc_never_opened").expect("valid id");
    let provider = subject.provider();
    assert_rejected(
        provider.debit(&movement(&missing, &reference("nf"), 1), deadline()).await,
        Rejection::AccountNotFound,
    );
    assert_rejected(
        provider.credit(&movement(&missing, &reference("nf"), 1), deadline()).await,
        Rejection::AccountNotFound,
    );
}

pub async fn transactions_are_found_by_reference(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let account = funded(subject, 10);
    let credit = movement(&account, &reference("lookup"), 4);
    assert_eq!(provider.transaction_by_reference(&credit.reference, deadline()).await.expect("looks up"), None);
    let applied = provider.credit(&credit, deadline()).await.expect("credits");
    let found = provider.transaction_by_reference(&credit.reference, deadline()).await.expect("looks up");
    assert_eq!(found, Some(applied));
}

pub async fn concurrent_debits_of_one_account_lose_no_update(subject: &impl ProviderUnderTest) {
    const DEBITS: u64 = 200;
    let provider = subject.provider();
    let account = funded(subject, DEBITS);
    let debits = (0..DEBITS).map(|n| {
        let provider = Arc::clone(&provider);
        let debit = movement(&account, &reference(&format!("concurrent-{n}")), 1);
        async move { provider.debit(&debit, deadline()).await }
    });
    let answers = join_all(debits).await;
    assert!(answers.iter().all(Result::is_ok), "every debit applies: {:?}", answers.iter().find(|a| a.is_err()));
    assert_eq!(balance(subject, &account), 0);
    assert_rejected(
        provider.debit(&movement(&account, &reference("one-more"), 1), deadline()).await,
        Rejection::InsufficientFunds,
    );
}

pub async fn a_transient_failure_repeated_with_the_same_reference_applies_once(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let account = funded(subject, 10);
    subject.faults().fail_next(Operation::Debit, 2, Fault::Transient);
    let debit = movement(&account, &reference("transient"), 3);
    until_answered(|| provider.debit(&debit, deadline())).await.expect("applies once the faults pass");
    assert_eq!(balance(subject, &account), 7);
    assert_eq!(subject.faults().calls(Operation::Debit), 3);
}

pub async fn an_unknown_outcome_repeated_with_the_same_reference_applies_once(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let account = funded(subject, 10);
    subject.faults().fail_next(Operation::Debit, 1, Fault::ApplyThenTimeout);
    let debit = movement(&account, &reference("unknown"), 3);
    let answer = provider.debit(&debit, deadline()).await;
    assert!(
        matches!(answer, Ok(_) | Err(ProviderError::OutcomeUnknown(_))),
        "an applied but unanswered call is either retried to its replay or reported unknown: {answer:?}"
    );
    let settled = until_answered(|| provider.debit(&debit, deadline())).await.expect("the repeat replays");
    assert_eq!(settled.balance_after, 7);
    assert_eq!(balance(subject, &account), 7, "applied exactly once");
    let found = provider.transaction_by_reference(&debit.reference, deadline()).await.expect("looks up");
    assert_eq!(found, Some(settled));
}

pub async fn a_final_rejection_is_not_retried(subject: &impl ProviderUnderTest) {
    let provider = subject.provider();
    let account = funded(subject, 10);
    subject.faults().fail_next(Operation::Credit, 1, Fault::Reject(Rejection::AccountInactive));
    let credit = movement(&account, &reference("final"), 3);
    assert_rejected(provider.credit(&credit, deadline()).await, Rejection::AccountInactive);
    assert_eq!(subject.faults().calls(Operation::Credit), 1);
    assert_eq!(balance(subject, &account), 10);
}
