//! What every handler shares before it calls a service: its deadline, the
//! client's address, and the rate limiter's verdict.

use std::time::Duration;

use actix_web::http::StatusCode;

use pointshare_domain::ports::{Deadline, RateDecision, RateRule};

use crate::problem::{ApiError, ProblemCode};
use crate::telemetry;
use crate::wiring::AppState;

/// The client's address for per-address limits (see `client`).
pub(super) fn client_address(state: &AppState, request: &actix_web::HttpRequest) -> String {
    state.proxies.client_of(request).map_or_else(|| "unknown".to_owned(), |address| address.to_string())
}

pub(super) fn per_minute(limit: u32) -> RateRule {
    RateRule { limit, window: Duration::from_secs(60) }
}

pub(super) fn per_hour(limit: u32) -> RateRule {
    RateRule { limit, window: Duration::from_secs(3600) }
}

/// When this request's work must be done by.
pub(super) fn deadline(state: &AppState) -> Deadline {
    Deadline::after(state.settings.request_deadline)
}

/// Counts a request against `key`'s allowance. A limiter that cannot answer
/// lets the request through, or refuses it, as `rate_limit_fail_open` says.
pub(super) async fn limit(state: &AppState, key: &str, rule: RateRule) -> Result<(), ApiError> {
    match state.limiter.acquire(key, rule).await {
        Ok(RateDecision::Allowed { .. }) => Ok(()),
        Ok(RateDecision::Limited { retry_after }) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, ProblemCode::RateLimited, "Too many requests; slow down")
                .retry_after(retry_after))
        }
        Err(error) if state.settings.rate_limit_fail_open => {
            telemetry::rate_limiter_failed();
            tracing::warn!(%error, key, "rate limiter unavailable; letting the request through");
            Ok(())
        }
        Err(error) => {
            telemetry::rate_limiter_failed();
            tracing::warn!(%error, key, "rate limiter unavailable; refusing the request");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ProblemCode::RateLimiterUnavailable,
                "Try again shortly",
            )
            .retry_after(Duration::from_secs(1)))
        }
    }
}
