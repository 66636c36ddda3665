//! An admin undoes a completed share or grant, whole or in part: a transfer
//! of its own, driven by the saga; the reversals of one transfer never take
//! back more than it, and one that finds the points spent moves nothing.

use std::sync::Arc;

use pointshare_domain::services::{ReverseCommand, ReverseError, Submitted};
use pointshare_domain::{
    AuditAction, AuditTarget, DeclineReason, Member, Origin, Reason, Transfer, TransferKind, TransferState,
};
use pointshare_testkit::World;

use super::{deadline, grant, key, points, share};

/// ada (an admin), alice with 100 and bob; alice shares `amount` with bob.
async fn shared(amount: u64) -> (World, Member, Member, Member, Transfer) {
    let world = World::default();
    let ada = world.member("ada", 0).await;
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let done = world.transfer_service.share(share(&alice, &bob, amount, "lunch"), deadline()).await.expect("shares");
    (world, ada, alice, bob, done.transfer)
}

fn reverse(admin: &Member, transfer: &Transfer, amount: Option<u64>, idempotency_key: &str) -> ReverseCommand {
    ReverseCommand {
        admin: admin.id,
        transfer: transfer.id,
        amount: amount.map(points),
        reason: Reason::parse("shared with the wrong handle").expect("valid"),
        idempotency_key: key(idempotency_key),
        origin: Origin::default(),
    }
}

async fn reversed(world: &World, command: ReverseCommand) -> Result<Submitted, ReverseError> {
    world.corrections.reverse(command, deadline()).await
}

#[tokio::test]
async fn a_share_reversed_whole_pays_its_sender_back_once() {
    let (world, ada, alice, bob, original) = shared(30).await;
    let reversal = reversed(&world, reverse(&ada, &original, None, "r1")).await.expect("reverses");
    assert_eq!(
        (reversal.kind, reversal.state, reversal.reverses, reversal.amount.get()),
        (TransferKind::Reversal, TransferState::Completed, Some(original.id), 30)
    );
    assert_eq!((reversal.sender, reversal.recipient), (bob.id, alice.id), "bob pays alice back");
    assert_eq!((world.balance(&alice), world.balance(&bob)), (100, 0));
    let again = reversed(&world, reverse(&ada, &original, None, "r1")).await.expect("replayed");
    assert_eq!((again.id, again.replayed), (reversal.id, true));
    let more = reversed(&world, reverse(&ada, &original, Some(1), "r2")).await.unwrap_err();
    assert!(matches!(more, ReverseError::AboveWhatIsLeft { left: 0 }), "{more:?}");
    let listed = world.corrections.reversals_of(original.id).await.expect("lists");
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), [reversal.id]);
    let records = world.audit.after(0, 10).await.expect("reads");
    let audited: Vec<_> = records.iter().filter(|r| r.entry.action == AuditAction::Reversal).collect();
    assert_eq!(audited.len(), 1, "once, however often asked");
    assert_eq!(audited[0].entry.target, AuditTarget::Transfer(original.id));
    assert_eq!(audited[0].entry.caused, Some(reversal.id.to_string()));
}

#[tokio::test]
async fn partial_reversals_never_add_up_to_more_than_the_transfer() {
    let (world, ada, alice, bob, original) = shared(100).await;
    reversed(&world, reverse(&ada, &original, Some(30), "r1")).await.expect("30 back");
    let over = reversed(&world, reverse(&ada, &original, Some(80), "r2")).await.unwrap_err();
    assert!(matches!(over, ReverseError::AboveWhatIsLeft { left: 70 }), "{over:?}");
    let rest = reversed(&world, reverse(&ada, &original, None, "r3")).await.expect("the rest");
    assert_eq!(rest.amount.get(), 70);
    assert_eq!((world.balance(&alice), world.balance(&bob)), (100, 0));
}

#[tokio::test]
async fn racing_reversals_take_back_the_transfer_once() {
    let (world, ada, alice, bob, original) = shared(100).await;
    let world = Arc::new(world);
    let racers = (0..8).map(|n| {
        let (world, command) = (world.clone(), reverse(&ada, &original, Some(20), &format!("race-{n}")));
        async move { reversed(&world, command).await }
    });
    let answers = futures::future::join_all(racers).await;
    let completed = answers.iter().filter(|a| a.as_ref().is_ok_and(|r| r.state == TransferState::Completed)).count();
    let refused = answers.iter().filter(|a| matches!(a, Err(ReverseError::AboveWhatIsLeft { .. }))).count();
    assert_eq!((completed, refused), (5, 3), "{answers:?}");
    assert_eq!((world.balance(&alice), world.balance(&bob)), (100, 0));
}

