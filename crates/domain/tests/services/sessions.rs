use std::time::Duration;

use pointshare_domain::services::{
    Device, EndSessionError, LOGIN_SLOW_DOWN_STEP, LoggedIn, LoginCommand, LoginError, LogoutError, NextToken,
    RefreshError, Refreshed, SignupError, Successor, ThrottlePolicy, Throttled,
};
use pointshare_domain::{MemberStatus, SessionId, TokenHash};
use pointshare_testkit::{World, WorldSettings};

fn token(n: u8) -> TokenHash {
    TokenHash::parse(format!("{n:02x}").repeat(32)).expect("64 hex digits")
}

/// The refresh token `n` offered, its secret "sealed" as `sealed n`.
fn next(n: u8) -> NextToken {
    NextToken { hash: token(n), sealed: format!("sealed {n}") }
}

fn home() -> Device {
    Device { client: HOME.into(), user_agent: Some("Firefox on the home laptop".into()) }
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_keeps_the_session() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    let refreshed = world.session_service.refresh(session.id, &token(1), next(2)).await.expect("refreshes");
    let Refreshed { session: rotated, member, successor } = refreshed;
    assert_eq!((rotated.id, rotated.token.clone(), member.id), (session.id, token(2), alice.id));
    assert_eq!(successor, Successor::Offered);
    world.session_service.refresh(session.id, &token(2), next(3)).await.expect("the new token works");
}

#[tokio::test]
async fn a_retired_token_presented_again_ends_the_whole_session() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    world.session_service.refresh(session.id, &token(1), next(2)).await.expect("refreshes");
    world.clock.advance(chrono::Duration::seconds(11));
    // A thief replays the token the owner already exchanged, past its handover.
    let reused = world.session_service.refresh(session.id, &token(1), next(9)).await.unwrap_err();
    assert!(matches!(reused, RefreshError::Reused), "{reused:?}");
    // The owner's current token is dead too: the family is revoked.
    let after = world.session_service.refresh(session.id, &token(2), next(3)).await.unwrap_err();
    assert!(matches!(after, RefreshError::Invalid), "{after:?}");
}

#[tokio::test]
async fn knowing_a_session_s_id_without_a_token_it_had_ends_nothing() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    let guessed = world.session_service.refresh(session.id, &token(7), next(8)).await.unwrap_err();
    assert!(matches!(guessed, RefreshError::Invalid), "{guessed:?}");
    let guessed = world.session_service.end(session.id, &token(7)).await.unwrap_err();
    assert!(matches!(guessed, LogoutError::Invalid), "{guessed:?}");
    assert!(world.session_service.is_open(session.id).await.expect("reads"));
    world.session_service.refresh(session.id, &token(1), next(2)).await.expect("the owner's token still works");
    // A token the session did have, though, is a copy: it ends the session.
    world.session_service.end(session.id, &token(1)).await.expect("logs out with a retired token");
    assert!(!world.session_service.is_open(session.id).await.expect("reads"));
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    world.clock.advance(chrono::Duration::days(31));
    let error = world.session_service.refresh(session.id, &token(1), next(2)).await.unwrap_err();
    assert!(matches!(error, RefreshError::Invalid), "{error:?}");
}

#[tokio::test]
async fn a_suspended_member_cannot_refresh() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    world.member_service.set_status(alice.id, MemberStatus::Suspended).await.expect("suspends");
    let error = world.session_service.refresh(session.id, &token(1), next(2)).await.unwrap_err();
    assert!(matches!(error, RefreshError::MemberNotActive), "{error:?}");
}

#[tokio::test]
async fn logout_ends_the_session_and_is_idempotent() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    world.session_service.end(session.id, &token(1)).await.expect("logs out");
    world.session_service.end(session.id, &token(1)).await.expect("again");
    let error = world.session_service.refresh(session.id, &token(1), next(2)).await.unwrap_err();
    assert!(matches!(error, RefreshError::Invalid), "{error:?}");
    let unknown = world.session_service.end(SessionId::new(), &token(1)).await.unwrap_err();
    assert!(matches!(unknown, LogoutError::Invalid), "{unknown:?}");
}

