//! `pointshare transfers resolve ID --refund|--complete`: an operator ends a
//! transfer that automation parked in `needs_review`. The domain's
//! `ReviewService` checks the provider first, so the decision never moves
//! points twice and running it again changes nothing.

use std::time::Duration;

use pointshare_domain::ports::Deadline;
use pointshare_domain::services::ResolveError;
use pointshare_domain::{Authority, Resolution, TransferId};

use super::reconcile::require_real_backends;
use crate::settings::Settings;
use crate::wiring;

/// Why the command stopped, and the exit status that says so.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The decision was not applied (not found, not in review, refused by
    /// what the provider holds, held by another driver): exit 1.
    #[error("{0}")]
    Declined(String),
    /// The command could not run (bad id, store or provider unreachable): exit 2.
    #[error("{0:#}")]
    CouldNotRun(anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Declined(_) => 1,
            Failure::CouldNotRun(_) => 2,
        }
    }
}

/// Time for the provider lookups and movements of one resolution.
const BUDGET: Duration = Duration::from_secs(60);

pub async fn run(settings: Settings, id: &str, resolution: Resolution, by: &Authority) -> Result<String, Failure> {
    let id: TransferId =
        id.parse().map_err(|_| Failure::CouldNotRun(anyhow::anyhow!("{id:?} is not a transfer id")))?;
    require_real_backends(&settings, "transfers resolve").map_err(Failure::CouldNotRun)?;
    let wired = wiring::wire(settings, wiring::Reach::Now).await.map_err(Failure::CouldNotRun)?;
    let resolved = wired.state.services.review.resolve(id, resolution, by, Deadline::after(BUDGET)).await;
    match resolved {
        Ok(transfer) => Ok(format!(
            "transfer {} is {} ({} by {})",
            transfer.id,
            transfer.state.as_str(),
            resolution.as_str(),
            by.actor
        )),
        Err(error @ (ResolveError::Provider(_) | ResolveError::AuditUnavailable(_) | ResolveError::Unexpected(_))) => {
            Err(Failure::CouldNotRun(anyhow::Error::from(error)))
        }
        Err(error) => Err(Failure::Declined(error.to_string())),
    }
}
