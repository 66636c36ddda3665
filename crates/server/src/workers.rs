//! The workers every replica runs beside the API, each a pass on an
//! interval until the server stops: recovery (claims unfinished transfers
//! through the store's lease and drives them to a final state, opens the
//! provider accounts of signups cut short, expires unapproved corrections)
//! and mail (sends what the outbox holds). Safe with many replicas: a lease
//! gives each transfer and each mail to one worker at a time.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::telemetry;
use crate::wiring::AppState;

/// A running worker; `finish` stops it at shutdown.
#[derive(Debug)]
pub struct Worker {
    name: &'static str,
    task: JoinHandle<()>,
}

/// Runs `pass` every `interval` (never when zero) until the server is
/// stopping. A pass under way then runs to its end, so nothing is cut off
/// halfway.
fn every<F, Fut>(name: &'static str, state: &Arc<AppState>, interval: Duration, pass: F) -> Worker
where
    F: Fn(Arc<AppState>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let state = Arc::clone(state);
    let task = tokio::spawn(async move {
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
            pass(Arc::clone(&state)).await;
        }
    });
    Worker { name, task }
}

pub fn recovery(state: &Arc<AppState>) -> Worker {
    every("recovery", state, state.settings.recovery.interval, |state| async move {
        match state.services.recovery.run_once().await {
            Ok(report) => telemetry::recovery_passed(&report),
            Err(error) => {
                telemetry::recovery_failed();
                tracing::warn!(%error, "recovery pass failed; retrying next interval");
            }
        }
    })
}

pub fn mail(state: &Arc<AppState>) -> Worker {
    every("mail", state, state.settings.mail.interval, |state| async move {
        match state.services.mail.deliver_once().await {
            Ok(report) => telemetry::mail_passed(&report),
            Err(error) => {
                telemetry::mail_failed();
                tracing::warn!(%error, "mail pass failed; retrying next interval");
            }
        }
    })
}

impl Worker {
    /// Waits for the pass under way, at most `grace`. A pass cut off then is
    /// safe: its leases expire and the next pass anywhere takes them up.
    pub async fn finish(self, grace: Duration) {
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            abort.abort();
            tracing::warn!(?grace, worker = self.name, "the pass outlived the shutdown grace; stopped it");
        }
    }
}
