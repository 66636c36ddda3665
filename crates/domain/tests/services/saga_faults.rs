//! Every kind of provider fault at every step of the saga.

use chrono::TimeDelta;
use std::time::Duration;

use pointshare_domain::ports::{Deadline, Rejection};
use pointshare_domain::services::{RecoverySettings, ShareError};
use pointshare_domain::{AccountStatus, DeclineReason, Member, MovementKind, ReviewReason, Transfer, TransferState};
use pointshare_testkit::{Fault, Operation, World};

use super::{deadline, share};

struct Pair {
    world: World,
    alice: Member,
    bob: Member,
}

async fn pair() -> Pair {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    Pair { world, alice, bob }
}

impl Pair {
    async fn share(&self, amount: u64, within: Deadline) -> Result<Transfer, ShareError> {
        let shared = self.world.transfer_service.share(share(&self.alice, &self.bob, amount, "k"), within).await;
        shared.map(|submitted| submitted.transfer)
    }

    fn balances(&self) -> (u64, u64) {
        (self.world.balance(&self.alice), self.world.balance(&self.bob))
    }

    /// What the ledger applied under one of this transfer's references: each
    /// movement's kind and whose account it went to.
    fn applied(&self, transfer: &Transfer, suffix: &str) -> Vec<(MovementKind, &'static str)> {
        let reference = format!("{}:{suffix}", transfer.id);
        let whose = |account| if Some(account) == self.alice.provider_account.as_ref() { "alice" } else { "bob" };
        self.world
            .provider
            .ledger()
            .transactions()
            .iter()
            .filter(|t| t.reference.as_str() == reference)
            .map(|t| (t.kind, whose(&t.account_id)))
            .collect()
    }

    /// Lets the request's lease lapse and runs recovery once.
    async fn recover(&self) {
        self.world.clock.advance(TimeDelta::minutes(2));
        self.world.recovery.run_once().await.expect("store up");
    }

    /// Runs recovery passes until `transfer` is terminal (a few at most).
    async fn recover_until_final(&self, transfer: &Transfer) -> Transfer {
        for _ in 0..5 {
            if self.stored(transfer).state.is_terminal() {
                break;
            }
            self.recover().await;
        }
        self.stored(transfer)
    }

    fn stored(&self, transfer: &Transfer) -> Transfer {
        self.world.transfers.all().into_iter().find(|t| t.id == transfer.id).expect("recorded")
    }
}

const RETRYABLE: [Fault; 5] = [
    Fault::Transient,
    Fault::RateLimited(Duration::from_secs(1)),
    Fault::ApplyThenTimeout,
    Fault::TimeoutWithoutApply,
    Fault::Delay(Duration::from_secs(60)),
];

