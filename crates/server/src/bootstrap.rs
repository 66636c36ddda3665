//! The bootstrap admin, created at start (`POINTSHARE_BOOTSTRAP_ADMIN_*`, as
//! Grafana creates its admin user) if no member has its email, and its
//! creation recorded in the audit log once however many replicas start.

use std::time::Duration;

use anyhow::Context;
use pointshare_domain::ports::Deadline;
use pointshare_domain::services::{SignupCommand, SignupError};
use pointshare_domain::{AuditAction, AuditTarget, Authority, DisplayName, Member, OperatorName, Role};

use crate::settings::SettingsError;
use crate::wiring::AppState;

/// Creates the bootstrap admin if its email is free. A member who already
/// has the email keeps their role: whoever signed it up first may not be the
/// operator, so only `pointshare admin promote` makes them an admin.
pub async fn admin(state: &AppState) -> anyhow::Result<()> {
    let admin = state.settings.bootstrap_admin.admin().map_err(SettingsError::in_section("bootstrap_admin"))?;
    let Some(admin) = admin else { return Ok(()) };
    if let Some(existing) =
        state.services.members.by_email(&admin.email).await.context("looking up the bootstrap admin")?
    {
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
    match state.services.members.enrol_admin(command, Deadline::after(Duration::from_secs(30))).await {
        Ok(member) => {
            record_bootstrap(state, &member).await?;
            tracing::info!(email = %admin.email, "created the bootstrap admin");
        }
        // Recorded: the recovery worker opens the account once the provider answers.
        Err(SignupError::ProviderUnavailable) => {
            let created =
                state.services.members.by_email(&admin.email).await.context("looking up the bootstrap admin")?;
            if let Some(member) = created {
                record_bootstrap(state, &member).await?;
            }
            tracing::warn!(email = %admin.email, "created the bootstrap admin; its points account opens later");
        }
        Err(SignupError::EmailTaken) => tracing::info!(email = %admin.email, "the bootstrap admin exists"),
        // Another replica starting at the same moment may have created it.
        Err(SignupError::HandleTaken)
            if state
                .services
                .members
                .by_email(&admin.email)
                .await
                .context("looking up the bootstrap admin")?
                .is_some() =>
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
    state.services.audit.record(entry).await.context("recording the bootstrap admin in the audit log")?;
    Ok(())
}
