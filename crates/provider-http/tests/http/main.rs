//! `HttpProvider` against a real `pointshare-provider-sim` on a loopback port:
//! the conformance kit and the shared white-box contract, then the faults
//! only a wire has.

mod contract;
mod faults;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pointshare_domain::AccountStatus;
use pointshare_domain::ProviderAccountId;
use pointshare_domain::ports::PointsProvider;
use pointshare_provider_http::{HttpProvider, HttpProviderSettings};
use pointshare_provider_sim::{RunningSim, SimConfig};
use pointshare_testkit::contract::provider::{ProviderUnderTest, funded};
use pointshare_testkit::contract::provider_kit::Sandbox;
use pointshare_testkit::{FaultPlan, Ledger};

/// A simulator on a free loopback port and the adapter pointed at it.
#[derive(Debug)]
pub struct SimProvider {
    pub sim: RunningSim,
    pub http: HttpProvider,
}

#[async_trait]
impl Sandbox for SimProvider {
    fn provider(&self) -> Arc<dyn PointsProvider> {
        Arc::new(self.http.clone())
    }

    async fn funded_account(&self, points: u64) -> ProviderAccountId {
        funded(self, points)
    }

    async fn set_status(&self, account: &ProviderAccountId, status: AccountStatus) {
        self.sim.ledger().set_status(account, status).expect("the account exists");
    }
}

impl ProviderUnderTest for SimProvider {
    fn ledger(&self) -> &Ledger {
        self.sim.ledger()
    }

    fn faults(&self) -> &FaultPlan {
        self.sim.faults()
    }
}

/// Settings that keep fault tests quick: a call unanswered after 300 ms is
/// given up on (the simulator holds "timed out" calls far longer).
pub fn quick_settings(sim: &RunningSim) -> HttpProviderSettings {
    let mut settings = HttpProviderSettings::new(
        sim.base_url().parse().expect("the simulator's URL is valid"),
        SimConfig::default().api_key,
    );
    settings.calls.call_timeout = Duration::from_millis(300);
    settings.calls.retry.first_delay = Duration::from_millis(5);
    settings.calls.retry.max_delay = Duration::from_millis(50);
    settings
}

pub async fn start_sim(config: SimConfig) -> RunningSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free loopback port");
    pointshare_provider_sim::start(listener, config).await.expect("the simulator starts")
}

pub async fn sim_provider_with(config: SimConfig, tune: impl FnOnce(&mut HttpProviderSettings)) -> SimProvider {
    let sim = start_sim(config).await;
    let mut settings = quick_settings(&sim);
    tune(&mut settings);
    let http = HttpProvider::new(settings).expect("valid settings");
    SimProvider { sim, http }
}

pub async fn sim_provider() -> SimProvider {
    sim_provider_with(SimConfig::default(), |_| {}).await
}
