//! The calls a member and an admin make, over the pointshare REST API, as
//! the frontend makes them: JSON bodies, bearer tokens, `Idempotency-Key`.

use anyhow::{Context, bail};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// A member the load acts as.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub handle: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct Api {
    client: Client,
    base: String,
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
}

#[derive(Deserialize)]
struct Balance {
    balance: u64,
}

impl Api {
    pub fn new(client: Client, base: &str) -> Self {
        Api { client, base: base.trim_end_matches('/').to_owned() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `None` when the server refuses the credentials.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<Option<String>> {
        let response = self
            .client
            .post(self.url("/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .context("POST /v1/auth/login")?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        let token: Token = expect(response, "POST /v1/auth/login").await?.json().await?;
        Ok(Some(token.access_token))
    }

    /// Signs the member up. A 409 counts as done: an earlier attempt may have
    /// created the member before its answer was lost, and logging in next
    /// tells whether it is ours. A 503 means the member exists and the
    /// provider has not opened its account yet: the same signup again, after
    /// the answer's `Retry-After`, finishes it (the proxy never resends a
    /// signup itself).
    pub async fn signup(&self, email: &str, password: &str, handle: &str) -> anyhow::Result<()> {
        const ATTEMPTS: u32 = 10;
        let body = json!({"email": email, "password": password, "handle": handle, "display_name": handle});
        for attempt in 1..=ATTEMPTS {
            let response = self.client.post(self.url("/v1/auth/signup")).json(&body).send().await;
            let response = response.context("POST /v1/auth/signup")?;
            if response.status() == StatusCode::SERVICE_UNAVAILABLE && attempt < ATTEMPTS {
                let wait = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
                tokio::time::sleep(std::time::Duration::from_secs(wait.unwrap_or(1))).await;
                continue;
            }
            if response.status() != StatusCode::CONFLICT {
                expect(response, "POST /v1/auth/signup").await?;
            }
            break;
        }
        Ok(())
    }

    pub async fn balance(&self, token: &str) -> anyhow::Result<u64> {
        let response = self.view_balance(token).send().await.context("GET /v1/me/balance")?;
        let balance: Balance = expect(response, "GET /v1/me/balance").await?.json().await?;
        Ok(balance.balance)
    }

    pub async fn grant(&self, admin_token: &str, to_handle: &str, amount: u64, key: &str) -> anyhow::Result<()> {
        let response = self
            .client
            .post(self.url("/v1/admin/grants"))
            .bearer_auth(admin_token)
            .header("Idempotency-Key", key)
            .json(&json!({"to_handle": to_handle, "amount": amount, "reason": "load test funding"}))
            .send()
            .await
            .context("POST /v1/admin/grants")?;
        expect(response, "POST /v1/admin/grants").await?;
        Ok(())
    }

    pub fn view_balance(&self, token: &str) -> RequestBuilder {
        self.client.get(self.url("/v1/me/balance")).bearer_auth(token)
    }

    pub fn share(&self, token: &str, to_handle: &str, amount: u64, key: &str) -> RequestBuilder {
        self.client
            .post(self.url("/v1/transfers"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({"to_handle": to_handle, "amount": amount, "memo": "load test"}))
    }

    pub fn history(&self, token: &str) -> RequestBuilder {
        self.client.get(self.url("/v1/transfers?limit=20")).bearer_auth(token)
    }
}

async fn expect(response: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    bail!("{what} answered {status}: {body}")
}
