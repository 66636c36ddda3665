//! The support desk's corrections: reversals of completed transfers,
//! adjustments of a member's points, and the second admin a large one waits
//! for. Each is a transfer of its own, recorded before any provider call and
//! driven by the same saga as a share; each is in the audit log before it is
//! answered.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use thiserror::Error;

use super::reservations::release_reservation;
use super::time::to_delta;
use super::transfers::{GrantCommand, GrantError, Recording, SubmitError, Submitted, TransferService};
use super::{AuditError, AuditService};
use crate::model::{
    Actor, Approval, AuditAction, AuditTarget, Authority, Cursor, DeclineReason, Handle, IdempotencyKey, LeaseOwner,
    MemberId, Memo, Origin, Page, Points, Reason, Transfer, TransferId, TransferKind, TransferRequest, TransferState,
};
use crate::ports::{
    Clock, DailyTotals, Deadline, MemberRepository, StoreError, TakeOverError, TransferStore, Transition,
    TransitionError,
};

/// When a correction needs a second admin, and how long it waits for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// Reversals and debits of more points than this wait for a second admin.
    pub threshold: u64,
    /// Not approved within this, a correction is rejected as expired.
    pub expires_after: Duration,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy { threshold: 10_000, expires_after: Duration::from_secs(24 * 60 * 60) }
    }
}

/// An admin's request to undo (part of) a transfer.
#[derive(Debug)]
pub struct ReverseCommand {
    pub admin: MemberId,
    pub transfer: TransferId,
    /// All that is left to reverse when absent.
    pub amount: Option<Points>,
    pub reason: Reason,
    pub idempotency_key: IdempotencyKey,
    pub origin: Origin,
}

#[derive(Debug, Error)]
pub enum ReverseError {
    #[error("no such transfer")]
    NotFound,
    /// Only a completed share or grant can be undone.
    #[error("the transfer is a {} {}: only completed shares and grants are reversed", .0.state.as_str(), .0.kind.as_str())]
    NotReversible(Box<Transfer>),
    /// The admin sent it: undoing it would pay them.
    #[error("an admin cannot reverse a share of their own")]
    OwnAccount,
    /// Reversals already hold or took back all but `left` of it.
    #[error("at most {left} points of the transfer are left to reverse")]
    AboveWhatIsLeft { left: u64 },
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// Recorded, then declined: the member no longer holds the points, or
    /// an account is inactive. Nothing moved.
    #[error("reversal declined")]
    Declined(Box<Submitted>),
    /// Recorded but not in the audit log: not acknowledged; repeating the
    /// request (same idempotency key) records it.
    #[error(transparent)]
    AuditUnavailable(#[from] AuditError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Which way an adjustment moves points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdjustDirection {
    /// Points given to the member: a grant.
    Credit,
    /// Points taken from the member, given to nobody (fraud clean-up).
    Debit,
}

/// An admin's correction of a member's points outside any transfer of theirs.
#[derive(Debug)]
pub struct AdjustCommand {
    pub admin: MemberId,
    pub member: Handle,
    pub amount: Points,
    pub direction: AdjustDirection,
    pub reason: Reason,
    pub idempotency_key: IdempotencyKey,
    pub origin: Origin,
}

#[derive(Debug, Error)]
pub enum AdjustError {
    #[error("no member has that handle")]
    MemberNotFound,
    /// Points an admin moves on their own account are points no one else agreed to.
    #[error("an admin cannot adjust their own points")]
    OwnAccount,
    /// A credit to a suspended member, or either way to one with no account yet.
    #[error("the member's account cannot take the adjustment")]
    MemberNotActive,
    #[error("at most {max} points per adjustment")]
    AboveLimit { max: Points },
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// Recorded, then declined (past the admin's budget, or the member no
    /// longer holds the points). Nothing moved.
    #[error("adjustment declined")]
    Declined(Box<Submitted>),
    #[error(transparent)]
    AuditUnavailable(#[from] AuditError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What the second admin says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        }
    }
}

#[derive(Debug)]
pub struct DecideCommand {
    pub admin: MemberId,
    pub transfer: TransferId,
    pub decision: Decision,
    pub reason: Reason,
    pub origin: Origin,
}

#[derive(Debug, Error)]
pub enum DecideError {
    #[error("no such transfer")]
    NotFound,
    /// It waits for nobody: it never needed approval, or was decided (or
    /// expired) already; here it is as it stands.
    #[error("the transfer is {}, not awaiting approval", .0.state.as_str())]
    NotAwaiting(Box<Transfer>),
    /// Two admins means two different people.
    #[error("the admin who asked for a correction cannot approve it")]
    OwnRequest,
    /// The deciding admin is a party to it: it would pay or debit them.
    #[error("an admin cannot decide a correction of their own points")]
    OwnAccount,
    /// Nobody decided in time; it is rejected now.
    #[error("the approval expired; ask for the correction again")]
    Expired(Box<Transfer>),
    /// Another admin is deciding it at this moment.
    #[error("another admin is deciding it now")]
    Busy,
    #[error(transparent)]
    AuditUnavailable(#[from] AuditError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<SubmitError> for ReverseError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::KeyReused => ReverseError::IdempotencyKeyReused,
            SubmitError::Declined(transfer) => ReverseError::Declined(transfer),
            SubmitError::Unexpected(error) => ReverseError::Unexpected(error),
        }
    }
}

