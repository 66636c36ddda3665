//! Which adapter serves each port, chosen from the settings, and the domain
//! services built on them. A part with no URL configured is served in this
//! process (in-memory store and cache, a provider simulator, mail to the
//! log): on its own only
//! in the fully embedded default, by name otherwise (the settings see to
//! that). The log, `/readyz` and `pointshare_backend_info` say which backend
//! serves what.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pointshare_cache_redis::{RedisCache, RedisEvents};
use pointshare_domain::ports::{
    AccountTokens, AuditLog, BalanceCache, DailyTotals, MailOutbox, Mailer, MemberDirectory, MemberEvents,
    MemberRepository, RateLimiter, SessionRepository, SystemClock, TransferRepository, TransferStore,
};
use pointshare_domain::services::{
    Fencing, Followups, MailSettings, Policy, Ports, RecoverySettings, RequestLease, SagaSettings, Services,
    SessionPolicy,
};
use pointshare_embedded::{
    InMemoryAccountTokens, InMemoryAuditLog, InMemoryBalanceCache, InMemoryDailyTotals, InMemoryEvents,
    InMemoryMembers, InMemoryOutbox, InMemoryRateLimiter, InMemorySessions, InMemoryTransfers, LogMailer,
};
use pointshare_mail_smtp::SmtpMailer;
use pointshare_provider_http::{BreakerState, HttpProvider};
use pointshare_store_mongo::{CommandObserver, MongoStore, PrepareError};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::auth::{ACCESS_FRESHNESS, Access, Passwords, Tokens};
use crate::client_address::ClientAddresses;
use crate::settings::{AuthSettings, Settings};
use crate::streams::StreamSlots;
use crate::telemetry::{MeteredCache, MeteredLimiter};

/// Everything a request handler may use.
#[derive(Debug)]
pub struct AppState {
    pub settings: Settings,
    /// The domain's services, as the domain wires them.
    pub services: Services,
    /// Drives 202s' transfers on; stopped at shutdown.
    pub followups: Followups,
    pub streams: StreamSlots,
    /// Cancelled when a stop signal arrives: open event streams end, and the
    /// recovery worker starts no further pass.
    pub stopping: CancellationToken,
    pub provider: HttpProvider,
    pub backends: Backends,
    pub tokens: Tokens,
    pub access: Access,
    /// Who the client of a request is, for per-address limits.
    pub clients: ClientAddresses,
}

/// What serves each port, for the start-up log and `/readyz`.
#[derive(Debug, Clone)]
pub struct Backends {
    pub store: StoreBackend,
    pub cache: CacheBackend,
    pub provider: String,
    pub mail: MailBackend,
}

#[derive(Debug, Clone)]
pub enum StoreBackend {
    InMemory,
    Mongo(MongoStore),
}

#[derive(Debug, Clone)]
pub enum CacheBackend {
    InMemory,
    Redis(RedisCache),
}

impl StoreBackend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::InMemory => "memory",
            Self::Mongo(_) => "mongodb",
        }
    }

    pub async fn check(&self) -> anyhow::Result<()> {
        match self {
            Self::InMemory => Ok(()),
            Self::Mongo(store) if !store.is_prepared() => {
                anyhow::bail!(
                    "MongoDB has not been reached since start, or its schema is behind this binary's (see the log)"
                )
            }
            Self::Mongo(store) => store.ping().await,
        }
    }

    /// Whether the store is ready to be written to at start (the bootstrap admin).
    pub fn is_prepared(&self) -> bool {
        match self {
            Self::InMemory => true,
            Self::Mongo(store) => store.is_prepared(),
        }
    }

    /// Tries to prepare the store until it is, waiting longer after each
    /// failure (1 s doubling to 30 s): until it answers, and until
    /// `pointshare migrate` has brought it to this binary's schema. Gives up
    /// only on a store this binary must not serve (`PrepareError::TooNew`).
    pub async fn prepare_until_ready(&self) -> Result<(), PrepareError> {
        let Self::Mongo(store) = self else { return Ok(()) };
        let mut wait = Duration::from_secs(1);
        while !store.is_prepared() {
            tokio::time::sleep(wait).await;
            match store.prepare().await {
                Ok(()) => tracing::info!("MongoDB reached, at this binary's schema"),
                Err(error @ PrepareError::TooNew { .. }) => return Err(error),
                Err(error) => {
                    tracing::warn!(error = format!("{:#}", anyhow::Error::from(error)), retry_in = ?wait * 2, "the store cannot be served yet")
                }
            }
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        Ok(())
    }
}

