//! The white-box part of the `PointsProvider` contract: faults scripted into
//! a provider whose ledger the test owns (`FakeProvider`, or an adapter on
//! `pointshare-provider-sim`), on top of the black-box kit
//! (`contract::provider_kit`), which every implementation passes too.
//!
//! Run it with `provider_contract!(async { <a fresh ProviderUnderTest> })`.
//! An implementation may hide a transient fault by retrying it itself, so the
//! cases assert what the caller can rely on either way: one reference is
//! applied at most once.

use std::sync::Arc;

use async_trait::async_trait;

use pointshare_domain::ports::{PointsProvider, ProviderError, Rejection};
use pointshare_domain::{AccountStatus, ProviderAccountId};

use super::provider_kit::{Sandbox, deadline, holder, movement, reference};
use crate::{FakeProvider, Fault, FaultPlan, Ledger, Operation};

/// A provider whose ledger the test owns, and the faults it will suffer, so
/// cases can arrange and check what happened behind the port.
pub trait ProviderUnderTest: Sandbox {
    fn ledger(&self) -> &Ledger;
    fn faults(&self) -> &FaultPlan;
}

#[async_trait]
impl Sandbox for Arc<FakeProvider> {
    fn provider(&self) -> Arc<dyn PointsProvider> {
        Arc::clone(self) as Arc<dyn PointsProvider>
    }

    async fn funded_account(&self, points: u64) -> ProviderAccountId {
        funded(self, points)
    }

    async fn set_status(&self, account: &ProviderAccountId, status: AccountStatus) {
        FakeProvider::set_status(self, account, status);
    }
}

impl ProviderUnderTest for Arc<FakeProvider> {
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

/// An account opened in the ledger with `balance`, as a sandbox's funding does.
pub fn funded(subject: &impl ProviderUnderTest, balance: u64) -> ProviderAccountId {
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
