//! A member's own account: a password changed only with the current one,
//! every other session ended, and a mail that says so; a forgotten one
//! reset through a one-use link, which asking for says nothing about who is
//! a member; an email moved through a link to the new address; an account
//! closed only once nothing is left on it or moving.

use pointshare_domain::ports::{Deadline, MemberRepository};
use pointshare_domain::services::{
    ChangeEmailError, ChangePasswordError, CloseAccount, CloseError, Device, EmailChange, LoggedIn, LoginCommand,
    MailedToken, PasswordChange, PasswordCheckError, ResetError, ShareError, TransferLimits, VerifyError,
};
use pointshare_domain::{
    Email, MailKind, MailState, MailToken, MemberStatus, Password, Role, TokenHash, TransferKind, TransferState,
};
use pointshare_testkit::{Fault, Operation};
use pointshare_testkit::{World, WorldSettings};

fn token(n: u8) -> TokenHash {
    TokenHash::parse(format!("{n:02x}").repeat(32)).expect("64 hex digits")
}

fn login(email: &str, password: &str, n: u8) -> LoginCommand {
    let device = Device { client: "192.0.2.1".into(), user_agent: None };
    LoginCommand { email: email.into(), password: password.into(), token: token(n), device }
}

#[tokio::test]
async fn a_new_password_ends_every_other_session_and_a_mail_says_so() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let email = alice.email.to_string();
    let here = world.session_service.login(login(&email, World::PASSWORD, 1)).await.expect("logs in").session;
    let LoggedIn { session: phone, .. } =
        world.session_service.login(login(&email, World::PASSWORD, 2)).await.expect("logs in");
    let change = |current: &str| PasswordChange {
        member: alice.id,
        session: here.id,
        current: current.into(),
        new: Password::parse("a brand new password").expect("valid"),
    };

    let wrong = world.accounts.change_password(change("not my password")).await.unwrap_err();
    assert!(matches!(wrong, ChangePasswordError::Password(PasswordCheckError::Wrong)), "{wrong:?}");
    assert!(world.session_service.is_open(phone.id).await.expect("reads"), "nothing changed");

    let ended = world.accounts.change_password(change(World::PASSWORD)).await.expect("changes");
    assert_eq!(ended, [phone.id]);
    assert!(world.session_service.is_open(here.id).await.expect("reads"), "the asking session stays");
    assert!(!world.session_service.is_open(phone.id).await.expect("reads"));
    assert!(world.session_service.login(login(&email, World::PASSWORD, 3)).await.is_err(), "the old one is gone");
    world.session_service.login(login(&email, "a brand new password", 4)).await.expect("the new one works");

    let mails = world.outbox.all();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(
        (mail.message.kind, &mail.message.to, mail.state),
        (MailKind::PasswordChanged, &alice.email, MailState::Pending)
    );
}

fn mailed(n: u8) -> MailedToken {
    MailedToken { token: MailToken::new(format!("token-{n}")), hash: token(100 + n) }
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let email = alice.email.to_string();
    let LoggedIn { session, .. } =
        world.session_service.login(login(&email, World::PASSWORD, 1)).await.expect("logs in");
    world.accounts.request_reset(&email.to_uppercase(), mailed(1)).await.expect("asks");
    world.accounts.request_reset(&email, mailed(2)).await.expect("asks again");
    world.accounts.request_reset("nobody@example.com", mailed(3)).await.expect("the same answer for nobody");
    world.accounts.request_reset("not an email", mailed(4)).await.expect("and for anything");
    let mails = world.outbox.all();
    let kinds: Vec<_> = mails.iter().map(|m| (m.message.kind, m.message.to.to_string())).collect();
    assert_eq!(kinds, [(MailKind::PasswordReset, email.clone()), (MailKind::PasswordReset, email.clone())]);
    assert_eq!(
        mails[0].message.token,
        Some(MailToken::new("token-1")),
        "the mail carries the token, the store its hash"
    );

    let new = || Password::parse("a brand new password").expect("valid");
    let ended = world.accounts.reset_password(&mailed(2).hash, new()).await.expect("resets");
    assert_eq!(ended, [session.id], "every session ends");
    let again = world.accounts.reset_password(&mailed(2).hash, new()).await.unwrap_err();
    assert!(matches!(again, ResetError::InvalidToken), "once: {again:?}");
    let older = world.accounts.reset_password(&mailed(1).hash, new()).await.unwrap_err();
    assert!(matches!(older, ResetError::InvalidToken), "the other link is spent too: {older:?}");
    world.session_service.login(login(&email, "a brand new password", 5)).await.expect("the new one works");

    let later = World::default();
    let bob = later.member("bob", 0).await;
    later.accounts.request_reset(bob.email.as_str(), mailed(6)).await.expect("asks");
    later.clock.advance(chrono::TimeDelta::minutes(31));
    let expired = later.accounts.reset_password(&mailed(6).hash, new()).await.unwrap_err();
    assert!(matches!(expired, ResetError::InvalidToken), "after 30 minutes: {expired:?}");
}

