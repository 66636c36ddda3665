//! Telemetry in one place, a file per job: the log subscriber (on stderr,
//! JSON when that is not a terminal, with the trace exporter of traces.rs
//! beside it when one is set) here; every metric this server records, the
//! Prometheus recorder behind `/metrics` and one function per thing recorded
//! (recorder.rs); the middleware that gives every request an `X-Request-Id`,
//! a span, a log line and its metrics (requests.rs); the balance cache and
//! rate limiter of any backend with their reads and failures counted
//! (metered.rs).

mod metered;
mod recorder;
mod requests;

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::traces::{self, Traces, TracingSettings};

pub use metered::{MeteredCache, MeteredLimiter};
pub use recorder::{
    ADMISSION_CLASSES, AuthEvent, Counted, Exposition, GIT_SHA, admission_refused, auth_event, backends,
    dependencies_up, event_stream_open, followups, mail_failed, mail_passed, metrics, recovery_failed, recovery_passed,
    store_command, transfer_answered, transfer_in_flight,
};
pub use requests::{RequestId, observe};

/// Installs the log subscriber once per process, `RUST_LOG` / `POINTSHARE_LOG`
/// filtering it, and the trace exporter when `tracing` names a collector;
/// keep what it returns until the end (it sends the last spans when dropped).
pub fn init(tracing: &TracingSettings) -> anyhow::Result<Traces> {
    let filter = std::env::var("POINTSHARE_LOG")
        .ok()
        .and_then(|value| EnvFilter::try_new(value).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // stderr, so stdout carries only what a command prints (`reconcile --json`).
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if std::io::stderr().is_terminal() {
        logs.boxed()
    } else {
        logs.json().flatten_event(true).with_current_span(true).boxed()
    };
    let (spans, traces) = traces::layer(tracing)?;
    let _already_set = tracing_subscriber::registry().with(logs.with_filter(filter)).with(spans).try_init();
    Ok(traces)
}
