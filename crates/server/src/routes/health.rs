//! For operators and their tools: a shallow liveness probe, a deep readiness
//! probe (its status for anyone; its details, which name backends and their
//! errors, only on the internal listener), and the Prometheus scrape
//! (internal listener only).

use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use pointshare_provider_http::BreakerState;

use crate::telemetry::Exposition;
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

/// `degraded`: the cache is down, and the service still serves, reading
/// balances from the provider. `unready`: the store is down or the
/// provider's circuit breaker is open.
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
    responses((status = 200, body = ReadinessStatus, description = "ready or degraded"), (status = 503, body = ReadinessStatus, description = "unready")))]
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

async fn readiness(state: &AppState) -> Readiness {
    let backends = &state.backends;
    let (store_ok, store) = report(backends.store.name(), backends.store.check().await);
    let (cache_ok, cache) = report(backends.cache.name(), backends.cache.check().await);
    let breaker = state.provider_breaker();
    let ready = store_ok && breaker != BreakerState::Open;
    let status = match (ready, cache_ok) {
        (false, _) => ReadyStatus::Unready,
        (true, false) => ReadyStatus::Degraded,
        (true, true) => ReadyStatus::Ready,
    };
    Readiness { status, store, cache, provider_breaker: breaker.into(), provider: backends.provider.clone() }
}

/// Prometheus text exposition of every metric.
#[get("/metrics")]
pub async fn metrics(exposition: web::Data<Exposition>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(exposition.render())
}