impl From<SubmitError> for AdjustError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::KeyReused => AdjustError::IdempotencyKeyReused,
            SubmitError::Declined(transfer) => AdjustError::Declined(transfer),
            SubmitError::Unexpected(error) => AdjustError::Unexpected(error),
        }
    }
}

impl From<TransitionError> for DecideError {
    fn from(error: TransitionError) -> Self {
        match error {
            TransitionError::NotFound => DecideError::NotFound,
            TransitionError::Conflict(current) => DecideError::NotAwaiting(current),
            other => DecideError::Unexpected(other.into()),
        }
    }
}

#[derive(Debug)]
pub struct CorrectionService {
    transfers: Arc<TransferService>,
    store: TransferStore,
    members: Arc<dyn MemberRepository>,
    totals: Arc<dyn DailyTotals>,
    audit: Arc<AuditService>,
    clock: Arc<dyn Clock>,
    approvals: ApprovalPolicy,
}

impl CorrectionService {
    pub fn new(
        transfers: Arc<TransferService>,
        store: TransferStore,
        members: Arc<dyn MemberRepository>,
        totals: Arc<dyn DailyTotals>,
        audit: Arc<AuditService>,
        clock: Arc<dyn Clock>,
        approvals: ApprovalPolicy,
    ) -> Self {
        CorrectionService { transfers, store, members, totals, audit, clock, approvals }
    }

    pub fn approval_policy(&self) -> ApprovalPolicy {
        self.approvals
    }