// One adapter call per step: what a retryable fault leaves unfinished,
// recovery's next passes finish, each step applied once.
#[tokio::test(start_paused = true)]
async fn retryable_faults_on_the_debit_still_complete_with_one_debit() {
    for fault in RETRYABLE {
        let p = pair().await;
        p.world.provider.faults().fail_next(Operation::Debit, 2, fault);
        let answered = p.share(30, Deadline::after(Duration::from_secs(300))).await.expect("processing or done");
        let transfer = p.recover_until_final(&answered).await;
        assert_eq!(transfer.state, TransferState::Completed, "{fault:?}");
        assert_eq!(p.balances(), (70, 30), "{fault:?}");
        assert_eq!(p.applied(&transfer, "debit"), [(MovementKind::Debit, "alice")], "{fault:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn retryable_faults_on_the_credit_still_complete_with_one_credit() {
    for fault in RETRYABLE {
        let p = pair().await;
        p.world.provider.faults().fail_next(Operation::Credit, 2, fault);
        let answered = p.share(30, Deadline::after(Duration::from_secs(300))).await.expect("processing or done");
        let transfer = p.recover_until_final(&answered).await;
        assert_eq!(transfer.state, TransferState::Completed, "{fault:?}");
        assert_eq!(p.balances(), (70, 30), "{fault:?}");
        assert_eq!(p.applied(&transfer, "credit"), [(MovementKind::Credit, "bob")], "{fault:?}");
    }
}

#[tokio::test]
async fn a_rejected_debit_rejects_the_transfer() {
    for (rejection, reason) in [
        (Rejection::InsufficientFunds, DeclineReason::InsufficientFunds),
        (Rejection::AccountInactive, DeclineReason::SenderAccountInactive),
        (Rejection::AccountNotFound, DeclineReason::SenderAccountNotFound),
    ] {
        let p = pair().await;
        p.world.provider.faults().fail_next(Operation::Debit, 1, Fault::Reject(rejection));
        let error = p.share(30, deadline()).await.unwrap_err();
        let ShareError::Declined(transfer) = error else { panic!("{error:?}") };
        assert_eq!((transfer.state, transfer.decline), (TransferState::Rejected, Some(reason)));
        assert_eq!(p.balances(), (100, 0));
    }
}

#[tokio::test]
async fn a_rejected_credit_refunds_the_sender() {
    let p = pair().await;
    p.world.provider.set_status(p.bob.provider_account.as_ref().expect("account"), AccountStatus::Frozen);
    let error = p.share(30, deadline()).await.unwrap_err();
    let ShareError::Declined(transfer) = error else { panic!("{error:?}") };
    assert_eq!(transfer.state, TransferState::Reversed);
    assert_eq!(transfer.decline, Some(DeclineReason::RecipientAccountInactive));
    assert_eq!(p.balances(), (100, 0));
    assert_eq!(p.applied(&transfer, "debit"), [(MovementKind::Debit, "alice")]);
    assert_eq!(
        p.applied(&transfer, "credit"),
        [(MovementKind::Credit, "alice")],
        "the refund, under the credit's reference"
    );
}

#[tokio::test(start_paused = true)]
async fn retryable_faults_on_the_refund_still_reverse_once() {
    for fault in RETRYABLE {
        let p = pair().await;
        p.world.provider.faults().fail_next(Operation::Credit, 1, Fault::Reject(Rejection::AccountInactive));
        p.world.provider.faults().fail_next(Operation::Credit, 2, fault);
        let answered = match p.share(30, Deadline::after(Duration::from_secs(300))).await {
            Ok(refunding) => refunding,
            Err(ShareError::Declined(reversed)) => reversed.transfer,
            Err(error) => panic!("{fault:?}: {error:?}"),
        };
        let transfer = p.recover_until_final(&answered).await;
        assert_eq!(transfer.state, TransferState::Reversed, "{fault:?}");
        assert_eq!(p.balances(), (100, 0), "{fault:?}");
        assert_eq!(p.applied(&transfer, "credit"), [(MovementKind::Credit, "alice")], "{fault:?}");
    }
}

#[tokio::test]
async fn a_refused_refund_waits_in_refunding_until_it_can_be_made() {
    let p = pair().await;
    p.world.provider.faults().fail_next(Operation::Credit, 1, Fault::Reject(Rejection::AccountInactive));
    p.world.provider.faults().fail_next(Operation::Credit, 1, Fault::Reject(Rejection::AccountInactive));
    let transfer = p.share(30, deadline()).await.expect("not final yet");
    assert_eq!(transfer.state, TransferState::Refunding);
    assert_eq!(p.balances(), (70, 0));
    p.recover().await;
    assert_eq!(p.stored(&transfer).state, TransferState::Reversed);
    assert_eq!(p.balances(), (100, 0));
}

#[tokio::test(start_paused = true)]
async fn past_the_deadline_the_transfer_is_processing_and_recovery_finishes_it() {
    for (operation, stuck_with) in [(Operation::Debit, (100, 0)), (Operation::Credit, (70, 0))] {
        let p = pair().await;
        p.world.provider.faults().fail_next(operation, 10_000, Fault::Transient);
        let transfer = p.share(30, Deadline::after(Duration::from_secs(3))).await.expect("processing");
        // A debit applied is not recorded before its credit: recovery sends it
        // again under its reference, which applies nothing twice.
        assert_eq!(transfer.state, TransferState::Accepted, "{operation:?}");
        assert_eq!(p.balances(), stuck_with, "{operation:?}");
        p.world.provider.faults().heal();
        p.recover().await;
        assert_eq!(p.stored(&transfer).state, TransferState::Completed, "{operation:?}");
        assert_eq!(p.balances(), (70, 30));
        assert_eq!(p.applied(&transfer, "debit"), [(MovementKind::Debit, "alice")], "{operation:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_unknown_outcome_at_the_deadline_is_settled_by_recovery_without_double_applying() {
    let p = pair().await;
    // Each debit is applied, but its answer always arrives after the deadline.
    p.world.provider.faults().fail_next(Operation::Debit, 3, Fault::Delay(Duration::from_secs(5)));
    let transfer = p.share(30, Deadline::after(Duration::from_secs(1))).await.expect("processing");
    assert_eq!(transfer.state, TransferState::Accepted);
    assert_eq!(p.balances(), (70, 0), "the provider applied the debit");
    p.world.provider.faults().heal();
    p.recover().await;
    assert_eq!(p.stored(&transfer).state, TransferState::Completed);
    assert_eq!(p.balances(), (70, 30));
    assert_eq!(p.applied(&transfer, "debit"), [(MovementKind::Debit, "alice")]);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_provider_error_parks_the_transfer_for_review() {
    let p = pair().await;
    p.world.provider.faults().fail_next(Operation::Credit, 1, Fault::Unauthorized);
    let transfer = p.share(30, deadline()).await.expect("not declined");
    assert_eq!((transfer.state, transfer.review), (TransferState::NeedsReview, Some(ReviewReason::ProviderRefused)));
    assert_eq!(
        p.world.provider.faults().calls(Operation::Credit),
        1,
        "no retry storm against a misconfigured provider"
    );
    p.recover().await;
    assert_eq!(p.stored(&transfer).state, TransferState::NeedsReview, "recovery leaves it to a person");
    assert_eq!(p.world.provider.faults().calls(Operation::Credit), 1);
    assert_eq!(p.balances(), (70, 0));
}

#[tokio::test(start_paused = true)]
async fn a_reference_conflict_parks_the_transfer_for_review() {
    for operation in [Operation::Debit, Operation::Credit] {
        let p = pair().await;
        p.world.provider.faults().fail_next(operation, 1, Fault::Reject(Rejection::ReferenceConflict));
        let transfer = p.share(30, deadline()).await.expect("not declined");
        assert_eq!(
            (transfer.state, transfer.review),
            (TransferState::NeedsReview, Some(ReviewReason::ReferenceConflict)),
            "{operation:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_transfer_recovery_cannot_finish_is_parked_after_its_attempts() {
    let p = pair().await;
    p.world.provider.faults().fail_next(Operation::Credit, 10_000, Fault::Transient);
    let transfer = p.share(30, Deadline::after(Duration::from_secs(3))).await.expect("processing");
    let attempts = RecoverySettings::default().max_attempts;
    for _ in 0..attempts {
        p.recover().await;
        assert_eq!(p.stored(&transfer).state, TransferState::Accepted);
    }
    p.recover().await;
    let parked = p.stored(&transfer);
    assert_eq!((parked.state, parked.review), (TransferState::NeedsReview, Some(ReviewReason::AttemptsExhausted)));
    let calls = p.world.provider.faults().calls(Operation::Credit);
    p.recover().await;
    assert_eq!(p.world.provider.faults().calls(Operation::Credit), calls, "recovery batches skip it");
}

#[tokio::test(start_paused = true)]
async fn a_driver_whose_lease_ran_out_makes_no_further_provider_call() {
    let p = pair().await;
    // The debit answers after 10 s; meanwhile the request's 30 s lease comes
    // within the allowed clock skew (1 s) of its end.
    p.world.provider.faults().fail_next(Operation::Debit, 1, Fault::Delay(Duration::from_secs(10)));
    let request = p.share(30, Deadline::after(Duration::from_secs(300)));
    let stall = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        p.world.clock.advance(TimeDelta::milliseconds(29_500));
    };
    let (answer, ()) = futures::join!(request, stall);
    let transfer = answer.expect("processing");
    assert_eq!(transfer.state, TransferState::Accepted, "its debit is left for the next holder to replay");
    assert_eq!(p.balances(), (70, 0));
    assert_eq!(p.world.provider.faults().calls(Operation::Credit), 0, "no call within clock skew of the lease's end");
    p.recover().await;
    assert_eq!(p.stored(&transfer).state, TransferState::Completed, "the next holder finishes it");
    assert_eq!(p.balances(), (70, 30));
}
