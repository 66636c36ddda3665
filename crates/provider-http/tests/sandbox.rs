//! The conformance kit against a live implementation of provider-api.md
//! named by URL: a vendor's sandbox, or any server claiming the contract.
//!
//!     POINTSHARE_SANDBOX_PROVIDER_URL=https://sandbox.example.com \
//!     POINTSHARE_SANDBOX_PROVIDER_API_KEY=... \
//!     cargo test -p pointshare-provider-http --test sandbox
//!
//! Without the two settings every case fails, saying so: a kit that skipped
//! would pass where nothing was checked. Funding goes through the port (a
//! credit); making an account inactive uses provider-api.md's sandbox
//! extension (`PATCH /v1/accounts/{id}`). CI runs it against an independent
//! implementation (scripts/lib/provider_sandbox.py, started by with-servers).

use std::sync::Arc;

use async_trait::async_trait;
use pointshare_domain::ports::PointsProvider;
use pointshare_domain::{AccountStatus, ProviderAccountId};
use pointshare_provider_http::contract::StatusName;
use pointshare_provider_http::{HttpProvider, HttpProviderSettings};
use pointshare_testkit::contract::provider_kit::Sandbox;

struct LiveSandbox {
    http: HttpProvider,
    url: String,
    api_key: String,
    client: reqwest::Client,
}

fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is unset: name the sandbox to test (POINTSHARE_SANDBOX_PROVIDER_URL and POINTSHARE_SANDBOX_PROVIDER_API_KEY), or run through scripts/with-servers, which starts one"
        )
    })
}

async fn sandbox() -> LiveSandbox {
    let (url, api_key) = (setting("POINTSHARE_SANDBOX_PROVIDER_URL"), setting("POINTSHARE_SANDBOX_PROVIDER_API_KEY"));
    let settings = HttpProviderSettings::new(url.parse().expect("POINTSHARE_SANDBOX_PROVIDER_URL is a URL"), &api_key);
    let http = HttpProvider::new(settings).expect("valid settings");
    LiveSandbox { http, url: url.trim_end_matches('/').to_owned(), api_key, client: reqwest::Client::new() }
}

#[async_trait]
impl Sandbox for LiveSandbox {
    fn provider(&self) -> Arc<dyn PointsProvider> {
        Arc::new(self.http.clone())
    }

    async fn set_status(&self, account: &ProviderAccountId, status: AccountStatus) {
        let answer = self
            .client
            .patch(format!("{}/v1/accounts/{account}", self.url))
            .bearer_auth(&self.api_key)
            .json(&serde_json::json!({"status": StatusName::from(status)}))
            .send()
            .await
            .expect("the sandbox answers");
        assert!(answer.status().is_success(), "the sandbox set {account} {status:?}: {}", answer.status());
    }
}

pointshare_testkit::provider_kit!(sandbox());
