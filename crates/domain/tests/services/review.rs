//! An operator finishes what automation parked in `needs_review`, checked
//! against the provider, idempotent, and recorded.

use chrono::TimeDelta;
use std::time::Duration;

use pointshare_domain::ports::{Deadline, Movement};
use pointshare_domain::services::ResolveError;
use pointshare_domain::{
    AuditAction, AuditTarget, Authority, Member, MovementKind, OperatorName, Resolution, ReviewReason, Transfer,
    TransferId, TransferState,
};
use pointshare_testkit::{Fault, Operation, World};

use super::{deadline, share};

/// A share of 30 from alice (100) to bob (0) parked by a 401 on `step`.
async fn parked_at(step: Operation) -> (World, Member, Member, Transfer) {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    world.provider.faults().fail_next(step, 1, Fault::Unauthorized);
    let parked = world.transfer_service.share(share(&alice, &bob, 30, "k"), deadline()).await.expect("not declined");
    assert_eq!((parked.state, parked.review), (TransferState::NeedsReview, Some(ReviewReason::ProviderRefused)));
    assert_eq!(parked.lease, None, "parked, nobody holds it: an operator may take it up at once");
    (world, alice, bob, parked.transfer)
}

async fn resolve(world: &World, id: TransferId, resolution: Resolution) -> Result<Transfer, ResolveError> {
    let ops = Authority::operator(OperatorName::parse("ops").expect("valid"), None);
    world.review.resolve(id, resolution, &ops, Deadline::after(Duration::from_secs(60))).await
}

fn balances(world: &World, alice: &Member, bob: &Member) -> (u64, u64) {
    (world.balance(alice), world.balance(bob))
}

#[tokio::test]
async fn refund_gives_the_points_back_once_and_keeps_the_reason() {
    let (world, alice, bob, parked) = parked_at(Operation::Credit).await;
    assert_eq!(balances(&world, &alice, &bob), (70, 0));
    for _ in 0..2 {
        let resolved = resolve(&world, parked.id, Resolution::Refund).await.expect("resolves");
        assert_eq!(
            (resolved.state, resolved.review, resolved.resolution),
            (TransferState::Reversed, Some(ReviewReason::ProviderRefused), Some(Resolution::Refund))
        );
        assert_eq!(balances(&world, &alice, &bob), (100, 0), "refunded once, however often asked");
    }
    let recorded = world.audit.after(0, 10).await.expect("reads");
    assert_eq!(recorded.len(), 1, "one decision, one record, however often asked");
    let entry = &recorded[0].entry;
    assert_eq!((entry.action, entry.target), (AuditAction::Resolution, AuditTarget::Transfer(parked.id)));
    assert_eq!((entry.before.as_deref(), entry.after.as_deref()), (Some("needs_review"), Some("reversed")));
    assert_eq!(entry.actor.to_string(), "operator:ops");
}

#[tokio::test]
async fn complete_delivers_the_points_once() {
    let (world, alice, bob, parked) = parked_at(Operation::Credit).await;
    for _ in 0..2 {
        let resolved = resolve(&world, parked.id, Resolution::Complete).await.expect("resolves");
        assert_eq!((resolved.state, resolved.resolution), (TransferState::Completed, Some(Resolution::Complete)));
        assert_eq!(balances(&world, &alice, &bob), (70, 30));
    }
}

#[tokio::test]
async fn a_share_parked_before_its_debit_is_rejected_by_refund_or_fully_made_by_complete() {
    let (world, alice, bob, parked) = parked_at(Operation::Debit).await;
    assert_eq!(balances(&world, &alice, &bob), (100, 0));
    let rejected = resolve(&world, parked.id, Resolution::Refund).await.expect("resolves");
    assert_eq!(rejected.state, TransferState::Rejected, "nothing had moved");

    let (world, alice, bob, parked) = parked_at(Operation::Debit).await;
    let completed = resolve(&world, parked.id, Resolution::Complete).await.expect("resolves");
    assert_eq!(completed.state, TransferState::Completed);
    assert_eq!(balances(&world, &alice, &bob), (70, 30));
}

#[tokio::test]
async fn a_decision_the_provider_rules_out_is_refused_and_changes_nothing() {
    let (world, alice, bob, parked) = parked_at(Operation::Credit).await;
    // The credit landed after all (a late call): bob has the points.
    let credit = Movement {
        account: parked.recipient_account.clone().expect("a share credits someone"),
        reference: parked.credit_reference(),
        amount: parked.amount,
        memo: None,
    };
    world.provider.ledger().apply(MovementKind::Credit, &credit).expect("lands");
    let refused = resolve(&world, parked.id, Resolution::Refund).await;
    assert!(matches!(refused, Err(ResolveError::Refused(ref why)) if why.contains("--complete")), "{refused:?}");
    assert_eq!(balances(&world, &alice, &bob), (70, 30));
    let resolved = resolve(&world, parked.id, Resolution::Complete).await.expect("resolves");
    assert_eq!(resolved.state, TransferState::Completed);
    assert_eq!(balances(&world, &alice, &bob), (70, 30), "nothing moved twice");
}

#[tokio::test]
async fn only_a_transfer_in_review_is_resolved() {
    let (world, alice, bob, _) = parked_at(Operation::Credit).await;
    let done = world.transfer_service.share(share(&alice, &bob, 10, "other"), deadline()).await.expect("completes");
    world.clock.advance(TimeDelta::minutes(2));
    let refused = resolve(&world, done.id, Resolution::Refund).await;
    assert!(matches!(refused, Err(ResolveError::NotInReview(_))), "{refused:?}");
    let missing = resolve(&world, TransferId::new(), Resolution::Refund).await;
    assert!(matches!(missing, Err(ResolveError::NotFound)), "{missing:?}");
    assert_eq!(balances(&world, &alice, &bob), (60, 10));
}
