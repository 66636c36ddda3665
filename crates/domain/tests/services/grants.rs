use pointshare_domain::services::{GrantError, TransferLimits};
use pointshare_domain::{
    AccountStatus, Actor, AuditAction, AuditTarget, DeclineReason, MovementKind, TransferKind, TransferState,
};
use pointshare_testkit::{World, WorldSettings};

use super::{deadline, grant};

#[tokio::test]
async fn a_grant_credits_the_recipient_and_debits_nobody() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    let total_before = world.provider.ledger().summary().total_balance;
    let transfer = world.transfer_service.grant(grant(&admin, &bob, 500, "g1"), deadline()).await.expect("granted");
    assert_eq!((transfer.kind, transfer.state), (TransferKind::Grant, TransferState::Completed));
    assert_eq!(transfer.sender_account, None);
    assert_eq!((world.balance(&admin), world.balance(&bob)), (0, 500));
    assert_eq!(world.provider.ledger().summary().total_balance, total_before + 500);
    let movements: Vec<_> = world.provider.ledger().transactions().into_iter().map(|t| t.kind).collect();
    assert_eq!(movements, [MovementKind::Credit]);
}

#[tokio::test]
async fn a_grant_is_idempotent_by_key() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    let first = world.transfer_service.grant(grant(&admin, &bob, 500, "g1"), deadline()).await.expect("granted");
    let again = world.transfer_service.grant(grant(&admin, &bob, 500, "g1"), deadline()).await.expect("replayed");
    assert_eq!(first.id, again.id);
    assert_eq!(world.balance(&bob), 500);
    let reused = world.transfer_service.grant(grant(&admin, &bob, 501, "g1"), deadline()).await.unwrap_err();
    assert!(matches!(reused, GrantError::IdempotencyKeyReused), "{reused:?}");
}

#[tokio::test]
async fn every_grant_that_recorded_a_transfer_is_audited_once_before_it_is_answered() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    let first = world.transfer_service.grant(grant(&admin, &bob, 500, "g1"), deadline()).await.expect("granted");
    world.transfer_service.grant(grant(&admin, &bob, 500, "g1"), deadline()).await.expect("replayed");
    world.provider.set_status(bob.provider_account.as_ref().expect("account"), AccountStatus::Closed);
    let declined = world.transfer_service.grant(grant(&admin, &bob, 5, "g2"), deadline()).await.unwrap_err();
    let GrantError::Declined(declined) = declined else { panic!("{declined:?}") };
    let records = world.audit.after(0, 10).await.expect("reads");
    let entries: Vec<_> = records.iter().map(|record| &record.entry).collect();
    assert_eq!(entries.len(), 2, "the replay is the same act: {entries:?}");
    for (entry, transfer) in entries.iter().zip([first.id, declined.id]) {
        assert_eq!(entry.action, AuditAction::Grant);
        assert_eq!((entry.actor.clone(), entry.target), (Actor::Member(admin.id), AuditTarget::Member(bob.id)));
        assert_eq!(entry.caused, Some(transfer.to_string()));
        assert_eq!(entry.reason.as_ref().map(ToString::to_string).as_deref(), Some("welcome bonus"));
    }
    assert_eq!(entries[0].after.as_deref(), Some("500 points"));
}

#[tokio::test]
async fn a_grant_to_an_inactive_account_is_declined() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    world.provider.set_status(bob.provider_account.as_ref().expect("account"), AccountStatus::Closed);
    let error = world.transfer_service.grant(grant(&admin, &bob, 5, "g"), deadline()).await.unwrap_err();
    let GrantError::Declined(transfer) = error else { panic!("{error:?}") };
    assert_eq!(
        (transfer.state, transfer.decline),
        (TransferState::Rejected, Some(DeclineReason::RecipientAccountInactive))
    );
}

