use std::time::Duration;

use pointshare_domain::MemberId;
use pointshare_domain::services::{LOGIN_SLOW_DOWN, ThrottlePolicy, Throttled};
use pointshare_testkit::{World, WorldSettings};

fn world(policy: ThrottlePolicy) -> World {
    World::new(WorldSettings { throttle: policy, ..WorldSettings::default() })
}

fn limited(result: Result<(), Throttled>) -> bool {
    matches!(result, Err(Throttled::Limited { retry_after }) if retry_after > Duration::ZERO)
}

#[tokio::test]
async fn transfers_are_counted_per_member() {
    let world = world(ThrottlePolicy { transfers_per_minute: 2, ..ThrottlePolicy::default() });
    let (alice, bob) = (MemberId::new(), MemberId::new());
    world.throttle.transfer(alice).await.expect("first");
    world.throttle.transfer(alice).await.expect("second");
    assert!(limited(world.throttle.transfer(alice).await));
    world.throttle.transfer(bob).await.expect("bob has his own allowance");
}

#[tokio::test]
async fn signups_are_counted_per_address_and_in_total() {
    let world = world(ThrottlePolicy { signups_per_hour_per_address: 1, signups_per_minute: 2, ..Default::default() });
    world.throttle.signup("192.0.2.1").await.expect("first from this address");
    assert!(limited(world.throttle.signup("192.0.2.1").await));
    // The refused attempt counted toward the total too: one more fits, then none.
    assert!(limited(world.throttle.signup("192.0.2.2").await));
}

#[tokio::test]
async fn logins_are_counted_per_address_and_per_account_from_that_address() {
    let policy = ThrottlePolicy {
        logins_per_minute_per_address: 3,
        logins_per_minute_per_address_and_account: 2,
        ..ThrottlePolicy::default()
    };
    let world = world(policy);
    world.throttle.login("192.0.2.1", "alice@example.com").await.expect("first");
    world.throttle.login("192.0.2.1", " ALICE@example.com").await.expect("second, the same account");
    assert!(limited(world.throttle.login("192.0.2.1", "alice@example.com").await), "third try at alice");
    assert!(limited(world.throttle.login("192.0.2.1", "bob@example.com").await), "the address is spent");
    world.throttle.login("192.0.2.9", "alice@example.com").await.expect("another address is not");
}

#[tokio::test(start_paused = true)]
async fn an_account_tried_from_everywhere_is_slowed_down_never_locked() {
    let world = world(ThrottlePolicy { logins_per_minute_before_slow_down: 2, ..ThrottlePolicy::default() });
    let mut waits = Vec::new();
    for n in 0..5 {
        let started = tokio::time::Instant::now();
        world.throttle.login(&format!("198.51.100.{n}"), "alice@example.com").await.expect("never refused");
        waits.push(started.elapsed());
    }
    assert_eq!(waits[..2], [Duration::ZERO; 2]);
    assert!(waits[2..].iter().all(|wait| *wait >= LOGIN_SLOW_DOWN), "{waits:?}");
}

#[tokio::test]
async fn a_limiter_that_cannot_answer_fails_open_or_closed_as_the_policy_says() {
    let open = world(ThrottlePolicy::default());
    open.cache.set_down(true);
    open.throttle.transfer(MemberId::new()).await.expect("fails open");
    open.throttle.login("192.0.2.1", "alice@example.com").await.expect("fails open");

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
