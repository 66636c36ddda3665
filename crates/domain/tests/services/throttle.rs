use std::time::Duration;

use pointshare_domain::MemberId;
use pointshare_domain::services::{
    AccountKey, LOGIN_SLOW_DOWN_MAX, LOGIN_SLOW_DOWN_STEP, LOGIN_TURN_WAIT, ThrottlePolicy, Throttled,
};
use pointshare_testkit::{World, WorldSettings};

fn world(policy: ThrottlePolicy) -> World {
    World::new(WorldSettings { throttle: policy, ..WorldSettings::default() })
}

fn limited<T>(result: Result<T, Throttled>) -> bool {
    matches!(result, Err(Throttled::Limited { retry_after, .. }) if retry_after > Duration::ZERO)
}

#[tokio::test]
async fn transfers_are_counted_per_member() {
    let world = world(ThrottlePolicy { transfers_per_minute: 2, ..ThrottlePolicy::default() });
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let first = world.throttle.transfer(alice).await.expect("first");
    assert_eq!(
        first.iter().map(|quota| (quota.name, quota.limit, quota.remaining)).collect::<Vec<_>>(),
        [("transfers", 2, 1)],
        "what the client is told of its allowance"
    );
    assert!(first[0].reset_after > Duration::ZERO && first[0].reset_after <= Duration::from_secs(60));
    world.throttle.transfer(alice).await.expect("second");
    let refused = world.throttle.transfer(alice).await;
    let Err(Throttled::Limited { quota: Some(spent), .. }) = refused else { panic!("{refused:?}") };
    assert!(limited(refused));
    assert_eq!((spent.name, spent.remaining), ("transfers", 0));
    world.throttle.transfer(bob).await.expect("bob has his own allowance");
}

#[tokio::test]
async fn signups_are_counted_per_address_and_in_total() {
    let world = world(ThrottlePolicy { signups_per_hour_per_address: 1, signups_per_minute: 2, ..Default::default() });
    let first = world.throttle.signup("192.0.2.1").await.expect("first from this address");
    assert_eq!(first.iter().map(|quota| quota.name).collect::<Vec<_>>(), ["signups"], "the address's, not everyone's");
    assert!(limited(world.throttle.signup("192.0.2.1").await));
    // The refused attempt counted toward the total too: one more fits, then none.
    let everyone = world.throttle.signup("192.0.2.2").await;
    assert!(matches!(everyone, Err(Throttled::Limited { quota: None, .. })), "everyone's allowance is not told");
}

fn account(typed: &str) -> AccountKey {
    AccountKey::of(typed)
}

#[tokio::test]
async fn logins_are_counted_per_address_and_per_account_from_that_address() {
    let policy = ThrottlePolicy {
        logins_per_minute_per_address: 3,
        logins_per_minute_per_address_and_account: 2,
        ..ThrottlePolicy::default()
    };
    let world = world(policy);
    world.throttle.login("192.0.2.1", &account("alice@example.com")).await.expect("first");
    world.throttle.login("192.0.2.1", &account(" ALICE@example.com")).await.expect("second, the same account");
    assert!(limited(world.throttle.login("192.0.2.1", &account("alice@example.com")).await), "third try at alice");
    assert!(limited(world.throttle.login("192.0.2.1", &account("bob@example.com")).await), "the address is spent");
    world.throttle.login("192.0.2.9", &account("alice@example.com")).await.expect("another address is not");
}

#[test]
fn an_account_is_keyed_short_whatever_was_typed() {
    assert_eq!(account(" Alice@Example.COM "), account("alice@example.com"));
    assert_ne!(account("alice@example.com"), account("bob@example.com"));
    let long = account(&format!("{}@example.com", "a".repeat(15_000)));
    assert_eq!(long.to_string().len(), 32);
    assert_eq!(account("not an email").to_string().len(), 32);
}

