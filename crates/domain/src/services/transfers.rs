//! Sharing points, granting them, and reading transfers back.
//!
//! A share is checked against the rules, recorded (the record exists before
//! any provider call), then driven through the saga under the request's
//! deadline. Grants take the same path without the debit.

use anyhow::Context;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

use super::SagaDriver;
use super::idempotency::{KeyCheck, check_key};
use crate::model::{
    Cursor, DeclineReason, Handle, IdempotencyKey, Lease, LeaseOwner, Member, MemberId, Memo, Page, Points, Transfer,
    TransferId, TransferKind, TransferRequest, TransferState,
};
use crate::ports::{
    Clock, Deadline, InsertTransferError, MemberRepository, StoreError, TransferRepository, Transition, TransitionError,
};

/// Limits on what one member may share and one admin may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferLimits {
    pub max_per_transfer: Points,
    /// Total points one member may share per UTC day.
    pub max_per_day: u64,
    pub max_per_grant: Points,
    /// Total points one admin may grant per UTC day: a stolen admin account
    /// mints at most this much before someone notices.
    pub grant_budget_per_day: u64,
}

impl Default for TransferLimits {
    fn default() -> Self {
        TransferLimits {
            max_per_transfer: Points::new(1_000_000).expect("in range"),
            max_per_day: 10_000_000,
            max_per_grant: Points::new(100_000).expect("in range"),
            grant_budget_per_day: 1_000_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ShareCommand {
    pub sender: MemberId,
    pub to: Handle,
    pub amount: Points,
    pub memo: Option<Memo>,
    pub idempotency_key: IdempotencyKey,
}

#[derive(Debug, Clone)]
pub struct GrantCommand {
    pub admin: MemberId,
    pub to: Handle,
    pub amount: Points,
    pub reason: Option<Memo>,
    pub idempotency_key: IdempotencyKey,
}

#[derive(Debug, Error)]
pub enum ShareError {
    #[error("the sending member does not exist")]
    SenderNotFound,
    #[error("the sending member cannot share points (suspended, or no account yet)")]
    SenderNotActive,
    #[error("no member has that handle")]
    RecipientNotFound,
    #[error("the recipient cannot receive points")]
    RecipientNotActive,
    #[error("a member cannot share points with themselves")]
    SelfTransfer,
    #[error("at most {max} points per transfer")]
    AboveTransferLimit { max: Points },
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// Recorded, then rejected or reversed; `decline` on the transfer says why.
    #[error("transfer declined")]
    Declined(Box<Transfer>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, Error)]
pub enum GrantError {
    #[error("no member has that handle")]
    RecipientNotFound,
    #[error("the recipient cannot receive points")]
    RecipientNotActive,
    #[error("at most {max} points per grant")]
    AboveGrantLimit { max: Points },
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// Recorded, then rejected (over the admin's daily budget, or by the provider).
    #[error("grant declined")]
    Declined(Box<Transfer>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, Error)]
pub enum GetTransferError {
    /// No such transfer, or the member is neither its sender nor its recipient.
    #[error("transfer not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Failures shared by shares and grants, mapped into each operation's enum.
enum SubmitError {
    KeyReused,
    Declined(Box<Transfer>),
    Unexpected(anyhow::Error),
}

impl From<SubmitError> for ShareError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::KeyReused => ShareError::IdempotencyKeyReused,
            SubmitError::Declined(transfer) => ShareError::Declined(transfer),
            SubmitError::Unexpected(error) => ShareError::Unexpected(error),
        }
    }
}

impl From<SubmitError> for GrantError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::KeyReused => GrantError::IdempotencyKeyReused,
            SubmitError::Declined(transfer) => GrantError::Declined(transfer),
            SubmitError::Unexpected(error) => GrantError::Unexpected(error),
        }
    }
}

impl From<anyhow::Error> for SubmitError {
    fn from(error: anyhow::Error) -> Self {
        SubmitError::Unexpected(error)
    }
}

#[derive(Debug)]
pub struct TransferService {
    members: Arc<dyn MemberRepository>,
    transfers: Arc<dyn TransferRepository>,
    saga: Arc<SagaDriver>,
    clock: Arc<dyn Clock>,
    limits: TransferLimits,
    /// Names this process in lease owners, for operators reading the store.
    replica: String,
    /// How long the creating request owns a new transfer before recovery may
    /// take it: longer than any request deadline.
    lease_for: Duration,
}

