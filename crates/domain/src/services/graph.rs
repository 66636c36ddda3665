//! The service graph, built in one place from the ports and the policy: the
//! server's wiring, the test kit's `World` and the simulation's replicas all
//! call `Services::new`, so a service is wired to its ports the same way
//! everywhere. Every change to a transfer goes through `AnnouncedTransfers`
//! here (unless the policy turns events off), so no caller can forget to
//! tell members.

use std::sync::Arc;
use std::time::Duration;

use super::{
    AccountPorts, AccountService, AnnouncedTransfers, ApprovalPolicy, AuditService, BalanceService, CorrectionService,
    EventFeed, Leaving, MailService, MailSettings, MemberService, OperatorService, ReconcileService, RecoveryService,
    RecoverySettings, RequestLease, ReviewService, SagaDriver, SagaSettings, SessionPolicy, SessionService, Throttle,
    ThrottlePolicy, TransferLimits, TransferService,
};
use crate::model::Handle;
use crate::ports::{
    AccountTokens, AuditLog, BalanceCache, Clock, DailyTotals, MailOutbox, Mailer, MemberDirectory, MemberEvents,
    MemberRepository, PasswordHasher, PointsProvider, RateLimiter, SessionRepository, TransferStore,
};

/// What the services stand on: one adapter per port.
#[derive(Debug, Clone)]
pub struct Ports {
    pub members: Arc<dyn MemberRepository>,
    pub directory: Arc<dyn MemberDirectory>,
    pub transfers: TransferStore,
    pub sessions: Arc<dyn SessionRepository>,
    /// The one-use tokens mailed to members.
    pub tokens: Arc<dyn AccountTokens>,
    pub totals: Arc<dyn DailyTotals>,
    pub audit: Arc<dyn AuditLog>,
    pub outbox: Arc<dyn MailOutbox>,
    pub mailer: Arc<dyn Mailer>,
    pub cache: Arc<dyn BalanceCache>,
    pub limiter: Arc<dyn RateLimiter>,
    pub events: Arc<dyn MemberEvents>,
    pub provider: Arc<dyn PointsProvider>,
    pub passwords: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
}

/// How the services behave: limits, leases, timings.
#[derive(Debug, Clone)]
pub struct Policy {
    pub saga: SagaSettings,
    pub limits: TransferLimits,
    /// Which corrections wait for a second admin, and for how long.
    pub approvals: ApprovalPolicy,
    pub throttle: ThrottlePolicy,
    /// How a share's request holds the transfer it creates.
    pub request: RequestLease,
    pub recovery: RecoverySettings,
    /// How the outbox's mail is sent.
    pub mail: MailSettings,
    /// How long refresh tokens work, and hand over.
    pub sessions: SessionPolicy,
    /// The member who receives what a member closing their account forfeits.
    pub house_account: Option<Handle>,
    /// How long a closed account's handle is held back from new members.
    pub handle_hold: Duration,
    /// How long reconciliation waits out a provider's bad minute per lookup.
    pub reconcile_patience: Duration,
    /// Whether every change to a transfer is announced to its members. Off,
    /// members read their transfers and balance but no event tells them of
    /// a change: for a deployment with no live client, or to measure what
    /// announcing costs.
    pub publish_events: bool,
}

#[derive(Debug, Clone)]
pub struct Services {
    pub members: Arc<MemberService>,
    pub transfers: Arc<TransferService>,
    pub corrections: Arc<CorrectionService>,
    pub balances: Arc<BalanceService>,
    pub sessions: Arc<SessionService>,
    pub recovery: Arc<RecoveryService>,
    pub review: Arc<ReviewService>,
    pub reconcile: Arc<ReconcileService>,
    pub events: EventFeed,
    pub throttle: Arc<Throttle>,
    pub saga: Arc<SagaDriver>,
    pub audit: Arc<AuditService>,
    pub operators: Arc<OperatorService>,
    pub mail: Arc<MailService>,
    pub accounts: Arc<AccountService>,
}

impl Services {
    pub fn new(ports: Ports, policy: Policy) -> Self {
        let Ports {
            members,
            directory,
            transfers,
            sessions,
            tokens,
            totals,
            audit,
            outbox,
            mailer,
            cache,
            limiter,
            events,
            provider,
            passwords,
            clock,
        } = ports;
        let transfers = match policy.publish_events {
            true => TransferStore {
                records: Arc::new(AnnouncedTransfers::new(transfers.records, events.clone())),
                ..transfers
            },
            false => transfers,
        };
        let saga = Arc::new(SagaDriver::new(
            transfers.clone(),
            totals.clone(),
            provider.clone(),
            cache.clone(),
            clock.clone(),
            policy.saga,
        ));
        let member_service = Arc::new(MemberService::new(
            members.clone(),
            provider.clone(),
            passwords.clone(),
            clock.clone(),
            policy.handle_hold,
        ));
        let throttle = Arc::new(Throttle::new(limiter, policy.throttle));
        let mail = Arc::new(MailService::new(outbox, mailer, clock.clone(), policy.mail));
        let (account_sessions, account_passwords) = (sessions.clone(), passwords.clone());
        let sessions = Arc::new(SessionService::new(
            sessions,
            members.clone(),
            passwords,
            throttle.clone(),
            clock.clone(),
            policy.sessions,
        ));
        let audit = Arc::new(AuditService::new(audit, clock.clone()));
        let operators =
            Arc::new(OperatorService::new(members.clone(), directory, totals.clone(), audit.clone(), clock.clone()));
        let transfer_service = Arc::new(TransferService::new(
            members.clone(),
            transfers.clone(),
            totals.clone(),
            saga.clone(),
            audit.clone(),
            clock.clone(),
            policy.limits,
            policy.request,
        ));
        let balances = Arc::new(BalanceService::new(cache.clone(), provider.clone(), policy.saga.balance_ttl));
        let accounts = Arc::new(AccountService::new(
            AccountPorts { members: members.clone(), sessions: account_sessions, tokens, passwords: account_passwords },
            throttle.clone(),
            mail.clone(),
            Leaving { transfers: transfer_service.clone(), balances: balances.clone(), house: policy.house_account },
            clock.clone(),
        ));
        let corrections = Arc::new(CorrectionService::new(
            transfer_service.clone(),
            transfers.clone(),
            members,
            totals.clone(),
            audit.clone(),
            clock.clone(),
            policy.approvals,
        ));
        let review = Arc::new(ReviewService::new(
            transfers.clone(),
            totals,
            provider.clone(),
            cache.clone(),
            audit.clone(),
            clock.clone(),
            policy.recovery.lease_for,
        ));
        let reconcile =
            Arc::new(ReconcileService::new(transfers.reads.clone(), provider.clone(), policy.reconcile_patience));
        let recovery = Arc::new(RecoveryService::new(
            transfers,
            member_service.clone(),
            saga.clone(),
            corrections.clone(),
            clock.clone(),
            policy.recovery,
        ));
        Services {
            members: member_service,
            transfers: transfer_service,
            corrections,
            balances,
            sessions,
            recovery,
            review,
            reconcile,
            events: EventFeed::new(events),
            throttle,
            saga,
            audit,
            operators,
            mail,
            accounts,
        }
    }
}
