//! One simulated pointshare replica: its own clock (off by up to the allowed
//! skew), its own services over the shared store and provider, and a gate
//! that a stall closes. While the gate is shut every provider call and every
//! store call that records, leases or holds waits at its start, as in a
//! process paused between two awaits (a GC pause, SIGSTOP): after the lease
//! check, before the send.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use pointshare_domain::ports::{
    Clock, DailyTotals, Deadline, InsertTransferError, MemberRepository, Movement, PointsProvider, ProviderError,
    ReversalHolds, StoreError, TakeOverError, TransferLeases, TransferRecords, TransferRepository, TransferStore,
    Transition, TransitionError,
};
use pointshare_domain::services::{
    ApprovalPolicy, CorrectionService, Fencing, Followups, HANDLE_HOLD, MailSettings, Policy, Ports, RecoverySettings,
    RequestLease, SagaSettings, Services, SessionPolicy, ThrottlePolicy, TransferLimits, TransferService,
};
use pointshare_domain::{
    HolderRef, LeaseOwner, MovementKind, Points, ProviderAccount, ProviderAccountId, ProviderReference,
    ProviderTransaction, Transfer, TransferId,
};
use pointshare_embedded::{
    InMemoryAccountTokens, InMemoryAuditLog, InMemoryBalanceCache, InMemoryEvents, InMemoryOutbox, InMemoryRateLimiter,
    InMemorySessions, LogMailer,
};

/// Wall-clock time that follows the runtime's (paused, simulated) time, off
/// by a fixed amount: each replica's clock error.
#[derive(Debug)]
pub struct SimClock {
    start: Instant,
    at_start: DateTime<Utc>,
}

impl SimClock {
    pub fn new(at_start: DateTime<Utc>, error: TimeDelta) -> Self {
        SimClock { start: Instant::now(), at_start: at_start + error }
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.at_start + TimeDelta::from_std(self.start.elapsed()).unwrap_or(TimeDelta::MAX)
    }
}

/// Open while the replica runs, shut while it is stalled. A `Notify` wakes
/// its waiters in the order they came (tokio's `watch` spreads them over
/// randomly chosen shards, which would make a seed's replay differ).
#[derive(Debug, Clone)]
pub struct Gate(Arc<GateState>);

#[derive(Debug)]
struct GateState {
    open: AtomicBool,
    opened: Notify,
}

impl Gate {
    fn new() -> Self {
        Gate(Arc::new(GateState { open: AtomicBool::new(true), opened: Notify::new() }))
    }

    pub fn set_open(&self, open: bool) {
        self.0.open.store(open, Ordering::SeqCst);
        if open {
            self.0.opened.notify_waiters();
        }
    }

    async fn pass(&self) {
        loop {
            let opened = self.0.opened.notified();
            if self.0.open.load(Ordering::SeqCst) {
                return;
            }
            opened.await;
        }
    }
}

/// The shared parts every replica works on.
#[derive(Debug, Clone)]
pub struct Shared {
    pub members: Arc<dyn MemberRepository>,
    pub transfers: Arc<dyn TransferRepository>,
    pub totals: Arc<dyn DailyTotals>,
    pub provider: Arc<dyn PointsProvider>,
    pub limits: TransferLimits,
    pub approvals: ApprovalPolicy,
    pub saga: SagaSettings,
    pub recovery: RecoverySettings,
    pub request_deadline: Duration,
    pub recovery_interval: Duration,
}

/// A running replica: its services and every task it runs. A crash aborts
/// them all at whatever await each is parked on.
#[derive(Debug)]
pub struct Replica {
    pub transfers: Arc<TransferService>,
    pub corrections: Arc<CorrectionService>,
    pub gate: Gate,
    tasks: JoinSet<()>,
    followups: Followups,
}

/// Follow-ups one replica runs at once: few, so some 202s wait for recovery.
const FOLLOWUPS: usize = 4;

