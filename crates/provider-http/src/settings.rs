//! What an operator tunes about the provider connection: where it is, the key,
//! timeouts, how retries are paced and budgeted, and when the breaker opens.
//! The server's `[provider]` settings section deserializes straight into
//! `CallSettings`; the defaults and the rules live here only.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use pointshare_domain::settings::InvalidSetting;
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct HttpProviderSettings {
    /// The provider's base URL; the API's `/v1/...` paths are appended to it.
    pub url: Url,
    /// Sent as `Authorization: Bearer <api_key>`.
    pub api_key: SecretString,
    pub calls: CallSettings,
}

/// How calls are made, wherever the provider is: the server applies these to
/// its embedded simulator too, whose URL and key it makes up itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallSettings {
    /// The longest one attempt may take, connection included; the caller's
    /// deadline shortens it further.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// The longest a new connection may take to open.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    pub retry: RetrySettings,
    pub breaker: BreakerSettings,
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            call_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            retry: RetrySettings::default(),
            breaker: BreakerSettings::default(),
        }
    }
}

/// Retries of transient failures and unknown outcomes, always with the same
/// reference: exponential backoff with full jitter, `Retry-After` honoured,
/// within the caller's deadline and a budget shared by all calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    /// The backoff before the first retry (before jitter).
    #[serde(with = "humantime_serde")]
    pub first_delay: Duration,
    /// The longest backoff between two attempts (before jitter).
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Retries allowed as a fraction of first attempts over `budget_window`,
    /// so a failing provider sees at most that much extra load.
    pub budget_ratio: f64,
    /// Retries per second always allowed, so a quiet service can still retry.
    pub budget_min_per_second: u32,
    /// How long a first attempt counts toward the budget.
    #[serde(with = "humantime_serde")]
    pub budget_window: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            budget_ratio: 0.2,
            budget_min_per_second: 10,
            budget_window: Duration::from_secs(10),
        }
    }
}

/// The circuit breaker: after `consecutive_failures` failed attempts in a row
/// every call fails fast for `cool_down`; then calls are let through again and
/// the first answer decides between closing and another cool-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerSettings {
    pub consecutive_failures: u32,
    #[serde(with = "humantime_serde")]
    pub cool_down: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings { consecutive_failures: 20, cool_down: Duration::from_secs(5) }
    }
}

impl HttpProviderSettings {
    /// Settings for the provider at `url` with the defaults for the rest.
    pub fn new(url: Url, api_key: impl Into<String>) -> Self {
        HttpProviderSettings { url, api_key: SecretString::from(api_key.into()), calls: CallSettings::default() }
    }

    /// Rejects settings the adapter cannot work with, naming the setting.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !matches!(self.url.scheme(), "http" | "https") || self.url.cannot_be_a_base() {
            return Err(InvalidSetting::new("url", format!("must be an http(s) URL, not {}", self.url)));
        }
        if self.api_key.expose_secret().is_empty()
            || !self.api_key.expose_secret().bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(InvalidSetting::new("api_key", "must be non-empty printable ASCII without spaces"));
        }
        self.calls.validate()
    }
}

impl CallSettings {
    /// Rejects settings the adapter cannot work with, naming the setting.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let invalid = |setting: &'static str, reason: String| Err(InvalidSetting::new(setting, reason));
        InvalidSetting::first_zero(&[
            ("call_timeout", self.call_timeout),
            ("connect_timeout", self.connect_timeout),
            ("retry.first_delay", self.retry.first_delay),
            ("retry.budget_window", self.retry.budget_window),
            ("breaker.cool_down", self.breaker.cool_down),
        ])?;
        if self.retry.max_delay < self.retry.first_delay {
            return invalid("retry.max_delay", "must not be shorter than retry.first_delay".into());
        }
        if !(0.0..=1000.0).contains(&self.retry.budget_ratio) {
            return invalid(
                "retry.budget_ratio",
                format!("must be between 0 and 1000, not {}", self.retry.budget_ratio),
            );
        }
        // tower's budget measures its window in whole seconds, between 1 and 60.
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.retry.budget_window) {
            return invalid("retry.budget_window", "must be between 1 s and 60 s".into());
        }
        if self.breaker.consecutive_failures == 0 {
            return invalid("breaker.consecutive_failures", "must be at least 1".into());
        }
        Ok(())
    }
}
