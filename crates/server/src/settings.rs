//! Typed settings in layers: the defaults below, then an optional TOML file
//! (`--config` / `POINTSHARE_CONFIG`), then `POINTSHARE_*` environment
//! variables (`POINTSHARE_BIND`, `POINTSHARE_REQUEST_DEADLINE`, ...). A value
//! that does not parse or makes no sense stops start-up, naming the setting;
//! so does an unknown key in the file. `DESCRIPTIONS` is what `--help` shows.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Source};
use serde::{Deserialize, Serialize};
use url::Url;

use pointshare_domain::{Email, Handle, Password};
use pointshare_provider_http::{BreakerSettings, HttpProviderSettings};

use crate::secrets;

const PREFIX: &str = "POINTSHARE_";

/// Variables with the prefix that are read elsewhere, not settings.
const NOT_SETTINGS: [&str; 2] = ["config", "log"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub bind: SocketAddr,
    pub internal_bind: SocketAddr,
    pub mongodb_uri: Option<String>,
    pub mongodb_database: String,
    pub mongodb_pool_size: u32,
    pub redis_url: Option<String>,
    pub redis_cluster: bool,
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
    /// Generated when unset, which only the fully embedded default allows.
    pub jwt_secret: Option<String>,
    pub jwt_previous_secret: Option<String>,
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    pub bootstrap_admin_email: Option<String>,
    pub bootstrap_admin_password: Option<String>,
    pub bootstrap_admin_password_file: Option<PathBuf>,
    pub bootstrap_admin_handle: String,
    /// Comma-separated CIDRs.
    pub trusted_proxies: String,
    /// Comma-separated exact origins; unset: the dev server's in the fully
    /// embedded default, none otherwise.
    pub cors_origins: Option<String>,
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
    pub followup_limit: usize,
    #[serde(with = "humantime_serde")]
    pub events_retention: Duration,
    #[serde(with = "humantime_serde")]
    pub events_heartbeat: Duration,
    pub events_streams_per_member: usize,
    #[serde(with = "humantime_serde")]
    pub balance_ttl: Duration,
    pub max_points_per_transfer: u64,
    pub max_points_per_day: u64,
    pub max_points_per_grant: u64,
    pub grant_budget_per_day: u64,
    pub transfer_rate_limit: u32,
    pub signup_rate_limit: u32,
    pub signup_global_rate_limit: u32,
    pub login_rate_limit: u32,
    pub login_account_rate_limit: u32,
    pub login_slow_down_after: u32,
    pub password_hash_queue: usize,
    pub body_limit: usize,
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Zero: never.
    #[serde(with = "humantime_serde")]
    pub recovery_interval: Duration,
    pub recovery_batch: usize,
    #[serde(with = "humantime_serde")]
    pub recovery_lease: Duration,
    pub recovery_max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub clock_skew: Duration,
    #[serde(with = "humantime_serde")]
    pub provider_in_flight_window: Duration,
    #[serde(with = "humantime_serde")]
    pub embedded_provider_latency: Duration,
    pub demo_password: String,
}

