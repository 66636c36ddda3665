//! The support desk's hold on members: finding them and reading their day,
//! and what admins and operators change on a member record, never members
//! themselves: the role (promote, demote) and the status (suspend,
//! reinstate), by the API or the command line alike. Nobody suspends or
//! demotes themselves, the last active admin stays one, and every change is
//! in the audit log before it is acknowledged. Kept apart from
//! `MemberService` because the operator's command line reaches only the
//! store, not the provider.

use std::sync::Arc;

use anyhow::Context;
use thiserror::Error;

use super::{AuditError, AuditService};
use crate::model::{
    Actor, AuditAction, AuditTarget, Authority, Email, Handle, Member, MemberId, MemberStatus, Role, TransferKind,
};
use crate::ports::{Clock, DailyTotals, DayKey, MemberDirectory, MemberRepository, MemberSearch, StoreError};

#[derive(Debug, Error)]
pub enum OperatorError {
    #[error("no such member")]
    UnknownMember,
    /// An admin may not suspend or demote themselves: another admin must.
    #[error("an admin cannot suspend or demote themselves")]
    OwnAccount,
    /// Demoting or suspending the last active admin would leave nobody to
    /// run the support desk but the command line.
    #[error("the last active admin must stay one")]
    LastAdmin,
    /// A closed account stays closed: no role or status of it changes.
    #[error("the account is closed")]
    Closed,
    /// The change is made but its audit record is not: not acknowledged;
    /// asking again records it.
    #[error(transparent)]
    AuditUnavailable(#[from] AuditError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for OperatorError {
    fn from(error: StoreError) -> Self {
        OperatorError::Unexpected(error.into())
    }
}

/// What a change did: the member as it now stands, and the value before.
#[derive(Debug, Clone)]
pub struct MemberChange<T> {
    pub member: Member,
    pub previous: T,
}

/// A member, as an operator names them (by email) or the API (by id).
#[derive(Debug, Clone, Copy)]
pub enum MemberRef<'a> {
    Email(&'a Email),
    Id(MemberId),
}

/// A member as the support desk sees them: the record, and what they have
/// shared today (UTC) against their daily limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberOverview {
    pub member: Member,
    pub shared_today: u64,
}

#[derive(Debug)]
pub struct OperatorService {
    members: Arc<dyn MemberRepository>,
    directory: Arc<dyn MemberDirectory>,
    totals: Arc<dyn DailyTotals>,
    audit: Arc<AuditService>,
    clock: Arc<dyn Clock>,
}

impl OperatorService {
    pub fn new(
        members: Arc<dyn MemberRepository>,
        directory: Arc<dyn MemberDirectory>,
        totals: Arc<dyn DailyTotals>,
        audit: Arc<AuditService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        OperatorService { members, directory, totals, audit, clock }
    }

    /// The members `search` lists, by handle, after `after`; at most `limit`.
    pub async fn search(
        &self,
        search: &MemberSearch,
        after: Option<&Handle>,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError> {
        self.directory.search(search, after, limit).await
    }

    /// Member `id` and their day, if there is such a member.
    pub async fn overview(&self, id: MemberId) -> Result<Option<MemberOverview>, StoreError> {
        let Some(member) = self.members.by_id(id).await? else { return Ok(None) };
        let today = DayKey { sender: id, kind: TransferKind::Share, day: self.clock.now().date_naive() };
        let shared_today = self.totals.total(&today).await?;
        Ok(Some(MemberOverview { member, shared_today }))
    }

    /// Gives `who` the role `role`, as `by` asks.
    pub async fn set_role(
        &self,
        who: MemberRef<'_>,
        role: Role,
        by: &Authority,
    ) -> Result<MemberChange<Role>, OperatorError> {
        let member = self.open(who).await?;
        if role == Role::Member && member.role == Role::Admin {
            self.may_remove_an_admin(&member, by).await?;
        }
        let changed = self.members.set_role(member.id, role).await?.ok_or(OperatorError::UnknownMember)?;
        let change = MemberChange { previous: member.role, member: changed };
        self.record(AuditAction::RoleChange, &change.member, member.role.as_str(), role.as_str(), by).await?;
        Ok(change)
    }

    /// Suspends `who` (they can no longer log in, refresh, or act on a token
    /// they hold), or reinstates them, as `by` asks.
    pub async fn set_status(
        &self,
        who: MemberRef<'_>,
        status: MemberStatus,
        by: &Authority,
    ) -> Result<MemberChange<MemberStatus>, OperatorError> {
        let member = self.open(who).await?;
        if status == MemberStatus::Closed {
            // Only the member closes their account (which leaves a tombstone).
            return Err(OperatorError::Closed);
        }
        if status == MemberStatus::Suspended && member.is_admin() && member.is_active() {
            self.may_remove_an_admin(&member, by).await?;
        }
        let changed = self.members.set_status(member.id, status).await?.ok_or(OperatorError::UnknownMember)?;
        let change = MemberChange { previous: member.status, member: changed };
        self.record(AuditAction::StatusChange, &change.member, member.status.as_str(), status.as_str(), by).await?;
        Ok(change)
    }

    /// The member `who`, unless their account is closed.
    async fn open(&self, who: MemberRef<'_>) -> Result<Member, OperatorError> {
        let member = self.find(who).await?;
        if member.status == MemberStatus::Closed {
            return Err(OperatorError::Closed);
        }
        Ok(member)
    }

    async fn find(&self, who: MemberRef<'_>) -> Result<Member, OperatorError> {
        let member = match who {
            MemberRef::Email(email) => self.members.by_email(email).await.context("looking up the email")?,
            MemberRef::Id(id) => self.members.by_id(id).await.context("looking up the member")?,
        };
        member.ok_or(OperatorError::UnknownMember)
    }

    /// Whether `by` may take `admin` out of the active admins.
    async fn may_remove_an_admin(&self, admin: &Member, by: &Authority) -> Result<(), OperatorError> {
        if by.actor == Actor::Member(admin.id) {
            return Err(OperatorError::OwnAccount);
        }
        let others = self.directory.active_admins(2).await?.into_iter().filter(|id| *id != admin.id).count();
        if others == 0 {
            return Err(OperatorError::LastAdmin);
        }
        Ok(())
    }

    /// Records a change that changed something; setting what already was is
    /// no act.
    async fn record(
        &self,
        action: AuditAction,
        member: &Member,
        before: &str,
        after: &str,
        by: &Authority,
    ) -> Result<(), OperatorError> {
        if before == after {
            return Ok(());
        }
        tracing::info!(member = %member.id, by = %by.actor, action = action.as_str(), before, after, "a member changed");
        let act = format!("{}:{}:{}", action.as_str(), member.id, uuid::Uuid::now_v7().simple());
        let entry =
            by.entry(action, AuditTarget::Member(member.id), act).changed(Some(before.to_owned()), after.to_owned());
        self.audit.record(entry).await?;
        Ok(())
    }
}
