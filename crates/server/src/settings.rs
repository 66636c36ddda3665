//! Typed settings in layers: the defaults below, then an optional TOML file
//! (`--config` / `POINTSHARE_CONFIG`), then `POINTSHARE_*` environment
//! variables (`POINTSHARE_BIND`, `POINTSHARE_REQUEST_DEADLINE`, ...). A value
//! that does not parse or makes no sense stops start-up, naming the setting;
//! so does an unknown key in the file. `DESCRIPTIONS` is what `--help` shows.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Source};
use serde::{Deserialize, Serialize};
use url::Url;

use pointshare_provider_http::{BreakerSettings, HttpProviderSettings};

const PREFIX: &str = "POINTSHARE_";

/// Variables with the prefix that are read elsewhere, not settings.
const NOT_SETTINGS: [&str; 2] = ["config", "log"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub bind: SocketAddr,
    pub mongodb_uri: Option<String>,
    pub mongodb_database: String,
    pub mongodb_pool_size: u32,
    pub redis_url: Option<String>,
    pub redis_pool_size: usize,
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
    pub rate_limit_fail_open: bool,
    pub provider_url: Option<Url>,
    pub provider_api_key: Option<String>,
    #[serde(with = "humantime_serde")]
    pub provider_call_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub provider_connect_timeout: Duration,
    pub provider_breaker_failures: u32,
    #[serde(with = "humantime_serde")]
    pub provider_breaker_cool_down: Duration,
    /// Generated when unset, which only suits a single process: tokens die with it.
    pub jwt_secret: Option<String>,
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Comma-separated.
    pub admin_emails: String,
    pub trust_forwarded_for: bool,
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
    #[serde(with = "humantime_serde")]
    pub balance_ttl: Duration,
    pub max_points_per_transfer: u64,
    pub max_points_per_day: u64,
    pub transfer_rate_limit: u32,
    pub login_rate_limit: u32,
    pub body_limit: usize,
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Zero: never.
    #[serde(with = "humantime_serde")]
    pub recovery_interval: Duration,
    pub recovery_batch: usize,
    #[serde(with = "humantime_serde")]
    pub recovery_lease: Duration,
    #[serde(with = "humantime_serde")]
    pub embedded_provider_latency: Duration,
    pub demo_password: String,
}

/// What each setting does, in the order `--help` lists them. A unit test
/// holds this to the fields of `Settings`, so neither can drift.
pub const DESCRIPTIONS: &[(&str, &str)] = &[
    ("bind", "Address the API listens on."),
    ("mongodb_uri", "MongoDB for members and transfers; in memory when unset."),
    ("mongodb_database", "The MongoDB database."),
    ("mongodb_pool_size", "Most MongoDB connections."),
    ("redis_url", "Redis for the balance cache and rate limits; in memory when unset."),
    ("redis_pool_size", "Most Redis connections."),
    ("redis_timeout", "Longest one Redis operation may take before it counts as failed."),
    (
        "rate_limit_fail_open",
        "When the rate limiter cannot answer: let requests through (true) or refuse them with 503.",
    ),
    ("provider_url", "The points provider; a simulator inside this process when unset."),
    ("provider_api_key", "The provider API key; required with provider_url."),
    ("provider_call_timeout", "Longest one provider call may take."),
    ("provider_connect_timeout", "Longest opening a connection to the provider may take."),
    ("provider_breaker_failures", "Failed provider calls in a row that open the circuit breaker."),
    ("provider_breaker_cool_down", "How long an open breaker fails calls fast before trying again."),
    ("jwt_secret", "Signs access tokens (HS256); at least 32 bytes. Random when unset: tokens die with the process."),
    ("token_ttl", "How long an access token is valid."),
    ("admin_emails", "Comma-separated emails of the members with the admin role."),
    (
        "trust_forwarded_for",
        "Take the client address for per-IP limits from Forwarded / X-Forwarded-For (only behind a proxy that sets them).",
    ),
    ("request_deadline", "Longest a request may take; a share still unfinished then answers 202 processing."),
    ("balance_ttl", "How long a balance read from the provider is served from the cache."),
    ("max_points_per_transfer", "Most points in one share."),
    ("max_points_per_day", "Most points one member may share per UTC day."),
    ("transfer_rate_limit", "Transfers one member may create per minute."),
    ("login_rate_limit", "Login attempts per minute, per email and per client address."),
    ("body_limit", "Largest request body accepted, in bytes."),
    ("shutdown_grace", "How long shutdown waits for requests in flight and the recovery pass."),
    ("recovery_interval", "How often the recovery worker finishes interrupted transfers and signups (0s: never)."),
    ("recovery_batch", "Most transfers one recovery pass claims."),
    ("recovery_lease", "How long recovery holds a transfer it claimed."),
    ("embedded_provider_latency", "Embedded simulator only: latency it adds to every call."),
    ("demo_password", "Embedded store only: the demo members' password."),
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".parse().expect("a valid address"),
            mongodb_uri: None,
            mongodb_database: "pointshare".into(),
            mongodb_pool_size: 100,
            redis_url: None,
            redis_pool_size: 64,
            redis_timeout: Duration::from_millis(250),
            rate_limit_fail_open: true,
            provider_url: None,
            provider_api_key: None,
            provider_call_timeout: Duration::from_secs(5),
            provider_connect_timeout: Duration::from_secs(1),
            provider_breaker_failures: BreakerSettings::default().consecutive_failures,
            provider_breaker_cool_down: BreakerSettings::default().cool_down,
            jwt_secret: None,
            token_ttl: Duration::from_secs(3600),
            admin_emails: String::new(),
            trust_forwarded_for: false,
            request_deadline: Duration::from_secs(8),
            balance_ttl: Duration::from_secs(5),
            max_points_per_transfer: 1_000_000,
            max_points_per_day: 10_000_000,
            transfer_rate_limit: 600,
            login_rate_limit: 30,
            body_limit: 16 * 1024,
            shutdown_grace: Duration::from_secs(20),
            recovery_interval: Duration::from_secs(5),
            recovery_batch: 100,
            recovery_lease: Duration::from_secs(60),
            embedded_provider_latency: Duration::ZERO,
            demo_password: "pointshare-demo".into(),
        }
    }
}

