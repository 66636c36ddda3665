use pointshare_domain::services::{LoginCommand, LoginError, LogoutError, RefreshError, SignupError};
use pointshare_domain::{MemberStatus, SessionId, TokenHash};
use pointshare_testkit::World;

fn token(n: u8) -> TokenHash {
    TokenHash::parse(format!("{n:02x}").repeat(32)).expect("64 hex digits")
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_keeps_the_session() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1)).await.expect("starts");
    let (rotated, member) = world.session_service.refresh(session.id, &token(1), token(2)).await.expect("refreshes");
    assert_eq!((rotated.id, rotated.token.clone(), member.id), (session.id, token(2), alice.id));
    world.session_service.refresh(session.id, &token(2), token(3)).await.expect("the new token works");
}

#[tokio::test]
async fn a_retired_token_presented_again_ends_the_whole_session() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1)).await.expect("starts");
    world.session_service.refresh(session.id, &token(1), token(2)).await.expect("refreshes");
    // A thief replays the token the owner already exchanged.
    let reused = world.session_service.refresh(session.id, &token(1), token(9)).await.unwrap_err();
    assert!(matches!(reused, RefreshError::Reused), "{reused:?}");
    // The owner's current token is dead too: the family is revoked.
    let after = world.session_service.refresh(session.id, &token(2), token(3)).await.unwrap_err();
    assert!(matches!(after, RefreshError::Invalid), "{after:?}");
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1)).await.expect("starts");
    world.clock.advance(chrono::Duration::days(31));
    let error = world.session_service.refresh(session.id, &token(1), token(2)).await.unwrap_err();
    assert!(matches!(error, RefreshError::Invalid), "{error:?}");
}

#[tokio::test]
async fn a_suspended_member_cannot_refresh() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1)).await.expect("starts");
    world.member_service.set_status(alice.id, MemberStatus::Suspended).await.expect("suspends");
    let error = world.session_service.refresh(session.id, &token(1), token(2)).await.unwrap_err();
    assert!(matches!(error, RefreshError::MemberNotActive), "{error:?}");
}

#[tokio::test]
async fn logout_ends_the_session_and_is_idempotent() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let session = world.session_service.start(&alice, token(1)).await.expect("starts");
    world.session_service.end(session.id, &token(1)).await.expect("logs out");
    world.session_service.end(session.id, &token(1)).await.expect("again");
    let error = world.session_service.refresh(session.id, &token(1), token(2)).await.unwrap_err();
    assert!(matches!(error, RefreshError::Invalid), "{error:?}");
    let unknown = world.session_service.end(SessionId::new(), &token(1)).await.unwrap_err();
    assert!(matches!(unknown, LogoutError::Invalid), "{unknown:?}");
}

fn login(email: &str, password: &str) -> LoginCommand {
    LoginCommand { email: email.into(), password: password.into(), token: token(1) }
}

#[tokio::test]
async fn a_member_logs_in_with_their_password_and_nobody_else_does() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let (session, member) =
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