impl CacheBackend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::InMemory => "memory",
            Self::Redis(_) => "redis",
        }
    }

    pub async fn check(&self) -> anyhow::Result<()> {
        match self {
            Self::InMemory => Ok(()),
            Self::Redis(cache) => cache.ping().await,
        }
    }
}

/// The store's repositories, whichever backend holds them.
pub struct Repositories {
    pub members: Arc<dyn MemberRepository>,
    pub directory: Arc<dyn MemberDirectory>,
    pub transfers: Arc<dyn TransferRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub tokens: Arc<dyn AccountTokens>,
    pub totals: Arc<dyn DailyTotals>,
    pub audit: Arc<dyn AuditLog>,
    pub outbox: Arc<dyn MailOutbox>,
    pub backend: StoreBackend,
}

/// Whether the backends must answer at once (a command an operator runs,
/// which should say so and stop) or may come later (a serving replica, which
/// waits unready rather than crash-loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Now,
    WhenTheyAnswer,
}

pub async fn store(settings: &Settings, reach: Reach) -> anyhow::Result<Repositories> {
    let Some(mongo) = &settings.store else {
        let members = Arc::new(InMemoryMembers::default());
        return Ok(Repositories {
            members: members.clone(),
            directory: members,
            transfers: Arc::new(InMemoryTransfers::default()),
            sessions: Arc::new(InMemorySessions::default()),
            tokens: Arc::new(InMemoryAccountTokens::default()),
            totals: Arc::new(InMemoryDailyTotals::default()),
            audit: Arc::new(InMemoryAuditLog::default()),
            outbox: Arc::new(InMemoryOutbox::default()),
            backend: StoreBackend::InMemory,
        });
    };
    let counted = mongo.count_commands.then(|| Arc::new(crate::telemetry::store_command) as CommandObserver);
    let store = MongoStore::open(mongo, counted).await.context("POINTSHARE_MONGODB_URI")?;
    match (store.prepare().await, reach) {
        (Ok(()), _) => {}
        (Err(error @ PrepareError::TooNew { .. }), _) | (Err(error), Reach::Now) => {
            return Err(error).context("POINTSHARE_MONGODB_URI");
        }
        // Unready until it answers at this binary's schema (`prepare_until_ready` goes on trying).
        (Err(error), Reach::WhenTheyAnswer) => {
            let error = anyhow::Error::from(error);
            tracing::warn!(
                error = format!("{error:#}"),
                "the store cannot be served yet; serving unready until it can"
            );
        }
    }
    Ok(Repositories {
        members: store.members.clone(),
        directory: store.members.clone(),
        transfers: store.transfers.clone(),
        sessions: store.sessions.clone(),
        tokens: store.tokens.clone(),
        totals: store.totals.clone(),
        audit: store.audit.clone(),
        outbox: store.outbox.clone(),
        backend: StoreBackend::Mongo(store),
    })
}

/// Mail through the SMTP server when its URL is set; otherwise each mail's
/// link written to the log.
#[derive(Debug, Clone)]
pub enum MailBackend {
    Log,
    Smtp,
}

impl MailBackend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Smtp => "smtp",
        }
    }
}

fn mailer(settings: &Settings) -> anyhow::Result<(Arc<dyn Mailer>, MailBackend)> {
    let links = settings.mail.links();
    match settings.mail.smtp() {
        Some(smtp) => {
            let mailer = Arc::new(SmtpMailer::new(&smtp, &links).context("POINTSHARE_SMTP_URL")?);
            Ok((mailer, MailBackend::Smtp))
        }
        None => Ok((Arc::new(LogMailer::new(links)), MailBackend::Log)),
    }
}

/// What Redis serves, or memory in its place.
struct Caches {
    balances: Arc<dyn BalanceCache>,
    limiter: Arc<dyn RateLimiter>,
    events: Arc<dyn MemberEvents>,
    backend: CacheBackend,
}

