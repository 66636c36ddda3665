//! Sharing points, granting them, and reading transfers back.
//!
//! A share is checked against the rules, its amount reserved against the
//! sender's daily limit, recorded (the record exists before any provider
//! call), then driven through the saga under the request's deadline. Grants
//! take the same path without the debit, against the admin's daily budget.

use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::watch;

use super::idempotency::{KeyCheck, check_key};
use super::reservations::{day_key, release_reservation};
use super::time::to_delta;
use super::{AuditError, AuditService, Followups, Holding, SagaDriver};
use crate::model::{
    Actor, AuditAction, AuditTarget, Authority, Cursor, DeclineReason, Handle, IdempotencyKey, Lease, LeaseOwner,
    Member, MemberId, MemberStatus, Memo, Origin, Page, Points, Reason, StateChange, Transfer, TransferId,
    TransferKind, TransferRequest, TransferState,
};
use crate::ports::{
    Clock, DailyTotals, Deadline, Direction, HistoryFilter, InsertTransferError, MemberRepository, StoreError,
    TransferStore,
};

/// How far back in a member's sent transfers their recent recipients are looked for.
const RECENT_SHARES: usize = 100;

/// Limits on what one member may share and one admin may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransferLimits {
    pub max_per_transfer: Points,
    /// Total points one member may share per UTC day.
    pub max_per_day: u64,
    pub max_per_grant: Points,
    /// Total points one admin may grant per UTC day: a stolen admin account
    /// mints at most this much before someone notices.
    pub grant_budget_per_day: u64,
    /// Whether a member must have verified their email to share (they may
    /// receive either way). Set by the server from `[accounts]`, not here.
    #[serde(skip)]
    pub require_verified_email: bool,
}

impl TransferLimits {
    /// The daily allowance `transfer` counts against, and why a transfer
    /// past it is declined: a member's for shares, an admin's budget for
    /// what they grant or take. Undoing a transfer only moves points it made
    /// back, and a forfeit only what a leaving member has left: nothing
    /// limits those but the points themselves.
    pub fn daily(&self, transfer: &Transfer) -> (u64, DeclineReason) {
        match transfer.kind {
            _ if transfer.reverses.is_some() => (u64::MAX, DeclineReason::DailyLimitExceeded),
            TransferKind::Forfeit => (u64::MAX, DeclineReason::DailyLimitExceeded),
            TransferKind::Share | TransferKind::Reversal => (self.max_per_day, DeclineReason::DailyLimitExceeded),
            TransferKind::Grant | TransferKind::Withdrawal => {
                (self.grant_budget_per_day, DeclineReason::GrantBudgetExceeded)
            }
        }
    }
}

impl Default for TransferLimits {
    fn default() -> Self {
        TransferLimits {
            max_per_transfer: Points::new(1_000_000).expect("in range"),
            max_per_day: 10_000_000,
            max_per_grant: Points::new(100_000).expect("in range"),
            grant_budget_per_day: 1_000_000,
            require_verified_email: false,
        }
    }
}

/// How the request that creates a transfer holds it.
#[derive(Debug, Clone)]
pub struct RequestLease {
    /// Names this process in lease owners, for operators reading the store.
    pub replica: String,
    /// How long the request owns its new transfer before recovery may take
    /// it: longer than any request deadline.
    pub lease_for: Duration,
    /// Who drives the transfer on, under that lease, once the request answered.
    pub followups: Followups,
}

#[derive(Debug, Clone)]
pub struct ShareCommand {
    /// The sender as the request was admitted on it (the caller's record, a
    /// few seconds old at most): it need not be read again to go ahead.
    pub sender: Member,
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
    /// The request that asks for it, for the audit record.
    pub origin: Origin,
}

/// How a new transfer is recorded beyond what was asked: the accounts it
/// moves points between, and the second admin it waits for, if any.
#[derive(Debug, Clone)]
pub(crate) struct Recording {
    pub sender_account: Option<crate::model::ProviderAccountId>,
    pub recipient_account: Option<crate::model::ProviderAccountId>,
    pub approval: Option<crate::model::Approval>,
}

