//! The provider conformance kit: what any implementation of the
//! `PointsProvider` port must do for the saga and reconcile to stay exact,
//! checked through the port alone. It needs nothing of the provider's
//! insides, only what a vendor's sandbox offers (`Sandbox`: an account with
//! points, an account made inactive), so it runs against the in-process
//! fake, an adapter on its simulator, and a live sandbox named by URL alike.
//! docs/provider-adapters.md explains each promise.
//!
//! `provider_kit!(async { <a Sandbox> })` makes one `#[tokio::test]` per
//! case; `CASES` and `run` serve a harness of one's own. The white-box cases
//! with scripted faults (`contract::provider`) build on these.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;

use pointshare_domain::ports::{Deadline, Movement, PointsProvider, ProviderError, Rejection};
use pointshare_domain::{AccountStatus, HolderRef, MovementKind, Points, ProviderAccountId, ProviderReference};

// Unique per call: a live sandbox is shared, and remembers every reference.
use crate::unique;

/// A provider under test, seen from outside: the port, and the two things a
/// sandbox does that the port does not.
#[async_trait]
pub trait Sandbox: Send + Sync {
    fn provider(&self) -> Arc<dyn PointsProvider>;

    /// A new account holding `points`. By default through the port: opened,
    /// then credited under a reference of its own.
    async fn funded_account(&self, points: u64) -> ProviderAccountId {
        fund_through_the_port(self.provider().as_ref(), points).await
    }

    /// Makes `account` frozen, closed or active (a sandbox's control; a
    /// provider offers no such call to its clients).
    async fn set_status(&self, account: &ProviderAccountId, status: AccountStatus);
}

/// Opens an account and credits it `points` through the port.
pub async fn fund_through_the_port(provider: &dyn PointsProvider, points: u64) -> ProviderAccountId {
    let account = provider.open_account(&holder("funded"), deadline()).await.expect("opens an account to fund");
    if points > 0 {
        provider
            .credit(&movement(&account.account_id, &reference("fund"), points), deadline())
            .await
            .expect("funds the account with a credit");
    }
    account.account_id
}

type Case = for<'a> fn(&'a dyn Sandbox) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

macro_rules! cases {
    ($($case:ident),+ $(,)?) => {
        /// Every case, by name.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($case), |sandbox| Box::pin($case(sandbox)))),+];
    };
}

crate::provider_kit!(@each [cases] []);

/// Runs the case `name` of `CASES` against `sandbox`.
pub async fn run(name: &str, sandbox: &dyn Sandbox) {
    let (_, case) = CASES.iter().find(|(case, _)| *case == name).unwrap_or_else(|| panic!("no kit case {name}"));
    case(sandbox).await;
}

/// Expands to one `#[tokio::test]` per kit case, each on a fresh sandbox
/// from `$setup` (an expression giving a future of a `Sandbox`). The list of
/// cases is here once: `CASES` is made from it too (`@each`).
#[macro_export]
macro_rules! provider_kit {
    ($setup:expr) => {
        $crate::provider_kit!(@each [$crate::provider_kit] [@cases $setup;]);
    };
    (@each [$($callback:tt)*] [$($prefix:tt)*]) => {
        $($callback)*!($($prefix)*
            opening_an_account_is_idempotent_by_holder,
            an_unknown_account_is_not_found,
            a_debit_and_a_credit_move_points,
            a_replay_returns_the_original_and_applies_nothing,
            a_reference_reused_for_another_movement_is_refused,
            insufficient_funds_apply_nothing_and_leave_the_reference_free,
            inactive_accounts_refuse_movements_and_apply_nothing,
            a_movement_on_an_unknown_account_is_not_found,
            transactions_are_found_by_reference,
            concurrent_debits_of_one_account_lose_no_update,
            a_deadline_already_past_sends_nothing,
            a_call_cut_short_is_never_a_refusal_and_its_repeat_applies_once,
        );
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let sandbox = $setup.await;
                $crate::contract::provider_kit::run(stringify!($case), &sandbox).await;
            }
        )+
    };
}

/// Ten seconds: far more than any case needs of a working provider.
pub(super) fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

pub(super) fn holder(name: &str) -> HolderRef {
    HolderRef::parse(unique(name)).expect("valid holder_ref")
}

pub(super) fn reference(name: &str) -> ProviderReference {
    ProviderReference::parse(unique(name)).expect("valid reference")
}

pub(super) fn movement(account: &ProviderAccountId, reference: &ProviderReference, amount: u64) -> Movement {
    Movement {
        account: account.clone(),
        reference: reference.clone(),
        amount: Points::new(amount).expect("valid amount"),
        memo: None,
    }
}

async fn balance(sandbox: &dyn Sandbox, account: &ProviderAccountId) -> u64 {
    sandbox.provider().account(account, deadline()).await.expect("reads the account").balance
}

async fn applied(sandbox: &dyn Sandbox, reference: &ProviderReference) -> bool {
    sandbox.provider().transaction_by_reference(reference, deadline()).await.expect("looks the reference up").is_some()
}