#[tokio::test]
async fn sharing_waits_for_a_verified_email_and_a_link_verifies_it_once() {
    let world = World::new(WorldSettings {
        limits: TransferLimits { require_verified_email: true, ..TransferLimits::default() },
        ..WorldSettings::default()
    });
    let alice = world.member("alice", 50).await;
    let bob = world.member("bob", 0).await;
    assert!(!alice.email_verified);
    let early = world.transfer_service.share(super::share(&alice, &bob, 5, "early"), super::deadline()).await;
    assert!(matches!(early, Err(ShareError::EmailUnverified)), "{early:?}");
    world.accounts.send_verification(&alice, mailed(1)).await.expect("queued");
    assert_eq!(world.outbox.all()[0].message.kind, MailKind::VerifyEmail);
    let verified = world.accounts.verify_email(&mailed(1).hash).await.expect("verifies");
    assert!(verified.email_verified);
    let again = world.accounts.verify_email(&mailed(1).hash).await.unwrap_err();
    assert!(matches!(again, VerifyError::InvalidToken), "{again:?}");
    world.transfer_service.share(super::share(&alice, &bob, 5, "later"), super::deadline()).await.expect("shares");
    world.accounts.send_verification(&verified, mailed(2)).await.expect("nothing to do");
    assert_eq!(world.outbox.all().len(), 1, "a verified address is not mailed again");
}

#[tokio::test]
async fn an_email_moves_when_the_link_mailed_to_the_new_address_is_followed_and_the_old_one_is_told() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let bob = world.member("bob", 0).await;
    let new = Email::parse("Alice.New@Example.com").expect("valid");
    let change =
        |password: &str, new: &Email| EmailChange { member: alice.id, password: password.into(), new: new.clone() };

    let wrong = world.accounts.request_email_change(change("not hers", &new), mailed(1)).await.unwrap_err();
    assert!(matches!(wrong, ChangeEmailError::Password(PasswordCheckError::Wrong)), "{wrong:?}");
    let same = world.accounts.request_email_change(change(World::PASSWORD, &alice.email), mailed(1)).await;
    assert!(matches!(same, Err(ChangeEmailError::Unchanged)), "{same:?}");
    let taken = world.accounts.request_email_change(change(World::PASSWORD, &bob.email), mailed(1)).await;
    assert!(matches!(taken, Err(ChangeEmailError::EmailTaken)), "{taken:?}");
    assert!(world.outbox.all().is_empty(), "nothing mailed for a refused change");

    world.accounts.request_email_change(change(World::PASSWORD, &new), mailed(1)).await.expect("asks");
    let mails: Vec<_> =
        world.outbox.all().into_iter().map(|m| (m.message.kind, m.message.to, m.message.detail)).collect();
    assert_eq!(
        mails,
        [
            (MailKind::VerifyEmail, new.clone(), None),
            (MailKind::EmailChanged, alice.email.clone(), Some("alice.new@example.com".into()))
        ]
    );
    let unchanged = world.member_service.by_id(alice.id).await.expect("reads").expect("exists");
    assert_eq!(unchanged.email, alice.email, "nothing moves before the link is followed");

    let moved = world.accounts.verify_email(&mailed(1).hash).await.expect("moves");
    assert_eq!((moved.email.as_str(), moved.email_verified), ("alice.new@example.com", true));
    let again = world.accounts.verify_email(&mailed(1).hash).await.unwrap_err();
    assert!(matches!(again, VerifyError::InvalidToken), "once: {again:?}");
    world.session_service.login(login("alice.new@example.com", World::PASSWORD, 1)).await.expect("logs in there");
    assert!(world.session_service.login(login(alice.email.as_str(), World::PASSWORD, 2)).await.is_err());

    // A link whose address another member took meanwhile moves nothing.
    let carol = world.member("carol", 0).await;
    let contested = Email::parse("contested@example.com").expect("valid");
    let ask = EmailChange { member: carol.id, password: World::PASSWORD.into(), new: contested.clone() };
    world.accounts.request_email_change(ask, mailed(2)).await.expect("asks");
    let ask = EmailChange { member: bob.id, password: World::PASSWORD.into(), new: contested };
    world.accounts.request_email_change(ask, mailed(3)).await.expect("asks too");
    world.accounts.verify_email(&mailed(3).hash).await.expect("bob moves first");
    let late = world.accounts.verify_email(&mailed(2).hash).await.unwrap_err();
    assert!(matches!(late, VerifyError::EmailTaken), "{late:?}");
    assert_eq!(world.member_service.by_id(carol.id).await.expect("reads").expect("exists").email, carol.email);
}