/// A setting that cannot be used, by name.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid setting {setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("unknown setting {key:?} in {origin}; `pointshare --help` lists the settings")]
    Unknown { key: String, origin: String },
}

/// `bind` → `POINTSHARE_BIND`.
pub fn variable(key: &str) -> String {
    format!("{PREFIX}{}", key.to_uppercase())
}

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(SettingsError::Invalid {
                    setting: variable("config"),
                    reason: format!("no such file: {}", file.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        for (key, _) in Env::prefixed(PREFIX).iter() {
            if !is_setting(key.as_str()) && !NOT_SETTINGS.iter().any(|other| key.as_str().eq_ignore_ascii_case(other)) {
                tracing::warn!(variable = %variable(key.as_str()), "not a pointshare setting; ignored");
            }
        }
        let settings: Settings =
            figment.merge(Env::prefixed(PREFIX).filter(|key| is_setting(key.as_str()))).extract().map_err(named)?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid =
            |key: &str, reason: &str| Err(SettingsError::Invalid { setting: variable(key), reason: reason.into() });
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            return invalid("jwt_secret", "must be at least 32 bytes");
        }
        if self.provider_url.is_some() && self.provider_api_key.as_deref().is_none_or(str::is_empty) {
            return invalid("provider_api_key", "is required when POINTSHARE_PROVIDER_URL is set");
        }
        for (key, value) in [
            ("request_deadline", self.request_deadline),
            ("token_ttl", self.token_ttl),
            ("recovery_lease", self.recovery_lease),
            ("redis_timeout", self.redis_timeout),
            ("provider_call_timeout", self.provider_call_timeout),
            ("provider_connect_timeout", self.provider_connect_timeout),
            ("provider_breaker_cool_down", self.provider_breaker_cool_down),
        ] {
            if value.is_zero() {
                return invalid(key, "must be longer than zero");
            }
        }
        // The HTTP server counts its shutdown timeout in whole seconds.
        if self.shutdown_grace < Duration::from_secs(1) {
            return invalid("shutdown_grace", "must be at least 1s");
        }
        if pointshare_domain::Points::new(self.max_points_per_transfer).is_err() {
            return invalid("max_points_per_transfer", "must be between 1 and 1,000,000,000,000");
        }
        for (key, value) in [
            ("transfer_rate_limit", self.transfer_rate_limit),
            ("login_rate_limit", self.login_rate_limit),
            ("provider_breaker_failures", self.provider_breaker_failures),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1");
            }
        }
        if self.body_limit < 256 {
            return invalid("body_limit", "must be at least 256 bytes");
        }
        if self.recovery_batch == 0 {
            return invalid("recovery_batch", "must be at least 1");
        }
        for email in list(&self.admin_emails) {
            if pointshare_domain::Email::parse(email).is_err() {
                return invalid("admin_emails", &format!("{email:?} is not an email address"));
            }
        }
        if let (Some(url), Some(key)) = (&self.provider_url, &self.provider_api_key) {
            self.provider(url.clone(), key.clone()).validate().map_err(|error| SettingsError::Invalid {
                setting: provider_variable(error.setting),
                reason: error.reason,
            })?;
        }
        Ok(())
    }

    pub fn admin_emails(&self) -> impl Iterator<Item = &str> {
        list(&self.admin_emails)
    }

    /// The HTTP provider adapter's settings for the provider at `url`.
    pub fn provider(&self, url: Url, api_key: String) -> HttpProviderSettings {
        HttpProviderSettings {
            call_timeout: self.provider_call_timeout,
            connect_timeout: self.provider_connect_timeout,
            breaker: BreakerSettings {
                consecutive_failures: self.provider_breaker_failures,
                cool_down: self.provider_breaker_cool_down,
            },
            ..HttpProviderSettings::new(url, api_key)
        }
    }
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty())
}