/// What each setting does, in the order `--help` lists them. A unit test
/// holds this to the fields of `Settings`, so neither can drift.
pub const DESCRIPTIONS: &[(&str, &str)] = &[
    ("bind", "Address the API listens on."),
    (
        "internal_bind",
        "Address of the internal listener: /metrics and the detailed /readyz, for Prometheus and probes, never the public.",
    ),
    ("mongodb_uri", "MongoDB for members and transfers; in memory when unset."),
    ("mongodb_database", "The MongoDB database."),
    ("mongodb_pool_size", "Most MongoDB connections."),
    ("redis_url", "Redis for the balance cache, rate limits and members' events; in memory when unset."),
    ("redis_cluster", "Redis Cluster: redis_url lists some or all of its nodes, comma-separated."),
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
    (
        "jwt_secret",
        "Signs access tokens (HS256): 32 random bytes or more. Required when any real backend is set; random only in the fully embedded default.",
    ),
    (
        "jwt_previous_secret",
        "The secret before the last rotation: its tokens are still accepted until they expire, new ones use jwt_secret.",
    ),
    ("token_ttl", "How long an access token is valid."),
    ("refresh_token_ttl", "How long a refresh token works after it is issued; each refresh issues a new one."),
    (
        "bootstrap_admin_email",
        "At start, create an admin with this email if no member has it (the first admin of a deployment).",
    ),
    ("bootstrap_admin_password", "The bootstrap admin's password (or bootstrap_admin_password_file)."),
    ("bootstrap_admin_password_file", "A file holding the bootstrap admin's password (a mounted secret)."),
    ("bootstrap_admin_handle", "The bootstrap admin's handle."),
    (
        "trusted_proxies",
        "Comma-separated CIDRs of the proxies in front: only from these is Forwarded / X-Forwarded-For believed.",
    ),
    (
        "cors_origins",
        "Comma-separated origins (scheme://host[:port]) whose browser pages may call the API; empty: none. Unset: http://localhost:5173 and http://127.0.0.1:5173 in the fully embedded default, none otherwise.",
    ),
    ("request_deadline", "Longest a request may take; a share still unfinished then answers 202 processing."),
    (
        "followup_limit",
        "Most transfers this replica drives on in the background after answering 202 (for up to 2 × request_deadline more, renewing their lease call by call); past it, recovery finishes them. 0: none.",
    ),
    (
        "events_retention",
        "How long members' events are kept: a client reconnecting to /v1/me/events within it resumes from Last-Event-ID without a gap.",
    ),
    ("events_heartbeat", "How often an idle event stream sends a comment line, so proxies keep it open."),
    ("events_streams_per_member", "Most event streams one member may hold open on one replica."),
    ("balance_ttl", "How long a balance read from the provider is served from the cache."),
    ("max_points_per_transfer", "Most points in one share."),
    ("max_points_per_day", "Most points one member may share per UTC day."),
    ("max_points_per_grant", "Most points in one admin grant."),
    ("grant_budget_per_day", "Most points one admin may grant per UTC day."),
    ("transfer_rate_limit", "Transfers one member may create per minute."),
    ("signup_rate_limit", "Signups per hour from one client address."),
    ("signup_global_rate_limit", "Signups per minute from everywhere together."),
    ("login_rate_limit", "Login attempts per minute from one client address."),
    ("login_account_rate_limit", "Login attempts per minute from one client address for one account."),
    (
        "login_slow_down_after",
        "Login attempts per minute for one account from all addresses after which each answer is delayed (never refused).",
    ),
    (
        "password_hash_queue",
        "Password hashes (signup, login) that may wait for a core; past it the request answers 503 with Retry-After.",
    ),
    ("body_limit", "Largest request body accepted, in bytes."),
    ("shutdown_grace", "How long shutdown waits for requests in flight and the recovery pass."),
    ("recovery_interval", "How often the recovery worker finishes interrupted transfers and signups (0s: never)."),
    ("recovery_batch", "Most transfers one recovery pass claims."),
    ("recovery_lease", "How long recovery holds a transfer it claimed."),
    ("recovery_max_attempts", "Times recovery takes a transfer up before parking it in needs_review for an operator."),
    (
        "clock_skew",
        "The most the replicas' clocks may differ: a driver stops calling the provider this long before its lease ends.",
    ),
    (
        "provider_in_flight_window",
        "The longest the provider may take to apply a call after it was sent: a refusal met by a driver that took a transfer over counts only after this.",
    ),
    ("embedded_provider_latency", "Embedded simulator only: latency it adds to every call."),
    ("demo_password", "Fully embedded default only: the demo members' password."),
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".parse().expect("a valid address"),
            internal_bind: "127.0.0.1:8081".parse().expect("a valid address"),
            mongodb_uri: None,
            mongodb_database: "pointshare".into(),
            mongodb_pool_size: 100,
            redis_url: None,
            redis_cluster: false,
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
            jwt_previous_secret: None,
            token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
            bootstrap_admin_password_file: None,
            bootstrap_admin_handle: "admin".into(),
            trusted_proxies: String::new(),
            cors_origins: None,
            request_deadline: Duration::from_secs(8),
            followup_limit: 1024,
            events_retention: Duration::from_secs(15 * 60),
            events_heartbeat: Duration::from_secs(15),
            events_streams_per_member: 5,
            balance_ttl: Duration::from_secs(5),
            max_points_per_transfer: 1_000_000,
            max_points_per_day: 10_000_000,
            max_points_per_grant: 100_000,
            grant_budget_per_day: 1_000_000,
            transfer_rate_limit: 600,
            signup_rate_limit: 20,
            signup_global_rate_limit: 300,
            login_rate_limit: 60,
            login_account_rate_limit: 10,
            login_slow_down_after: 20,
            password_hash_queue: 64,
            body_limit: 16 * 1024,
            shutdown_grace: Duration::from_secs(20),
            recovery_interval: Duration::from_secs(5),
            recovery_batch: 100,
            recovery_lease: Duration::from_secs(60),
            recovery_max_attempts: 50,
            clock_skew: Duration::from_secs(1),
            provider_in_flight_window: Duration::from_secs(10),
            embedded_provider_latency: Duration::ZERO,
            demo_password: "pointshare-demo".into(),
        }
    }
}