#[tokio::test(start_paused = true)]
async fn an_account_closes_only_with_no_points_left_or_moving_and_leaves_a_tombstone() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let bob = world.member("bob", 40).await;
    let close = |member: &pointshare_domain::Member, password: &str| {
        let command = CloseAccount { member: member.id, password: password.into(), forfeit: false };
        world.accounts.close(command, Deadline::after(std::time::Duration::from_secs(5)))
    };
    let members = &world.members;
    let status = |id| async move { members.by_id(id).await.expect("reads").expect("exists").status };

    let wrong = close(&alice, "not hers").await.unwrap_err();
    assert!(matches!(wrong, CloseError::Password(PasswordCheckError::Wrong)), "{wrong:?}");
    let left = close(&bob, World::PASSWORD).await.unwrap_err();
    assert!(matches!(left, CloseError::PointsLeft(40)), "{left:?}");
    assert_eq!(status(bob.id).await, MemberStatus::Active, "opened again");

    // Bob's share to alice is stuck on its way: alice's account waits for it.
    world.provider.faults().fail_next(Operation::Debit, 10_000, Fault::Transient);
    let stuck = world
        .transfer_service
        .share(super::share(&bob, &alice, 40, "stuck"), Deadline::after(std::time::Duration::from_secs(1)))
        .await
        .expect("processing");
    assert_eq!(stuck.state, TransferState::Accepted);
    let underway = close(&alice, World::PASSWORD).await.unwrap_err();
    assert!(matches!(underway, CloseError::TransfersUnderway), "{underway:?}");
    assert_eq!(status(alice.id).await, MemberStatus::Active);
    world.provider.faults().heal();
    world.clock.advance(chrono::TimeDelta::minutes(2));
    world.recovery.run_once().await.expect("recovery finishes it");
    let arrived = close(&alice, World::PASSWORD).await.unwrap_err();
    assert!(matches!(arrived, CloseError::PointsLeft(40)), "the points arrived: {arrived:?}");

    let LoggedIn { session, .. } =
        world.session_service.login(login(bob.email.as_str(), World::PASSWORD, 1)).await.expect("logs in");
    let ended = close(&bob, World::PASSWORD).await.expect("closes with nothing left");
    assert_eq!(ended, [session.id]);
    let tombstone = world.members.by_id(bob.id).await.expect("reads").expect("exists");
    assert_eq!((tombstone.status, tombstone.handle.clone()), (MemberStatus::Closed, bob.handle.clone()));
    assert!(
        tombstone.email.as_str().ends_with("@closed.invalid") && tombstone.display_name.as_str() == "Closed account"
    );
    assert!(world.session_service.login(login(bob.email.as_str(), World::PASSWORD, 2)).await.is_err());
    let last = world.outbox.all().into_iter().last().expect("a mail");
    assert_eq!((last.message.kind, last.message.to), (MailKind::AccountClosed, bob.email.clone()));
    let again = close(&bob, World::PASSWORD).await.unwrap_err();
    assert!(matches!(again, CloseError::NotFound), "{again:?}");
    let shared = world.transfer_service.share(super::share(&alice, &bob, 1, "to the closed"), super::deadline()).await;
    assert!(matches!(shared, Err(ShareError::RecipientNotActive)), "{shared:?}");

    let boss = world.member("boss", 0).await;
    world.members.set_role(boss.id, Role::Admin).await.expect("promotes");
    let admin = close(&boss, World::PASSWORD).await.unwrap_err();
    assert!(matches!(admin, CloseError::Admin), "{admin:?}");
}