fn is_setting(key: &str) -> bool {
    DESCRIPTIONS.iter().any(|(known, _)| key.eq_ignore_ascii_case(known))
}

/// The variable behind a setting the provider adapter refused.
fn provider_variable(adapter_setting: &str) -> String {
    let key = match adapter_setting {
        "base_url" => "provider_url",
        "api_key" => "provider_api_key",
        "call_timeout" => "provider_call_timeout",
        "connect_timeout" => "provider_connect_timeout",
        "breaker.consecutive_failures" => "provider_breaker_failures",
        "breaker.cool_down" => "provider_breaker_cool_down",
        // Retry settings are the adapter's defaults, not configurable here.
        other => return format!("provider {other}"),
    };
    variable(key)
}

/// Names the setting a figment error is about, and where its value came from.
fn named(error: figment::Error) -> SettingsError {
    let origin = match error.metadata.as_ref() {
        Some(metadata) => match &metadata.source {
            Some(Source::File(path)) => path.display().to_string(),
            _ => metadata.name.to_string(),
        },
        None => "the settings".into(),
    };
    if let figment::error::Kind::UnknownField(key, _) = &error.kind {
        return SettingsError::Unknown { key: key.clone(), origin };
    }
    let setting = error.path.last().map_or_else(|| "(unknown)".into(), |key| variable(key));
    SettingsError::Invalid { setting, reason: format!("{} (from {origin})", error.kind) }
}

/// `--help`'s list of settings: variable, default, and what it does.
pub fn help() -> String {
    let defaults = serde_json::to_value(Settings::default()).expect("settings serialize");
    let mut text = String::from(
        "Settings: defaults, then the --config TOML file (keys as below, lower case, without POINTSHARE_), then the environment:\n",
    );
    for (key, description) in DESCRIPTIONS {
        let default = match &defaults[key] {
            serde_json::Value::Null => "unset".to_owned(),
            serde_json::Value::String(value) if value.is_empty() => "none".to_owned(),
            serde_json::Value::String(value) => value.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!("  {:<40} [{default}]\n      {description}\n", variable(key)));
    }
    let log = format!("{} (or RUST_LOG)", variable("log"));
    text.push_str(&format!("  {log:<40} [info]\n      Log filter, e.g. info,pointshare_server=debug.\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_described_once_and_every_description_is_a_setting() {
        let defaults = serde_json::to_value(Settings::default()).expect("serializes");
        let mut fields: Vec<&str> = defaults.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut described: Vec<&str> = DESCRIPTIONS.iter().map(|(key, _)| *key).collect();
        fields.sort_unstable();
        described.sort_unstable();
        assert_eq!(fields, described);
    }

    #[test]
    fn the_defaults_are_valid() {
        Settings::default().validate().expect("valid defaults");
    }
}
