//! The recovery worker: every `recovery_interval`, claims unfinished
//! transfers through the store's lease and drives them to a final state, and
//! opens provider accounts for members whose signup was cut short. Safe with
//! many replicas: a lease gives each transfer to one worker at a time.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::telemetry;
use crate::wiring::AppState;

/// The running worker; `finish` stops it at shutdown.
#[derive(Debug)]
pub struct Worker {
    task: JoinHandle<()>,
}

/// Runs passes until the server is stopping. A pass under way then runs to
/// its end, so its saga steps are not cut off halfway.
pub fn spawn(state: Arc<AppState>) -> Worker {
    let task = tokio::spawn(async move {
        let interval = state.settings.recovery.interval;
        if interval.is_zero() {
            return;
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = state.stopping.cancelled() => return,
            }
            match state.recovery.run_once().await {
                Ok(report) => {
                    telemetry::recovery_passed(&report);
                    if report.claimed > 0 || report.accounts_opened > 0 {
                        tracing::info!(?report, "recovery pass");
                    }
                }
                Err(error) => {
                    telemetry::recovery_failed();
                    tracing::warn!(%error, "recovery pass failed; retrying next interval");
                }
            }
        }
    });
    Worker { task }
}

impl Worker {
    /// Waits for the pass under way, at most `grace`. A pass cut off then is
    /// safe: its transfers' leases expire and the next pass anywhere takes them.
    pub async fn finish(self, grace: Duration) {
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            abort.abort();
            tracing::warn!(?grace, "the recovery pass outlived the shutdown grace; stopped it");
        }
    }
}