impl TransferService {
    pub fn new(
        members: Arc<dyn MemberRepository>,
        transfers: Arc<dyn TransferRepository>,
        saga: Arc<SagaDriver>,
        clock: Arc<dyn Clock>,
        limits: TransferLimits,
        replica: impl Into<String>,
        lease_for: Duration,
    ) -> Self {
        TransferService { members, transfers, saga, clock, limits, replica: replica.into(), lease_for }
    }

    /// Shares points. `Ok` holds a completed transfer, or one still processing
    /// when the deadline came (recovery finishes it).
    pub async fn share(&self, command: ShareCommand, deadline: Deadline) -> Result<Transfer, ShareError> {
        let sender = self.members.by_id(command.sender).await.context("loading the sender")?;
        let sender = sender.ok_or(ShareError::SenderNotFound)?;
        let recipient = self.recipient(&command.to).await?.ok_or(ShareError::RecipientNotFound)?;
        let request = TransferRequest {
            kind: TransferKind::Share,
            sender: sender.id,
            recipient: recipient.id,
            amount: command.amount,
            memo: command.memo,
            idempotency_key: command.idempotency_key,
        };
        if let Some(replayed) = self.replay(&request).await? {
            return Ok(replayed);
        }
        if sender.id == recipient.id {
            return Err(ShareError::SelfTransfer);
        }
        let Some(sender_account) = sender.provider_account.clone().filter(|_| sender.is_active()) else {
            return Err(ShareError::SenderNotActive);
        };
        let recipient_account = receiving_account(&recipient).ok_or(ShareError::RecipientNotActive)?;
        if command.amount > self.limits.max_per_transfer {
            return Err(ShareError::AboveTransferLimit { max: self.limits.max_per_transfer });
        }
        Ok(self.submit(request, Some(sender_account), recipient_account, deadline).await?)
    }

    /// Grants points from no one's account; the caller has checked, against
    /// the store, that `command.admin` is an active admin.
    pub async fn grant(&self, command: GrantCommand, deadline: Deadline) -> Result<Transfer, GrantError> {
        let recipient = self.recipient(&command.to).await?.ok_or(GrantError::RecipientNotFound)?;
        let request = TransferRequest {
            kind: TransferKind::Grant,
            sender: command.admin,
            recipient: recipient.id,
            amount: command.amount,
            memo: command.reason,
            idempotency_key: command.idempotency_key,
        };
        if let Some(replayed) = self.replay(&request).await? {
            return Ok(replayed);
        }
        let recipient_account = receiving_account(&recipient).ok_or(GrantError::RecipientNotActive)?;
        if command.amount > self.limits.max_per_grant {
            return Err(GrantError::AboveGrantLimit { max: self.limits.max_per_grant });
        }
        Ok(self.submit(request, None, recipient_account, deadline).await?)
    }

    /// One transfer, if `member` sent or received it.
    pub async fn transfer_for(&self, member: MemberId, id: TransferId) -> Result<Transfer, GetTransferError> {
        let transfer = self.transfers.get(id).await.context("loading a transfer")?;
        transfer.filter(|t| t.sender == member || t.recipient == member).ok_or(GetTransferError::NotFound)
    }

