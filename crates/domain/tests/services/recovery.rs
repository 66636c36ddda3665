//! Recovery: leases keep drivers apart; every non-terminal transfer ends.

use chrono::TimeDelta;
use std::sync::Arc;
use std::time::Duration;

use pointshare_domain::LeaseOwner;
use pointshare_domain::TransferState;
use pointshare_domain::ports::{Deadline, TransferLeases, TransferReads, TransferStore};
use pointshare_domain::services::{Holding, RecoveryService, RecoverySettings};
use pointshare_testkit::{Fault, Operation, World, WorldSettings};

use super::share;

async fn stuck_transfer(world: &World) -> pointshare_domain::Transfer {
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    world.provider.faults().fail_next(Operation::Debit, 10_000, Fault::Transient);
    let transfer = world
        .transfer_service
        .share(share(&alice, &bob, 10, "k"), Deadline::after(Duration::from_secs(1)))
        .await
        .expect("processing");
    world.provider.faults().heal();
    transfer.transfer
}

#[tokio::test(start_paused = true)]
async fn recovery_leaves_a_transfer_alone_while_its_request_holds_the_lease() {
    let world = World::default();
    let transfer = stuck_transfer(&world).await;
    assert_eq!(world.recovery.run_once().await.expect("up").claimed, 0);
    world.clock.advance(TimeDelta::seconds(31));
    let report = world.recovery.run_once().await.expect("up");
    assert_eq!((report.claimed, report.finished), (1, 1));
    assert_eq!(world.transfers.get(transfer.id).await.expect("up").expect("exists").state, TransferState::Completed);
}

#[tokio::test(start_paused = true)]
async fn replicas_recovering_at_once_never_claim_one_transfer_twice() {
    let world = World::default();
    let transfer = stuck_transfer(&world).await;
    world.clock.advance(TimeDelta::minutes(1));
    let replicas: Vec<_> = (0..4)
        .map(|i| {
            Arc::new(RecoveryService::new(
                TransferStore::new(world.transfers.clone()),
                world.member_service.clone(),
                world.saga.clone(),
                world.corrections.clone(),
                world.clock.clone(),
                RecoverySettings { replica: format!("replica-{i}"), ..RecoverySettings::default() },
            ))
        })
        .collect();
    let reports = futures::future::join_all(replicas.iter().map(|r| r.run_once())).await;
    let claimed: usize = reports.iter().map(|r| r.as_ref().expect("up").claimed).sum();
    assert_eq!(claimed, 1);
    let stored = world.transfers.get(transfer.id).await.expect("up").expect("exists");
    assert_eq!(stored.state, TransferState::Completed);
}

#[tokio::test(start_paused = true)]
async fn a_driver_whose_lease_was_taken_cannot_move_the_transfer() {
    let world = World::default();
    let transfer = stuck_transfer(&world).await;
    let stale_owner = transfer.lease.clone().expect("leased to the request").owner;
    world.clock.advance(TimeDelta::minutes(1));
    let new_owner = LeaseOwner::unique("recovery");
    let now = world.now();
    let claimed = world.transfers.claim_due(&new_owner, now, now + TimeDelta::minutes(1), 10).await.expect("up");
    assert_eq!(claimed.len(), 1);

    // The old driver wakes up and tries to go on: its lease has run out by
    // its own clock, so it calls nothing and moves nothing.
    let debits_sent = world.provider.faults().calls(Operation::Debit);
    let after = world
        .saga
        .drive(transfer.clone(), &stale_owner, Holding::Created, super::deadline())
        .await
        .expect("no store error");
    assert_eq!(after.state, TransferState::Accepted);
    assert_eq!(world.provider.faults().calls(Operation::Debit), debits_sent, "no provider call from a stale driver");
    let stored = world.transfers.get(transfer.id).await.expect("up").expect("exists");
    assert_eq!((stored.state, stored.lease.map(|l| l.owner)), (TransferState::Accepted, Some(new_owner.clone())));

    // The new owner finishes it; the debit the stale driver sent is not applied twice.
    let done = world
        .saga
        .drive(claimed[0].clone(), &new_owner, Holding::TakenOver { at: now }, super::deadline())
        .await
        .expect("drives");
    assert_eq!(done.state, TransferState::Completed);
    let debits =
        world.provider.ledger().transactions().iter().filter(|t| t.reference == transfer.debit_reference()).count();
    assert_eq!(debits, 1);
}

#[tokio::test(start_paused = true)]
async fn a_follow_up_whose_lease_lapsed_never_drives_a_transfer_parked_meanwhile() {
    let recovery = RecoverySettings { max_attempts: 1, ..RecoverySettings::default() };
    let world = World::new(WorldSettings { recovery, ..WorldSettings::default() });
    let transfer = stuck_transfer(&world).await;
    let follow_up = transfer.lease.clone().expect("leased to the request").owner;
    // Recovery takes it up once, fails again, and parks it for an operator.
    world.provider.faults().fail_next(Operation::Debit, 10_000, Fault::Transient);
    world.clock.advance(TimeDelta::seconds(31));
    world.recovery.run_once().await.expect("up");
    world.clock.advance(TimeDelta::seconds(61));
    world.recovery.run_once().await.expect("up");
    world.provider.faults().heal();
    let parked = world.transfers.get(transfer.id).await.expect("up").expect("exists");
    assert_eq!(parked.state, TransferState::NeedsReview);

    // The follow-up wakes with its old copy and its lapsed lease, asking to renew.
    let debits_sent = world.provider.faults().calls(Operation::Debit);
    let lease = Duration::from_secs(30);
    let after = world
        .saga
        .drive_reporting(transfer.clone(), &follow_up, Holding::Created, Deadline::after(lease), Some(lease), |_| {})
        .await
        .expect("no store error");
    assert_eq!(world.provider.faults().calls(Operation::Debit), debits_sent, "no call on a parked transfer");
    assert_ne!(after.state, TransferState::Debited);
    let stored = world.transfers.get(transfer.id).await.expect("up").expect("exists");
    assert_eq!(stored.state, TransferState::NeedsReview);
    assert!(stored.lease.is_none_or(|lease| lease.owner != follow_up), "the lapsed lease is not taken back");
}

#[tokio::test(start_paused = true)]
async fn terminal_transfers_are_never_claimed() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    world.transfer_service.share(share(&alice, &bob, 10, "k"), super::deadline()).await.expect("completes");
    world.clock.advance(TimeDelta::hours(1));
    assert_eq!(world.recovery.run_once().await.expect("up").claimed, 0);
}
