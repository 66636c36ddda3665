//! `HttpProvider`: the `PointsProvider` port over the provider's HTTP API.
//!
//! Each call is a loop of attempts with one reference: the breaker may refuse
//! an attempt, an attempt that fails transiently or with an unknown outcome is
//! repeated after a fully jittered exponential backoff (longer if the provider
//! asks with `Retry-After`), as long as the caller's deadline and the shared
//! retry budget allow; otherwise the last answer goes back to the caller.
//! A refusal that follows an attempt whose outcome is unknown is reported as
//! unknown too: the earlier attempt may still land (the saga confirms such a
//! refusal only once it no longer can).

use std::sync::Arc;

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Client, RequestBuilder};
use tokio::time::Instant;
use tower::retry::budget::{Budget, TpsBudget};
use tracing::Instrument;

use pointshare_domain::ports::{Deadline, Movement, PointsProvider, ProviderError};
use pointshare_domain::settings::InvalidSetting;
use pointshare_domain::{
    HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
};
use secrecy::ExposeSecret;

use crate::breaker::{Breaker, BreakerState};
use crate::contract::{MovementRequest, OpenAccountRequest, Operation};
use crate::settings::HttpProviderSettings;
use crate::telemetry::{self, Outcome};
use crate::wire::Answer;
use crate::{correlation, wire};

