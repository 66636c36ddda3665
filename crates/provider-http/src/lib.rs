//! The points provider over its HTTP API (provider-api.md), as the domain's
//! `PointsProvider` port: one pooled client, answers sorted into final
//! rejections, transient failures and unknown outcomes, retries with the same
//! reference under the caller's deadline and a shared retry budget, and a
//! circuit breaker whose state readiness checks and metrics can see.
//!
//! Depends on the domain and an HTTP client; never on a store or the server
//! (on the test kit in its tests only).

mod breaker;
mod client;
pub mod contract;
mod correlation;
mod settings;
mod telemetry;
mod wire;

pub use breaker::BreakerState;
pub use client::{BuildError, HttpProvider};
pub use settings::{BreakerSettings, CallSettings, HttpProviderSettings, RetrySettings};