async fn cache(settings: &Settings, reach: Reach) -> anyhow::Result<Caches> {
    let Some(redis) = &settings.cache else {
        return Ok(Caches {
            balances: Arc::new(InMemoryBalanceCache::default()),
            limiter: Arc::new(InMemoryRateLimiter::default()),
            events: Arc::new(InMemoryEvents::new(settings.events.retention)),
            backend: CacheBackend::InMemory,
        });
    };
    let cache = RedisCache::open(redis.clone()).context("POINTSHARE_REDIS_URL")?;
    match (cache.ping().await, reach) {
        (Ok(()), _) => {}
        (Err(error), Reach::Now) => return Err(error).context("POINTSHARE_REDIS_URL"),
        // As with the store: the replica says so in its readiness until Redis answers.
        (Err(error), Reach::WhenTheyAnswer) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "Redis cannot be reached yet; serving as readiness says until it can"
            );
        }
    }
    let events = RedisEvents::start(cache.clone(), settings.events.retention).await.context("POINTSHARE_REDIS_URL")?;
    let shared = Arc::new(cache.clone());
    Ok(Caches {
        balances: shared.clone(),
        limiter: shared,
        events: Arc::new(events),
        backend: CacheBackend::Redis(cache),
    })
}

impl AppState {
    pub fn provider_breaker(&self) -> BreakerState {
        self.provider.breaker_state()
    }
}

/// The parts that live as long as the server, beside the state.
#[derive(Debug)]
pub struct Wired {
    pub state: Arc<AppState>,
    /// The in-process simulator of the embedded default, stopped at shutdown.
    pub simulator: Option<Simulator>,
}

pub async fn wire(settings: Settings, reach: Reach) -> anyhow::Result<Wired> {
    let Repositories { members, directory, transfers, sessions, tokens, totals, audit, outbox, backend: store } =
        store(&settings, reach).await?;
    let (mailer, mail_backend) = mailer(&settings)?;
    let Caches { balances: cache, limiter, events, backend: cache_backend } = cache(&settings, reach).await?;
    let (provider, simulator) = provider(&settings).await?;
    let backends = Backends {
        store,
        cache: cache_backend,
        provider: simulator.as_ref().map_or_else(
            || {
                let url = settings.provider.url.as_ref().map(without_credentials).unwrap_or_default();
                format!("HTTP provider at {url}")
            },
            |sim| format!("in-process simulator at {}", sim.base_url()),
        ),
        mail: mail_backend,
    };
    backends.announce(simulator.is_some());

    let followups = Followups::new(settings.saga.followup_limit);
    let ports = Ports {
        members,
        directory,
        transfers: TransferStore::new(transfers),
        sessions,
        tokens,
        totals,
        audit,
        outbox,
        mailer,
        cache: Arc::new(MeteredCache(cache)),
        limiter: Arc::new(MeteredLimiter(limiter)),
        events,
        provider: Arc::new(provider.clone()),
        passwords: Arc::new(Passwords::new(settings.auth.password_hash_queue)?),
        clock: Arc::new(SystemClock),
    };
    let services = Services::new(ports, policy(&settings, &followups)?);
    let state = Arc::new(AppState {
        access: Access::new(services.members.clone(), services.sessions.clone(), ACCESS_FRESHNESS),
        tokens: signer(&settings.auth),
        clients: settings.http.clients(),
        settings,
        services,
        followups,
        streams: StreamSlots::default(),
        stopping: CancellationToken::new(),
        provider,
        backends,
    });
    Ok(Wired { state, simulator })
}

impl Backends {
    /// What serves each port, in the start-up log and `pointshare_backend_info`.
    fn announce(&self, simulated_provider: bool) {
        tracing::info!(
            store = self.store.name(),
            cache = self.cache.name(),
            provider = %self.provider,
            mail = self.mail.name(),
            "backends"
        );
        let provider = if simulated_provider { "simulator" } else { "http" };
        crate::telemetry::backends(&[
            ("store", self.store.name()),
            ("cache", self.cache.name()),
            ("provider", provider),
            ("mail", self.mail.name()),
        ]);
    }
}

