//! For operators and their tools: a shallow liveness probe, a deep readiness
//! probe, and the Prometheus scrape.

use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use utoipa::ToSchema;

use pointshare_provider_http::BreakerState;

use crate::wiring::AppState;

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`; `degraded` when the cache is down (the service still serves,
    /// reading balances from the provider); `unready` when the store is down
    /// or the provider's breaker is open.
    pub status: &'static str,
    /// `<backend>: ok` or `<backend>: <error>`.
    pub store: String,
    pub cache: String,
    /// The provider circuit breaker: `closed`, `half_open` or `open`.
    pub provider_breaker: &'static str,
    pub provider: String,
}

fn report(name: &str, check: anyhow::Result<()>) -> (bool, String) {
    match check {
        Ok(()) => (true, format!("{name}: ok")),
        Err(error) => (false, format!("{name}: {error:#}")),
    }
}

/// Whether this replica can serve members now: its store and cache, and
/// whether the provider's breaker lets calls through.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness, description = "ready or degraded"), (status = 503, body = Readiness)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let backends = &state.backends;
    let (store_ok, store) = report(backends.store.name(), backends.store.check().await);
    let (cache_ok, cache) = report(backends.cache.name(), backends.cache.check().await);
    let breaker = state.provider_breaker();
    let ready = store_ok && breaker != BreakerState::Open;
    let status = match (ready, cache_ok) {
        (false, _) => "unready",
        (true, false) => "degraded",
        (true, true) => "ready",
    };
    let body =
        Readiness { status, store, cache, provider_breaker: breaker.as_str(), provider: backends.provider.clone() };
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus text exposition of every metric.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render())
}
