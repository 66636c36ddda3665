//! An admin credits a member (a grant) or debits them (fraud clean-up),
//! against their daily budget either way; a debit never takes more than the
//! member holds, and a large one waits for a second admin.

use std::time::Duration;

use pointshare_domain::services::MemberRef;
use pointshare_domain::services::{
    AdjustCommand, AdjustDirection, AdjustError, ApprovalPolicy, Submitted, TransferLimits,
};
use pointshare_domain::{
    Actor, AuditAction, AuditTarget, Authority, DeclineReason, Member, MemberStatus, Origin, Reason, TransferKind,
    TransferState,
};
use pointshare_testkit::{World, WorldSettings};

use super::{deadline, key, points};

/// A budget of 100 points a day per admin; debits above 60 wait for a second admin.
fn world() -> World {
    World::new(WorldSettings {
        limits: TransferLimits { grant_budget_per_day: 100, ..TransferLimits::default() },
        approvals: ApprovalPolicy { threshold: 60, expires_after: Duration::from_secs(3600) },
        ..WorldSettings::default()
    })
}

async fn adjust(
    world: &World,
    admin: &Member,
    member: &Member,
    direction: AdjustDirection,
    amount: u64,
    k: &str,
) -> Result<Submitted, AdjustError> {
    let command = AdjustCommand {
        admin: admin.id,
        member: member.handle.clone(),
        amount: points(amount),
        direction,
        reason: Reason::parse("fraud clean-up").expect("valid"),
        idempotency_key: key(k),
        origin: Origin::default(),
    };
    world.corrections.adjust(command, deadline()).await
}

#[tokio::test]
async fn credits_and_debits_count_against_the_admins_budget() {
    let world = world();
    let ada = world.member("ada", 0).await;
    let bob = world.member("bob", 0).await;
    let credit = adjust(&world, &ada, &bob, AdjustDirection::Credit, 50, "c1").await.expect("credits");
    assert_eq!((credit.kind, credit.state), (TransferKind::Grant, TransferState::Completed));
    let debit = adjust(&world, &ada, &bob, AdjustDirection::Debit, 30, "d1").await.expect("debits");
    assert_eq!(
        (debit.kind, debit.state, debit.reverses, debit.recipient_account.clone()),
        (TransferKind::Withdrawal, TransferState::Completed, None, None)
    );
    assert_eq!(world.balance(&bob), 20);
    assert_eq!(world.provider.ledger().summary().total_balance, 20, "taken, not moved");
    let over = adjust(&world, &ada, &bob, AdjustDirection::Debit, 21, "d2").await.unwrap_err();
    let AdjustError::Declined(over) = over else { panic!("{over:?}") };
    assert_eq!(over.decline, Some(DeclineReason::GrantBudgetExceeded), "50 + 30 spent, 21 more is past 100");
    let again = adjust(&world, &ada, &bob, AdjustDirection::Debit, 30, "d1").await.expect("a replay");
    assert_eq!((again.id, again.replayed), (debit.id, true));
    let records = world.audit.after(0, 20).await.expect("reads");
    let adjustments: Vec<_> =
        records.iter().filter(|r| r.entry.action == AuditAction::Adjustment).map(|r| r.entry.target).collect();
    assert_eq!(adjustments, [AuditTarget::Member(bob.id); 3], "both directions and the refused one, once each");
}

#[tokio::test]
async fn a_debit_never_takes_more_than_the_member_holds() {
    let world = world();
    let ada = world.member("ada", 0).await;
    let bob = world.member("bob", 10).await;
    let declined = adjust(&world, &ada, &bob, AdjustDirection::Debit, 11, "d1").await.unwrap_err();
    let AdjustError::Declined(declined) = declined else { panic!("{declined:?}") };
    assert_eq!((declined.state, declined.decline), (TransferState::Rejected, Some(DeclineReason::InsufficientFunds)));
    assert_eq!(world.balance(&bob), 10);
}

#[tokio::test]
async fn a_stolen_account_is_suspended_then_emptied_but_never_credited() {
    let world = world();
    let ada = world.member("ada", 0).await;
    let bob = world.member("bob", 40).await;
    let by = Authority { actor: Actor::Member(ada.id), reason: None, origin: Origin::default() };
    world.operators.set_status(MemberRef::Id(bob.id), MemberStatus::Suspended, &by).await.expect("suspends");
    adjust(&world, &ada, &bob, AdjustDirection::Debit, 40, "d1").await.expect("a suspended member's points are taken");
    assert_eq!(world.balance(&bob), 0);
    let credit = adjust(&world, &ada, &bob, AdjustDirection::Credit, 5, "c1").await.unwrap_err();
    assert!(matches!(credit, AdjustError::MemberNotActive), "{credit:?}");
    let own = adjust(&world, &ada, &ada, AdjustDirection::Debit, 5, "d2").await.unwrap_err();
    assert!(matches!(own, AdjustError::OwnAccount), "{own:?}");
}

#[tokio::test]
async fn a_large_debit_waits_for_a_second_admin() {
    let world = world();
    let ada = world.member("ada", 0).await;
    let bob = world.member("bob", 90).await;
    let waiting = adjust(&world, &ada, &bob, AdjustDirection::Debit, 61, "d1").await.expect("recorded");
    assert_eq!(waiting.state, TransferState::AwaitingApproval);
    assert_eq!(world.balance(&bob), 90);
    // The waiting debit holds its share of the budget: 61 + 40 is past 100.
    let credit = adjust(&world, &ada, &bob, AdjustDirection::Credit, 40, "c1").await.unwrap_err();
    assert!(matches!(credit, AdjustError::Declined(ref d) if d.decline == Some(DeclineReason::GrantBudgetExceeded)));
    adjust(&world, &ada, &bob, AdjustDirection::Credit, 39, "c2").await.expect("within what is left");
}