/// `entry` if it is an origin as browsers send it: http or https, a host,
/// maybe a port, nothing else (no path, no trailing slash).
fn exact_origin(entry: &str) -> Result<String, String> {
    let not = |why: &str| format!("{entry:?} is not an origin ({why}); write scheme://host[:port]");
    let url = url::Url::parse(entry).map_err(|error| not(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(not("only http and https"));
    }
    let origin = url.origin().ascii_serialization();
    if origin != entry {
        return Err(not("it has more than the origin"));
    }
    Ok(origin)
}

/// The admin `POINTSHARE_BOOTSTRAP_ADMIN_*` asks for.
#[derive(Debug, Clone)]
pub struct BootstrapAdmin {
    pub email: Email,
    pub handle: Handle,
    pub password: Password,
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
        if self.provider_url.is_some() && self.provider_api_key.as_deref().is_none_or(str::is_empty) {
            return invalid("provider_api_key", "is required when POINTSHARE_PROVIDER_URL is set");
        }
        for (key, value) in [
            ("request_deadline", self.request_deadline),
            ("events_retention", self.events_retention),
            ("events_heartbeat", self.events_heartbeat),
            ("token_ttl", self.token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
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
        // A transfer's driver calls the provider only while its lease has
        // clock_skew to spare: each holder's calls must fit in what is left.
        if self.request_deadline + self.clock_skew > self.request_deadline * 2 {
            return invalid(
                "clock_skew",
                &format!(
                    "{} must be at most request_deadline ({}): a request's lease is 2 × request_deadline = {}, its provider calls stop clock_skew before the lease ends, and that must not come before its deadline",
                    humantime::format_duration(self.clock_skew),
                    humantime::format_duration(self.request_deadline),
                    humantime::format_duration(self.request_deadline * 2)
                ),
            );
        }
        if self.recovery_lease / 2 + self.clock_skew > self.recovery_lease {
            return invalid(
                "recovery_lease",
                &format!(
                    "{} is too short: a recovery pass gives each transfer recovery_lease / 2 = {} of provider calls, which with clock_skew {} must fit in the lease ({} > {})",
                    humantime::format_duration(self.recovery_lease),
                    humantime::format_duration(self.recovery_lease / 2),
                    humantime::format_duration(self.clock_skew),
                    humantime::format_duration(self.recovery_lease / 2 + self.clock_skew),
                    humantime::format_duration(self.recovery_lease)
                ),
            );
        }
        // A driver that took a transfer over waits out the in-flight window
        // before trusting a refusal; a pass must leave room for that.
        if self.provider_in_flight_window >= self.recovery_lease / 2 {
            return invalid(
                "provider_in_flight_window",
                &format!(
                    "{} must be shorter than a recovery pass's time per transfer, recovery_lease / 2 = {}: a refusal after a takeover is confirmed only once the window has passed",
                    humantime::format_duration(self.provider_in_flight_window),
                    humantime::format_duration(self.recovery_lease / 2)
                ),
            );
        }
        if self.recovery_max_attempts == 0 {
            return invalid("recovery_max_attempts", "must be at least 1");
        }
        // The HTTP server counts its shutdown timeout in whole seconds.
        if self.shutdown_grace < Duration::from_secs(1) {
            return invalid("shutdown_grace", "must be at least 1s");
        }
        if pointshare_domain::Points::new(self.max_points_per_transfer).is_err() {
            return invalid("max_points_per_transfer", "must be between 1 and 1,000,000,000,000");
        }
        if pointshare_domain::Points::new(self.max_points_per_grant).is_err() {
            return invalid("max_points_per_grant", "must be between 1 and 1,000,000,000,000");
        }
        for (key, value) in [
            ("transfer_rate_limit", self.transfer_rate_limit),
            ("signup_rate_limit", self.signup_rate_limit),
            ("signup_global_rate_limit", self.signup_global_rate_limit),
            ("login_rate_limit", self.login_rate_limit),
            ("login_account_rate_limit", self.login_account_rate_limit),
            ("login_slow_down_after", self.login_slow_down_after),
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
        if self.events_streams_per_member == 0 {
            return invalid("events_streams_per_member", "must be at least 1");
        }
        if self.password_hash_queue == 0 {
            return invalid("password_hash_queue", "must be at least 1");
        }
        if let Err(reason) = self.cors_origins() {
            return invalid("cors_origins", &reason);
        }
        if let Err(reason) = crate::client::TrustedProxies::parse(&self.trusted_proxies) {
            return invalid("trusted_proxies", &reason);
        }
        self.bootstrap_admin().map_err(|(key, reason)| SettingsError::Invalid { setting: variable(key), reason })?;
        if let (Some(url), Some(key)) = (&self.provider_url, &self.provider_api_key) {
            self.provider(url.clone(), key.clone()).validate().map_err(|error| SettingsError::Invalid {
                setting: provider_variable(error.setting),
                reason: error.reason,
            })?;
        }
        for (key, secret) in [("jwt_secret", &self.jwt_secret), ("jwt_previous_secret", &self.jwt_previous_secret)] {
            if let Some(secret) = secret
                && let Err(reason) = secrets::check(secret)
            {
                return invalid(key, &reason);
            }
        }
        if self.jwt_secret.is_none() {
            if let Some(real) = self.real_backend() {
                return invalid(
                    "jwt_secret",
                    &format!(
                        "is required when {real} is set: every replica must sign with the same secret, and none may be guessed"
                    ),
                );
            }
            if self.jwt_previous_secret.is_some() {
                return invalid("jwt_secret", "is required when POINTSHARE_JWT_PREVIOUS_SECRET is set");
            }
        }
        Ok(())
    }

    /// The first real backend configured, by its variable; `None` for the
    /// fully embedded default, the only configuration that may make up its
    /// own secret and seed demo members.
    pub fn real_backend(&self) -> Option<String> {
        let configured = [
            ("provider_url", self.provider_url.is_some()),
            ("mongodb_uri", self.mongodb_uri.is_some()),
            ("redis_url", self.redis_url.is_some()),
        ];
        configured.into_iter().find(|(_, set)| *set).map(|(key, _)| variable(key))
    }

    pub fn is_fully_embedded(&self) -> bool {
        self.real_backend().is_none()
    }

    /// The origins allowed to call the API from a browser, each exactly
    /// `scheme://host[:port]`. Errors say which entry is not one.
    pub fn cors_origins(&self) -> Result<Vec<String>, String> {
        let listed = match &self.cors_origins {
            Some(listed) => listed.as_str(),
            // A frontend's dev server (Vite) on this machine, for the demo only.
            None if self.is_fully_embedded() => "http://localhost:5173,http://127.0.0.1:5173",
            None => "",
        };
        listed.split(',').map(str::trim).filter(|entry| !entry.is_empty()).map(exact_origin).collect()
    }

    /// The operator's first admin, if configured: email, handle and password,
    /// each held to the member rules. Errors name the setting.
    pub fn bootstrap_admin(&self) -> Result<Option<BootstrapAdmin>, (&'static str, String)> {
        let Some(email) = &self.bootstrap_admin_email else {
            if self.bootstrap_admin_password.is_some() || self.bootstrap_admin_password_file.is_some() {
                return Err(("bootstrap_admin_email", "is required with a bootstrap admin password".into()));
            }
            return Ok(None);
        };
        let email = Email::parse(email.as_str()).map_err(|e| ("bootstrap_admin_email", e.reason.to_owned()))?;
        let handle = Handle::parse(self.bootstrap_admin_handle.as_str())
            .map_err(|e| ("bootstrap_admin_handle", e.reason.to_owned()))?;
        let password = match (&self.bootstrap_admin_password, &self.bootstrap_admin_password_file) {
            (Some(_), Some(_)) => {
                return Err(("bootstrap_admin_password", "give the password or the file, not both".into()));
            }
            (None, None) => {
                return Err(("bootstrap_admin_password", "is required with a bootstrap admin email".into()));
            }
            (Some(password), None) => password.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map_err(|e| ("bootstrap_admin_password_file", format!("cannot read {}: {e}", file.display())))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        };
        if secrets::is_placeholder(&password) {
            return Err((
                "bootstrap_admin_password",
                "is a placeholder from the deploy files; choose a password".into(),
            ));
        }
        let password = Password::parse(password).map_err(|e| ("bootstrap_admin_password", e.reason.to_owned()))?;
        Ok(Some(BootstrapAdmin { email, handle, password }))
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