#[tokio::test]
async fn a_closing_member_s_points_go_to_the_house_through_the_saga_when_they_forfeit_them() {
    let handle = pointshare_domain::Handle::parse("house").expect("valid");
    let world = World::new(WorldSettings { house_account: Some(handle), ..WorldSettings::default() });
    let bob = world.member("bob", 40).await;
    let close = |forfeit: bool| {
        let command = CloseAccount { member: bob.id, password: World::PASSWORD.into(), forfeit };
        world.accounts.close(command, Deadline::after(std::time::Duration::from_secs(5)))
    };
    let left = close(false).await.unwrap_err();
    assert!(matches!(left, CloseError::PointsLeft(40)), "{left:?}");
    let missing = close(true).await.unwrap_err();
    assert!(matches!(missing, CloseError::NoHouseAccount), "no member has the house's handle yet: {missing:?}");
    assert_eq!(world.balance(&bob), 40, "nothing moved");

    let house = world.member("house", 0).await;
    close(true).await.expect("closes, forfeiting 40");
    assert_eq!((world.balance(&bob), world.balance(&house)), (0, 40), "the points went to the house, none lost");
    let history = world.transfer_service.history(house.id, &Default::default(), None, 10).await.expect("reads");
    let forfeit = &history.items[0];
    let seen = (forfeit.kind, forfeit.state, forfeit.amount.get(), forfeit.sender);
    assert_eq!(seen, (TransferKind::Forfeit, TransferState::Completed, 40, bob.id));
    assert_eq!(world.members.by_id(bob.id).await.expect("reads").expect("exists").status, MemberStatus::Closed);
}

#[tokio::test]
async fn a_closed_account_s_handle_is_held_back_for_a_while_then_free_and_history_shows_it_closed() {
    let world = World::default();
    let (ivy, jon) = (world.member("ivy", 10).await, world.member("jon", 0).await);
    world.transfer_service.share(super::share(&ivy, &jon, 10, "all of it"), super::deadline()).await.expect("shares");
    let command = CloseAccount { member: ivy.id, password: World::PASSWORD.into(), forfeit: false };
    world.accounts.close(command, Deadline::after(std::time::Duration::from_secs(5))).await.expect("closes");
    let everything = pointshare_domain::ports::HistoryFilter::default();
    let known = [(jon.id, &jon.handle)];
    let sender_seen_by_jon = || async {
        let page = world.transfer_service.history(jon.id, &everything, None, 10).await.expect("reads");
        let seen = world.transfer_service.with_parties(page.items, &known).await.expect("resolves");
        seen[0].from.clone().expect("the sender")
    };
    let from = sender_seen_by_jon().await;
    assert_eq!((from.handle.as_str(), from.closed), ("ivy", true), "jon's history shows ivy closed");

    let copycat = || world.member_service.signup(World::signup_command("ivy"), super::deadline());
    let held = copycat().await.unwrap_err();
    assert!(matches!(held, pointshare_domain::services::SignupError::HandleTaken), "{held:?}");
    world.clock.advance(chrono::TimeDelta::days(91));
    let newcomer = copycat().await.expect("the handle is free after its hold");
    assert_ne!(newcomer.id, ivy.id);
    let from = sender_seen_by_jon().await;
    assert!(from.handle.as_str().starts_with("closed_") && from.closed, "the old share names the tombstone: {from:?}");
}
