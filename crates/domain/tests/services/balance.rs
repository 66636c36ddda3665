use pointshare_domain::ports::BalanceCache;
use pointshare_domain::services::{BalanceError, BalanceSource};
use pointshare_testkit::{Fault, Operation, World};
use std::time::Duration;

use super::{deadline, share};

#[tokio::test(start_paused = true)]
async fn the_first_read_asks_the_provider_then_the_cache_answers() {
    let world = World::default();
    let alice = world.member("alice", 120).await;
    let first = world.balance_service.balance_of(&alice, deadline()).await.expect("reads");
    assert_eq!((first.points, first.source), (120, BalanceSource::Provider));
    let second = world.balance_service.balance_of(&alice, deadline()).await.expect("reads");
    assert_eq!((second.points, second.source), (120, BalanceSource::Cache));
    assert_eq!(world.provider.faults().calls(Operation::Account), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_reads_of_one_account_cost_one_provider_call() {
    let world = World::default();
    let alice = world.member("alice", 7).await;
    world.provider.faults().fail_next(Operation::Account, 1, Fault::Delay(Duration::from_millis(800)));
    let reads = (0..100).map(|_| world.balance_service.balance_of(&alice, deadline()));
    let balances = futures::future::join_all(reads).await;
    assert!(balances.iter().all(|b| b.as_ref().map(|b| b.points).ok() == Some(7)));
    assert_eq!(world.provider.faults().calls(Operation::Account), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failing_cache_falls_back_to_the_provider() {
    let world = World::default();
    let alice = world.member("alice", 42).await;
    world.cache.set_down(true);
    for _ in 0..2 {
        let balance = world.balance_service.balance_of(&alice, deadline()).await.expect("never fails for the cache");
        assert_eq!((balance.points, balance.source), (42, BalanceSource::Provider));
    }
}

#[tokio::test(start_paused = true)]
async fn a_transfer_refreshes_both_cached_balances() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    for member in [&alice, &bob] {
        world.balance_service.balance_of(member, deadline()).await.expect("warms the cache");
    }
    world.transfer_service.share(share(&alice, &bob, 30, "k1"), deadline()).await.expect("completes");
    let alice_now = world.balance_service.balance_of(&alice, deadline()).await.expect("reads");
    let bob_now = world.balance_service.balance_of(&bob, deadline()).await.expect("reads");
    assert_eq!((alice_now.points, alice_now.source), (70, BalanceSource::Cache));
    assert_eq!((bob_now.points, bob_now.source), (30, BalanceSource::Cache));
}

#[tokio::test(start_paused = true)]
async fn the_cache_expires_after_its_ttl() {
    let world = World::default();
    let alice = world.member("alice", 5).await;
    world.balance_service.balance_of(&alice, deadline()).await.expect("reads");
    tokio::time::advance(Duration::from_secs(6)).await;
    let later = world.balance_service.balance_of(&alice, deadline()).await.expect("reads");
    assert_eq!(later.source, BalanceSource::Provider);
}

#[tokio::test(start_paused = true)]
async fn provider_trouble_is_reported_and_the_next_read_tries_again() {
    let world = World::default();
    let alice = world.member("alice", 5).await;
    let account = alice.provider_account.as_ref().expect("an account");
    world.cache.invalidate(account).await.expect("cache up");
    // One call per read: retrying is the provider adapter's, not the domain's.
    world.provider.faults().fail_next(Operation::Account, 1, Fault::Transient);
    let error = world.balance_service.balance_of(&alice, deadline()).await.unwrap_err();
    assert!(matches!(error, BalanceError::ProviderUnavailable), "{error:?}");
    assert_eq!(world.provider.faults().calls(Operation::Account), 1, "no second loop around the adapter's");
    let balance = world.balance_service.balance_of(&alice, deadline()).await.expect("the provider is back");
    assert_eq!(balance.points, 5);
}

#[tokio::test]
async fn a_member_without_an_account_has_no_balance() {
    let world = World::default();
    let mut alice = world.member("alice", 0).await;
    alice.provider_account = None;
    let error = world.balance_service.balance_of(&alice, deadline()).await.unwrap_err();
    assert!(matches!(error, BalanceError::NoAccount));
}
