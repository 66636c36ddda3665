//! What happens to a call on its way to the ledger and back: the rate limit,
//! the latency, and the injected faults (503s, 429s, calls applied but never
//! answered in time). The ledger itself stays exact; only the wire misbehaves.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use crate::{Fault, FaultPlan, Operation};
use pointshare_provider_http::contract::ErrorCode;

use crate::SimConfig;
use crate::error::ApiError;

#[derive(Debug)]
pub(crate) struct Conditions {
    latency: Duration,
    jitter: Duration,
    hang: Duration,
    rng: Mutex<StdRng>,
    limiter: Option<DefaultDirectRateLimiter>,
    faults: Arc<FaultPlan>,
    stopped: watch::Receiver<bool>,
}

impl Conditions {
    pub(crate) fn new(config: &SimConfig, seed: u64, faults: Arc<FaultPlan>, stopped: watch::Receiver<bool>) -> Self {
        Conditions {
            latency: config.latency,
            jitter: config.latency_jitter,
            hang: config.hang,
            // A seed apart from the fault plan's, so latency draws do not shift which calls fail.
            rng: Mutex::new(StdRng::seed_from_u64(seed.wrapping_add(1))),
            limiter: config.rate_limit.map(|per_second| RateLimiter::direct(Quota::per_second(per_second))),
            faults,
            stopped,
        }
    }

    /// Serves one call of `operation`: `apply` touches the ledger and builds
    /// the answer; whether it runs, and whether its answer is seen, depends
    /// on the conditions.
    pub(crate) async fn serve(
        &self,
        operation: Operation,
        apply: impl FnOnce() -> Result<Response, ApiError>,
    ) -> Response {
        let apply = || apply().unwrap_or_else(IntoResponse::into_response);
        if let Some(limited) = self.rate_limited() {
            return limited;
        }
        tokio::time::sleep(self.draw_latency()).await;
        match self.faults.next(operation) {
            None => apply(),
            Some(Fault::Transient) => {
                ApiError::new(ErrorCode::Unavailable, "the provider is unavailable").into_response()
            }
            Some(Fault::RateLimited(wait)) => too_many_requests(wait),
            Some(Fault::ApplyThenTimeout) => {
                // The caller never sees this answer: the point of the fault.
                let _unseen = apply();
                self.hang().await
            }
            Some(Fault::TimeoutWithoutApply) => self.hang().await,
            Some(Fault::Unauthorized) => {
                ApiError::new(ErrorCode::Unauthorized, "missing or wrong API key").into_response()
            }
            Some(Fault::Reject(rejection)) => ApiError::from(rejection).into_response(),
            Some(Fault::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                apply()
            }
        }
    }

    fn rate_limited(&self) -> Option<Response> {
        let limiter = self.limiter.as_ref()?;
        let not_until = limiter.check().err()?;
        Some(too_many_requests(not_until.wait_time_from(DefaultClock::default().now())))
    }

    fn draw_latency(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        let low = self.latency.saturating_sub(self.jitter);
        let high = self.latency + self.jitter;
        self.rng.lock().random_range(low..=high)
    }

    /// Holds the call as a provider that never answers in time would, until
    /// `hang` passes or the simulator stops.
    async fn hang(&self) -> Response {
        let mut stopped = self.stopped.clone();
        tokio::select! {
            () = tokio::time::sleep(self.hang) => {}
            _ = stopped.wait_for(|stop| *stop) => {}
        }
        ApiError::with_status(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Unavailable.as_str(),
            "the provider did not answer in time",
        )
        .into_response()
    }
}

/// A 429 whose `Retry-After` (whole seconds, rounded up) covers `wait`.
fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(ErrorCode::RateLimited, "too many requests").into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}
