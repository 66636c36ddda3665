//! Admission control: a bound on the API requests in flight on this
//! replica, so that past it a request is refused at once (503 `overloaded`
//! with `Retry-After`), before any store or provider call, instead of
//! queueing until everything it already admitted is late too. The bound is
//! split by what the work waits on: requests that call the provider (about
//! a second per call) cannot take the places of those that only read the
//! store, so a slow provider does not starve history. Event streams, health
//! and the API's own documents are never refused by it.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use tokio::sync::Semaphore;

use crate::problem::{ApiError, ProblemCode};
use crate::settings::AdmissionSettings;
use crate::telemetry;

/// What a request waits on, which decides the bound it counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Calls the provider: shares, grants, corrections, balances, signups, closing.
    Provider,
    /// Reads or writes the store only.
    Store,
    /// Never refused: event streams (long-lived by design, bounded per
    /// member elsewhere), health, the API's documents.
    Exempt,
}

impl Class {
    fn of(method: &Method, pattern: &str) -> Class {
        match (method, pattern) {
            (_, "/v1/me/events" | "/healthz" | "/readyz" | "/openapi.json") => Class::Exempt,
            (_, pattern) if pattern.starts_with("/docs") => Class::Exempt,
            (&Method::POST, "/v1/transfers" | "/v1/admin/grants" | "/v1/auth/signup")
            | (&Method::POST, "/v1/admin/transfers/{id}/reversals" | "/v1/admin/adjustments")
            | (&Method::POST, "/v1/admin/approvals/{id}" | "/v1/admin/transfers/{id}/resolution")
            | (&Method::GET, "/v1/me/balance")
            | (&Method::DELETE, "/v1/me") => Class::Provider,
            _ => Class::Store,
        }
    }
}

/// The places for requests in flight, per class.
#[derive(Debug)]
pub struct Admission {
    provider: Semaphore,
    store: Semaphore,
}

impl Admission {
    pub fn new(settings: &AdmissionSettings) -> Self {
        Admission { provider: Semaphore::new(settings.provider_bound), store: Semaphore::new(settings.store_bound) }
    }

    /// The places `class` counts against, and its name for the refusals' metric.
    fn places(&self, class: Class) -> Option<(&Semaphore, &'static str)> {
        let [provider, store] = telemetry::ADMISSION_CLASSES;
        match class {
            Class::Provider => Some((&self.provider, provider)),
            Class::Store => Some((&self.store, store)),
            Class::Exempt => None,
        }
    }
}

/// Admits the request if its class has a place free, holding the place
/// until the answer is ready; refuses it at once otherwise.
pub async fn admit(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let pattern = request.match_pattern().unwrap_or_default();
    let class = Class::of(request.method(), &pattern);
    let admission = request.app_data::<web::Data<Admission>>().cloned();
    let Some((places, label)) = admission.as_deref().and_then(|admission| admission.places(class)) else {
        return next.call(request).await.map(ServiceResponse::map_into_left_body);
    };
    match places.try_acquire() {
        Ok(_place) => next.call(request).await.map(ServiceResponse::map_into_left_body),
        Err(_) => {
            telemetry::admission_refused(label);
            let refused = overloaded().error_response();
            Ok(request.into_response(refused).map_into_right_body())
        }
    }
}

fn overloaded() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        ProblemCode::Overloaded,
        "The server is at capacity",
    )
    .detail("try again shortly")
    .retry_after(Duration::from_secs(1))
}
