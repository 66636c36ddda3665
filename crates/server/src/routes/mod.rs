//! The route table and the OpenAPI document generated from the handlers'
//! annotations, plus the two things every handler shares: its deadline and
//! the rate limiter.

mod health;
mod members;
mod transfers;
pub mod views;

use actix_web::http::StatusCode;
use actix_web::web;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use pointshare_domain::ports::{Deadline, RateDecision, RateRule};

use crate::problem::{self, ApiError};
use crate::wiring::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "pointshare", description = "Members see their points and share them. Errors are RFC 9457 problem+json with a stable `code`."),
    paths(
        members::signup, members::login, members::me, members::rename, members::my_balance, members::lookup,
        transfers::share, transfers::one, transfers::history, transfers::grant,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(members::signup)
        .service(members::login)
        .service(members::me)
        .service(members::rename)
        .service(members::my_balance)
        .service(members::lookup)
        .service(transfers::share)
        .service(transfers::history)
        .service(transfers::one)
        .service(transfers::grant)
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics);
}

/// When this request's work must be done by.
fn deadline(state: &AppState) -> Deadline {
    Deadline::after(state.settings.request_deadline)
}

/// Counts a request against `key`'s allowance. A limiter that cannot answer
/// lets the request through, or refuses it, as `rate_limit_fail_open` says.
async fn limit(state: &AppState, key: &str, rule: RateRule) -> Result<(), ApiError> {
    match state.limiter.acquire(key, rule).await {
        Ok(RateDecision::Allowed { .. }) => Ok(()),
        Ok(RateDecision::Limited { retry_after }) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests; slow down")
                .retry_after(retry_after))
        }
        Err(error) if state.settings.rate_limit_fail_open => {
            tracing::warn!(%error, key, "rate limiter unavailable; letting the request through");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, key, "rate limiter unavailable; refusing the request");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "rate_limiter_unavailable", "Try again shortly")
                .retry_after(std::time::Duration::from_secs(1)))
        }
    }
}
