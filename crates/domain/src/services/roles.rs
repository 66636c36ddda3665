//! Roles: an operator's act on a member record, never a member's own. Kept
//! apart from `MemberService` because the operator's command line reaches
//! only the store, not the provider.

use std::sync::Arc;

use anyhow::Context;
use thiserror::Error;

use crate::model::{Email, Member, Role};
use crate::ports::MemberRepository;

#[derive(Debug, Error)]
pub enum SetRoleError {
    #[error("no member has that email")]
    UnknownEmail,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What changing a member's role did.
#[derive(Debug, Clone)]
pub struct RoleChange {
    pub member: Member,
    pub previous: Role,
}

#[derive(Debug)]
pub struct RoleService {
    members: Arc<dyn MemberRepository>,
}

impl RoleService {
    pub fn new(members: Arc<dyn MemberRepository>) -> Self {
        RoleService { members }
    }

    /// Gives the member with `email` the role `role`.
    pub async fn set_role(&self, email: &Email, role: Role) -> Result<RoleChange, SetRoleError> {
        let member = self.members.by_email(email).await.context("looking up the email")?;
        let member = member.ok_or(SetRoleError::UnknownEmail)?;
        let changed = self.members.set_role(member.id, role).await.context("changing a member's role")?;
        let changed = changed.ok_or(SetRoleError::UnknownEmail)?;
        tracing::info!(member = %changed.id, from = member.role.as_str(), to = role.as_str(), "role changed");
        Ok(RoleChange { member: changed, previous: member.role })
    }
}