#[tokio::test]
async fn a_reversal_of_points_already_spent_is_declined_and_moves_nothing() {
    let (world, ada, alice, bob, original) = shared(30).await;
    let carol = world.member("carol", 0).await;
    world.transfer_service.share(share(&bob, &carol, 25, "spent"), deadline()).await.expect("bob spends");
    let declined = reversed(&world, reverse(&ada, &original, None, "r1")).await.unwrap_err();
    let ReverseError::Declined(declined) = declined else { panic!("{declined:?}") };
    assert_eq!((declined.state, declined.decline), (TransferState::Rejected, Some(DeclineReason::InsufficientFunds)));
    assert_eq!((world.balance(&alice), world.balance(&bob)), (70, 5), "nothing moved");
    let reversible = world.corrections.reverse(reverse(&ada, &original, Some(5), "r2"), deadline()).await;
    assert!(reversible.is_ok(), "the declined one gave its hold back: {reversible:?}");
    assert_eq!((world.balance(&alice), world.balance(&bob)), (75, 0));
}

#[tokio::test]
async fn a_grant_reversed_is_taken_back_from_its_recipient_and_spends_no_budget() {
    let world = World::default();
    let ada = world.member("ada", 0).await;
    let bob = world.member("bob", 0).await;
    let granted = world.transfer_service.grant(grant(&ada, &bob, 500, "twice"), deadline()).await.expect("grants");
    let undone = reversed(&world, reverse(&ada, &granted, Some(200), "r1")).await.expect("reverses");
    assert_eq!(
        (undone.kind, undone.reverses, undone.recipient_account.clone()),
        (TransferKind::Withdrawal, Some(granted.id), None)
    );
    assert_eq!(world.balance(&bob), 300);
    assert_eq!(world.provider.ledger().summary().total_balance, 300, "the points are gone, not moved");
    // The budget of a day's grants is untouched by undoing one.
    world.transfer_service.grant(grant(&ada, &bob, 100, "again"), deadline()).await.expect("still within budget");
}

#[tokio::test]
async fn only_completed_shares_and_grants_are_reversed() {
    let (world, ada, _alice, bob, original) = shared(30).await;
    let reversal = reversed(&world, reverse(&ada, &original, Some(10), "r1")).await.expect("reverses");
    let of_a_reversal = reversed(&world, reverse(&ada, &reversal, None, "r2")).await.unwrap_err();
    assert!(matches!(of_a_reversal, ReverseError::NotReversible(_)), "{of_a_reversal:?}");
    let carol = world.member("carol", 0).await;
    let rejected = world.transfer_service.share(share(&carol, &bob, 5, "broke"), deadline()).await.unwrap_err();
    let pointshare_domain::services::ShareError::Declined(rejected) = rejected else { panic!("{rejected:?}") };
    let of_rejected = reversed(&world, reverse(&ada, &rejected, None, "r3")).await.unwrap_err();
    assert!(matches!(of_rejected, ReverseError::NotReversible(_)), "{of_rejected:?}");
    let unknown = Transfer { id: pointshare_domain::TransferId::new(), ..original };
    assert!(matches!(reversed(&world, reverse(&ada, &unknown, None, "r4")).await, Err(ReverseError::NotFound)));
}

#[tokio::test]
async fn with_the_audit_log_down_a_reversal_is_not_acknowledged_and_repeating_it_records_it_once() {
    let (world, ada, alice, bob, original) = shared(30).await;
    world.audit_log.set_down(true);
    let unrecorded = reversed(&world, reverse(&ada, &original, None, "r1")).await.unwrap_err();
    assert!(matches!(unrecorded, ReverseError::AuditUnavailable(_)), "{unrecorded:?}");
    world.audit_log.set_down(false);
    let answered = reversed(&world, reverse(&ada, &original, None, "r1")).await.expect("recorded now");
    assert!(answered.replayed, "the reversal ran once; the repeat only records it");
    assert_eq!((world.balance(&alice), world.balance(&bob)), (100, 0));
    let records = world.audit.after(0, 10).await.expect("reads");
    let audited = records.iter().filter(|r| r.entry.action == AuditAction::Reversal).count();
    assert_eq!(audited, 1);
}
