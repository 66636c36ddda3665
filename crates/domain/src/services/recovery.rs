//! Recovery: finishes what a crash, a timeout or a deadline left half done.
//! Each pass leases a batch of due transfers (so replicas running it at once
//! never drive one transfer together), drives them with the same references
//! as before, and opens provider accounts for signups that stopped half way.
//! A transfer taken up `max_attempts` times and still unfinished goes to
//! `needs_review` instead of being tried forever. Corrections nobody
//! approved in time are rejected here too, giving back what they held.

use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

use super::time::to_delta;
use super::{CorrectionService, Holding, MemberService, SagaDriver};
use crate::model::{LeaseOwner, ReviewReason, TransferState};
use crate::ports::{Clock, Deadline, StoreError, TransferStore};

#[derive(Debug, Clone)]
pub struct RecoverySettings {
    /// Names this process in lease owners.
    pub replica: String,
    /// Transfers claimed per pass.
    pub batch: usize,
    /// How long a claim lasts; longer than `step_budget`.
    pub lease_for: Duration,
    /// Time given to each claimed transfer in one pass.
    pub step_budget: Duration,
    /// Transfers driven at once.
    pub concurrency: usize,
    /// Times recovery takes a transfer up before leaving it to a person.
    pub max_attempts: u32,
}

impl Default for RecoverySettings {
    fn default() -> Self {
        RecoverySettings {
            replica: "pointshare".into(),
            batch: 100,
            lease_for: Duration::from_secs(60),
            step_budget: Duration::from_secs(20),
            concurrency: 16,
            max_attempts: 50,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryReport {
    pub claimed: usize,
    /// Claimed transfers that reached a terminal state.
    pub finished: usize,
    /// Claimed transfers still not terminal; the next passes retry them.
    pub unfinished: usize,
    /// Claimed transfers that went to `needs_review` in this pass.
    pub parked: usize,
    pub accounts_opened: usize,
    /// Corrections whose approval expired in this pass.
    pub expired: usize,
    /// Transfers anywhere in the store still not terminal a whole lease
    /// after they were created: what should have finished and has not.
    pub overdue: u64,
    /// Transfers anywhere in the store waiting in `needs_review`.
    pub needing_review: u64,
}

#[derive(Debug)]
pub struct RecoveryService {
    transfers: TransferStore,
    members: Arc<MemberService>,
    saga: Arc<SagaDriver>,
    corrections: Arc<CorrectionService>,
    clock: Arc<dyn Clock>,
    settings: RecoverySettings,
}

impl RecoveryService {
    pub fn new(
        transfers: TransferStore,
        members: Arc<MemberService>,
        saga: Arc<SagaDriver>,
        corrections: Arc<CorrectionService>,
        clock: Arc<dyn Clock>,
        settings: RecoverySettings,
    ) -> Self {
        RecoveryService { transfers, members, saga, corrections, clock, settings }
    }

    pub async fn run_once(&self) -> Result<RecoveryReport, StoreError> {
        let settings = &self.settings;
        let owner = LeaseOwner::recovery(&settings.replica);
        let now = self.clock.now();
        let claimed =
            self.transfers.leases.claim_due(&owner, now, now + to_delta(settings.lease_for), settings.batch).await?;
        let mut report = RecoveryReport { claimed: claimed.len(), ..RecoveryReport::default() };
        let deadline = Deadline::after(settings.step_budget);
        let holding = Holding::TakenOver { at: now };
        let mut driven = futures::stream::iter(claimed)
            .map(|transfer| {
                let owner = &owner;
                async move {
                    let id = transfer.id;
                    let outcome = if transfer.attempts > settings.max_attempts {
                        tracing::error!(transfer = %id, attempts = transfer.attempts, "recovery used up its attempts");
                        self.saga.park(&transfer, owner, ReviewReason::AttemptsExhausted).await
                    } else {
                        self.saga.drive(transfer, owner, holding, deadline).await
                    };
                    outcome.inspect_err(|error| {
                        tracing::error!(transfer = %id, error = format!("{error:#}"), "recovery could not drive a transfer");
                    })
                }
            })
            .buffer_unordered(settings.concurrency.max(1));
        while let Some(outcome) = driven.next().await {
            match outcome.map(|transfer| transfer.state) {
                Ok(state) if state.is_terminal() => report.finished += 1,
                Ok(TransferState::NeedsReview) => report.parked += 1,
                _ => report.unfinished += 1,
            }
        }
        report.accounts_opened = self.members.finish_pending(settings.batch, deadline).await?;
        report.expired = self.corrections.expire_due(&owner).await?;
        report.overdue = self.transfers.reads.count_unfinished(self.clock.now() - to_delta(settings.lease_for)).await?;
        report.needing_review = self.transfers.reads.count_needing_review().await?;
        if report.claimed > 0 || report.accounts_opened > 0 || report.expired > 0 {
            tracing::info!(?report, "recovery pass");
        }
        Ok(report)
    }
}
