//! What only LedgerAPI's wire has, against its simulator: tokens that expire,
//! go stale or are first asked for by many callers at once; 429 with
//! `Retry-After`; lookups that need several cursor pages; amounts that are
//! not whole minor units; and writes answered 5xx or cut by a timeout.

use std::time::Duration;

use futures::future::join_all;
use pointshare_domain::ports::{Deadline, Movement, PointsProvider, ProviderError};
use pointshare_domain::{HolderRef, Points, ProviderAccountId, ProviderReference};
use provider_ledgerapi::sim::{self, Endpoint, Fault, RunningSim, SimConfig};
use provider_ledgerapi::{LedgerApiProvider, LedgerApiSettings};
use tokio::time::Instant;

async fn running(config: SimConfig) -> (RunningSim, LedgerApiProvider) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds a loopback port");
    let sim = sim::start(listener, config).await.expect("starts the simulator");
    let provider = LedgerApiProvider::new(sim.client_settings()).expect("valid settings");
    (sim, provider)
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

fn holder(name: &str) -> HolderRef {
    HolderRef::parse(name).expect("valid holder")
}

fn reference(key: &str) -> ProviderReference {
    ProviderReference::parse(key).expect("valid reference")
}

fn movement(account: &ProviderAccountId, key: &str, amount: u64) -> Movement {
    Movement {
        account: account.clone(),
        reference: reference(key),
        amount: Points::new(amount).expect("valid amount"),
        memo: None,
    }
}

/// A wallet holding `points`, credited under `fund-<name>`.
async fn funded(provider: &LedgerApiProvider, name: &str, points: u64) -> ProviderAccountId {
    let account = provider.open_account(&holder(name), deadline()).await.expect("opens a wallet").account_id;
    provider.credit(&movement(&account, &format!("fund-{name}"), points), deadline()).await.expect("funds it");
    account
}

