//! `pointshare admin promote|demote|suspend|reinstate EMAIL`: the operator's
//! hold on members, changing a member record in the configured store through
//! the same domain service as the admin API. Roles never come from anything
//! a client sends; each change is in the audit log (the bootstrap admin is
//! bootstrap.rs's).

use std::sync::Arc;

use pointshare_domain::ports::SystemClock;
use pointshare_domain::services::{AuditService, MemberRef, OperatorError, OperatorService};
use pointshare_domain::{Authority, Email, Member, MemberStatus, Role};

use crate::settings::Settings;
use crate::wiring;

/// Why `pointshare admin` failed, and so its exit status.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Exit 1.
    #[error("no member has the email {0}")]
    UnknownEmail(String),
    /// Exit 1: the rules refuse the change (the last active admin).
    #[error("refused: {0}")]
    Refused(String),
    /// Exit 2: bad input, or no store this command can reach, or no audit
    /// record could be written (the change is then made but unacknowledged:
    /// run the command again).
    #[error("{0:#}")]
    CannotRun(anyhow::Error),
}

impl AdminError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AdminError::UnknownEmail(_) | AdminError::Refused(_) => 1,
            AdminError::CannotRun(_) => 2,
        }
    }
}

/// What `pointshare admin` does to a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Promote,
    Demote,
    Suspend,
    Reinstate,
}

/// Applies `action` to the member with `email` in the configured store, as
/// `by` (an operator, `operator:NAME` in the audit log), and says what it did.
pub async fn run(settings: Settings, email: &str, action: Action, by: &Authority) -> Result<String, AdminError> {
    let email = Email::parse(email).map_err(|error| AdminError::CannotRun(error.into()))?;
    if settings.store.is_none() {
        return Err(AdminError::CannotRun(anyhow::anyhow!(
            "POINTSHARE_MONGODB_URI is unset: the server's store is in its own memory, out of this command's reach; \
             give POINTSHARE_MONGODB_URI, or start the server with POINTSHARE_BOOTSTRAP_ADMIN_EMAIL"
        )));
    }
    let store = wiring::store(&settings, wiring::Reach::Now).await.map_err(AdminError::CannotRun)?;
    let clock = Arc::new(SystemClock);
    let audit = Arc::new(AuditService::new(store.audit, clock.clone()));
    let operators = OperatorService::new(store.members, store.directory, store.totals, audit, clock);
    let failed = |error| match error {
        OperatorError::UnknownMember => AdminError::UnknownEmail(email.to_string()),
        refused @ (OperatorError::OwnAccount | OperatorError::LastAdmin | OperatorError::Closed) => {
            AdminError::Refused(refused.to_string())
        }
        OperatorError::AuditUnavailable(error) => AdminError::CannotRun(error.into()),
        OperatorError::Unexpected(error) => AdminError::CannotRun(error),
    };
    let who = MemberRef::Email(&email);
    let (member, before, after) = match action {
        Action::Promote | Action::Demote => {
            let role = if action == Action::Promote { Role::Admin } else { Role::Member };
            let change = operators.set_role(who, role, by).await.map_err(failed)?;
            (change.member, change.previous.as_str(), role.as_str())
        }
        Action::Suspend | Action::Reinstate => {
            let status = if action == Action::Suspend { MemberStatus::Suspended } else { MemberStatus::Active };
            let change = operators.set_status(who, status, by).await.map_err(failed)?;
            (change.member, change.previous.as_str(), status.as_str())
        }
    };
    Ok(said(&member, before, after))
}

fn said(member: &Member, before: &str, after: &str) -> String {
    if before == after {
        format!("{} (member {}) is already {after}; nothing changed", member.email, member.id)
    } else {
        format!(
            "{} (member {}) is now {after} (was {before}); every replica applies it within seconds",
            member.email, member.id
        )
    }
}
