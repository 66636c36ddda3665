//! The recovery worker: every `recovery_interval`, claims unfinished
//! transfers through the store's lease and drives them to a final state, and
//! opens provider accounts for members whose signup was cut short. Safe with
//! many replicas: a lease gives each transfer to one worker at a time.

use std::sync::Arc;

use metrics::counter;
use tokio::task::JoinHandle;

use crate::wiring::AppState;

pub fn spawn(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = state.settings.recovery_interval;
        if interval.is_zero() {
            return;
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match state.recovery.run_once().await {
                Ok(report) => {
                    counter!("pointshare_recovery_runs_total", "result" => "ok").increment(1);
                    counter!("pointshare_recovery_transfers_finished_total").increment(report.finished as u64);
                    if report.claimed > 0 || report.accounts_opened > 0 {
                        tracing::info!(?report, "recovery pass");
                    }
                }
                Err(error) => {
                    counter!("pointshare_recovery_runs_total", "result" => "error").increment(1);
                    tracing::warn!(%error, "recovery pass failed; retrying next interval");
                }
            }
        }
    })
}