/// A transfer and its two sides (`None` for a member gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithParties {
    pub transfer: Transfer,
    pub from: Option<Party>,
    pub to: Option<Party>,
}

/// One side of a transfer as members see it: its handle, and whether its
/// member has closed their account since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub handle: Handle,
    pub closed: bool,
}

/// A share or grant as its request answers it: the transfer, and whether
/// an earlier request with the same idempotency key created it (a replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub transfer: Transfer,
    pub replayed: bool,
}

impl std::ops::Deref for Submitted {
    type Target = Transfer;

    fn deref(&self) -> &Transfer {
        &self.transfer
    }
}

#[derive(Debug, Error)]
pub enum ShareError {
    #[error("the sending member does not exist")]
    SenderNotFound,
    #[error("the sending member cannot share points (suspended, or no account yet)")]
    SenderNotActive,
    /// Sharing waits until the member proves their email is theirs.
    #[error("the sending member has not verified their email")]
    EmailUnverified,
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
    Declined(Box<Submitted>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, Error)]
pub enum GrantError {
    #[error("no member has that handle")]
    RecipientNotFound,
    /// Points an admin grants themselves are points no one else agreed to.
    #[error("an admin cannot grant points to themselves")]
    SelfGrant,
    #[error("the recipient cannot receive points")]
    RecipientNotActive,
    #[error("at most {max} points per grant")]
    AboveGrantLimit { max: Points },
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// Recorded, then rejected (over the admin's daily budget, or by the provider).
    #[error("grant declined")]
    Declined(Box<Submitted>),
    /// The grant is recorded but its audit record is not: not acknowledged;
    /// repeating the request (same idempotency key) records it.
    #[error(transparent)]
    AuditUnavailable(#[from] AuditError),
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

/// Failures shared by every kind of transfer, mapped into each operation's enum.
pub(crate) enum SubmitError {
    KeyReused,
    Declined(Box<Submitted>),
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
    transfers: TransferStore,
    totals: Arc<dyn DailyTotals>,
    saga: Arc<SagaDriver>,
    audit: Arc<AuditService>,
    clock: Arc<dyn Clock>,
    limits: TransferLimits,
    /// Names this process in lease owners, for operators reading the store.
    replica: String,
    /// How long the creating request owns a new transfer before recovery may
    /// take it: longer than any request deadline.
    lease_for: Duration,
    followups: Followups,
}

impl TransferService {
    #[allow(clippy::too_many_arguments, reason = "each is a port or policy the service stands on")]
    pub fn new(
        members: Arc<dyn MemberRepository>,
        transfers: TransferStore,
        totals: Arc<dyn DailyTotals>,
        saga: Arc<SagaDriver>,
        audit: Arc<AuditService>,
        clock: Arc<dyn Clock>,
        limits: TransferLimits,
        lease: RequestLease,
    ) -> Self {
        let RequestLease { replica, lease_for, followups } = lease;
        TransferService { members, transfers, totals, saga, audit, clock, limits, replica, lease_for, followups }
    }

    /// Shares points. `Ok` holds a completed transfer, or one still processing
    /// when the deadline came (a follow-up or recovery finishes it).
    pub async fn share(&self, command: ShareCommand, deadline: Deadline) -> Result<Submitted, ShareError> {
        let ShareCommand { sender, to, amount, memo, idempotency_key } = command;
        let recipient = self.recipient(&to).await?.ok_or(ShareError::RecipientNotFound)?;
        let request = TransferRequest {
            kind: TransferKind::Share,
            sender: sender.id,
            recipient: recipient.id,
            amount,
            memo,
            idempotency_key,
            reverses: None,
        };
        let recording = match self.share_recording(&sender, &recipient, amount) {
            Ok(recording) => Ok(recording),
            // The record a request was admitted on is a few seconds old: what
            // it refuses (an address just verified on another replica) is
            // decided again on the store's.
            Err(_) => {
                let sender = self.members.by_id(sender.id).await.context("loading the sender")?;
                self.share_recording(&sender.ok_or(ShareError::SenderNotFound)?, &recipient, amount)
            }
        };
        match recording {
            Ok(recording) => Ok(self.submit(request, recording, deadline).await?),
            Err(refusal) => self.refuse_unless_replayed(&request, refusal).await,
        }
    }

    /// How a share from `sender` to `recipient` is recorded, or why it is refused.
    fn share_recording(&self, sender: &Member, recipient: &Member, amount: Points) -> Result<Recording, ShareError> {
        if sender.id == recipient.id {
            return Err(ShareError::SelfTransfer);
        }
        let Some(sender_account) = sender.provider_account.clone().filter(|_| sender.is_active()) else {
            return Err(ShareError::SenderNotActive);
        };
        if self.limits.require_verified_email && !sender.email_verified {
            return Err(ShareError::EmailUnverified);
        }
        let recipient_account = receiving_account(recipient).ok_or(ShareError::RecipientNotActive)?;
        if amount > self.limits.max_per_transfer {
            return Err(ShareError::AboveTransferLimit { max: self.limits.max_per_transfer });
        }
        Ok(Recording {
            sender_account: Some(sender_account),
            recipient_account: Some(recipient_account),
            approval: None,
        })
    }

    /// Gives what a member closing their account has left to the house
    /// account, as the member asked: a transfer like a share, past the
    /// limits (it moves only the member's own last points), which the caller
    /// has made sure nothing else races (the account is closed meanwhile).
    pub(crate) async fn forfeit(
        &self,
        leaver: &Member,
        house: &Member,
        amount: Points,
        deadline: Deadline,
    ) -> Result<Submitted, SubmitError> {
        let key = format!("close-{}-{}", leaver.id.as_uuid().simple(), self.clock.now().timestamp_millis());
        let request = TransferRequest {
            kind: TransferKind::Forfeit,
            sender: leaver.id,
            recipient: house.id,
            amount,
            memo: Memo::parse("closing the account").ok(),
            idempotency_key: IdempotencyKey::parse(key).context("a forfeit's key")?,
            reverses: None,
        };
        let recording = Recording {
            sender_account: leaver.provider_account.clone(),
            recipient_account: receiving_account(house),
            approval: None,
        };
        self.submit(request, recording, deadline).await
    }

    /// Grants points from no one's account; the caller has checked, against
    /// the store, that `command.admin` is an active admin. Every grant that
    /// recorded a transfer, refused ones too, is in the audit log before it
    /// is answered.
    pub async fn grant(&self, command: GrantCommand, deadline: Deadline) -> Result<Submitted, GrantError> {
        self.grant_as(command, AuditAction::Grant, deadline).await
    }

    /// A grant, audited as `action`: an adjustment's credit is one too.
    pub(crate) async fn grant_as(
        &self,
        command: GrantCommand,
        action: AuditAction,
        deadline: Deadline,
    ) -> Result<Submitted, GrantError> {
        let recipient = self.recipient(&command.to).await?.ok_or(GrantError::RecipientNotFound)?;
        if recipient.id == command.admin {
            return Err(GrantError::SelfGrant);
        }
        let authority = Authority {
            actor: Actor::Member(command.admin),
            reason: command.reason.as_ref().and_then(|memo| Reason::parse(memo.as_str()).ok()),
            origin: command.origin,
        };
        let request = TransferRequest {
            kind: TransferKind::Grant,
            sender: command.admin,
            recipient: recipient.id,
            amount: command.amount,
            memo: command.reason,
            idempotency_key: command.idempotency_key,
            reverses: None,
        };
        let recording = match (receiving_account(&recipient), command.amount > self.limits.max_per_grant) {
            (None, _) => Err(GrantError::RecipientNotActive),
            (Some(_), true) => Err(GrantError::AboveGrantLimit { max: self.limits.max_per_grant }),
            (Some(account), false) => {
                Ok(Recording { sender_account: None, recipient_account: Some(account), approval: None })
            }
        };
        let outcome = match recording {
            Ok(recording) => self.submit(request, recording, deadline).await.map_err(GrantError::from),
            Err(refusal) => match self.refuse_unless_replayed(&request, refusal).await {
                // Refused before anything was recorded: nothing to audit.
                Err(refusal @ (GrantError::RecipientNotActive | GrantError::AboveGrantLimit { .. })) => {
                    return Err(refusal);
                }
                outcome => outcome,
            },
        };
        let recorded = match &outcome {
            Ok(submitted) => submitted,
            Err(GrantError::Declined(submitted)) => submitted,
            Err(_) => return outcome,
        };
        let entry = authority
            .entry(action, AuditTarget::Member(recipient.id), format!("grant:{}", recorded.id))
            .changed(None, format!("{} points", recorded.amount))
            .caused(recorded.id);
        self.audit.record(entry).await?;
        outcome
    }

    /// Any transfer, for admins.
    pub async fn get(&self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        self.transfers.reads.get(id).await
    }

    /// One transfer, if `member` sent or received it.
    pub async fn transfer_for(&self, member: MemberId, id: TransferId) -> Result<Transfer, GetTransferError> {
        let transfer = self.transfers.reads.get(id).await.context("loading a transfer")?;
        transfer.filter(|t| t.sender == member || t.recipient == member).ok_or(GetTransferError::NotFound)
    }

    /// The member's transfers that `filter` lists, newest first.
    pub async fn history(
        &self,
        member: MemberId,
        filter: &HistoryFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Transfer>, StoreError> {
        self.transfers.reads.history(member, filter, after, limit).await
    }

    /// The members `member` completed shares with lately, each once, most
    /// recent first with when: those who can still receive, at most `limit`.
    /// Read from the member's last `RECENT_SHARES` sent transfers.
    pub async fn recent_recipients(
        &self,
        member: MemberId,
        limit: usize,
    ) -> Result<Vec<(Member, DateTime<Utc>)>, StoreError> {
        let completed = HistoryFilter {
            direction: Some(Direction::Sent),
            states: vec![TransferState::Completed],
            ..HistoryFilter::default()
        };
        let sent = self.transfers.reads.history(member, &completed, None, RECENT_SHARES).await?;
        let mut recent: Vec<(MemberId, DateTime<Utc>)> = Vec::new();
        for share in sent.items.iter().filter(|transfer| transfer.kind == TransferKind::Share) {
            if !recent.iter().any(|(id, _)| *id == share.recipient) {
                recent.push((share.recipient, share.created_at));
            }
        }
        let ids: Vec<MemberId> = recent.iter().map(|(id, _)| *id).collect();
        let found = self.members.by_ids(&ids).await?;
        let receiving = |id: MemberId| found.iter().find(|m| m.id == id && m.can_receive()).cloned();
        Ok(recent.into_iter().filter_map(|(id, at)| receiving(id).map(|m| (m, at))).take(limit).collect())
    }

    /// `transfers` with both sides, as members see them: those in `known`
    /// (the caller's own, the one a request named: members who may act, so
    /// not closed) as given, the rest read in one store round trip. A member
    /// no longer found has none.
    pub async fn with_parties(
        &self,
        transfers: Vec<Transfer>,
        known: &[(MemberId, &Handle)],
    ) -> Result<Vec<WithParties>, StoreError> {
        let ids: Vec<MemberId> = transfers.iter().flat_map(|t| [t.sender, t.recipient]).collect();
        let parties = self.parties(&ids, known).await?;
        Ok(transfers
            .into_iter()
            .map(|transfer| WithParties {
                from: parties.get(&transfer.sender).cloned(),
                to: parties.get(&transfer.recipient).cloned(),
                transfer,
            })
            .collect())
    }

    /// The handles of members `ids`: those in `known` as given, the rest
    /// read in one store round trip. A member no longer found has none.
    pub async fn handles(
        &self,
        ids: &[MemberId],
        known: &[(MemberId, &Handle)],
    ) -> Result<HashMap<MemberId, Handle>, StoreError> {
        let parties = self.parties(ids, known).await?;
        Ok(parties.into_iter().map(|(id, party)| (id, party.handle)).collect())
    }

    async fn parties(
        &self,
        ids: &[MemberId],
        known: &[(MemberId, &Handle)],
    ) -> Result<HashMap<MemberId, Party>, StoreError> {
        let mut parties: HashMap<MemberId, Party> =
            known.iter().map(|(id, handle)| (*id, Party { handle: (*handle).clone(), closed: false })).collect();
        let mut missing: Vec<MemberId> = ids.iter().copied().filter(|id| !parties.contains_key(id)).collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let found = self.members.by_ids(&missing).await?.into_iter();
            parties.extend(found.map(|m| (m.id, Party { closed: m.status == MemberStatus::Closed, handle: m.handle })));
        }
        Ok(parties)
    }

    /// Every grant, newest first.
    pub async fn grants(&self, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError> {
        self.transfers.reads.grants(after, limit).await
    }

    async fn recipient(&self, handle: &Handle) -> anyhow::Result<Option<Member>> {
        self.members.by_handle(handle).await.context("loading the recipient")
    }

    pub(crate) fn limits(&self) -> TransferLimits {
        self.limits
    }

    /// How long a request holds the transfer it drives.
    pub(crate) fn lease_for(&self) -> Duration {
        self.lease_for
    }

    /// `refusal`, unless the request repeats one that went through: a repeat
    /// answers as the first request did, whatever changed since. Only a
    /// refused request looks its key up; one that goes ahead finds a repeat
    /// at the insert, which the key's unique index settles (`submit`).
    async fn refuse_unless_replayed<E: From<SubmitError>>(
        &self,
        request: &TransferRequest,
        refusal: E,
    ) -> Result<Submitted, E> {
        match self.replay(request).await? {
            Some(replayed) => Ok(replayed),
            None => Err(refusal),
        }
    }

    /// The earlier transfer this request repeats, as a final answer.
    pub(crate) async fn replay(&self, request: &TransferRequest) -> Result<Option<Submitted>, SubmitError> {
        let existing = self
            .transfers
            .reads
            .by_idempotency_key(request.sender, &request.idempotency_key)
            .await
            .context("looking up the idempotency key")?;
        match check_key(existing, request) {
            KeyCheck::Fresh => Ok(None),
            KeyCheck::Replay(transfer) => settle(*transfer, true).map(Some),
            KeyCheck::Reused => Err(SubmitError::KeyReused),
        }
    }

    /// Reserves the amount against the sender's daily limit, records the
    /// transfer, and drives it (unless it waits for approval). Reserving
    /// first means a recorded transfer is within the limit whoever drives it
    /// later; concurrent transfers of one sender reserve one at a time, so
    /// together they never pass the limit.
    pub(crate) async fn submit(
        &self,
        request: TransferRequest,
        recording: Recording,
        deadline: Deadline,
    ) -> Result<Submitted, SubmitError> {
        let Recording { sender_account, recipient_account, approval } = recording;
        let now = self.clock.now();
        let owner = LeaseOwner::request(&self.replica);
        let mut transfer = Transfer {
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
            review: None,
            resolution: None,
            lease: Some(Lease { owner: owner.clone(), until: now + to_delta(self.lease_for) }),
            attempts: 0,
            reverses: request.reverses,
            reversed: 0,
            changes: Vec::new(),
            approval,
            created_at: now,
            updated_at: now,
        };
        let key = day_key(&transfer);
        let (limit, reason) = self.limits.daily(&transfer);
        let reserved =
            self.totals.reserve(&key, transfer.amount, limit).await.context("reserving against the daily limit")?;
        if !reserved {
            // Recorded all the same, declined: a retry with the same key gets
            // the same answer, and refused grants stay in the audit trail.
            transfer.state = TransferState::Rejected;
            transfer.decline = Some(reason);
            transfer.lease = None;
        } else if approval.is_some() {
            transfer.state = TransferState::AwaitingApproval;
            transfer.lease = None;
        }
        transfer.changes.push(StateChange { at: now, state: transfer.state, by: owner.clone() });
        match self.transfers.records.insert(&transfer).await {
            Ok(()) => {}
            // An earlier or concurrent request with the same key recorded
            // first: this one repeats it, or reuses its key.
            Err(InsertTransferError::KeyTaken(existing)) => {
                self.release_if(reserved, &transfer).await;
                return match check_key(Some(*existing), &request) {
                    KeyCheck::Replay(transfer) => settle(*transfer, true),
                    _ => Err(SubmitError::KeyReused),
                };
            }
            // The insert may have happened all the same (a reply lost):
            // keeping the reservation errs on the safe side.
            Err(InsertTransferError::Unexpected(error)) => {
                return Err(anyhow::Error::from(error).context("recording a transfer").into());
            }
        }
        tracing::info!(transfer = %transfer.id, kind = ?transfer.kind, amount = %transfer.amount, state = transfer.state.as_str(), "transfer recorded");
        if !reserved {
            if let Some(original) = transfer.reverses
                && let Err(error) = self.transfers.holds.release_reversal(original, transfer.amount).await
            {
                tracing::warn!(%error, transfer = %transfer.id, "could not give back a reversal's reservation");
            }
            return settle(transfer, false);
        }
        if transfer.state == TransferState::AwaitingApproval {
            return settle(transfer, false);
        }
        settle(self.drive_new(transfer, owner, deadline).await?, false)
    }

    /// Drives a new transfer until it settles or the request's deadline,
    /// whichever comes first, and answers it as it then stands. With a
    /// follow-up slot free, the driving goes on past the deadline until the
    /// request's lease ends.
    pub(crate) async fn drive_new(
        &self,
        transfer: Transfer,
        owner: LeaseOwner,
        deadline: Deadline,
    ) -> anyhow::Result<Transfer> {
        let Some(slot) = self.followups.slot() else {
            return self.saga.drive(transfer, &owner, Holding::Created, deadline).await;
        };
        let (report, mut progress) = watch::channel(transfer.clone());
        let saga = Arc::clone(&self.saga);
        // As long again as the request's lease, renewing it call by call.
        let (lease, until) = (self.lease_for, Deadline::after(self.lease_for));
        self.followups.spawn(slot, async move {
            let id = transfer.id;
            let report_step = |now: &Transfer| drop(report.send_replace(now.clone()));
            if let Err(error) = saga.drive_reporting(transfer, &owner, Holding::Created, until, Some(lease), report_step).await {
                tracing::warn!(transfer = %id, error = format!("{error:#}"), "driving a transfer failed; recovery finishes it");
            }
        });
        // Settled, or the driver stopped (it reports nothing more), or the deadline.
        let settled = progress.wait_for(|now| !now.state.is_in_saga());
        let _ = tokio::time::timeout_at(deadline.instant(), settled).await;
        Ok(progress.borrow().clone())
    }

    /// Gives back a reservation whose transfer is certainly not recorded.
    async fn release_if(&self, reserved: bool, transfer: &Transfer) {
        if reserved {
            release_reservation(self.totals.as_ref(), self.transfers.holds.as_ref(), transfer).await;
        }
    }
}

/// A rejected or reversed transfer is an error for the caller; any other is an answer.
fn settle(transfer: Transfer, replayed: bool) -> Result<Submitted, SubmitError> {
    let submitted = Submitted { transfer, replayed };
    match submitted.state {
        TransferState::Rejected | TransferState::Reversed => Err(SubmitError::Declined(Box::new(submitted))),
        _ => Ok(submitted),
    }
}

fn receiving_account(member: &Member) -> Option<crate::model::ProviderAccountId> {
    member.provider_account.clone().filter(|_| member.can_receive())
}
