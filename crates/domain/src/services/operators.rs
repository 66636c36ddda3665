//! What operators change on a member record, never members themselves: the
//! role (promote, demote) and the status (suspend, reinstate). Kept apart from
//! `MemberService` because the operator's command line reaches only the
//! store, not the provider.

use std::sync::Arc;

use anyhow::Context;
use thiserror::Error;

use crate::model::{Email, Member, MemberId, MemberStatus, Role};
use crate::ports::{MemberRepository, StoreError};

#[derive(Debug, Error)]
pub enum OperatorError {
    #[error("no member has that email")]
    UnknownEmail,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What a change did: the member as it now stands, and the value before.
#[derive(Debug, Clone)]
pub struct MemberChange<T> {
    pub member: Member,
    pub previous: T,
}

#[derive(Debug)]
pub struct OperatorService {
    members: Arc<dyn MemberRepository>,
}

impl OperatorService {
    pub fn new(members: Arc<dyn MemberRepository>) -> Self {
        OperatorService { members }
    }

    /// Gives the member with `email` the role `role`.
    pub async fn set_role(&self, email: &Email, role: Role) -> Result<MemberChange<Role>, OperatorError> {
        let members = &self.members;
        self.change(email, |member| member.role, |id| async move { members.set_role(id, role).await }).await
    }

    /// Suspends the member with `email` (they can no longer log in, refresh,
    /// or act on a token they hold), or reinstates them.
    pub async fn set_status(
        &self,
        email: &Email,
        status: MemberStatus,
    ) -> Result<MemberChange<MemberStatus>, OperatorError> {
        let members = &self.members;
        self.change(email, |member| member.status, |id| async move { members.set_status(id, status).await }).await
    }

    async fn change<T, F>(
        &self,
        email: &Email,
        field: impl Fn(&Member) -> T,
        write: impl FnOnce(MemberId) -> F,
    ) -> Result<MemberChange<T>, OperatorError>
    where
        F: Future<Output = Result<Option<Member>, StoreError>>,
    {
        let member = self.members.by_email(email).await.context("looking up the email")?;
        let member = member.ok_or(OperatorError::UnknownEmail)?;
        let changed = write(member.id).await.context("changing a member")?.ok_or(OperatorError::UnknownEmail)?;
        tracing::info!(member = %changed.id, "an operator changed a member");
        Ok(MemberChange { previous: field(&member), member: changed })
    }
}
