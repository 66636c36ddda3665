//! A member's own account: a password changed only with the current one,
//! every other session ended, and a mail that says so.

use pointshare_domain::services::{ChangePasswordError, LoginCommand, PasswordChange};
use pointshare_domain::{MailKind, MailState, Password, TokenHash};
use pointshare_testkit::World;

fn token(n: u8) -> TokenHash {
    TokenHash::parse(format!("{n:02x}").repeat(32)).expect("64 hex digits")
}

fn login(email: &str, password: &str, n: u8) -> LoginCommand {
    LoginCommand { email: email.into(), password: password.into(), token: token(n), client: "192.0.2.1".into() }
}

#[tokio::test]
async fn a_new_password_ends_every_other_session_and_a_mail_says_so() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let email = alice.email.to_string();
    let (here, _) = world.session_service.login(login(&email, World::PASSWORD, 1)).await.expect("logs in");
    let (phone, _) = world.session_service.login(login(&email, World::PASSWORD, 2)).await.expect("logs in");
    let change = |current: &str| PasswordChange {
        member: alice.id,
        session: here.id,
        current: current.into(),
        new: Password::parse("a brand new password").expect("valid"),
    };

    let wrong = world.accounts.change_password(change("not my password")).await.unwrap_err();
    assert!(matches!(wrong, ChangePasswordError::WrongPassword), "{wrong:?}");
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
