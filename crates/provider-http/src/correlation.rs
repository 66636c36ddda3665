//! What ties a provider call to the request it was made for, on the wire:
//! the request's `X-Request-Id` (`services::current_request`) and the W3C
//! `traceparent` of the attempt's span, so the provider's logs and traces
//! meet ours. Calls made for no request (recovery) carry the trace alone.

use opentelemetry::propagation::Injector;
use pointshare_domain::services::current_request;
use reqwest::RequestBuilder;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `request` with the request id (when serving one) and the trace context of
/// `span` (when traces are on; nothing otherwise).
pub(crate) fn carry(request: RequestBuilder, span: &tracing::Span) -> RequestBuilder {
    let mut headers = Headers(Vec::new());
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&span.context(), &mut headers);
    });
    let request = headers.0.into_iter().fold(request, |request, (name, value)| request.header(name, value));
    match current_request() {
        Some(id) => request.header("x-request-id", id),
        None => request,
    }
}

struct Headers(Vec<(String, String)>);

impl Injector for Headers {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}