/// The domain's policy, from the settings: the saga's, the limits, leases
/// for requests, recovery and mail named for this replica.
fn policy(settings: &Settings, followups: &Followups) -> anyhow::Result<Policy> {
    // Names this process in lease owners, so operators can tell replicas apart in the store.
    let replica = format!("pointshare-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    Ok(Policy {
        saga: SagaSettings {
            balance_ttl: settings.saga.balance_ttl,
            clock_skew: settings.saga.clock_skew,
            in_flight_window: settings.provider.in_flight_window,
            fencing: Fencing::On,
        },
        limits: settings.transfer_limits(),
        approvals: settings.approvals.policy(),
        throttle: settings.rate_limits,
        // The creating request owns its transfer until well past its
        // deadline; after that, recovery may take over an unfinished one.
        request: RequestLease {
            replica: replica.clone(),
            lease_for: settings.http.request_deadline * 2,
            followups: followups.clone(),
        },
        recovery: RecoverySettings {
            replica: replica.clone(),
            batch: settings.recovery.batch,
            lease_for: settings.recovery.lease,
            // A pass must finish its transfers while it still holds them: past
            // the lease another replica claims them and both drive in vain.
            step_budget: settings.recovery.lease / 2,
            max_attempts: settings.recovery.max_attempts,
            ..RecoverySettings::default()
        },
        mail: MailSettings {
            replica,
            max_attempts: settings.mail.max_attempts,
            // A claim outlives the longest send, so no two replicas send one mail together.
            lease_for: settings.mail.timeout * 3,
            ..MailSettings::default()
        },
        sessions: SessionPolicy { lifetime: settings.auth.refresh_token_ttl, handover: settings.auth.refresh_handover },
        house_account: settings.accounts.house().context("accounts.house_handle")?,
        handle_hold: settings.accounts.handle_hold,
        // Reconciliation is an operator's command, not a member's request:
        // it waits out a provider's bad minute rather than fail the report.
        reconcile_patience: std::time::Duration::from_secs(60),
        publish_events: settings.events.publish,
    })
}

/// The access token signer, with the previous secret still accepted while a
/// rotation runs.
fn signer(auth: &AuthSettings) -> Tokens {
    let secret = match &auth.jwt_secret {
        Some(secret) => secret.expose_secret().as_bytes().to_vec(),
        // Settings refuse this unless everything is embedded in this process.
        None => {
            tracing::warn!("POINTSHARE_JWT_SECRET is unset: signing tokens with a random secret for this process only");
            rand::random::<[u8; 32]>().to_vec()
        }
    };
    Tokens::new(
        &secret,
        auth.jwt_previous_secret.as_ref().map(|secret| secret.expose_secret().as_bytes()),
        auth.token_ttl,
    )
}

/// `url` without the `user:password@` it may carry: what the log and
/// `/readyz` may show of where the provider is.
fn without_credentials(url: &url::Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        // Only URLs that cannot have credentials refuse these, and those have none.
        let _ = shown.set_username("***");
        let _ = shown.set_password(None);
    }
    shown.to_string()
}

/// The real provider when configured; otherwise a simulator in this process,
/// reached over loopback HTTP so the same adapter serves both.
async fn provider(settings: &Settings) -> anyhow::Result<(HttpProvider, Option<Simulator>)> {
    let (adapter, simulator) = match settings.provider.configured()? {
        Some(adapter) => (adapter, None),
        None => {
            let (url, key, sim) = simulator(settings).await?;
            (settings.provider.adapter(url, key.into()), Some(sim))
        }
    };
    let provider = HttpProvider::new(adapter).context("the provider adapter")?;
    Ok((provider, simulator))
}

/// The provider simulator of the embedded default (cargo feature `simulator`).
#[cfg(feature = "simulator")]
pub type Simulator = pointshare_provider_sim::RunningSim;

#[cfg(feature = "simulator")]
async fn simulator(settings: &Settings) -> anyhow::Result<(url::Url, String, Simulator)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the embedded provider")?;
    let config = pointshare_provider_sim::SimConfig {
        api_key: format!("embedded-{}", uuid::Uuid::new_v4().simple()),
        latency: settings.embedded.provider_latency,
        ..pointshare_provider_sim::SimConfig::default()
    };
    let key = config.api_key.clone();
    let sim = pointshare_provider_sim::start(listener, config).await?;
    Ok((sim.base_url().parse()?, key, sim))
}

/// A build without the embedded default has no simulator to run.
#[cfg(not(feature = "simulator"))]
#[derive(Debug)]
pub enum Simulator {}

#[cfg(not(feature = "simulator"))]
impl Simulator {
    pub fn base_url(&self) -> String {
        match *self {}
    }

    pub async fn shutdown(self) -> anyhow::Result<()> {
        match self {}
    }
}

#[cfg(not(feature = "simulator"))]
async fn simulator(_: &Settings) -> anyhow::Result<(url::Url, String, Simulator)> {
    anyhow::bail!(
        "POINTSHARE_PROVIDER_URL and POINTSHARE_PROVIDER_API_KEY are required: this build has no embedded provider (cargo feature `simulator`)"
    )
}