    /// The member's transfers, sent and received, newest first.
    pub async fn history(
        &self,
        member: MemberId,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Transfer>, StoreError> {
        self.transfers.history(member, after, limit).await
    }

    /// Every grant, newest first.
    pub async fn grants(&self, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError> {
        self.transfers.grants(after, limit).await
    }

    async fn recipient(&self, handle: &Handle) -> anyhow::Result<Option<Member>> {
        self.members.by_handle(handle).await.context("loading the recipient")
    }

    /// The earlier transfer this request repeats, as a final answer.
    async fn replay(&self, request: &TransferRequest) -> Result<Option<Transfer>, SubmitError> {
        let existing = self
            .transfers
            .by_idempotency_key(request.sender, &request.idempotency_key)
            .await
            .context("looking up the idempotency key")?;
        match check_key(existing, request) {
            KeyCheck::Fresh => Ok(None),
            KeyCheck::Replay(transfer) => settle(*transfer).map(Some),
            KeyCheck::Reused => Err(SubmitError::KeyReused),
        }
    }

    async fn submit(
        &self,
        request: TransferRequest,
        sender_account: Option<crate::model::ProviderAccountId>,
        recipient_account: crate::model::ProviderAccountId,
        deadline: Deadline,
    ) -> Result<Transfer, SubmitError> {
        let now = self.clock.now();
        let owner = LeaseOwner::unique(&self.replica);
        let transfer = Transfer {
            id: TransferId::new(),
            kind: request.kind,
            sender: request.sender,
            sender_account,
            recipient: request.recipient,
            recipient_account,
            amount: request.amount,
            memo: request.memo.clone(),
            idempotency_key: request.idempotency_key.clone(),
            state: TransferState::Accepted,
            decline: None,
            lease: Some(Lease { owner: owner.clone(), until: now + to_delta(self.lease_for) }),
            created_at: now,
            updated_at: now,
        };
        match self.transfers.insert(&transfer).await {
            Ok(()) => {}
            // A concurrent request with the same key won the insert.
            Err(InsertTransferError::KeyTaken(existing)) => {
                return match check_key(Some(*existing), &request) {
                    KeyCheck::Replay(transfer) => settle(*transfer),
                    _ => Err(SubmitError::KeyReused),
                };
            }
            Err(InsertTransferError::Unexpected(error)) => {
                return Err(anyhow::Error::from(error).context("recording a transfer").into());
            }
        }
        tracing::info!(transfer = %transfer.id, kind = ?transfer.kind, amount = %transfer.amount, "transfer accepted");
        if let Some(reason) = self.over_daily_limit(&transfer).await? {
            let rejected = self.decline_for_limit(&transfer, &owner, reason).await?;
            return settle(rejected);
        }
        let driven = self.saga.drive(transfer, &owner, deadline).await?;
        settle(driven)
    }

    /// The sender's daily limit (a member's shares, an admin's grants),
    /// checked after the insert, counting this transfer, so concurrent
    /// transfers by one sender cannot each slip under it: at worst several are
    /// declined together, never is the limit exceeded.
    async fn over_daily_limit(&self, transfer: &Transfer) -> anyhow::Result<Option<DeclineReason>> {
        let (limit, reason) = match transfer.kind {
            TransferKind::Share => (self.limits.max_per_day, DeclineReason::DailyLimitExceeded),
            TransferKind::Grant => (self.limits.grant_budget_per_day, DeclineReason::GrantBudgetExceeded),
        };
        let day_start = start_of_day(transfer.created_at);
        let sent = self
            .transfers
            .sent_since(transfer.sender, transfer.kind, day_start)
            .await
            .context("summing the sender's transfers today")?;
        Ok((sent > limit).then_some(reason))
    }

    async fn decline_for_limit(
        &self,
        transfer: &Transfer,
        owner: &LeaseOwner,
        reason: DeclineReason,
    ) -> anyhow::Result<Transfer> {
        let transition = Transition {
            id: transfer.id,
            from: TransferState::Accepted,
            to: TransferState::Rejected,
            decline: Some(reason),
            owner: owner.clone(),
            at: self.clock.now(),
        };
        match self.transfers.transition(&transition).await {
            Ok(rejected) => Ok(rejected),
            Err(TransitionError::Conflict(current)) => Ok(*current),
            Err(error) => Err(error).context("declining a transfer over the daily limit"),
        }
    }
}

/// A rejected or reversed transfer is an error for the caller; any other is an answer.
fn settle(transfer: Transfer) -> Result<Transfer, SubmitError> {
    match transfer.state {
        TransferState::Rejected | TransferState::Reversed => Err(SubmitError::Declined(Box::new(transfer))),
        _ => Ok(transfer),
    }
}

fn receiving_account(member: &Member) -> Option<crate::model::ProviderAccountId> {
    member.provider_account.clone().filter(|_| member.is_active())
}

fn start_of_day(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive().and_hms_opt(0, 0, 0).map_or(at, |midnight| midnight.and_utc())
}

pub(crate) fn to_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}