    /// Undoes a completed share or grant, whole or in part: a reversal (a
    /// share's: its recipient pays its sender back) or a withdrawal (a
    /// grant's: its recipient gives the points up). What reversals hold of
    /// one transfer never passes its amount, however many run at once,
    /// waiting for approval included; one that finds the points spent is
    /// declined and moves nothing.
    pub async fn reverse(&self, command: ReverseCommand, deadline: Deadline) -> Result<Submitted, ReverseError> {
        let original = self.store.reads.get(command.transfer).await.context("loading the transfer")?;
        let original = original.ok_or(ReverseError::NotFound)?;
        let (kind, recipient, recipient_account) = match (original.kind, original.state) {
            (TransferKind::Share, TransferState::Completed) => {
                (TransferKind::Reversal, original.sender, original.sender_account.clone())
            }
            (TransferKind::Grant, TransferState::Completed) => (TransferKind::Withdrawal, command.admin, None),
            _ => return Err(ReverseError::NotReversible(Box::new(original))),
        };
        if kind == TransferKind::Reversal && original.sender == command.admin {
            return Err(ReverseError::OwnAccount);
        }
        let left = original.reversible();
        // "All that is left", asked again, means what it meant the first time.
        let earlier = self.store.reads.by_idempotency_key(original.recipient, &command.idempotency_key).await;
        let earlier = earlier.context("looking up the idempotency key")?;
        let amount = match (command.amount, earlier) {
            (Some(amount), _) => amount,
            (None, Some(earlier)) if earlier.reverses == Some(original.id) => earlier.amount,
            (None, _) => Points::new(left).map_err(|_| ReverseError::AboveWhatIsLeft { left })?,
        };
        let request = TransferRequest {
            kind,
            sender: original.recipient,
            recipient,
            amount,
            memo: Memo::parse(command.reason.as_str()).ok(),
            idempotency_key: command.idempotency_key,
            reverses: Some(original.id),
        };
        let outcome = match self.transfers.replay(&request).await? {
            Some(replayed) => Ok(replayed),
            None => {
                if amount.get() > left
                    || !self.store.holds.reserve_reversal(original.id, amount).await.context("reserving a reversal")?
                {
                    let now = self.store.reads.get(original.id).await.context("reloading the transfer")?;
                    return Err(ReverseError::AboveWhatIsLeft { left: now.map_or(0, |t| t.reversible()) });
                }
                let recording = Recording {
                    sender_account: original.recipient_account.clone(),
                    recipient_account,
                    approval: self.approval_for(command.admin, amount),
                };
                self.transfers.submit(request, recording, deadline).await.map_err(ReverseError::from)
            }
        };
        let recorded = match &outcome {
            Ok(submitted) => submitted,
            Err(ReverseError::Declined(submitted)) => submitted,
            Err(_) => return outcome,
        };
        let by =
            Authority { actor: Actor::Member(command.admin), reason: Some(command.reason), origin: command.origin };
        let entry = by
            .entry(AuditAction::Reversal, AuditTarget::Transfer(original.id), format!("reversal:{}", recorded.id))
            .changed(None, moved(recorded))
            .caused(recorded.id);
        self.audit.record(entry).await?;
        outcome
    }

    /// The reversals of transfer `id`, oldest first.
    pub async fn reversals_of(&self, id: TransferId) -> Result<Vec<Transfer>, StoreError> {
        self.store.reads.reversals_of(id).await
    }

    /// Credits a member (a grant) or debits them (a withdrawal nobody is
    /// paid), against the admin's daily budget either way. A debit above
    /// the approval threshold waits for a second admin.
    pub async fn adjust(&self, command: AdjustCommand, deadline: Deadline) -> Result<Submitted, AdjustError> {
        let member = self.members.by_handle(&command.member).await.context("loading the member")?;
        let member = member.ok_or(AdjustError::MemberNotFound)?;
        if member.id == command.admin {
            return Err(AdjustError::OwnAccount);
        }
        let by =
            Authority { actor: Actor::Member(command.admin), reason: Some(command.reason), origin: command.origin };
        if command.direction == AdjustDirection::Credit {
            let grant = GrantCommand {
                admin: command.admin,
                to: command.member,
                amount: command.amount,
                reason: by.reason.as_ref().and_then(|reason| Memo::parse(reason.as_str()).ok()),
                idempotency_key: command.idempotency_key,
                origin: by.origin.clone(),
            };
            let granted = self.transfers.grant_as(grant, AuditAction::Adjustment, deadline).await;
            return granted.map_err(|error| match error {
                GrantError::RecipientNotFound => AdjustError::MemberNotFound,
                GrantError::SelfGrant => AdjustError::OwnAccount,
                GrantError::RecipientNotActive => AdjustError::MemberNotActive,
                GrantError::AboveGrantLimit { max } => AdjustError::AboveLimit { max },
                GrantError::IdempotencyKeyReused => AdjustError::IdempotencyKeyReused,
                GrantError::Declined(submitted) => AdjustError::Declined(submitted),
                GrantError::AuditUnavailable(error) => AdjustError::AuditUnavailable(error),
                GrantError::Unexpected(error) => AdjustError::Unexpected(error),
            });
        }
        let request = TransferRequest {
            kind: TransferKind::Withdrawal,
            sender: member.id,
            recipient: command.admin,
            amount: command.amount,
            memo: by.reason.as_ref().and_then(|reason| Memo::parse(reason.as_str()).ok()),
            idempotency_key: command.idempotency_key,
            reverses: None,
        };
        let outcome = match self.transfers.replay(&request).await? {
            Some(replayed) => Ok(replayed),
            None => {
                // A suspended member's points may be taken: that is what a
                // stolen account's clean-up does.
                let account = member.provider_account.clone().ok_or(AdjustError::MemberNotActive)?;
                let max = self.transfers.limits().max_per_grant;
                if command.amount > max {
                    return Err(AdjustError::AboveLimit { max });
                }
                let recording = Recording {
                    sender_account: Some(account),
                    recipient_account: None,
                    approval: self.approval_for(command.admin, command.amount),
                };
                self.transfers.submit(request, recording, deadline).await.map_err(AdjustError::from)
            }
        };
        let recorded = match &outcome {
            Ok(submitted) => submitted,
            Err(AdjustError::Declined(submitted)) => submitted,
            Err(_) => return outcome,
        };
        let entry = by
            .entry(AuditAction::Adjustment, AuditTarget::Member(member.id), format!("adjustment:{}", recorded.id))
            .changed(None, moved(recorded))
            .caused(recorded.id);
        self.audit.record(entry).await?;
        outcome
    }