fn assert_rejected<T: std::fmt::Debug>(answer: Result<T, ProviderError>, expected: Rejection, what: &str) {
    match answer {
        Err(ProviderError::Rejected(rejection)) => assert_eq!(rejection, expected, "{what}"),
        other => panic!("{what}: expected the rejection {expected:?} (a final refusal), got {other:?}"),
    }
}

pub async fn opening_an_account_is_idempotent_by_holder(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    let holder = holder("open");
    let first = provider.open_account(&holder, deadline()).await.expect("opens an account");
    assert_eq!((first.balance, first.status), (0, AccountStatus::Active), "a new account is empty and active");
    let again = provider.open_account(&holder, deadline()).await.expect("opening again answers");
    assert_eq!(again.account_id, first.account_id, "one account per holder: opening again returns it");
    let read = provider.account(&first.account_id, deadline()).await.expect("reads the account");
    assert_eq!((read.account_id, read.balance, read.status), (first.account_id, 0, AccountStatus::Active));
}

pub async fn an_unknown_account_is_not_found(sandbox: &dyn Sandbox) {
    let missing = ProviderAccountId::parse(unique("acc_never_opened")).expect("valid id");
    let answer = sandbox.provider().account(&missing, deadline()).await;
    assert_rejected(answer, Rejection::AccountNotFound, "reading an account never opened");
}

pub async fn a_debit_and_a_credit_move_points(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    let (from, to) = (sandbox.funded_account(100).await, sandbox.funded_account(5).await);
    let debit_ref = reference("move-debit");
    let debit = provider.debit(&movement(&from, &debit_ref, 30), deadline()).await.expect("debits");
    assert_eq!((debit.kind, debit.amount.get(), debit.balance_after), (MovementKind::Debit, 30, 70));
    assert_eq!(
        (&debit.account_id, &debit.reference),
        (&from, &debit_ref),
        "the transaction names its account and reference"
    );
    let credit = provider.credit(&movement(&to, &reference("move-credit"), 30), deadline()).await.expect("credits");
    assert_eq!((credit.kind, credit.amount.get(), credit.balance_after), (MovementKind::Credit, 30, 35));
    assert_eq!((balance(sandbox, &from).await, balance(sandbox, &to).await), (70, 35));
}

pub async fn a_replay_returns_the_original_and_applies_nothing(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    let account = sandbox.funded_account(50).await;
    let debit = movement(&account, &reference("replay"), 50);
    let first = provider.debit(&debit, deadline()).await.expect("debits");
    // The reference is checked first: with the balance below the amount and
    // the account frozen, the replay still answers the original.
    sandbox.set_status(&account, AccountStatus::Frozen).await;
    let again = provider.debit(&debit, deadline()).await.expect("a replay answers the original transaction");
    assert_eq!(again, first, "the replay is the original transaction");
    sandbox.set_status(&account, AccountStatus::Active).await;
    assert_eq!(balance(sandbox, &account).await, 0, "applied once");
}

pub async fn a_reference_reused_for_another_movement_is_refused(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    let (account, other) = (sandbox.funded_account(100).await, sandbox.funded_account(100).await);
    let used = reference("reused");
    provider.debit(&movement(&account, &used, 10), deadline()).await.expect("debits");
    let another_amount = provider.debit(&movement(&account, &used, 11), deadline()).await;
    assert_rejected(another_amount, Rejection::ReferenceConflict, "the reference again with another amount");
    let another_kind = provider.credit(&movement(&account, &used, 10), deadline()).await;
    assert_rejected(another_kind, Rejection::ReferenceConflict, "the reference again for a credit");
    let another_account = provider.debit(&movement(&other, &used, 10), deadline()).await;
    assert_rejected(another_account, Rejection::ReferenceConflict, "the reference again on another account");
    assert_eq!((balance(sandbox, &account).await, balance(sandbox, &other).await), (90, 100), "only the first applied");
}

pub async fn insufficient_funds_apply_nothing_and_leave_the_reference_free(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    let account = sandbox.funded_account(10).await;
    let debit = movement(&account, &reference("short"), 11);
    assert_rejected(
        provider.debit(&debit, deadline()).await,
        Rejection::InsufficientFunds,
        "a debit above the balance",
    );
    assert!(!applied(sandbox, &debit.reference).await, "a refused debit leaves no transaction");
    provider.credit(&movement(&account, &reference("top-up"), 1), deadline()).await.expect("credits");
    provider.debit(&debit, deadline()).await.expect("the same reference applies once funds suffice");
    assert_eq!(balance(sandbox, &account).await, 0);
}

pub async fn inactive_accounts_refuse_movements_and_apply_nothing(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    for status in [AccountStatus::Frozen, AccountStatus::Closed] {
        let account = sandbox.funded_account(10).await;
        sandbox.set_status(&account, status).await;
        let read = provider.account(&account, deadline()).await.expect("an inactive account can be read");
        assert_eq!(read.status, status);
        let (debit, credit) = (movement(&account, &reference("in"), 1), movement(&account, &reference("in"), 1));
        assert_rejected(
            provider.debit(&debit, deadline()).await,
            Rejection::AccountInactive,
            "a debit of an inactive account",
        );
        assert_rejected(
            provider.credit(&credit, deadline()).await,
            Rejection::AccountInactive,
            "a credit to an inactive account",
        );
        assert!(
            !applied(sandbox, &debit.reference).await && !applied(sandbox, &credit.reference).await,
            "nothing applied"
        );
        assert_eq!(balance(sandbox, &account).await, 10);
    }
}

