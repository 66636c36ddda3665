//! For operators and their tools: a shallow liveness probe, a deep readiness
//! probe (its status for anyone; its details, which name backends and their
//! errors, only on the internal listener), and the Prometheus scrape
//! (internal listener only).

use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use pointshare_provider_http::BreakerState;

use crate::telemetry::{self, Exposition};
use crate::wiring::AppState;

/// Liveness: always `ok` while the process serves HTTP.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", operation_id = "getHealth", tag = "operations",
    responses((status = 200, body = Liveness, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "ok" })
}

/// The internal listener's report; not in the public API document.
#[derive(Debug, Serialize)]
pub struct Readiness {
    pub status: ReadyStatus,
    /// `<backend>: ok` or `<backend>: <error>`.
    pub store: String,
    pub cache: String,
    pub provider_breaker: BreakerView,
    /// Which provider this replica calls.
    pub provider: String,
}

/// `degraded`: something this replica can serve without is in trouble (the
/// cache, so balances come from the provider; the provider, so balances and
/// transfers fail fast while history, lookups and logins are served).
/// `unready`: what every request needs is down (the store; Redis too when
/// the rate limiter fails closed), so traffic is better sent elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    Degraded,
    Unready,
}

/// The provider circuit breaker: `open` fails calls fast without reaching
/// the provider; `half_open` lets calls through to try it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerView {
    Closed,
    HalfOpen,
    Open,
}

impl From<BreakerState> for BreakerView {
    fn from(state: BreakerState) -> Self {
        match state {
            BreakerState::Closed => BreakerView::Closed,
            BreakerState::HalfOpen => BreakerView::HalfOpen,
            BreakerState::Open => BreakerView::Open,
        }
    }
}

fn report(name: &str, check: anyhow::Result<()>) -> (bool, String) {
    match check {
        Ok(()) => (true, format!("{name}: ok")),
        Err(error) => (false, format!("{name}: {error:#}")),
    }
}

/// What anyone may learn of readiness: the status alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessStatus {
    pub status: ReadyStatus,
}

/// Whether this replica can serve members now. The details (which backend
/// failed and how) are on the internal listener's `/readyz`.
#[utoipa::path(get, path = "/readyz", operation_id = "getReadiness", tag = "operations",
    responses((status = 200, body = ReadinessStatus, description = "ready, or degraded (the cache or the provider in trouble: still serving)"), (status = 503, body = ReadinessStatus, description = "unready: the store is down (or Redis, with a rate limiter that fails closed)")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let readiness = readiness(&state).await;
    answer(readiness.status, ReadinessStatus { status: readiness.status })
}

/// The internal listener's readiness: its store and cache, and whether the
/// provider's breaker lets calls through, with the errors.
#[get("/readyz")]
pub async fn readyz_detailed(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let readiness = readiness(&state).await;
    answer(readiness.status, readiness)
}

/// 503 when unready, so probes need not read the body.
fn answer(status: ReadyStatus, body: impl Serialize) -> HttpResponse {
    if status == ReadyStatus::Unready { HttpResponse::ServiceUnavailable() } else { HttpResponse::Ok() }.json(body)
}

/// Checks the store and the cache now, reads the provider's breaker, and
/// records each in `pointshare_dependency_up`. A provider outage never makes
/// a replica unready: every replica shares the provider, and taking them all
/// out of the balancer would fail the requests that need no provider too.
async fn readiness(state: &AppState) -> Readiness {
    let backends = &state.backends;
    // At once: in an outage each check waits out its own timeout.
    let (store_check, cache_check) = futures::join!(backends.store.check(), backends.cache.check());
    let (store_ok, store) = report(backends.store.name(), store_check);
    let (cache_ok, cache) = report(backends.cache.name(), cache_check);
    let breaker = state.provider_breaker();
    let provider_ok = breaker != BreakerState::Open;
    telemetry::dependencies_up(store_ok, cache_ok, provider_ok);
    // A limiter that fails closed refuses every limited request without Redis.
    let limiter_ok = cache_ok || state.settings.rate_limits.fail_open;
    let status = match (store_ok && limiter_ok, cache_ok && provider_ok) {
        (false, _) => ReadyStatus::Unready,
        (true, false) => ReadyStatus::Degraded,
        (true, true) => ReadyStatus::Ready,
    };
    Readiness { status, store, cache, provider_breaker: breaker.into(), provider: backends.provider.clone() }
}

/// Prometheus text exposition of every metric, the dependencies checked and
/// the follow-ups counted first so their gauges are as of this scrape.
#[get("/metrics")]
pub async fn metrics(state: web::Data<Arc<AppState>>, exposition: web::Data<Exposition>) -> HttpResponse {
    readiness(&state).await;
    telemetry::followups(state.followups.running(), state.followups.limit());
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(exposition.render())
}
