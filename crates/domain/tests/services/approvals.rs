//! Large corrections wait for a second admin: nothing moves until another
//! admin, who is no party to it, approves; rejected or expired, the
//! correction ends `rejected` and gives back what it held.

use std::time::Duration;

use chrono::TimeDelta;
use pointshare_domain::ports::TransferReads;
use pointshare_domain::services::{
    ApprovalPolicy, DecideCommand, DecideError, Decision, ReverseCommand, ReverseError, Submitted,
};
use pointshare_domain::{
    Actor, AuditAction, DeclineReason, Driver, Member, Origin, Reason, Transfer, TransferKind, TransferState,
};
use pointshare_testkit::{World, WorldSettings};

use super::{deadline, key, points, share};

/// Corrections above 50 points wait, for an hour.
fn world() -> World {
    World::new(WorldSettings {
        approvals: ApprovalPolicy { threshold: 50, expires_after: Duration::from_secs(3600) },
        ..WorldSettings::default()
    })
}

/// Admins ada and zed; alice (100 points) has shared 80 with bob.
async fn shared() -> (World, Member, Member, Member, Member, Transfer) {
    let world = world();
    let ada = world.member("ada", 0).await;
    let zed = world.member("zed", 0).await;
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let done = world.transfer_service.share(share(&alice, &bob, 80, "s1"), deadline()).await.expect("shares");
    (world, ada, zed, alice, bob, done.transfer)
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).expect("valid")
}

async fn reverse(world: &World, admin: &Member, original: &Transfer, amount: Option<u64>, k: &str) -> Submitted {
    let command = ReverseCommand {
        admin: admin.id,
        transfer: original.id,
        amount: amount.map(points),
        reason: reason("shared with the wrong handle"),
        idempotency_key: key(k),
        origin: Origin::default(),
    };
    world.corrections.reverse(command, deadline()).await.expect("recorded")
}

async fn decide(world: &World, admin: &Member, id: &Transfer, decision: Decision) -> Result<Submitted, DecideError> {
    let command = DecideCommand {
        admin: admin.id,
        transfer: id.id,
        decision,
        reason: reason("checked with alice"),
        origin: Origin::default(),
    };
    world.corrections.decide(command, deadline()).await
}

#[tokio::test]
async fn a_large_reversal_runs_only_once_a_second_admin_approves_it() {
    let (world, ada, zed, alice, bob, original) = shared().await;
    let waiting = reverse(&world, &ada, &original, None, "r1").await;
    assert_eq!((waiting.kind, waiting.state), (TransferKind::Reversal, TransferState::AwaitingApproval));
    assert_eq!(waiting.approval.map(|a| a.requested_by), Some(ada.id));
    assert_eq!((world.balance(&alice), world.balance(&bob)), (20, 80), "nothing moved yet");
    let queue = world.corrections.awaiting_approval(None, 10).await.expect("lists");
    assert_eq!(queue.items.iter().map(|t| t.id).collect::<Vec<_>>(), [waiting.id]);

    let own = decide(&world, &ada, &waiting, Decision::Approve).await.unwrap_err();
    assert!(matches!(own, DecideError::OwnRequest), "{own:?}");
    let party = decide(&world, &bob, &waiting, Decision::Approve).await.unwrap_err();
    assert!(matches!(party, DecideError::OwnAccount), "bob pays it: {party:?}");

    let approved = decide(&world, &zed, &waiting, Decision::Approve).await.expect("approves");
    assert_eq!(approved.state, TransferState::Completed);
    assert_eq!((world.balance(&alice), world.balance(&bob)), (100, 0));
    let decision = approved.approval_decision().expect("decided");
    assert_eq!(
        (decision.state, decision.by.driver()),
        (TransferState::Accepted, Driver::Person(Actor::Member(zed.id)))
    );
    assert!(world.corrections.awaiting_approval(None, 10).await.expect("lists").items.is_empty());

    let again = decide(&world, &zed, &waiting, Decision::Approve).await.expect("the same answer");
    assert_eq!((again.id, again.state, again.replayed), (waiting.id, TransferState::Completed, true));
    let undo = decide(&world, &zed, &waiting, Decision::Reject).await.unwrap_err();
    assert!(matches!(undo, DecideError::NotAwaiting(_)), "{undo:?}");
    let records = world.audit.after(0, 20).await.expect("reads");
    let actions: Vec<_> =
        records.iter().map(|r| r.entry.action).filter(|a| *a != AuditAction::BootstrapAdmin).collect();
    assert_eq!(actions, [AuditAction::Reversal, AuditAction::Approval], "once each, however often asked");
}

#[tokio::test]
async fn a_rejected_correction_moves_nothing_and_gives_back_what_it_held() {
    let (world, ada, zed, alice, bob, original) = shared().await;
    let waiting = reverse(&world, &ada, &original, None, "r1").await;
    let held = world.corrections.reverse(
        ReverseCommand {
            admin: ada.id,
            transfer: original.id,
            amount: Some(points(1)),
            reason: reason("again"),
            idempotency_key: key("r2"),
            origin: Origin::default(),
        },
        deadline(),
    );
    assert!(
        matches!(held.await, Err(ReverseError::AboveWhatIsLeft { left: 0 })),
        "a waiting reversal holds its points"
    );
    let rejected = decide(&world, &zed, &waiting, Decision::Reject).await.expect("rejects");
    assert_eq!((rejected.state, rejected.decline), (TransferState::Rejected, Some(DeclineReason::ApprovalRejected)));
    assert_eq!((world.balance(&alice), world.balance(&bob)), (20, 80));
    let small = reverse(&world, &ada, &original, Some(30), "r3").await;
    assert_eq!(
        small.state,
        TransferState::Completed,
        "at most the threshold runs at once, and the hold was given back"
    );
}

#[tokio::test]
async fn a_correction_nobody_approves_expires_and_gives_back_what_it_held() {
    let (world, ada, zed, alice, bob, original) = shared().await;
    let swept = reverse(&world, &ada, &original, Some(60), "r1").await;
    world.clock.advance(TimeDelta::minutes(61));
    let report = world.recovery.run_once().await.expect("runs");
    assert_eq!(report.expired, 1);
    let expired = world.transfers.get(swept.id).await.expect("reads").expect("recorded");
    assert_eq!((expired.state, expired.decline), (TransferState::Rejected, Some(DeclineReason::ApprovalExpired)));
    let late = decide(&world, &zed, &swept, Decision::Approve).await.unwrap_err();
    assert!(matches!(late, DecideError::NotAwaiting(_)), "{late:?}");

    let unswept = reverse(&world, &ada, &original, Some(60), "r2").await;
    world.clock.advance(TimeDelta::minutes(61));
    let late = decide(&world, &zed, &unswept, Decision::Approve).await.unwrap_err();
    let DecideError::Expired(expired) = late else { panic!("{late:?}") };
    assert_eq!(expired.decline, Some(DeclineReason::ApprovalExpired));
    assert_eq!((world.balance(&alice), world.balance(&bob)), (20, 80));
    assert_eq!(reverse(&world, &ada, &original, Some(50), "r3").await.state, TransferState::Completed);
}