async fn balance(provider: &LedgerApiProvider, account: &ProviderAccountId) -> u64 {
    provider.account(account, deadline()).await.expect("reads the wallet").balance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_mid_run_is_renewed_once() {
    let (sim, provider) = running(SimConfig { token_lifetime: Duration::from_secs(1), ..SimConfig::default() }).await;
    let account = funded(&provider, "m1", 10).await;
    assert_eq!(balance(&provider, &account).await, 10);
    tokio::time::sleep(Duration::from_secs(2)).await;
    provider.debit(&movement(&account, "after-expiry", 3), deadline()).await.expect("debits with a renewed token");
    assert_eq!(balance(&provider, &account).await, 7);
    assert_eq!(sim.controls().token_grants(), 2, "one grant before the expiry, one after: not one per call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_token_is_replaced_once_and_the_call_repeated() {
    let (sim, provider) = running(SimConfig::default()).await;
    let account = funded(&provider, "m1", 10).await;
    sim.controls().revoke_tokens();
    assert_eq!(balance(&provider, &account).await, 10, "the read goes through with a new token");
    assert_eq!(sim.controls().token_grants(), 2);
    assert_eq!(sim.controls().calls(Endpoint::Wallet), 2, "refused once with the stale token, then served");

    // A write refused for its token did nothing, so its repeat applies once.
    sim.controls().script(Endpoint::PostEntry, Fault::RejectToken, 1);
    provider.debit(&movement(&account, "after-401", 4), deadline()).await.expect("debits with a new token");
    assert_eq!((balance(&provider, &account).await, sim.controls().token_grants()), (6, 3));

    // Refused again with the new token: once only, and not a refusal of the movement.
    sim.controls().script(Endpoint::PostEntry, Fault::RejectToken, 2);
    let answer = provider.debit(&movement(&account, "refused-twice", 1), deadline()).await;
    assert!(matches!(answer, Err(ProviderError::Unexpected(_))), "{answer:?}");
    assert_eq!(sim.controls().token_grants(), 4, "one renewal per call, not a loop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_token_grant() {
    // Latency keeps the grant in flight while every caller arrives.
    let (sim, provider) = running(SimConfig { latency: Duration::from_millis(50), ..SimConfig::default() }).await;
    let opens = (0..20).map(|n| {
        let provider = provider.clone();
        async move { provider.open_account(&holder(&format!("m{n}")), deadline()).await }
    });
    let opened = join_all(opens).await;
    assert!(opened.iter().all(Result::is_ok), "{opened:?}");
    assert_eq!(sim.controls().token_grants(), 1, "one grant shared by all callers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_no_sooner_than_retry_after_within_the_deadline() {
    let (sim, provider) = running(SimConfig::default()).await;
    let account = funded(&provider, "m1", 10).await;
    let before = sim.controls().calls(Endpoint::PostEntry);
    sim.controls().script(Endpoint::PostEntry, Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    provider.debit(&movement(&account, "limited", 2), Deadline::after(Duration::from_secs(3))).await.expect("debits");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}, less than Retry-After", started.elapsed());
    assert_eq!(sim.controls().calls(Endpoint::PostEntry) - before, 2);
    assert_eq!(balance(&provider, &account).await, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_whose_delay_passes_the_deadline_is_transient_at_once() {
    let (sim, provider) = running(SimConfig::default()).await;
    let account = funded(&provider, "m1", 10).await;
    sim.controls().script(Endpoint::PostEntry, Fault::RateLimited { retry_after_secs: 3 }, 1);
    let started = Instant::now();
    let answer = provider.debit(&movement(&account, "too-late", 2), Deadline::after(Duration::from_secs(1))).await;
    let Err(ProviderError::Transient { retry_after, .. }) = answer else {
        panic!("expected Transient, got {answer:?}")
    };
    assert_eq!(retry_after, Some(Duration::from_secs(3)), "the caller learns when to come back");
    assert!(started.elapsed() < Duration::from_millis(500), "gave up at once, not at the deadline");
    assert_eq!(provider.transaction_by_reference(&reference("too-late"), deadline()).await.expect("looks up"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_waited_out() {
    let (sim, provider) = running(SimConfig { rate_limit: Some(5), ..SimConfig::default() }).await;
    let account = funded(&provider, "m1", 10).await;
    let reads = (0..12).map(|_| provider.account(&account, deadline()));
    let answers = join_all(reads).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert!(sim.controls().calls(Endpoint::Wallet) > 12, "some reads were limited and repeated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_follows_cursor_pages_to_the_exact_key() {
    let (sim, provider) = running(SimConfig::default()).await;
    let account = funded(&provider, "m1", 100).await;
    // Keys that extend the one looked up come first: the exact one is on the second page of two entries each.
    for key in ["t1:debit:retry", "t1:debit:x", "t1:debitx"] {
        provider.debit(&movement(&account, key, 1), deadline()).await.expect("debits");
    }
    let exact = provider.debit(&movement(&account, "t1:debit", 2), deadline()).await.expect("debits");
    let searches = sim.controls().calls(Endpoint::SearchEntries);
    let found = provider.transaction_by_reference(&reference("t1:debit"), deadline()).await.expect("looks up");
    assert_eq!(found, Some(exact), "only the exact key counts");
    assert_eq!(sim.controls().calls(Endpoint::SearchEntries) - searches, 2, "followed the cursor to the second page");
    for unused in ["t1:deb", "t1:debit:y", "t2"] {
        let none = provider.transaction_by_reference(&reference(unused), deadline()).await.expect("looks up");
        assert_eq!(none, None, "{unused} was never used, though keys extending some of them were");
    }
}

/// Refused as Unexpected, naming the amount that was not whole minor units.
fn unexpected<T>(answer: &Result<T, ProviderError>) -> bool {
    matches!(answer, Err(ProviderError::Unexpected(error)) if error.to_string().contains(".50\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_amount_in_an_answer_is_unexpected() {
    let (sim, provider) = running(SimConfig::default()).await;
    let account = funded(&provider, "m1", 10).await;
    sim.controls().script(Endpoint::Wallet, Fault::MalformedAmounts, 1);
    let read = provider.account(&account, deadline()).await;
    assert!(unexpected(&read), "{read:?}");
    sim.controls().script(Endpoint::PostEntry, Fault::MalformedAmounts, 1);
    let debit = provider.debit(&movement(&account, "odd", 1), deadline()).await;
    assert!(unexpected(&debit), "{debit:?}");
    sim.controls().script(Endpoint::SearchEntries, Fault::MalformedAmounts, 1);
    let lookup = provider.transaction_by_reference(&reference("odd"), deadline()).await;
    assert!(unexpected(&lookup), "{lookup:?}");
    // Never guessed: the well-formed answers show what was applied.
    let applied = provider.transaction_by_reference(&reference("odd"), deadline()).await.expect("looks up");
    assert_eq!(applied.map(|transaction| transaction.balance_after), Some(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_on_a_write_is_unknown_and_its_repeat_applies_once() {
    let (sim, provider) = running(SimConfig::default()).await;
    let account = funded(&provider, "m1", 10).await;
    let debit = movement(&account, "five-hundred", 4);

    // One 5xx is retried away under the same key: the retry replays.
    sim.controls().script(Endpoint::PostEntry, Fault::FailAfterApplying, 1);
    provider.debit(&debit, deadline()).await.expect("the retry answers the applied debit");
    assert_eq!(balance(&provider, &account).await, 6);

    // Every attempt answered 5xx: the debit may have applied, and the caller is told so.
    let second = movement(&account, "five-hundred-again", 4);
    sim.controls().script(Endpoint::PostEntry, Fault::FailAfterApplying, 1000);
    let answer = provider.debit(&second, Deadline::after(Duration::from_millis(500))).await;
    assert!(matches!(answer, Err(ProviderError::OutcomeUnknown(_))), "{answer:?}");
    sim.controls().clear_faults();
    provider.debit(&second, deadline()).await.expect("the repeat answers the debit");
    assert_eq!(balance(&provider, &account).await, 2, "each key applied once");

    // A read's 5xx changed nothing: it is only Transient.
    sim.controls().script(Endpoint::Wallet, Fault::Unavailable, 1000);
    let read = provider.account(&account, Deadline::after(Duration::from_millis(300))).await;
    assert!(matches!(read, Err(ProviderError::Transient { .. })), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_by_its_timeout_is_unknown_and_its_repeat_applies_once() {
    let (sim, provider) = running(SimConfig::default()).await;
    let account = funded(&provider, "m1", 10).await;
    let debit = movement(&account, "hung", 3);
    sim.controls().script(Endpoint::PostEntry, Fault::HangAfterApplying(Duration::from_secs(5)), 1);
    let answer = provider.debit(&debit, Deadline::after(Duration::from_millis(300))).await;
    assert!(matches!(answer, Err(ProviderError::OutcomeUnknown(_))), "{answer:?}");
    provider.debit(&debit, deadline()).await.expect("the repeat answers the debit");
    assert_eq!(balance(&provider, &account).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_after_an_attempt_that_may_have_applied_stays_unknown() {
    let (sim, provider) = running(SimConfig::default()).await;
    let account = funded(&provider, "m1", 10).await;
    // The 503 applied nothing here, but the adapter cannot know that.
    sim.controls().script(Endpoint::PostEntry, Fault::Unavailable, 1);
    let answer = provider.debit(&movement(&account, "too-much", 11), deadline()).await;
    assert!(matches!(answer, Err(ProviderError::OutcomeUnknown(_))), "{answer:?}");
    let refused = provider.debit(&movement(&account, "too-much", 11), deadline()).await;
    assert!(matches!(refused, Err(ProviderError::Rejected(_))), "a call of its own is refused: {refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_past_deadline_sends_nothing_not_even_a_token_grant() {
    let (sim, provider) = running(SimConfig::default()).await;
    let answer = provider.open_account(&holder("m1"), Deadline::after(Duration::ZERO)).await;
    assert!(matches!(answer, Err(ProviderError::Transient { .. })), "{answer:?}");
    assert_eq!((sim.controls().calls(Endpoint::Token), sim.controls().calls(Endpoint::OpenWallet)), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_unexpected_and_not_retried() {
    let (sim, _) = running(SimConfig::default()).await;
    let settings = LedgerApiSettings { client_secret: "not-the-secret".into(), ..sim.client_settings() };
    let provider = LedgerApiProvider::new(settings).expect("valid settings");
    let answer = provider.open_account(&holder("m1"), deadline()).await;
    assert!(matches!(answer, Err(ProviderError::Unexpected(_))), "{answer:?}");
    assert_eq!((sim.controls().calls(Endpoint::Token), sim.controls().token_grants()), (1, 0));
}
