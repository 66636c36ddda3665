//! The operator's hold on members: the bootstrap admin created at start
//! (`POINTSHARE_BOOTSTRAP_ADMIN_*`, as Grafana creates its admin user), and
//! `pointshare admin promote|demote|suspend|reinstate EMAIL`, which change a
//! member record in the configured store through the same domain service as
//! the admin API. Roles never come from anything a client sends; each change,
//! and the bootstrap admin's creation, is in the audit log.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pointshare_domain::ports::{Deadline, SystemClock};
use pointshare_domain::services::{
    AuditService, MemberRef, OperatorError, OperatorService, SignupCommand, SignupError,
};
use pointshare_domain::{
    AuditAction, AuditTarget, Authority, DisplayName, Email, Member, MemberStatus, OperatorName, Role,
};

use crate::settings::{Settings, SettingsError};
use crate::wiring::{self, AppState};

/// Creates the bootstrap admin if its email is free. A member who already
/// has the email keeps their role: whoever signed it up first may not be the
/// operator, so only `pointshare admin promote` makes them an admin.
pub async fn bootstrap(state: &AppState) -> anyhow::Result<()> {
    let admin = state.settings.bootstrap_admin.admin().map_err(SettingsError::in_section("bootstrap_admin"))?;
    let Some(admin) = admin else { return Ok(()) };
    if let Some(existing) = state.members.by_email(&admin.email).await.context("looking up the bootstrap admin")? {
        if existing.is_admin() {
            tracing::info!(email = %admin.email, "the bootstrap admin exists");
        } else {
            tracing::warn!(
                email = %admin.email,
                "POINTSHARE_BOOTSTRAP_ADMIN_EMAIL belongs to a member who is not an admin; not promoted (`pointshare admin promote` does that)"
            );
        }
        return Ok(());
    }
    let command = SignupCommand {
        email: admin.email.clone(),
        display_name: DisplayName::parse(admin.handle.as_str())?,
        handle: admin.handle,
        password: admin.password,
    };
    match state.members.enrol_admin(command, Deadline::after(Duration::from_secs(30))).await {
        Ok(member) => {
            record_bootstrap(state, &member).await?;
            tracing::info!(email = %admin.email, "created the bootstrap admin");
        }
        // Recorded: the recovery worker opens the account once the provider answers.
        Err(SignupError::ProviderUnavailable) => {
            let created = state.members.by_email(&admin.email).await.context("looking up the bootstrap admin")?;
            if let Some(member) = created {
                record_bootstrap(state, &member).await?;
            }
            tracing::warn!(email = %admin.email, "created the bootstrap admin; its points account opens later");
        }
        Err(SignupError::EmailTaken) => tracing::info!(email = %admin.email, "the bootstrap admin exists"),
        // Another replica starting at the same moment may have created it.
        Err(SignupError::HandleTaken)
            if state.members.by_email(&admin.email).await.context("looking up the bootstrap admin")?.is_some() =>
        {
            tracing::info!(email = %admin.email, "the bootstrap admin exists");
        }
        Err(SignupError::HandleTaken) => anyhow::bail!(
            "invalid setting POINTSHARE_BOOTSTRAP_ADMIN_HANDLE: another member has the handle {:?}",
            state.settings.bootstrap_admin.handle
        ),
        // Nothing else hashes while the server starts: the queue cannot be full.
        Err(error @ SignupError::Busy) => {
            return Err(anyhow::Error::from(error).context("creating the bootstrap admin"));
        }
        Err(SignupError::Unexpected(error)) => return Err(error.context("creating the bootstrap admin")),
    }
    Ok(())
}

/// The bootstrap admin's creation, in the audit log: once per email, however
/// many replicas start.
async fn record_bootstrap(state: &AppState, admin: &Member) -> anyhow::Result<()> {
    let server = Authority::operator(OperatorName::parse("bootstrap")?, None);
    let entry = server
        .entry(AuditAction::BootstrapAdmin, AuditTarget::Member(admin.id), format!("bootstrap_admin:{}", admin.email))
        .changed(None, Role::Admin.as_str().to_owned());
    state.audit.record(entry).await.context("recording the bootstrap admin in the audit log")?;
    Ok(())
}

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
