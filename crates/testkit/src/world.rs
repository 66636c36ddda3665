//! `World`: every service wired to the in-memory fakes, for tests that read
//! like a member's actions ("alice shares 30 with bob").

use std::sync::Arc;
use std::time::Duration;

use pointshare_domain::ports::{Clock, Deadline, Movement, TransferStore};
use pointshare_domain::services::{
    AccountService, ApprovalPolicy, AuditService, BalanceService, CorrectionService, Followups, HANDLE_HOLD,
    MailSettings, MemberService, OperatorService, Policy, Ports, RecoveryService, RecoverySettings, RequestLease,
    ReviewService, SagaDriver, SagaSettings, Services, SessionPolicy, SessionService, SignupCommand, Throttle,
    ThrottlePolicy, TransferLimits, TransferService,
};
use pointshare_domain::{DisplayName, Email, Handle, Member, MovementKind, Password, Points, ProviderReference};

use pointshare_embedded::{
    InMemoryAccountTokens, InMemoryDailyTotals, InMemoryEvents, InMemoryMembers, InMemoryOutbox, InMemorySessions,
    InMemoryTransfers, LogMailer,
};

use crate::{FakePasswords, FakeProvider, ManualClock, OutageAuditLog, OutageCache};

#[derive(Debug, Clone)]
pub struct WorldSettings {
    pub limits: TransferLimits,
    pub approvals: ApprovalPolicy,
    pub throttle: ThrottlePolicy,
    /// How long a new transfer stays leased to the request that created it.
    pub lease_for: Duration,
    pub saga: SagaSettings,
    pub recovery: RecoverySettings,
    pub sessions: SessionPolicy,
    /// The member who receives what a member closing their account forfeits.
    pub house_account: Option<Handle>,
    /// How long a closed account's handle is held back from new members.
    pub handle_hold: Duration,
    /// How many transfers may be driven on after their request answered;
    /// none by default, so a share's answer is all its request did.
    pub followups: usize,
}

impl Default for WorldSettings {
    fn default() -> Self {
        WorldSettings {
            limits: TransferLimits::default(),
            approvals: ApprovalPolicy::default(),
            throttle: ThrottlePolicy::default(),
            lease_for: Duration::from_secs(30),
            saga: SagaSettings::default(),
            recovery: RecoverySettings::default(),
            sessions: SessionPolicy::default(),
            house_account: None,
            handle_hold: HANDLE_HOLD,
            followups: 0,
        }
    }
}

#[derive(Debug)]
pub struct World {
    pub clock: Arc<ManualClock>,
    pub provider: Arc<FakeProvider>,
    pub members: Arc<InMemoryMembers>,
    pub transfers: Arc<InMemoryTransfers>,
    pub totals: Arc<InMemoryDailyTotals>,
    pub sessions: Arc<InMemorySessions>,
    /// The balance cache and the rate limiter, which fail together.
    pub cache: Arc<OutageCache>,
    pub passwords: Arc<FakePasswords>,
    /// What members were told; every service records through `AnnouncedTransfers`.
    pub events: Arc<InMemoryEvents>,
    pub followups: Followups,
    pub saga: Arc<SagaDriver>,
    pub member_service: Arc<MemberService>,
    pub transfer_service: Arc<TransferService>,
    pub corrections: Arc<CorrectionService>,
    pub balance_service: Arc<BalanceService>,
    pub session_service: Arc<SessionService>,
    pub accounts: Arc<AccountService>,
    pub recovery: Arc<RecoveryService>,
    pub review: Arc<ReviewService>,
    pub throttle: Arc<Throttle>,
    /// The mail the services queued, as the outbox holds it.
    pub outbox: Arc<InMemoryOutbox>,
    /// The audit log, which a test may take down.
    pub audit_log: Arc<OutageAuditLog>,
    pub audit: Arc<AuditService>,
    pub operators: Arc<OperatorService>,
}

impl Default for World {
    fn default() -> Self {
        World::new(WorldSettings::default())
    }
}