#[tokio::test]
async fn a_token_presented_again_within_its_handover_gets_the_same_successor() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    world.session_service.refresh(session.id, &token(1), next(2)).await.expect("the first tab refreshes");
    world.clock.advance(chrono::Duration::seconds(9));
    // The second tab sent the same token at the same moment.
    let second = world.session_service.refresh(session.id, &token(1), next(5)).await.expect("is handed over");
    assert_eq!(second.successor, Successor::HandedOver("sealed 2".into()));
    assert_eq!(second.session.token, token(2), "nothing rotated");
    world.session_service.refresh(session.id, &token(2), next(3)).await.expect("the successor works once shared");
    // Token 2's handover runs; token 1's ended with the next exchange.
    let late = world.session_service.refresh(session.id, &token(1), next(6)).await.unwrap_err();
    assert!(matches!(late, RefreshError::Reused), "{late:?}");
}

#[tokio::test]
async fn a_handover_ends_on_time_and_not_for_a_suspended_member() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    world.session_service.refresh(session.id, &token(1), next(2)).await.expect("refreshes");
    world.member_service.set_status(alice.id, MemberStatus::Suspended).await.expect("suspends");
    let error = world.session_service.refresh(session.id, &token(1), next(5)).await.unwrap_err();
    assert!(matches!(error, RefreshError::MemberNotActive), "{error:?}");
    assert!(!world.session_service.is_open(session.id).await.expect("reads"));

    let bob = world.member("bob", 0).await;
    let session = world.session_service.start(&bob, token(1), home()).await.expect("starts");
    world.session_service.refresh(session.id, &token(1), next(2)).await.expect("refreshes");
    world.clock.advance(chrono::Duration::seconds(10));
    let error = world.session_service.refresh(session.id, &token(1), next(5)).await.unwrap_err();
    assert!(matches!(error, RefreshError::Reused), "{error:?}");
}

#[tokio::test]
async fn a_member_lists_their_sessions_and_ends_one_or_all_others() {
    let world = World::default();
    let (alice, bob) = (world.member("alice", 0).await, world.member("bob", 0).await);
    let laptop = world.session_service.start(&alice, token(1), home()).await.expect("starts");
    world.clock.advance(chrono::Duration::minutes(1));
    let long_agent = Device { client: "198.51.100.7".into(), user_agent: Some("x".repeat(500)) };
    let phone = world.session_service.start(&alice, token(2), long_agent).await.expect("starts");
    let tablet = world.session_service.start(&alice, token(3), home()).await.expect("starts");
    let bobs = world.session_service.start(&bob, token(4), home()).await.expect("starts");
    assert_eq!(phone.user_agent.as_deref().map(str::len), Some(200), "a User-Agent is cut short");
    world.clock.advance(chrono::Duration::minutes(1));
    world.session_service.refresh(laptop.id, &token(1), next(5)).await.expect("refreshes");

    let listed: Vec<SessionId> =
        world.session_service.list(alice.id).await.expect("lists").iter().map(|s| s.id).collect();
    assert_eq!(listed[0], laptop.id, "the one used last first");
    assert_eq!(listed.len(), 3);

    let error = world.session_service.end_own(alice.id, bobs.id).await.unwrap_err();
    assert!(matches!(error, EndSessionError::NotFound), "not another member's: {error:?}");
    assert!(world.session_service.is_open(bobs.id).await.expect("reads"));
    world.session_service.end_own(alice.id, phone.id).await.expect("ends the phone's");
    world.session_service.end_own(alice.id, phone.id).await.expect("again is fine");
    assert!(!world.session_service.is_open(phone.id).await.expect("reads"));

    let ended = world.session_service.end_others(alice.id, laptop.id).await.expect("ends the others");
    assert_eq!(ended, [tablet.id]);
    let listed: Vec<SessionId> =
        world.session_service.list(alice.id).await.expect("lists").iter().map(|s| s.id).collect();
    assert_eq!(listed, [laptop.id]);
    assert!(world.session_service.is_open(bobs.id).await.expect("reads"));
}

const HOME: &str = "192.0.2.1";

fn login(email: &str, password: &str) -> LoginCommand {
    login_from(HOME, email, password)
}

fn login_from(client: &str, email: &str, password: &str) -> LoginCommand {
    let device = Device { client: client.into(), user_agent: None };
    LoginCommand { email: email.into(), password: password.into(), token: token(1), device }
}

