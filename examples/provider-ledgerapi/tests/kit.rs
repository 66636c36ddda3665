//! The provider conformance kit against `LedgerApiProvider` on its own
//! simulator, with 20 ms of latency so calls cut short by a deadline really
//! are cut short on the wire.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pointshare_domain::ports::PointsProvider;
use pointshare_domain::{AccountStatus, ProviderAccountId};
use pointshare_testkit::contract::provider_kit::Sandbox;
use provider_ledgerapi::sim::{self, RunningSim, SimConfig};
use provider_ledgerapi::{LedgerApiProvider, WalletState};

/// The simulator on a free loopback port and the adapter pointed at it;
/// accounts are funded through the port (the kit's default).
struct LedgerSandbox {
    sim: RunningSim,
    provider: Arc<LedgerApiProvider>,
    http: reqwest::Client,
}

#[async_trait]
impl Sandbox for LedgerSandbox {
    fn provider(&self) -> Arc<dyn PointsProvider> {
        self.provider.clone()
    }

    /// Through the sandbox's own control, as against a vendor's sandbox.
    async fn set_status(&self, account: &ProviderAccountId, status: AccountStatus) {
        let url = format!("{}/sandbox/wallets/{account}/state", self.sim.base_url());
        let body = serde_json::json!({ "state": WalletState::from(status) });
        let answer = self.http.post(url).json(&body).send().await.expect("the sandbox answers");
        assert_eq!(answer.status(), reqwest::StatusCode::OK, "the sandbox sets the wallet's state");
    }
}

async fn sandbox() -> LedgerSandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds a loopback port");
    let config = SimConfig { latency: Duration::from_millis(20), ..SimConfig::default() };
    let sim = sim::start(listener, config).await.expect("starts the simulator");
    let provider = Arc::new(LedgerApiProvider::new(sim.client_settings()).expect("valid settings"));
    LedgerSandbox { sim, provider, http: reqwest::Client::new() }
}

pointshare_testkit::provider_kit!(sandbox());
