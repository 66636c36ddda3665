//! Telemetry in one place: the log subscriber (on stderr, JSON when that is
//! not a terminal), the Prometheus recorder behind `/metrics`, and the middleware
//! that gives every request an `X-Request-Id`, a span, and its metrics.

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const REQUESTS: &str = "pointshare_http_requests_total";
const DURATION: &str = "pointshare_http_request_duration_seconds";
const IN_FLIGHT: &str = "pointshare_http_requests_in_flight";

/// Installs the log subscriber once per process; `RUST_LOG` / `POINTSHARE_LOG` filter it.
pub fn init_logs() {
    let filter = std::env::var("POINTSHARE_LOG")
        .ok()
        .and_then(|value| EnvFilter::try_new(value).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // stderr, so stdout carries only what a command prints (`reconcile --json`).
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _already_set = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    };
}

/// Buckets from 1 ms to 30 s: a provider call is about a second, a request up to four.
const BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 30.0];

/// The process-wide recorder every crate's metrics go to, once per process.
pub fn metrics() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::Mutex<Option<PrometheusHandle>> = std::sync::Mutex::new(None);
    let mut installed = HANDLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .install_recorder()?;
    describe_counter!(REQUESTS, "HTTP requests answered, by method, route and status.");
    describe_histogram!(DURATION, Unit::Seconds, "Time to answer an HTTP request, by method and route.");
    describe_gauge!(IN_FLIGHT, "HTTP requests being served now.");
    *installed = Some(handle.clone());
    Ok(handle)
}

/// Per request: the request id (echoed when the caller sent a sane one), a
/// span carrying it, one log line, and the HTTP metrics by route pattern
/// (not raw path, so ids do not explode the label set).
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let method = request.method().as_str().to_owned();
    let route = request.match_pattern().unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", %request_id, %method, %route, path = %request.path());
    let started = Instant::now();
    gauge!(IN_FLIGHT).increment(1);
    let result = next.call(request).instrument(span.clone()).await;
    gauge!(IN_FLIGHT).decrement(1);
    let took = started.elapsed();
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    counter!(REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.as_str().to_owned())
        .increment(1);
    histogram!(DURATION, "method" => method, "route" => route).record(took);
    span.in_scope(|| tracing::info!(status = status.as_u16(), latency_ms = took.as_secs_f64() * 1000.0, "answered"));
    let mut response = result?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}