#[tokio::test]
async fn a_member_logs_in_with_their_password_and_nobody_else_does() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let LoggedIn { session, member, .. } =
        world.session_service.login(login(" Alice@Example.com", World::PASSWORD)).await.expect("logs in");
    assert_eq!((session.member, member.id), (alice.id, alice.id));
    for (email, password) in [
        ("alice@example.com", "not her password"),
        ("nobody@example.com", World::PASSWORD),
        ("not an email", World::PASSWORD),
    ] {
        let refused = world.session_service.login(login(email, password)).await.unwrap_err();
        assert!(matches!(refused, LoginError::InvalidCredentials), "{email}: {refused:?}");
    }
}

/// A world where an account is slowed after `free` failed logins.
fn slowed_after(free: u32) -> World {
    World::new(WorldSettings {
        throttle: ThrottlePolicy { failed_logins_before_slow_down: free, ..ThrottlePolicy::default() },
        ..WorldSettings::default()
    })
}

/// 20 addresses guessing alice's password, one guess each at once.
async fn guesses_from_many_addresses(world: &World) -> Vec<Result<(), LoginError>> {
    let guesses = (0..20).map(|n| {
        let world = world.session_service.clone();
        async move { world.login(login_from(&format!("203.0.113.{n}"), "alice@example.com", "a guess")).await.map(drop) }
    });
    futures::future::join_all(guesses).await
}

#[tokio::test(start_paused = true)]
async fn guesses_from_many_addresses_come_one_at_a_time_and_ever_slower() {
    let world = slowed_after(2);
    world.member("alice", 0).await;
    let started = tokio::time::Instant::now();
    let answers = guesses_from_many_addresses(&world).await;
    let checked = answers.iter().filter(|a| matches!(a, Err(LoginError::InvalidCredentials))).count();
    let refused = answers.iter().filter(|a| matches!(a, Err(LoginError::Throttled(Throttled::Limited { .. })))).count();
    // Three at once (two failures are free), then 1 s, 2 s, 3 s, 4 s apart: seven fit the 10 s any one waits.
    assert_eq!((checked, refused), (7, 13), "{answers:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(10), "the refused waited out their turn, no longer");
}

#[tokio::test(start_paused = true)]
async fn a_slowed_account_s_owner_signs_in_at_once_from_where_they_did_before_and_later_from_elsewhere() {
    let world = slowed_after(0);
    world.member("alice", 0).await;
    world.session_service.login(login("alice@example.com", World::PASSWORD)).await.expect("from home");
    let guess = world.session_service.login(login_from("203.0.113.9", "alice@example.com", "guess")).await;
    assert!(matches!(guess, Err(LoginError::InvalidCredentials)), "{guess:?}");
    let started = tokio::time::Instant::now();
    world.session_service.login(login("alice@example.com", World::PASSWORD)).await.expect("from home, at once");
    assert_eq!(started.elapsed(), Duration::ZERO);
    let started = tokio::time::Instant::now();
    world.session_service.login(login_from("198.51.100.4", "alice@example.com", World::PASSWORD)).await.expect("in");
    assert_eq!(started.elapsed(), LOGIN_SLOW_DOWN_STEP, "from a new network, after the slow-down; never refused");
}

#[tokio::test]
async fn a_suspended_member_cannot_log_in_and_is_told_nothing_more() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    world.member_service.set_status(alice.id, MemberStatus::Suspended).await.expect("suspends");
    let refused = world.session_service.login(login("alice@example.com", World::PASSWORD)).await.unwrap_err();
    assert!(matches!(refused, LoginError::InvalidCredentials), "{refused:?}");
}

#[tokio::test]
async fn a_busy_hasher_refuses_logins_and_signups_and_records_nothing() {
    let world = World::default();
    world.member("alice", 0).await;
    world.passwords.set_busy(true);
    let refused = world.session_service.login(login("alice@example.com", World::PASSWORD)).await.unwrap_err();
    assert!(matches!(refused, LoginError::Busy), "{refused:?}");
    let refused = world.member_service.signup(World::signup_command("bob"), super::deadline()).await.unwrap_err();
    assert!(matches!(refused, SignupError::Busy), "{refused:?}");
    let bob = pointshare_domain::Email::parse("bob@example.com").expect("valid");
    assert!(world.member_service.by_email(&bob).await.expect("reads").is_none(), "bob was not recorded");
}
