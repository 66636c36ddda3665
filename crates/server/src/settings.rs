//! Typed settings in layers: the defaults below, then an optional TOML file
//! (`--config` / `POINTSHARE_CONFIG`), then `POINTSHARE_*` environment
//! variables (`POINTSHARE_BIND`, `POINTSHARE_REQUEST_DEADLINE`, ...). A value
//! that does not parse or makes no sense stops start-up, naming the setting.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Where the API listens.
    pub bind: SocketAddr,
    /// MongoDB for members and transfers; in-memory when unset.
    pub mongodb_uri: Option<String>,
    pub mongodb_database: String,
    pub mongodb_pool_size: u32,
    /// Redis for the balance cache and rate limits; in-memory when unset.
    pub redis_url: Option<String>,
    pub redis_pool_size: usize,
    /// The longest one Redis operation may take before it counts as failed.
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
    /// When the rate limiter cannot answer (Redis down): let requests through
    /// (true) or refuse them with 503 (false).
    pub rate_limit_fail_open: bool,
    /// The points provider; an in-process simulator when unset.
    pub provider_url: Option<Url>,
    pub provider_api_key: Option<String>,
    /// Signs access tokens (HS256); at least 32 bytes. Generated when unset,
    /// which only suits a single process: tokens die with it.
    pub jwt_secret: Option<String>,
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Comma-separated emails of the members who get the admin role.
    pub admin_emails: String,
    /// The longest a request may take; a share still unfinished then answers 202.
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
    /// How long a balance read from the provider is served from the cache.
    #[serde(with = "humantime_serde")]
    pub balance_ttl: Duration,
    pub max_points_per_transfer: u64,
    pub max_points_per_day: u64,
    /// Transfers one member may create per minute.
    pub transfer_rate_limit: u32,
    /// Login attempts per minute, per email and per client address.
    pub login_rate_limit: u32,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long shutdown waits for in-flight requests.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How often the recovery worker looks for unfinished transfers (0s: never).
    #[serde(with = "humantime_serde")]
    pub recovery_interval: Duration,
    pub recovery_batch: usize,
    #[serde(with = "humantime_serde")]
    pub recovery_lease: Duration,
    /// Embedded default only: latency the in-process provider simulator adds.
    #[serde(with = "humantime_serde")]
    pub embedded_provider_latency: Duration,
    /// Embedded default only: the demo members' password.
    pub demo_password: String,
}

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
            jwt_secret: None,
            token_ttl: Duration::from_secs(3600),
            admin_emails: String::new(),
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
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid setting {setting}: {reason}")]
    Invalid { setting: &'static str, reason: String },
}

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(SettingsError::Invalid {
                    setting: "POINTSHARE_CONFIG",
                    reason: format!("no such file: {}", file.display()),
                });
            }
            figment = figment.merge(Toml::file(file));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("POINTSHARE_").ignore(&["config", "log"]))
            .extract()
            .map_err(|error| SettingsError::Parse(error.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |setting, reason: &str| Err(SettingsError::Invalid { setting, reason: reason.to_owned() });
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            return invalid("POINTSHARE_JWT_SECRET", "must be at least 32 bytes");
        }
        if self.provider_url.is_some() && self.provider_api_key.as_deref().is_none_or(str::is_empty) {
            return invalid("POINTSHARE_PROVIDER_API_KEY", "is required when POINTSHARE_PROVIDER_URL is set");
        }
        for (setting, value) in [
            ("POINTSHARE_REQUEST_DEADLINE", self.request_deadline),
            ("POINTSHARE_TOKEN_TTL", self.token_ttl),
            ("POINTSHARE_RECOVERY_LEASE", self.recovery_lease),
        ] {
            if value.is_zero() {
                return invalid(setting, "must be longer than zero");
            }
        }
        if pointshare_domain::Points::new(self.max_points_per_transfer).is_err() {
            return invalid("POINTSHARE_MAX_POINTS_PER_TRANSFER", "must be between 1 and 1,000,000,000,000");
        }
        for (setting, value) in [
            ("POINTSHARE_TRANSFER_RATE_LIMIT", self.transfer_rate_limit),
            ("POINTSHARE_LOGIN_RATE_LIMIT", self.login_rate_limit),
        ] {
            if value == 0 {
                return invalid(setting, "must be at least 1 per minute");
            }
        }
        if self.body_limit < 256 {
            return invalid("POINTSHARE_BODY_LIMIT", "must be at least 256 bytes");
        }
        if self.recovery_batch == 0 {
            return invalid("POINTSHARE_RECOVERY_BATCH", "must be at least 1");
        }
        for email in self.admin_emails() {
            if pointshare_domain::Email::parse(email).is_err() {
                return invalid("POINTSHARE_ADMIN_EMAILS", &format!("{email:?} is not an email address"));
            }
        }
        Ok(())
    }

    pub fn admin_emails(&self) -> impl Iterator<Item = &str> {
        self.admin_emails.split(',').map(str::trim).filter(|email| !email.is_empty())
    }
}
