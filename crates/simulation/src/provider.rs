//! The provider as the simulation sees it: the testkit's ledger behind
//! seeded latency and faults. A call is sent only while its deadline is open
//! (the adapter's last check before writing), may be applied up to the
//! in-flight window after it was sent whatever became of the caller, and its
//! answer may be lost, late, or a 503 after the fact.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rand::Rng;
use rand::rngs::StdRng;

use pointshare_domain::ports::{Deadline, Movement, PointsProvider, ProviderError};
use pointshare_domain::{
    HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
};
use pointshare_testkit::{Ledger, refusal};

/// What happens to one call, drawn from the seed.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Applied after `apply_in`, answered `answer_in` later.
    Served { apply_in: Duration, answer_in: Duration },
    /// Refused with a 503 before anything was applied.
    Unavailable { after: Duration },
    /// Applied, then answered 503.
    AppliedThenUnavailable { apply_in: Duration },
    /// Applied, then no answer before the caller gives up.
    AppliedThenHang { apply_in: Duration },
}

#[derive(Debug)]
pub struct SimProvider {
    ledger: Arc<Ledger>,
    rng: Arc<Mutex<StdRng>>,
    /// The longest between sending a call and its application.
    in_flight: Duration,
    faulty: AtomicBool,
}

impl SimProvider {
    pub fn new(ledger: Arc<Ledger>, rng: Arc<Mutex<StdRng>>, in_flight: Duration) -> Self {
        SimProvider { ledger, rng, in_flight, faulty: AtomicBool::new(false) }
    }

    /// Faults on (the run) or off (set-up and draining).
    pub fn set_faulty(&self, faulty: bool) {
        self.faulty.store(faulty, Ordering::SeqCst);
    }

    fn fate(&self) -> Fate {
        let mut rng = self.rng.lock();
        let quick = |rng: &mut StdRng| Duration::from_millis(rng.random_range(20..=700));
        if !self.faulty.load(Ordering::SeqCst) {
            return Fate::Served { apply_in: quick(&mut rng), answer_in: quick(&mut rng) };
        }
        let late = |rng: &mut StdRng, window: Duration| rng.random_range(Duration::ZERO..=window);
        match rng.random_range(0..100) {
            0..60 => Fate::Served { apply_in: quick(&mut rng), answer_in: quick(&mut rng) },
            // Applied late, within the window: the caller has often given up.
            60..75 => Fate::Served { apply_in: late(&mut rng, self.in_flight), answer_in: quick(&mut rng) },
            75..85 => Fate::Unavailable { after: quick(&mut rng) },
            85..92 => Fate::AppliedThenUnavailable { apply_in: quick(&mut rng) },
            _ => Fate::AppliedThenHang { apply_in: late(&mut rng, self.in_flight) },
        }
    }

    async fn read<T>(&self, deadline: Deadline, read: impl FnOnce() -> T) -> Result<T, ProviderError> {
        let latency = Duration::from_millis(self.rng.lock().random_range(20..=700));
        if latency >= deadline.remaining() {
            tokio::time::sleep(deadline.remaining()).await;
            return Err(ProviderError::OutcomeUnknown("no answer before the deadline".into()));
        }
        tokio::time::sleep(latency).await;
        Ok(read())
    }
}

fn unavailable(message: &str) -> ProviderError {
    ProviderError::Transient { message: message.into(), retry_after: None }
}

#[async_trait]
impl PointsProvider for SimProvider {
    async fn open_account(&self, holder: &HolderRef, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        self.read(deadline, || self.ledger.open_account(holder, 0).0).await
    }

    async fn account(&self, id: &ProviderAccountId, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        self.read(deadline, || self.ledger.account(id)).await?.map_err(refusal)
    }

    async fn apply(
        &self,
        kind: MovementKind,
        movement: &Movement,
        deadline: Deadline,
    ) -> Result<ProviderTransaction, ProviderError> {
        if deadline.is_past() {
            return Err(unavailable("the deadline passed before the call was sent"));
        }
        let fate = self.fate();
        let apply_in = match fate {
            Fate::Unavailable { after } => {
                tokio::time::sleep(after.min(deadline.remaining())).await;
                return Err(unavailable("503 before applying"));
            }
            Fate::Served { apply_in, .. }
            | Fate::AppliedThenUnavailable { apply_in }
            | Fate::AppliedThenHang { apply_in } => apply_in,
        };
        // The provider's side goes on whatever becomes of the caller.
        let (applied, outcome) = tokio::sync::oneshot::channel();
        let ledger = self.ledger.clone();
        let sent = movement.clone();
        tokio::spawn(async move {
            tokio::time::sleep(apply_in).await;
            let _caller_may_be_gone = applied.send(ledger.apply(kind, &sent));
        });
        let answer = async {
            let outcome = outcome.await;
            match fate {
                Fate::Served { answer_in, .. } => tokio::time::sleep(answer_in).await,
                Fate::AppliedThenHang { .. } => std::future::pending::<()>().await,
                _ => {}
            }
            outcome
        };
        match tokio::time::timeout(deadline.remaining(), answer).await {
            Err(_) | Ok(Err(_)) => Err(ProviderError::OutcomeUnknown("no answer before the deadline".into())),
            Ok(Ok(_)) if matches!(fate, Fate::AppliedThenUnavailable { .. }) => Err(unavailable("503 after applying")),
            Ok(Ok(applied)) => applied.map(|(transaction, _replayed)| transaction).map_err(refusal),
        }
    }

    async fn transaction_by_reference(
        &self,
        reference: &ProviderReference,
        deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        self.read(deadline, || self.ledger.transaction(reference)).await
    }
}