impl Replica {
    pub fn start(name: &str, shared: &Shared, at_start: DateTime<Utc>, clock_error: TimeDelta) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SimClock::new(at_start, clock_error));
        let gate = Gate::new();
        // A frozen replica stops before it records, leases or holds: reads
        // need no stall, as the write after a read waits and its read stays stale.
        let stalled = Arc::new(Stalling { inner: shared.transfers.clone(), gate: gate.clone() });
        let transfers = TransferStore {
            records: stalled.clone(),
            reads: shared.transfers.clone(),
            leases: stalled.clone(),
            holds: stalled,
        };
        let provider: Arc<dyn PointsProvider> =
            Arc::new(Stalling { inner: shared.provider.clone(), gate: gate.clone() });
        // Shares that answer 202 are driven on in the background, as in the
        // server; without fencing, the saga as it was before either.
        let followups = Followups::new(if shared.saga.fencing == Fencing::On { FOLLOWUPS } else { 0 });
        let ports = Ports {
            members: shared.members.clone(),
            // Admins' searches play no part in the saga either.
            directory: Arc::new(pointshare_embedded::InMemoryMembers::default()),
            transfers,
            // Sessions, limits, passwords and events play no part in the saga's invariants.
            sessions: Arc::new(InMemorySessions::default()),
            tokens: Arc::new(InMemoryAccountTokens::default()),
            totals: shared.totals.clone(),
            audit: Arc::new(InMemoryAuditLog::default()),
            outbox: Arc::new(InMemoryOutbox::default()),
            mailer: Arc::new(LogMailer::new("https://app.pointshare.test")),
            cache: Arc::new(InMemoryBalanceCache::default()),
            limiter: Arc::new(InMemoryRateLimiter::default()),
            passwords: Arc::new(pointshare_testkit::FakePasswords::default()),
            events: Arc::new(InMemoryEvents::new(Duration::from_secs(60))),
            provider,
            clock,
        };
        let policy = Policy {
            saga: shared.saga,
            limits: shared.limits,
            approvals: shared.approvals,
            throttle: ThrottlePolicy::default(),
            request: RequestLease {
                replica: name.into(),
                lease_for: shared.request_deadline * 2,
                followups: followups.clone(),
            },
            recovery: RecoverySettings { replica: name.into(), ..shared.recovery.clone() },
            mail: MailSettings::default(),
            sessions: SessionPolicy::default(),
            house_account: None,
            handle_hold: HANDLE_HOLD,
            reconcile_patience: Duration::from_secs(5),
            publish_events: true,
        };
        let Services { transfers: transfer_service, corrections, recovery, .. } = Services::new(ports, policy);
        let mut tasks = JoinSet::new();
        let interval = shared.recovery_interval;
        tasks.spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let _failures_are_retried_next_pass = recovery.run_once().await;
            }
        });
        Replica { transfers: transfer_service, corrections, gate, tasks, followups }
    }

    /// Runs `work` as one of this replica's tasks: a crash cuts it off.
    pub fn spawn(&mut self, work: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(work);
    }

    /// Stops everything at once, mid-step.
    pub fn crash(mut self) {
        self.tasks.abort_all();
        self.followups.abort();
    }
}

/// A port whose calls wait at the replica's gate before they start.
#[derive(Debug)]
struct Stalling<T: ?Sized> {
    inner: Arc<T>,
    gate: Gate,
}

#[async_trait]
impl TransferRecords for Stalling<dyn TransferRepository> {
    async fn insert(&self, transfer: &Transfer) -> Result<(), InsertTransferError> {
        self.gate.pass().await;
        self.inner.insert(transfer).await
    }

    async fn transition(&self, transition: &Transition) -> Result<Transfer, TransitionError> {
        self.gate.pass().await;
        self.inner.transition(transition).await
    }
}

#[async_trait]
impl TransferLeases for Stalling<dyn TransferRepository> {
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StoreError> {
        self.gate.pass().await;
        self.inner.claim_due(owner, now, until, limit).await
    }

    async fn take_over(
        &self,
        id: TransferId,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Transfer, TakeOverError> {
        self.gate.pass().await;
        self.inner.take_over(id, owner, now, until).await
    }
}

#[async_trait]
impl ReversalHolds for Stalling<dyn TransferRepository> {
    async fn reserve_reversal(&self, id: TransferId, amount: Points) -> Result<bool, StoreError> {
        self.gate.pass().await;
        self.inner.reserve_reversal(id, amount).await
    }

    async fn release_reversal(&self, id: TransferId, amount: Points) -> Result<(), StoreError> {
        self.gate.pass().await;
        self.inner.release_reversal(id, amount).await
    }
}

#[async_trait]
impl PointsProvider for Stalling<dyn PointsProvider> {
    async fn open_account(&self, holder: &HolderRef, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        self.gate.pass().await;
        self.inner.open_account(holder, deadline).await
    }

    async fn account(&self, id: &ProviderAccountId, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        self.gate.pass().await;
        self.inner.account(id, deadline).await
    }

    async fn apply(
        &self,
        kind: MovementKind,
        movement: &Movement,
        deadline: Deadline,
    ) -> Result<ProviderTransaction, ProviderError> {
        self.gate.pass().await;
        self.inner.apply(kind, movement, deadline).await
    }

    async fn transaction_by_reference(
        &self,
        reference: &ProviderReference,
        deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        self.gate.pass().await;
        self.inner.transaction_by_reference(reference, deadline).await
    }
}
