//! Traces over OpenTelemetry (OTLP/HTTP to a collector), off unless an
//! endpoint is set: the settings, the exporter and its sampler, and the W3C
//! trace context a request arrives with. The spans themselves are `tracing`'s:
//! a request's (telemetry::observe), and within it one per store call,
//! cache command and provider attempt, each made by its adapter.

use std::time::Duration;

use actix_web::http::header::HeaderMap;
use anyhow::Context;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use serde::{Deserialize, Serialize};
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;
use url::Url;

use pointshare_domain::settings::InvalidSetting;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracingSettings {
    /// The collector's OTLP/HTTP address (`http://collector:4318`); spans go
    /// to its `/v1/traces`. Unset: no traces.
    pub endpoint: Option<Url>,
    /// The share of traces kept that no caller decided on; a request whose
    /// `traceparent` says sampled is always kept, one that says not never.
    pub sample_ratio: f64,
}

impl Default for TracingSettings {
    fn default() -> Self {
        TracingSettings { endpoint: None, sample_ratio: 0.1 }
    }
}

impl TracingSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if let Some(endpoint) = &self.endpoint
            && !matches!(endpoint.scheme(), "http" | "https")
        {
            return Err(InvalidSetting::new("endpoint", "must be an http:// or https:// URL"));
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(InvalidSetting::new("sample_ratio", "must be from 0 to 1"));
        }
        Ok(())
    }
}

/// Flushes the spans not yet sent when dropped (at the end of `main`).
#[derive(Debug)]
pub struct Traces(Option<SdkTracerProvider>);

impl Drop for Traces {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("pointshare: the last traces could not be sent: {error}");
        }
    }
}

/// The layer that sends spans to the collector, when one is set.
pub fn layer<S>(settings: &TracingSettings) -> anyhow::Result<(Option<impl Layer<S> + use<S>>, Traces)>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let Some(endpoint) = &settings.endpoint else { return Ok((None, Traces(None))) };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/')))
        .with_timeout(Duration::from_secs(5))
        .build()
        .context("POINTSHARE_TRACING_ENDPOINT")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio))))
        .with_resource(
            Resource::builder()
                .with_service_name("pointshare")
                .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // Only this project's spans (every crate's target starts with
    // `pointshare`): its dependencies' (the HTTP server, the drivers) would
    // be many, and say less than ours around them. Ours down to debug: the
    // store, cache and provider spans are debug, so that with traces off
    // (and logs at info) no layer wants them and they cost nothing.
    let targets = Targets::new().with_target("pointshare", Level::DEBUG);
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("pointshare")).with_filter(targets);
    Ok((Some(layer), Traces(Some(provider))))
}

/// Makes `span` part of the trace the request's `traceparent` names, if any
/// (and if traces are on: otherwise nothing reads it).
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&Headers(headers)));
    let _ = span.set_parent(parent);
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(actix_web::http::header::HeaderName::as_str).collect()
    }
}
