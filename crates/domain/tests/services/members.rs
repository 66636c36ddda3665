use pointshare_domain::HolderRef;
use pointshare_domain::ports::Deadline;
use pointshare_domain::services::{MemberRef, OperatorError, SignupError};
use pointshare_domain::{AccessDenied, Actor, AuditAction, AuditTarget, Authority, MemberStatus, OperatorName, Role};
use pointshare_testkit::{Fault, Operation, World};
use std::time::Duration;

use super::deadline;

#[tokio::test]
async fn signup_opens_one_provider_account_held_by_the_member() {
    let world = World::default();
    let member = world.member_service.signup(World::signup_command("alice"), deadline()).await.expect("signs up");
    let account = member.provider_account.clone().expect("account recorded");
    let (held, created) = world.provider.ledger().open_account(&HolderRef::from(member.id), 0);
    assert!(!created, "the provider already had an account for this holder_ref");
    assert_eq!(held.account_id, account);
    assert_eq!(world.balance(&member), 0);
}

#[tokio::test]
async fn email_and_handle_are_unique_case_insensitively() {
    let world = World::default();
    world.member("alice", 0).await;
    let mut same_email = World::signup_command("other");
    same_email.email = pointshare_domain::Email::parse("ALICE@example.com").expect("valid");
    let error = world.member_service.signup(same_email, deadline()).await.unwrap_err();
    assert!(matches!(error, SignupError::EmailTaken), "{error:?}");

    let mut same_handle = World::signup_command("alice");
    same_handle.email = pointshare_domain::Email::parse("new@example.com").expect("valid");
    same_handle.handle = pointshare_domain::Handle::parse("ALICE").expect("valid");
    let error = world.member_service.signup(same_handle, deadline()).await.unwrap_err();
    assert!(matches!(error, SignupError::HandleTaken), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn a_signup_interrupted_before_the_account_converges_when_repeated() {
    let world = World::default();
    world.provider.faults().fail_next(Operation::OpenAccount, 1000, Fault::Transient);
    let short = Deadline::after(Duration::from_secs(2));
    let error = world.member_service.signup(World::signup_command("bob"), short).await.unwrap_err();
    assert!(matches!(error, SignupError::ProviderUnavailable), "{error:?}");
    let pending = world.member_service.by_handle(&super::handle("bob")).await.expect("store up").expect("recorded");
    assert!(pending.provider_account.is_none());

    world.provider.faults().heal();
    let finished = world.member_service.signup(World::signup_command("bob"), deadline()).await.expect("converges");
    assert_eq!(finished.id, pending.id, "the same member, not a second one");
    assert!(finished.provider_account.is_some());
    assert_eq!(world.provider.ledger().summary().accounts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_public_signup_never_finishes_an_admin_left_pending() {
    let world = World::default();
    world.provider.faults().fail_next(Operation::OpenAccount, 1000, Fault::Transient);
    let short = Deadline::after(Duration::from_secs(2));
    let error = world.member_service.enrol_admin(World::signup_command("boss"), short).await.unwrap_err();
    assert!(matches!(error, SignupError::ProviderUnavailable), "{error:?}");
    world.provider.faults().heal();

    let error = world.member_service.signup(World::signup_command("boss"), deadline()).await.unwrap_err();
    assert!(matches!(error, SignupError::EmailTaken), "{error:?}");
    let pending = world.member_service.by_handle(&super::handle("boss")).await.expect("store up").expect("recorded");
    assert_eq!((pending.role, pending.provider_account), (Role::Admin, None), "left to the operator's enrolment");
    let admin = world.member_service.enrol_admin(World::signup_command("boss"), deadline()).await.expect("finishes");
    assert_eq!((admin.id, admin.role), (pending.id, Role::Admin));
}

#[tokio::test]
async fn an_account_opened_whose_answer_was_lost_is_found_again() {
    let world = World::default();
    // The provider opens the account but the answer never arrives.
    world.provider.faults().fail_next(Operation::OpenAccount, 1, Fault::ApplyThenTimeout);
    let lost = world.member_service.signup(World::signup_command("carol"), deadline()).await.unwrap_err();
    assert!(matches!(lost, SignupError::ProviderUnavailable), "{lost:?}");
    // Repeating the signup (or recovery) asks again under the same holder_ref.
    let member = world.member_service.signup(World::signup_command("carol"), deadline()).await.expect("repeated");
    assert!(member.provider_account.is_some());
    assert_eq!(world.provider.ledger().summary().accounts, 1, "no second account");
}

#[tokio::test(start_paused = true)]
async fn recovery_finishes_signups_nobody_repeated() {
    let world = World::default();
    world.provider.faults().fail_next(Operation::OpenAccount, 1000, Fault::Transient);
    let short = Deadline::after(Duration::from_millis(500));
    world.member_service.signup(World::signup_command("dave"), short).await.unwrap_err();
    world.provider.faults().heal();
    let report = world.recovery.run_once().await.expect("store up");
    assert_eq!(report.accounts_opened, 1);
    let dave = world.member_service.by_handle(&super::handle("dave")).await.expect("up").expect("exists");
    assert!(dave.provider_account.is_some());
}

#[tokio::test]
async fn concurrent_repeats_of_one_signup_give_one_member_and_one_account() {
    let world = World::default();
    let attempts = (0..8).map(|_| world.member_service.signup(World::signup_command("erin"), deadline()));
    let results = futures::future::join_all(attempts).await;
    let ids: std::collections::HashSet<_> = results.iter().filter_map(|r| r.as_ref().ok()).map(|m| m.id).collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    assert_eq!(world.provider.ledger().summary().accounts, 1);
}

#[tokio::test]
async fn a_taken_email_with_another_handle_is_refused_even_while_pending() {
    let world = World::default();
    world.provider.faults().fail_next(
        Operation::OpenAccount,
        1,
        Fault::Reject(pointshare_domain::ports::Rejection::AccountInactive),
    );
    let _ = world.member_service.signup(World::signup_command("fay"), deadline()).await;
    let mut other = World::signup_command("someone_else");
    other.email = pointshare_domain::Email::parse("fay@example.com").expect("valid");
    let error = world.member_service.signup(other, deadline()).await.unwrap_err();
    assert!(matches!(error, SignupError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn renaming_changes_the_display_name() {
    let world = World::default();
    let member = world.member("gus", 0).await;
    let name = pointshare_domain::DisplayName::parse("Gus the Great").expect("valid");
    let renamed = world.member_service.rename(member.id, &name).await.expect("renamed");
    assert_eq!(renamed.display_name, name);
    let unknown = world.member_service.rename(pointshare_domain::MemberId::new(), &name).await;
    assert!(matches!(unknown, Err(pointshare_domain::services::RenameError::NotFound)));
}

fn operator() -> Authority {
    Authority::operator(OperatorName::parse("ops").expect("valid"), None)
}

/// The audit log as (action, target, before, after, actor), oldest first.
async fn audited(world: &World) -> Vec<(AuditAction, AuditTarget, Option<String>, Option<String>, Actor)> {
    let records = world.audit.after(0, 100).await.expect("reads");
    let entries = records.into_iter().map(|record| record.entry);
    entries.map(|e| (e.action, e.target, e.before, e.after, e.actor)).collect()
}

#[tokio::test]
async fn an_operator_changes_a_role_by_email_and_learns_the_previous_one() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    assert_eq!(alice.role, Role::Member, "a signup is always a member");
    let email = MemberRef::Email(&alice.email);
    let promoted = world.operators.set_role(email, Role::Admin, &operator()).await.expect("promotes");
    assert_eq!((promoted.previous, promoted.member.role), (Role::Member, Role::Admin));
    let stored = world.member_service.by_id(alice.id).await.expect("reads").expect("exists");
    assert!(stored.is_admin());
    let bob = world.member("bob", 0).await;
    world.operators.set_role(MemberRef::Id(bob.id), Role::Admin, &operator()).await.expect("promotes bob");
    let demoted = world.operators.set_role(email, Role::Member, &operator()).await.expect("demotes");
    assert_eq!((demoted.previous, demoted.member.role), (Role::Admin, Role::Member));
    let nobody = pointshare_domain::Email::parse("nobody@example.com").expect("valid");
    let error = world.operators.set_role(MemberRef::Email(&nobody), Role::Admin, &operator()).await.unwrap_err();
    assert!(matches!(error, OperatorError::UnknownMember), "{error:?}");
    let ops = Actor::Operator(OperatorName::parse("ops").expect("valid"));
    let role = |member, before: &str, after: &str| {
        (AuditAction::RoleChange, AuditTarget::Member(member), Some(before.into()), Some(after.into()), ops.clone())
    };
    assert_eq!(
        audited(&world).await,
        vec![role(alice.id, "member", "admin"), role(bob.id, "member", "admin"), role(alice.id, "admin", "member")]
    );
}

#[tokio::test]
async fn an_operator_suspends_and_reinstates_a_member_by_email() {
    let world = World::default();
    let alice = world.member("alice", 0).await;
    let email = MemberRef::Email(&alice.email);
    let suspended = world.operators.set_status(email, MemberStatus::Suspended, &operator()).await.expect("suspends");
    assert_eq!((suspended.previous, suspended.member.status), (MemberStatus::Active, MemberStatus::Suspended));
    assert_eq!(suspended.member.may_act_as(Role::Member), Err(AccessDenied::NotActive));
    let back = world.operators.set_status(email, MemberStatus::Active, &operator()).await.expect("reinstates");
    assert_eq!(back.member.may_act_as(Role::Member), Ok(()));
    world.operators.set_status(email, MemberStatus::Active, &operator()).await.expect("already active");
    assert_eq!(audited(&world).await.len(), 2, "setting what already was is no act");
}

#[tokio::test]
async fn no_admin_suspends_or_demotes_themselves_and_the_last_active_admin_stays_one() {
    let world = World::default();
    let ada = world.member("ada", 0).await;
    let ben = world.member("ben", 0).await;
    world.operators.set_role(MemberRef::Id(ada.id), Role::Admin, &operator()).await.expect("promotes");
    let by_ada = Authority { actor: Actor::Member(ada.id), reason: None, origin: pointshare_domain::Origin::default() };
    let own = world.operators.set_role(MemberRef::Id(ada.id), Role::Member, &by_ada).await.unwrap_err();
    assert!(matches!(own, OperatorError::OwnAccount), "{own:?}");
    let own = world.operators.set_status(MemberRef::Id(ada.id), MemberStatus::Suspended, &by_ada).await.unwrap_err();
    assert!(matches!(own, OperatorError::OwnAccount), "{own:?}");
    let last = world.operators.set_role(MemberRef::Id(ada.id), Role::Member, &operator()).await.unwrap_err();
    assert!(matches!(last, OperatorError::LastAdmin), "{last:?}");
    let last = world.operators.set_status(MemberRef::Id(ada.id), MemberStatus::Suspended, &operator()).await;
    assert!(matches!(last, Err(OperatorError::LastAdmin)), "{last:?}");
    world.operators.set_role(MemberRef::Id(ben.id), Role::Admin, &by_ada).await.expect("ada promotes ben");
    world.operators.set_role(MemberRef::Id(ada.id), Role::Member, &operator()).await.expect("now ada may go");
    assert!(world.member_service.by_id(ada.id).await.expect("reads").expect("exists").role == Role::Member);
}