    /// The corrections waiting for a second admin, newest first.
    pub async fn awaiting_approval(&self, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError> {
        self.store.reads.waiting(TransferState::AwaitingApproval, after, limit).await
    }

    /// A second admin approves a correction (it runs now, under this
    /// request's deadline, then as a share's would) or rejects it (it ends
    /// `rejected`, its reservations given back). Asking again for what one
    /// already decided answers it as it stands; in the audit log either way.
    pub async fn decide(&self, command: DecideCommand, deadline: Deadline) -> Result<Submitted, DecideError> {
        let by =
            Authority { actor: Actor::Member(command.admin), reason: Some(command.reason), origin: command.origin };
        let owner = LeaseOwner::person(&by.actor);
        let transfer = self.store.reads.get(command.transfer).await.context("loading the transfer")?;
        let transfer = transfer.ok_or(DecideError::NotFound)?;
        let Some(approval) = transfer.approval else { return Err(DecideError::NotAwaiting(Box::new(transfer))) };
        if approval.requested_by == command.admin {
            return Err(DecideError::OwnRequest);
        }
        if transfer.sender == command.admin || transfer.recipient == command.admin {
            return Err(DecideError::OwnAccount);
        }
        let decided = if transfer.state == TransferState::AwaitingApproval {
            self.settle_decision(transfer, approval, &owner, command.decision, deadline).await?
        } else if decided_as(&transfer, &owner, command.decision) {
            Submitted { transfer, replayed: true }
        } else {
            return Err(DecideError::NotAwaiting(Box::new(transfer)));
        };
        let entry = by
            .entry(AuditAction::Approval, AuditTarget::Transfer(decided.id), format!("approval:{}", decided.id))
            .changed(Some(TransferState::AwaitingApproval.as_str().to_owned()), command.decision.as_str().to_owned())
            .caused(decided.id);
        self.audit.record(entry).await?;
        Ok(decided)
    }

    async fn settle_decision(
        &self,
        transfer: Transfer,
        approval: Approval,
        owner: &LeaseOwner,
        decision: Decision,
        deadline: Deadline,
    ) -> Result<Submitted, DecideError> {
        let now = self.clock.now();
        if approval.expires_at <= now {
            let expired = self.expire(transfer, owner).await?;
            return Err(DecideError::Expired(Box::new(expired)));
        }
        let until = now + to_delta(self.transfers.lease_for());
        let transfer = match self.store.leases.take_over(transfer.id, owner, now, until).await {
            Ok(transfer) if transfer.state == TransferState::AwaitingApproval => transfer,
            Ok(moved) => return Err(DecideError::NotAwaiting(Box::new(moved))),
            Err(TakeOverError::Leased(_)) => return Err(DecideError::Busy),
            Err(TakeOverError::NotFound) => return Err(DecideError::NotFound),
            Err(TakeOverError::Unexpected(error)) => return Err(DecideError::Unexpected(error.into())),
        };
        let (to, decline) = match decision {
            Decision::Approve => (TransferState::Accepted, None),
            Decision::Reject => (TransferState::Rejected, Some(DeclineReason::ApprovalRejected)),
        };
        let decided = self.store.records.transition(&self.leaving_approval(&transfer, to, decline, owner)).await?;
        tracing::warn!(transfer = %decided.id, by = %owner, decision = decision.as_str(), "correction decided by a second admin");
        if decision == Decision::Reject {
            release_reservation(self.totals.as_ref(), self.store.holds.as_ref(), &decided).await;
            return Ok(Submitted { transfer: decided, replayed: false });
        }
        let driven = self.transfers.drive_new(decided, owner.clone(), deadline).await?;
        Ok(Submitted { transfer: driven, replayed: false })
    }

    /// Rejects every correction whose approval expired, giving back what it
    /// reserved; `owner` (a recovery pass) is named on each. How many.
    pub(crate) async fn expire_due(&self, owner: &LeaseOwner) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut expired = 0;
        let mut after = None;
        loop {
            let page = self.store.reads.waiting(TransferState::AwaitingApproval, after, 100).await?;
            for transfer in page.items {
                if transfer.approval.is_some_and(|approval| approval.expires_at <= now) {
                    match self.expire(transfer, owner).await {
                        Ok(_) => expired += 1,
                        Err(error) => {
                            tracing::warn!(%error, "could not expire a correction; the next pass tries again")
                        }
                    }
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(expired),
            }
        }
    }

    async fn expire(&self, transfer: Transfer, owner: &LeaseOwner) -> Result<Transfer, DecideError> {
        let now = self.clock.now();
        let until = now + to_delta(self.transfers.lease_for());
        let transfer = match self.store.leases.take_over(transfer.id, owner, now, until).await {
            Ok(transfer) => transfer,
            Err(TakeOverError::Leased(_)) => return Err(DecideError::Busy),
            Err(TakeOverError::NotFound) => return Err(DecideError::NotFound),
            Err(TakeOverError::Unexpected(error)) => return Err(DecideError::Unexpected(error.into())),
        };
        let transition =
            self.leaving_approval(&transfer, TransferState::Rejected, Some(DeclineReason::ApprovalExpired), owner);
        let expired = self.store.records.transition(&transition).await?;
        release_reservation(self.totals.as_ref(), self.store.holds.as_ref(), &expired).await;
        tracing::info!(transfer = %expired.id, "a correction's approval expired");
        Ok(expired)
    }

    fn leaving_approval(
        &self,
        transfer: &Transfer,
        to: TransferState,
        decline: Option<DeclineReason>,
        owner: &LeaseOwner,
    ) -> Transition {
        Transition {
            id: transfer.id,
            kind: transfer.kind,
            from: TransferState::AwaitingApproval,
            to,
            decline,
            review: None,
            resolution: None,
            owner: owner.clone(),
            at: self.clock.now(),
        }
    }

    /// Whether a correction of `amount` asked for by `admin` waits for another.
    fn approval_for(&self, admin: MemberId, amount: Points) -> Option<Approval> {
        (amount.get() > self.approvals.threshold).then(|| Approval {
            requested_by: admin,
            expires_at: self.clock.now() + to_delta(self.approvals.expires_after),
        })
    }
}

/// Whether `owner` already took `transfer` out of its wait the way `decision` says.
fn decided_as(transfer: &Transfer, owner: &LeaseOwner, decision: Decision) -> bool {
    let Some(change) = transfer.approval_decision() else { return false };
    let approved = change.state == TransferState::Accepted;
    &change.by == owner && approved == (decision == Decision::Approve)
}

/// What a correction moves, for its audit record.
fn moved(transfer: &Transfer) -> String {
    format!("{} points, {}", transfer.amount, transfer.state.as_str())
}