pub async fn a_movement_on_an_unknown_account_is_not_found(sandbox: &dyn Sandbox) {
    let missing = ProviderAccountId::parse(unique("acc_never_opened")).expect("valid id");
    let provider = sandbox.provider();
    let debit = provider.debit(&movement(&missing, &reference("nf"), 1), deadline()).await;
    assert_rejected(debit, Rejection::AccountNotFound, "a debit of an account never opened");
    let credit = provider.credit(&movement(&missing, &reference("nf"), 1), deadline()).await;
    assert_rejected(credit, Rejection::AccountNotFound, "a credit to an account never opened");
}

pub async fn transactions_are_found_by_reference(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    let account = sandbox.funded_account(10).await;
    let credit = movement(&account, &reference("lookup"), 4);
    let before = provider.transaction_by_reference(&credit.reference, deadline()).await;
    assert_eq!(before.expect("looks up"), None, "a reference never used is found nowhere (not an error)");
    let done = provider.credit(&credit, deadline()).await.expect("credits");
    let found = provider.transaction_by_reference(&credit.reference, deadline()).await.expect("looks up");
    assert_eq!(found, Some(done), "the lookup answers the transaction the credit answered");
}

pub async fn concurrent_debits_of_one_account_lose_no_update(sandbox: &dyn Sandbox) {
    const DEBITS: u64 = 100;
    let provider = sandbox.provider();
    let account = sandbox.funded_account(DEBITS).await;
    let debits = (0..DEBITS).map(|n| {
        let provider = Arc::clone(&provider);
        let debit = movement(&account, &reference(&format!("concurrent-{n}")), 1);
        async move { provider.debit(&debit, deadline()).await }
    });
    let answers = join_all(debits).await;
    let failed: Vec<_> = answers.iter().filter(|answer| answer.is_err()).collect();
    assert!(failed.is_empty(), "every debit applies: {failed:?}");
    assert_eq!(balance(sandbox, &account).await, 0, "no debit lost");
    let one_more = provider.debit(&movement(&account, &reference("one-more"), 1), deadline()).await;
    assert_rejected(one_more, Rejection::InsufficientFunds, "a debit past the last point");
}

/// The saga gives each call what is left of the request's time: a call
/// whose deadline has passed must not reach the provider, and must say it
/// may be tried again (it was not refused).
pub async fn a_deadline_already_past_sends_nothing(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    let account = sandbox.funded_account(10).await;
    let debit = movement(&account, &reference("late"), 1);
    let answer = provider.debit(&debit, Deadline::after(Duration::ZERO)).await;
    assert!(
        matches!(answer, Err(ProviderError::Transient { .. })),
        "a call past its deadline answers Transient (not sent, may be tried again), not {answer:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!applied(sandbox, &debit.reference).await, "nothing was sent");
    assert_eq!(balance(sandbox, &account).await, 10);
}

/// Calls cut short by ever longer deadlines: whatever each answered, it is
/// never a refusal (the provider refused nothing), an answer of success is
/// what the provider holds, and repeating each call with its reference
/// settles it with the reference applied exactly once, as the saga does.
pub async fn a_call_cut_short_is_never_a_refusal_and_its_repeat_applies_once(sandbox: &dyn Sandbox) {
    let provider = sandbox.provider();
    let account = sandbox.funded_account(100).await;
    let budgets = [0_u64, 1, 2, 5, 10, 20, 50, 100, 200, 500].map(Duration::from_millis);
    let calls = budgets.iter().enumerate().map(|(n, budget)| {
        let provider = Arc::clone(&provider);
        let debit = movement(&account, &reference(&format!("cut-{n}")), 1);
        let budget = *budget;
        async move {
            let answer = provider.debit(&debit, Deadline::after(budget)).await;
            (debit, budget, answer)
        }
    });
    let answered = join_all(calls).await;
    for (_, budget, answer) in &answered {
        assert!(
            matches!(answer, Ok(_) | Err(ProviderError::Transient { .. } | ProviderError::OutcomeUnknown(_))),
            "a debit given {budget:?} answered {answer:?}: a call cut short is Transient or OutcomeUnknown, never a refusal"
        );
    }
    // What was in flight lands, or never will.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (debit, budget, answer) in &answered {
        if let Ok(transaction) = answer {
            let found = provider.transaction_by_reference(&debit.reference, deadline()).await.expect("looks up");
            assert_eq!(
                found.as_ref(),
                Some(transaction),
                "the debit given {budget:?} answered success: the provider holds it"
            );
        }
        let settled = provider.debit(debit, deadline()).await;
        assert!(settled.is_ok(), "repeating the debit given {budget:?} with its reference settles it: {settled:?}");
    }
    assert_eq!(balance(sandbox, &account).await, 100 - budgets.len() as u64, "each reference applied exactly once");
}