#[tokio::test(start_paused = true)]
async fn one_check_of_an_account_at_a_time() {
    let world = world(ThrottlePolicy::default());
    let alice = account("alice@example.com");
    let first = world.throttle.login_turn(&alice).await.expect("a turn");
    assert!(world.throttle.is_slowed(&alice), "a check is under way");
    let second = tokio::spawn({
        let throttle = world.throttle.clone();
        let alice = alice.clone();
        async move {
            let started = tokio::time::Instant::now();
            throttle.login_turn(&alice).await.expect("a turn");
            started.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    world.throttle.login_turn(&account("bob@example.com")).await.expect("another account does not wait");
    drop(first);
    assert_eq!(second.await.expect("runs"), Duration::from_secs(3), "the second waited for the first");
}

#[tokio::test(start_paused = true)]
async fn failures_space_an_account_s_checks_out_a_step_longer_each_up_to_the_most() {
    let world = world(ThrottlePolicy { failed_logins_before_slow_down: 2, ..ThrottlePolicy::default() });
    let alice = account("alice@example.com");
    let mut waits = Vec::new();
    for _ in 0..10 {
        let started = tokio::time::Instant::now();
        let turn = world.throttle.login_turn(&alice).await.expect("never refused while it fits the wait");
        waits.push(started.elapsed());
        world.throttle.login_failed(turn).await;
    }
    let step = |n: u32| (LOGIN_SLOW_DOWN_STEP * n).min(LOGIN_SLOW_DOWN_MAX);
    let expected: Vec<Duration> = [0, 0, 0, 1, 2, 3, 4, 5, 6, 7].into_iter().map(step).collect();
    assert_eq!(waits, expected);
    assert!(world.throttle.is_slowed(&alice));
    assert!(!world.throttle.is_slowed(&account("bob@example.com")), "only the account tried");
    // Guessing alice's password now takes LOGIN_SLOW_DOWN_MAX a guess, however many addresses guess.
    tokio::time::sleep(LOGIN_SLOW_DOWN_MAX).await;
    assert!(!world.throttle.is_slowed(&alice), "the slow-down runs out");
}

#[tokio::test(start_paused = true)]
async fn a_turn_too_far_off_is_refused_with_when_to_come_back() {
    let world = world(ThrottlePolicy { failed_logins_before_slow_down: 0, ..ThrottlePolicy::default() });
    let alice = account("alice@example.com");
    let held = world.throttle.login_turn(&alice).await.expect("a turn");
    let started = tokio::time::Instant::now();
    let refused = world.throttle.login_turn(&alice).await.expect_err("the check before it never ended");
    assert_eq!(started.elapsed(), LOGIN_TURN_WAIT, "held no longer than the wait");
    assert!(limited::<()>(Err(refused)), "{refused:?}");
    world.throttle.login_failed(held).await;
    let started = tokio::time::Instant::now();
    world.throttle.login_turn(&alice).await.expect("a turn once the one before is done");
    assert_eq!(started.elapsed(), LOGIN_SLOW_DOWN_STEP, "after its slow-down");
}

#[tokio::test]
async fn a_limiter_that_cannot_answer_fails_open_or_closed_as_the_policy_says() {
    let open = world(ThrottlePolicy::default());
    open.cache.set_down(true);
    open.throttle.transfer(MemberId::new()).await.expect("fails open");
    open.throttle.login("192.0.2.1", &account("alice@example.com")).await.expect("fails open");

    let closed = world(ThrottlePolicy { fail_open: false, ..ThrottlePolicy::default() });
    closed.cache.set_down(true);
    assert_eq!(closed.throttle.transfer(MemberId::new()).await, Err(Throttled::Unavailable));
    assert_eq!(closed.throttle.signup("192.0.2.1").await, Err(Throttled::Unavailable));
    closed.cache.set_down(false);
    closed.throttle.signup("192.0.2.1").await.expect("back up");
}

#[test]
fn a_zero_allowance_is_named() {
    ThrottlePolicy::default().validate().expect("the defaults are valid");
    let policy = ThrottlePolicy { signups_per_minute: 0, ..ThrottlePolicy::default() };
    assert_eq!(policy.validate().unwrap_err().setting, "signups_per_minute");
}
