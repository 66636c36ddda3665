//! A driver that went stale (a pause, a lost answer, a call still in flight
//! at the provider) can neither mint nor lose points: each scenario of
//! docs/architecture.md, "Fencing".

use chrono::TimeDelta;
use std::time::Duration;

use pointshare_domain::ports::{Movement, PointsProvider, ProviderError, Rejection};
use pointshare_domain::services::ShareError;
use pointshare_domain::{AccountStatus, Member, MovementKind, Transfer, TransferState};
use pointshare_testkit::{Fault, Operation, World};

use super::{deadline, share};

async fn pair() -> (World, Member, Member) {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    (world, alice, bob)
}

fn stored(world: &World, transfer: &Transfer) -> Transfer {
    world.transfers.all().into_iter().find(|t| t.id == transfer.id).expect("recorded")
}

/// The credit a stale driver sent for `transfer`, as the provider receives it.
fn stale_credit(transfer: &Transfer) -> Movement {
    Movement {
        account: transfer.recipient_account.clone().expect("a share credits someone"),
        reference: transfer.credit_reference(),
        amount: transfer.amount,
        memo: None,
    }
}

#[tokio::test]
async fn a_credit_arriving_after_the_refund_is_refused_not_minted() {
    let (world, alice, bob) = pair().await;
    let bob_account = bob.provider_account.clone().expect("an account");
    world.provider.set_status(&bob_account, AccountStatus::Frozen);
    let Err(ShareError::Declined(reversed)) =
        world.transfer_service.share(share(&alice, &bob, 30, "k"), deadline()).await
    else {
        panic!("bob is frozen: the share is reversed");
    };
    assert_eq!(reversed.state, TransferState::Reversed);
    // Bob thaws; the credit an earlier driver sent before it stalled arrives now.
    world.provider.set_status(&bob_account, AccountStatus::Active);
    let late = world.provider.credit(&stale_credit(&reversed), deadline()).await;
    assert!(matches!(late, Err(ProviderError::Rejected(Rejection::ReferenceConflict))), "{late:?}");
    assert_eq!((world.balance(&alice), world.balance(&bob)), (100, 0), "no point minted");
}

#[tokio::test(start_paused = true)]
async fn a_refund_that_meets_the_landed_credit_completes_the_transfer() {
    let (world, alice, bob) = pair().await;
    let bob_account = bob.provider_account.clone().expect("an account");
    // The credit is refused (bob frozen) and so is the first refund try (alice frozen).
    world.provider.set_status(&bob_account, AccountStatus::Frozen);
    world.provider.faults().fail_next(Operation::Credit, 1, Fault::Reject(Rejection::AccountInactive));
    world.provider.faults().fail_next(Operation::Credit, 1, Fault::Reject(Rejection::AccountInactive));
    let refunding = world.transfer_service.share(share(&alice, &bob, 30, "k"), deadline()).await.expect("unfinished");
    assert_eq!(refunding.state, TransferState::Refunding);
    // Meanwhile a stale driver's credit lands.
    world.provider.set_status(&bob_account, AccountStatus::Active);
    world.provider.ledger().apply(MovementKind::Credit, &stale_credit(&refunding)).expect("the late credit lands");
    world.clock.advance(TimeDelta::minutes(2));
    world.recovery.run_once().await.expect("store up");
    let stored = stored(&world, &refunding);
    assert_eq!(stored.state, TransferState::Completed, "the refund found the credit's reference taken");
    assert_eq!((world.balance(&alice), world.balance(&bob)), (70, 30), "moved once, refunded never");
}

#[tokio::test(start_paused = true)]
async fn a_refused_debit_after_a_takeover_waits_for_earlier_calls_to_land() {
    let (world, alice, bob) = pair().await;
    // The request's debit goes unanswered; it is still on its way.
    world.provider.faults().fail_next(Operation::Debit, 1, Fault::TimeoutWithoutApply);
    let accepted = world.transfer_service.share(share(&alice, &bob, 30, "k"), deadline()).await.expect("processing");
    assert_eq!(accepted.state, TransferState::Accepted);
    // Recovery takes over; its own debit is refused at once, and the
    // request's debit lands two seconds later, within the in-flight window.
    world.provider.faults().fail_next(Operation::Debit, 1, Fault::Reject(Rejection::InsufficientFunds));
    world.clock.advance(TimeDelta::minutes(2));
    let late_debit = Movement {
        account: alice.provider_account.clone().expect("an account"),
        reference: accepted.debit_reference(),
        amount: accepted.amount,
        memo: None,
    };
    let lands = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        world.provider.ledger().apply(MovementKind::Debit, &late_debit).expect("lands");
    };
    let (pass, ()) = futures::join!(world.recovery.run_once(), lands);
    pass.expect("store up");
    let stored = stored(&world, &accepted);
    assert_eq!(stored.state, TransferState::Completed, "the refusal was not trusted before the window passed");
    assert_eq!((world.balance(&alice), world.balance(&bob)), (70, 30), "no point lost");
}

#[tokio::test(start_paused = true)]
async fn a_refused_debit_with_nothing_landing_in_the_window_is_rejected() {
    let (world, alice, bob) = pair().await;
    world.provider.faults().fail_next(Operation::Debit, 1, Fault::TimeoutWithoutApply);
    let accepted = world.transfer_service.share(share(&alice, &bob, 30, "k"), deadline()).await.expect("processing");
    world.provider.faults().fail_next(Operation::Debit, 1, Fault::Reject(Rejection::InsufficientFunds));
    world.clock.advance(TimeDelta::minutes(2));
    world.recovery.run_once().await.expect("store up");
    let stored = stored(&world, &accepted);
    assert_eq!(stored.state, TransferState::Rejected, "nothing landed in the window: the refusal stands");
    assert_eq!((world.balance(&alice), world.balance(&bob)), (100, 0));
    assert_eq!(world.provider.faults().calls(Operation::TransactionByReference), 1, "confirmed by one lookup");
}
