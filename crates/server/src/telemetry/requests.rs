//! Per request: its `X-Request-Id`, a span, one log line and the HTTP metrics.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use metrics::{counter, gauge, histogram};
use tracing::Instrument;

use crate::client_address::ClientAddresses;
use crate::headers::REQUEST_ID;
use crate::traces;

use super::recorder::{DURATION, IN_FLIGHT, REQUESTS};

/// The request's id, as the answer's `X-Request-Id` carries it: in the
/// request's extensions for whatever records the request (the audit log).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Per request: the request id (echoed when the caller sent a sane one), a
/// span carrying it and the client's address (as the per-address limits
/// count it, so a runbook's "block the sources" has them), one log line, and
/// the HTTP metrics by route pattern (not raw path, so ids do not explode
/// the label set).
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
    let method = method_label(request.method());
    let route = request.match_pattern().unwrap_or_else(|| "unmatched".into());
    let clients = request.app_data::<actix_web::web::Data<ClientAddresses>>();
    let client = clients.and_then(|clients| clients.client_of(request.request())).unwrap_or_default();
    let span = tracing::info_span!("request", %request_id, %method, %route, path = %request.path(), %client);
    traces::continue_trace(&span, request.headers());
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let started = Instant::now();
    gauge!(IN_FLIGHT).increment(1);
    // The provider is told the request id of the calls made for it.
    let served = pointshare_domain::services::on_behalf_of(request_id.clone(), next.call(request));
    let result = served.instrument(span.clone()).await;
    gauge!(IN_FLIGHT).decrement(1);
    let took = started.elapsed();
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    counter!(REQUESTS, "method" => method, "route" => route.clone(), "status" => status.as_str().to_owned())
        .increment(1);
    histogram!(DURATION, "method" => method, "route" => route).record(took);
    span.in_scope(|| tracing::info!(status = status.as_u16(), latency_ms = took.as_secs_f64() * 1000.0, "answered"));
    let mut response = result?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// The `method` label: a method this API answers, or `other`, so a client
/// inventing methods cannot create series without bound.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