#[derive(Debug, Clone)]
pub struct HttpProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    /// The base URL without a trailing slash, so paths append cleanly.
    base: String,
    settings: HttpProviderSettings,
    breaker: Breaker,
    budget: TpsBudget,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Settings(#[from] InvalidSetting),
    #[error("cannot build the provider's HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl HttpProvider {
    pub fn new(settings: HttpProviderSettings) -> Result<Self, BuildError> {
        settings.validate()?;
        let mut auth = HeaderValue::try_from(format!("Bearer {}", settings.api_key.expose_secret()))
            .map_err(|_| InvalidSetting::new("api_key", "not a valid header value"))?;
        auth.set_sensitive(true);
        let client = Client::builder()
            .default_headers(HeaderMap::from_iter([(AUTHORIZATION, auth)]))
            .connect_timeout(settings.calls.connect_timeout)
            .tcp_nodelay(true)
            .build()?;
        let retry = settings.calls.retry;
        // Validated to 0..=1000, which f32 holds to the precision a ratio needs.
        let budget = TpsBudget::new(retry.budget_window, retry.budget_min_per_second, retry.budget_ratio as f32);
        telemetry::describe();
        let breaker = Breaker::new(settings.calls.breaker);
        let base = settings.url.as_str().trim_end_matches('/').to_owned();
        Ok(HttpProvider { inner: Arc::new(Inner { client, base, settings, breaker, budget }) })
    }

    /// The circuit breaker's state, for readiness checks.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    /// A call whose success always carries a body.
    async fn call<T: Answer>(
        &self,
        operation: Operation,
        deadline: Deadline,
        request: impl Fn() -> RequestBuilder,
    ) -> Result<T, ProviderError> {
        self.call_maybe(operation, deadline, request)
            .await?
            .ok_or_else(|| wire::unexpected(format!("{operation}: the provider answered transaction_not_found")))
    }

    async fn call_maybe<T: Answer>(
        &self,
        operation: Operation,
        deadline: Deadline,
        request: impl Fn() -> RequestBuilder,
    ) -> Result<Option<T>, ProviderError> {
        let retry = self.inner.settings.calls.retry;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(retry.first_delay)
            .with_max_delay(retry.max_delay)
            .without_max_times()
            .build();
        self.inner.budget.deposit();
        let mut earlier_unknown: Option<String> = None;
        loop {
            if !self.inner.breaker.permits() {
                telemetry::attempt(operation.name(), Outcome::BreakerOpen, None);
                // Fail fast: the caller decides whether its deadline allows waiting out the cool-down.
                return Err(ProviderError::Transient {
                    message: format!("{operation}: circuit breaker open after repeated provider failures"),
                    retry_after: Some(self.inner.settings.calls.breaker.cool_down),
                });
            }
            let error = match self.attempt(operation, deadline, &request).await {
                Err(error) if error.is_retryable() => error,
                Err(ProviderError::Rejected(rejection)) if let Some(earlier) = earlier_unknown => {
                    return Err(ProviderError::OutcomeUnknown(format!(
                        "{operation}: refused ({rejection}) after an attempt that may still land ({earlier})"
                    )));
                }
                answer => return answer,
            };
            // A 429 or an open breaker means the provider never took the call up.
            if matches!(error, ProviderError::OutcomeUnknown(_) | ProviderError::Transient { retry_after: None, .. }) {
                earlier_unknown = Some(error.to_string());
            }
            // Full jitter: spreads the retries of many callers that failed together.
            let jittered = rand::random_range(std::time::Duration::ZERO..=backoff.next().unwrap_or(retry.max_delay));
            let delay = match &error {
                ProviderError::Transient { retry_after: Some(after), .. } => jittered.max(*after),
                _ => jittered,
            };
            if delay >= deadline.remaining() {
                return Err(error);
            }
            if !self.inner.budget.withdraw() {
                telemetry::budget_exhausted(operation.name());
                tracing::warn!(%operation, %error, "provider retry budget spent; not retrying");
                return Err(error);
            }
            telemetry::retry(operation.name());
            tracing::debug!(%operation, %error, ?delay, "retrying provider call");
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt, timed, counted, and told to the breaker.
    async fn attempt<T: Answer>(
        &self,
        operation: Operation,
        deadline: Deadline,
        request: &impl Fn() -> RequestBuilder,
    ) -> Result<Option<T>, ProviderError> {
        let timeout = self.inner.settings.calls.call_timeout.min(deadline.remaining());
        if timeout.is_zero() {
            return Err(ProviderError::Transient {
                message: format!("{operation}: the deadline passed before the call"),
                retry_after: None,
            });
        }
        let started = Instant::now();
        let span = tracing::debug_span!("provider", operation = operation.name(), outcome = tracing::field::Empty);
        let sent = correlation::carry(request().timeout(timeout), &span).send();
        let answer = async {
            match sent.await {
                Err(error) => Err(wire::transport_failure(operation, error)),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = wire::retry_after(response.headers());
                    match response.bytes().await {
                        Err(error) => Err(wire::transport_failure(operation, error)),
                        Ok(body) => wire::interpret(operation, status, retry_after, &body),
                    }
                }
            }
        }
        .instrument(span.clone())
        .await;
        let outcome = match &answer {
            Ok(_) => Outcome::Ok,
            Err(ProviderError::Rejected(_)) => Outcome::Rejected,
            Err(ProviderError::Transient { retry_after: Some(_), .. }) => Outcome::RateLimited,
            Err(ProviderError::Transient { .. }) => Outcome::Transient,
            Err(ProviderError::OutcomeUnknown(_)) => Outcome::Unknown,
            Err(ProviderError::Unexpected(_)) => Outcome::Unexpected,
        };
        telemetry::attempt(operation.name(), outcome, Some(started.elapsed()));
        span.record("outcome", outcome.as_str());
        // A final rejection is the provider working as it should.
        if matches!(outcome, Outcome::Ok | Outcome::Rejected) {
            self.inner.breaker.succeeded();
        } else {
            self.inner.breaker.failed();
        }
        answer
    }
}

#[async_trait]
impl PointsProvider for HttpProvider {
    async fn open_account(&self, holder: &HolderRef, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        let url = self.url("/v1/accounts");
        let body = OpenAccountRequest { holder_ref: holder.clone() };
        self.call(Operation::OpenAccount, deadline, || self.inner.client.post(&url).json(&body)).await
    }

    async fn account(&self, id: &ProviderAccountId, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        let url = self.url(&format!("/v1/accounts/{id}"));
        self.call(Operation::Account, deadline, || self.inner.client.get(&url)).await
    }

    async fn apply(
        &self,
        kind: MovementKind,
        movement: &Movement,
        deadline: Deadline,
    ) -> Result<ProviderTransaction, ProviderError> {
        let (operation, path) = match kind {
            MovementKind::Debit => (Operation::Debit, "debits"),
            MovementKind::Credit => (Operation::Credit, "credits"),
        };
        let url = self.url(&format!("/v1/accounts/{}/{path}", movement.account));
        let body = MovementRequest {
            reference: movement.reference.clone(),
            amount: movement.amount,
            memo: movement.memo.clone(),
        };
        let transaction: ProviderTransaction =
            self.call(operation, deadline, || self.inner.client.post(&url).json(&body)).await?;
        movement.answered_by(kind, transaction)
    }

    async fn transaction_by_reference(
        &self,
        reference: &ProviderReference,
        deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        let url = self.url(&format!("/v1/transactions/{reference}"));
        self.call_maybe(Operation::TransactionByReference, deadline, || self.inner.client.get(&url)).await
    }
}