impl World {
    pub fn new(settings: WorldSettings) -> Self {
        let clock = Arc::new(ManualClock::default());
        let provider = Arc::new(FakeProvider::new(clock.clone()));
        let members = Arc::new(InMemoryMembers::default());
        let transfers = Arc::new(InMemoryTransfers::default());
        let cache = Arc::new(OutageCache::default());
        let totals = Arc::new(InMemoryDailyTotals::default());
        let events = Arc::new(InMemoryEvents::new(Duration::from_secs(3600)));
        let sessions = Arc::new(InMemorySessions::default());
        let audit = Arc::new(OutageAuditLog::default());
        let outbox = Arc::new(InMemoryOutbox::default());
        let passwords = Arc::new(FakePasswords::default());
        let followups = Followups::new(settings.followups);
        let ports = Ports {
            members: members.clone(),
            directory: members.clone(),
            transfers: TransferStore::new(transfers.clone()),
            sessions: sessions.clone(),
            tokens: Arc::new(InMemoryAccountTokens::default()),
            totals: totals.clone(),
            audit: audit.clone(),
            outbox: outbox.clone(),
            mailer: Arc::new(LogMailer::new("https://app.pointshare.test")),
            cache: cache.clone(),
            limiter: cache.clone(),
            events: events.clone(),
            provider: provider.clone(),
            passwords: passwords.clone(),
            clock: clock.clone(),
        };
        let policy = Policy {
            saga: settings.saga,
            limits: settings.limits,
            approvals: settings.approvals,
            throttle: settings.throttle,
            request: RequestLease {
                replica: "test".into(),
                lease_for: settings.lease_for,
                followups: followups.clone(),
            },
            recovery: settings.recovery,
            mail: MailSettings::default(),
            sessions: settings.sessions,
            house_account: settings.house_account,
            handle_hold: settings.handle_hold,
            reconcile_patience: Duration::from_secs(5),
            publish_events: true,
        };
        let services = Services::new(ports, policy);
        World {
            review: services.review,
            clock,
            provider,
            members,
            transfers,
            totals,
            sessions,
            cache,
            passwords,
            events,
            followups,
            saga: services.saga,
            member_service: services.members,
            transfer_service: services.transfers,
            corrections: services.corrections,
            balance_service: services.balances,
            session_service: services.sessions,
            accounts: services.accounts,
            recovery: services.recovery,
            throttle: services.throttle,
            audit_log: audit,
            outbox,
            audit: services.audit,
            operators: services.operators,
        }
    }

    /// Every member's password in `signup_command`.
    pub const PASSWORD: &str = "correct horse battery";

    /// A signup command for `handle` (email `<handle>@example.com`).
    pub fn signup_command(handle: &str) -> SignupCommand {
        SignupCommand {
            email: Email::parse(format!("{handle}@example.com")).expect("valid email"),
            handle: Handle::parse(handle).expect("valid handle"),
            display_name: DisplayName::parse(handle).expect("valid name"),
            password: Password::parse(Self::PASSWORD).expect("a valid password"),
        }
    }

    /// Signs `handle` up and credits `balance` points to the new account at
    /// the provider, as a funding step outside pointshare.
    pub async fn member(&self, handle: &str, balance: u64) -> Member {
        let member = self
            .member_service
            .signup(Self::signup_command(handle), Deadline::after(Duration::from_secs(60)))
            .await
            .expect("signup succeeds");
        if balance > 0 {
            let account = member.provider_account.clone().expect("signup opened an account");
            let funding = Movement {
                account,
                reference: ProviderReference::parse(format!("funding:{}", member.id)).expect("valid reference"),
                amount: Points::new(balance).expect("valid amount"),
                memo: None,
            };
            self.provider.ledger().apply(MovementKind::Credit, &funding).expect("funding applies");
        }
        member
    }

    /// The member's balance at the provider, bypassing cache and faults.
    pub fn balance(&self, member: &Member) -> u64 {
        self.provider.balance(member.provider_account.as_ref().expect("an account"))
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