#[tokio::test]
async fn a_grant_to_an_unknown_handle_is_refused() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let mut command = grant(&admin, &admin, 5, "g");
    command.to = super::handle("nobody");
    let error = world.transfer_service.grant(command, deadline()).await.unwrap_err();
    assert!(matches!(error, GrantError::RecipientNotFound), "{error:?}");
}

fn world_with_grant_limits(max_per_grant: u64, budget: u64) -> World {
    World::new(WorldSettings {
        limits: TransferLimits {
            max_per_grant: super::points(max_per_grant),
            grant_budget_per_day: budget,
            ..TransferLimits::default()
        },
        ..WorldSettings::default()
    })
}

#[tokio::test]
async fn a_grant_above_the_per_grant_maximum_is_refused_before_anything_is_recorded() {
    let world = world_with_grant_limits(1_000, 1_000_000);
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    let error = world.transfer_service.grant(grant(&admin, &bob, 1_001, "big"), deadline()).await.unwrap_err();
    assert!(matches!(error, GrantError::AboveGrantLimit { max } if max.get() == 1_000), "{error:?}");
    assert!(world.transfers.all().is_empty());
    assert_eq!(world.balance(&bob), 0);
}

#[tokio::test]
async fn an_admins_daily_grant_budget_holds_across_grants_and_counts_per_admin() {
    let world = world_with_grant_limits(1_000, 2_500);
    let admin = world.member("admin", 0).await;
    let other_admin = world.member("other_admin", 0).await;
    let bob = world.member("bob", 0).await;
    for n in 0..2 {
        world.transfer_service.grant(grant(&admin, &bob, 1_000, &format!("g{n}")), deadline()).await.expect("within");
    }
    let error = world.transfer_service.grant(grant(&admin, &bob, 1_000, "g2"), deadline()).await.unwrap_err();
    let GrantError::Declined(over) = error else { panic!("{error:?}") };
    assert_eq!((over.state, over.decline), (TransferState::Rejected, Some(DeclineReason::GrantBudgetExceeded)));
    world.transfer_service.grant(grant(&admin, &bob, 500, "g3"), deadline()).await.expect("what is left of it");
    world.transfer_service.grant(grant(&other_admin, &bob, 1_000, "g4"), deadline()).await.expect("another budget");
    assert_eq!(world.balance(&bob), 3_500);
}

#[tokio::test]
async fn grants_are_listed_newest_first_with_their_admin() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    for n in 0..3 {
        world.transfer_service.grant(grant(&admin, &bob, 10 + n, &format!("g{n}")), deadline()).await.expect("ok");
        world.clock.advance(chrono::Duration::milliseconds(5));
    }
    let page = world.transfer_service.grants(None, 2).await.expect("lists");
    let amounts: Vec<u64> = page.items.iter().map(|t| t.amount.get()).collect();
    assert_eq!(amounts, [12, 11]);
    assert!(page.items.iter().all(|t| t.sender == admin.id && t.kind == TransferKind::Grant));
    let rest = world.transfer_service.grants(page.next, 2).await.expect("lists");
    assert_eq!(rest.items.iter().map(|t| t.amount.get()).collect::<Vec<_>>(), [10]);
    assert!(rest.next.is_none());
}

#[tokio::test]
async fn with_the_audit_log_down_a_grant_is_not_acknowledged_and_repeating_it_records_it_once() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    world.audit_log.set_down(true);
    let unrecorded = world.transfer_service.grant(grant(&admin, &bob, 50, "g1"), deadline()).await.unwrap_err();
    assert!(matches!(unrecorded, GrantError::AuditUnavailable(_)), "{unrecorded:?}");
    world.audit_log.set_down(false);
    let granted = world.transfer_service.grant(grant(&admin, &bob, 50, "g1"), deadline()).await.expect("recorded");
    assert!(granted.replayed);
    assert_eq!(world.balance(&bob), 50, "granted once");
    assert_eq!(world.audit.after(0, 10).await.expect("reads").len(), 1);
}
