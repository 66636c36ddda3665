use pointshare_domain::services::{LogoutError, RefreshError};
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
