//! The calls a member and an admin make, over the pointshare REST API, as
//! the frontend makes them: JSON bodies, bearer tokens, `Idempotency-Key`.

use std::time::Duration;

use anyhow::Context;
use backon::{ExponentialBuilder, Retryable};
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
        let body = json!({"email": email, "password": password});
        patiently(|| async {
            let response = self.client.post(self.url("/v1/auth/login")).json(&body).send().await;
            let response = response.context("POST /v1/auth/login")?;
            if response.status() == StatusCode::UNAUTHORIZED {
                return Ok(None);
            }
            let token: Token = expect(response, "POST /v1/auth/login").await?.json().await?;
            Ok(Some(token.access_token))
        })
        .await
    }

    /// Signs the member up. A 409 counts as done: an earlier attempt may have
    /// created the member before its answer was lost, and logging in next
    /// tells whether it is ours. A 503 means the member exists and the
    /// provider has not opened its account yet: the same signup again
    /// finishes it (the proxy never resends a signup itself).
    pub async fn signup(&self, email: &str, password: &str, handle: &str) -> anyhow::Result<()> {
        let body = json!({"email": email, "password": password, "handle": handle, "display_name": handle});
        patiently(|| async {
            let response = self.client.post(self.url("/v1/auth/signup")).json(&body).send().await;
            let response = response.context("POST /v1/auth/signup")?;
            if response.status() != StatusCode::CONFLICT {
                expect(response, "POST /v1/auth/signup").await?;
            }
            Ok(())
        })
        .await
    }

    pub async fn balance(&self, token: &str) -> anyhow::Result<u64> {
        patiently(|| async {
            let response = self.view_balance(token).send().await.context("GET /v1/me/balance")?;
            let balance: Balance = expect(response, "GET /v1/me/balance").await?.json().await?;
            Ok(balance.balance)
        })
        .await
    }

    /// The same `key` on every attempt: the grant is made once.
    pub async fn grant(&self, admin_token: &str, to_handle: &str, amount: u64, key: &str) -> anyhow::Result<()> {
        let body = json!({"to_handle": to_handle, "amount": amount, "reason": "load test funding"});
        patiently(|| async {
            let grant = self.client.post(self.url("/v1/admin/grants")).bearer_auth(admin_token);
            let response = grant.header("Idempotency-Key", key).json(&body).send().await;
            let response = response.context("POST /v1/admin/grants")?;
            expect(response, "POST /v1/admin/grants").await?;
            Ok(())
        })
        .await
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

/// An answer the call did not want.
#[derive(Debug, thiserror::Error)]
#[error("{what} answered {status}: {body}")]
struct Refused {
    what: &'static str,
    status: StatusCode,
    body: String,
}

async fn expect(response: reqwest::Response, what: &'static str) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    Err(Refused { what, status, body }.into())
}

/// Setting up retries what a client should: no connection, and 502, 503 and
/// 504 (a replica or the provider briefly unavailable; nginx answers 502
/// itself while it holds every replica down after a failure). Backs off for
/// about half a minute at most.
async fn patiently<T, F, Fut>(call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(4))
        .with_max_times(12)
        .with_jitter();
    call.retry(backoff).when(worth_retrying).await
}

fn worth_retrying(error: &anyhow::Error) -> bool {
    let refused = error.downcast_ref::<Refused>().map(|refused| refused.status);
    let unreached = error.downcast_ref::<reqwest::Error>().is_some_and(reqwest::Error::is_connect);
    unreached
        || matches!(
            refused,
            Some(StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_may_pass_is_retried() {
        let answered = |code: u16| -> anyhow::Error {
            let status = StatusCode::from_u16(code).expect("a status");
            Refused { what: "GET /v1/me/balance", status, body: String::new() }.into()
        };
        for code in [502, 503, 504] {
            assert!(worth_retrying(&answered(code)), "{code}");
        }
        for code in [400, 401, 403, 409, 422, 429, 500] {
            assert!(!worth_retrying(&answered(code)), "{code}");
        }
        assert!(!worth_retrying(&anyhow::anyhow!("unparsable JSON")));
    }
}
