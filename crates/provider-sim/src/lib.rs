//! A simulator of the points provider (provider-api.md): every endpoint, the
//! sandbox extensions included, over an in-memory ledger, with the latency,
//! rate limit and faults of a real provider on a bad day.
//!
//! `start` serves it in-process on a listener, for tests and the server's
//! embedded default; the `pointshare-provider-sim` binary serves it from the
//! command line. Requests wait on timers, not threads, so thousands of slow
//! calls in flight cost memory, not cores.
//!
//! Depends on the domain and the provider's contract (`pointshare-provider-http::contract`) only.

mod api;
mod conditions;
mod error;
mod faults;
mod ledger;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultPlan, Operation, RandomFaults};
pub use ledger::{Ledger, LedgerError, LedgerSummary};
use pointshare_domain::ports::SystemClock;
use pointshare_domain::{HolderRef, ProviderAccount};

/// How the simulated provider behaves. `Default` is a perfect provider: no
/// latency, no faults, no rate limit, no demo accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The bearer key every request must carry.
    pub api_key: String,
    /// Mean latency added to every call.
    pub latency: Duration,
    /// Each call's latency is drawn uniformly within `latency ± latency_jitter`.
    pub latency_jitter: Duration,
    /// Fraction of calls answered 503 without applying anything.
    pub error_rate: f64,
    /// Fraction of calls applied and then held unanswered for `hang`.
    pub timeout_rate: f64,
    /// How long a "timed out" call is held before it is answered 504.
    pub hang: Duration,
    /// Requests per second served before answering 429 with `Retry-After`.
    pub rate_limit: Option<NonZeroU32>,
    /// Seeds the fault and latency draws, so a run can be repeated.
    pub seed: Option<u64>,
    /// Demo accounts opened at start, for holders `demo-1` ..= `demo-N`.
    pub accounts: u32,
    /// The balance each demo account starts with.
    pub initial_balance: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            api_key: "sandbox-key".into(),
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            error_rate: 0.0,
            timeout_rate: 0.0,
            hang: Duration::from_secs(30),
            rate_limit: None,
            seed: None,
            accounts: 0,
            initial_balance: 0,
        }
    }
}

impl SimConfig {
    /// Rejects settings no provider could have, naming the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, rate) in [("error_rate", self.error_rate), ("timeout_rate", self.timeout_rate)] {
            anyhow::ensure!((0.0..=1.0).contains(&rate), "{name} must be a fraction between 0 and 1, not {rate}");
        }
        anyhow::ensure!(
            self.error_rate + self.timeout_rate <= 1.0,
            "error_rate + timeout_rate must not exceed 1 (they are shares of the same calls)"
        );
        anyhow::ensure!(!self.api_key.is_empty(), "api_key must not be empty");
        anyhow::ensure!(
            self.initial_balance <= pointshare_domain::Points::MAX.get(),
            "initial_balance must be at most {}",
            pointshare_domain::Points::MAX
        );
        Ok(())
    }
}

/// A simulator serving in the background until `shutdown`.
#[derive(Debug)]
pub struct RunningSim {
    addr: SocketAddr,
    ledger: Arc<Ledger>,
    faults: Arc<FaultPlan>,
    demo_accounts: Vec<ProviderAccount>,
    seed: u64,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

/// Starts serving on `listener` with `config`; returns once it accepts calls.
pub async fn start(listener: TcpListener, config: SimConfig) -> anyhow::Result<RunningSim> {
    config.validate()?;
    let addr = listener.local_addr().context("reading the simulator's listening address")?;
    let seed = config.seed.unwrap_or_else(rand::random);
    let ledger = Arc::new(Ledger::new(Arc::new(SystemClock)));
    let demo_accounts = (1..=config.accounts)
        .map(|n| {
            let holder = HolderRef::parse(format!("demo-{n}")).expect("demo-<n> is a valid holder_ref");
            ledger.open_account(&holder, config.initial_balance).0
        })
        .collect();
    let faults = Arc::new(FaultPlan::default());
    if config.error_rate > 0.0 || config.timeout_rate > 0.0 {
        faults.randomize(
            seed,
            RandomFaults {
                transient: config.error_rate,
                apply_then_timeout: config.timeout_rate,
                timeout_without_apply: 0.0,
                max_delay: Duration::ZERO,
            },
        );
    }
    let (stop, stopped) = watch::channel(false);
    let conditions = conditions::Conditions::new(&config, seed, Arc::clone(&faults), stopped.clone());
    let router = api::router(Arc::clone(&ledger), conditions, config.api_key.clone());
    let mut shutdown = stopped;
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(RunningSim { addr, ledger, faults, demo_accounts, seed, stop, server })
}

impl RunningSim {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, the base URL provider clients are configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The ledger behind the API, for tests that check or arrange balances.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// Faults to script for the next calls, on top of the configured rates.
    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    /// The accounts opened at start, `demo-1` first.
    pub fn demo_accounts(&self) -> &[ProviderAccount] {
        &self.demo_accounts
    }

    /// The seed fault and latency draws come from; pass it back to repeat a run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Stops accepting, answers calls held by a simulated timeout at once,
    /// and waits for in-flight calls to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.server.await.context("the simulator's server task failed")?.context("serving the simulator")
    }
}
