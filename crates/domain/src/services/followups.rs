//! Follow-ups: a transfer still processing when its request answers (202)
//! is driven on in the background, renewing the request's lease before each
//! call, so it settles as soon as the provider answers rather than at the
//! next recovery pass.
//! Bounded: past `max` at once, a request drives its transfer only until
//! its own deadline, as recovery's safety net assumes. On shutdown the
//! follow-ups under way get the grace period, then are cancelled; a
//! cancelled one is left to recovery like a crashed replica's.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct Followups {
    tracker: TaskTracker,
    cancel: CancellationToken,
    slots: Arc<Semaphore>,
    max: usize,
}

impl Followups {
    /// At most `max` follow-ups at once; `0` drives nothing past a request.
    pub fn new(max: usize) -> Self {
        Followups {
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A slot for one follow-up, if one is free and no shutdown began.
    pub(crate) fn slot(&self) -> Option<OwnedSemaphorePermit> {
        if self.tracker.is_closed() {
            return None;
        }
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    /// Runs `work` in the background in `slot` until it ends or shutdown
    /// cancels it, for the request that started it and in its span (so its
    /// provider calls carry the request's id and are part of its trace).
    pub(crate) fn spawn(&self, slot: OwnedSemaphorePermit, work: impl Future<Output = ()> + Send + 'static) {
        let cancel = self.cancel.clone();
        let work = super::requests::carried(work).in_current_span();
        self.tracker.spawn(async move {
            tokio::select! {
                // Cancellation first: once cancelled, not one more step, as after a crash.
                biased;
                () = cancel.cancelled() => tracing::info!("follow-up cancelled by shutdown; recovery finishes it"),
                () = work => {}
            }
            drop(slot);
        });
    }

    /// How many run now.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }

    /// How many may run at once (the alert on follow-ups near their limit compares the two).
    pub fn limit(&self) -> usize {
        self.max
    }

    /// Starts no more and cancels every follow-up at the await it is parked
    /// on, as a crash would (the simulation's crashes use it).
    pub fn abort(&self) {
        self.tracker.close();
        self.cancel.cancel();
    }

    /// Starts no more; waits up to `grace` for those under way, then cancels the rest.
    pub async fn stop(&self, grace: Duration) {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_err() {
            self.cancel.cancel();
            self.tracker.wait().await;
        }
    }
}
