//! Typed settings in layers: the defaults, then an optional TOML file
//! (`--config` / `POINTSHARE_CONFIG`) in sections (`[http]`, `[store]`,
//! `[cache]`, `[provider]`, `[auth]`, `[limits]`, ...), then `POINTSHARE_*`
//! environment variables (`POINTSHARE_BIND`, `POINTSHARE_MONGODB_URI`, ...,
//! each mapped to its key once, in `table`). Each section deserializes
//! straight into the settings type of the part it configures (an adapter's,
//! a domain policy's, or the server's own below), which holds its one default
//! and its rules. A value that does not parse or makes no sense stops
//! start-up, naming the variable; so does an unknown key in the file.

mod table;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::{Figment, Provider, Source};
use serde::{Deserialize, Serialize};
use url::Url;

use pointshare_domain::ports::{InvalidSetting, Secret};
use pointshare_domain::services::{
    ApprovalPolicy, HANDLE_HOLD, MailSettings, RecoverySettings, SagaSettings, SessionPolicy,
};
use pointshare_domain::{Email, Handle, Password};
pub use pointshare_mail_smtp::SmtpSettings;
use pointshare_provider_http::HttpProviderSettings;

// The sections that are another crate's settings type.
pub use pointshare_cache_redis::RedisSettings;
pub use pointshare_domain::services::{ThrottlePolicy, TransferLimits};
pub use pointshare_provider_http::CallSettings;
pub use pointshare_store_mongo::MongoSettings;

pub use crate::client_address::{ClientAddresses, ForwardingHeader, TrustedProxies};
pub use crate::cors::CorsOrigins;
pub use crate::traces::TracingSettings;

use crate::secrets;

pub use table::{SETTINGS, Setting, unknown_variables, variable};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub http: HttpSettings,
    /// MongoDB; the store is in memory when unset.
    pub store: Option<MongoSettings>,
    /// Redis; the cache, limiter and events are in memory when unset.
    pub cache: Option<RedisSettings>,
    pub provider: ProviderSettings,
    /// What serves a port whose URL is unset.
    pub backends: BackendChoices,
    pub auth: AuthSettings,
    pub bootstrap_admin: BootstrapAdminSettings,
    pub limits: TransferLimits,
    pub approvals: ApprovalsSection,
    pub rate_limits: ThrottlePolicy,
    pub events: EventSettings,
    pub saga: SagaSection,
    pub recovery: RecoverySection,
    pub mail: MailSection,
    pub accounts: AccountsSection,
    pub admission: AdmissionSettings,
    pub tracing: TracingSettings,
    pub embedded: EmbeddedSettings,
}

/// The listeners and what every request shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    pub bind: SocketAddr,
    pub internal_bind: SocketAddr,
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
    pub body_limit: usize,
    /// How long a request body may take to arrive, from the handler's first read.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Comma-separated CIDRs.
    pub trusted_proxies: TrustedProxies,
    /// The one header the trusted proxies write the client's address in.
    pub client_address_header: ForwardingHeader,
    /// IPv6 clients are counted per network of this many leading bits.
    pub ipv6_client_prefix: u8,
    /// Comma-separated exact origins; unset: the dev server's in the fully
    /// embedded default, none otherwise.
    pub cors_origins: Option<CorsOrigins>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            internal_bind: SocketAddr::from(([127, 0, 0, 1], 8081)),
            request_deadline: Duration::from_secs(8),
            body_limit: 16 * 1024,
            body_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(20),
            trusted_proxies: TrustedProxies::default(),
            client_address_header: ForwardingHeader::default(),
            ipv6_client_prefix: 64,
            cors_origins: None,
        }
    }
}

impl HttpSettings {
    fn validate(&self) -> Result<(), InvalidSetting> {
        InvalidSetting::first_zero(&[
            ("request_deadline", self.request_deadline),
            ("body_timeout", self.body_timeout),
        ])?;
        // The HTTP server counts its shutdown timeout in whole seconds.
        if self.shutdown_grace < Duration::from_secs(1) {
            return Err(InvalidSetting::new("shutdown_grace", "must be at least 1s"));
        }
        if self.body_limit < 256 {
            return Err(InvalidSetting::new("body_limit", "must be at least 256 bytes"));
        }
        // Shorter than what one subscriber is given, a prefix would let a
        // whole provider's customers share one allowance.
        if !(32..=128).contains(&self.ipv6_client_prefix) {
            return Err(InvalidSetting::new("ipv6_client_prefix", "must be 32 to 128 (64: one subscriber's network)"));
        }
        Ok(())
    }

    /// How the client of a request is told.
    pub fn clients(&self) -> ClientAddresses {
        ClientAddresses {
            proxies: self.trusted_proxies.clone(),
            header: self.client_address_header.clone(),
            ipv6_prefix: self.ipv6_client_prefix,
        }
    }
}

/// The provider: where it is (the embedded simulator when `url` is unset)
/// and how the HTTP adapter calls it, which holds for the simulator too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderSettings {
    pub url: Option<Url>,
    pub api_key: Option<Secret>,
    #[serde(flatten)]
    pub calls: CallSettings,
    #[serde(with = "humantime_serde")]
    pub in_flight_window: Duration,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            url: None,
            api_key: None,
            calls: CallSettings::default(),
            in_flight_window: SagaSettings::default().in_flight_window,
        }
    }
}

impl ProviderSettings {
    /// The HTTP adapter's settings for the provider at `url` with `api_key`.
    pub fn adapter(&self, url: Url, api_key: Secret) -> HttpProviderSettings {
        HttpProviderSettings { url, api_key, calls: self.calls.clone() }
    }

    /// The configured provider's adapter settings; `None` for the simulator.
    pub(crate) fn configured(&self) -> Result<Option<HttpProviderSettings>, InvalidSetting> {
        match (&self.url, &self.api_key) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(InvalidSetting::new("api_key", "is required when POINTSHARE_PROVIDER_URL is set")),
            (Some(url), Some(key)) => Ok(Some(self.adapter(url.clone(), key.clone()))),
        }
    }

    fn validate(&self) -> Result<(), InvalidSetting> {
        match self.configured()? {
            Some(adapter) => adapter.validate(),
            None => self.calls.validate(),
        }
    }
}

/// The in-process backends an operator asks for by name. With nothing real
/// configured each port is in this process (the embedded default); once
/// anything real is, a port without its URL is refused at start unless named
/// here, so a Secret missing one key never leaves a replica keeping members
/// and transfers in its own memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendChoices {
    pub store: Option<StoreChoice>,
    pub cache: Option<CacheChoice>,
    pub provider: Option<ProviderChoice>,
    pub mail: Option<MailChoice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreChoice {
    Mongodb,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheChoice {
    Redis,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderChoice {
    Http,
    Simulator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailChoice {
    Smtp,
    Log,
}

/// One port's backend: the real one (its URL set) or the in-process one.
struct PortChoice {
    /// `backends.store`, ...
    key: &'static str,
    /// The URL's key.
    url: &'static str,
    configured: bool,
    /// `Some(true)`: the in-process backend named; `Some(false)`: the real one.
    in_process: Option<bool>,
    in_process_name: &'static str,
    keeps: &'static str,
}

impl PortChoice {
    fn check(&self, real: Option<&str>) -> Result<(), SettingsError> {
        let (name, url) = (variable(self.key), variable(self.url));
        match (self.in_process, self.configured) {
            (Some(true), true) => Err(SettingsError::invalid(
                self.key,
                format!("is {} while {url} is set; give one or the other", self.in_process_name),
            )),
            (Some(false), false) => {
                Err(SettingsError::invalid(self.url, format!("is required when {name} names the real backend")))
            }
            (None, false) => match real {
                Some(real) => Err(SettingsError::invalid(
                    self.url,
                    format!(
                        "is unset while {real} is set: give it, or set {name}={} to keep {} in this process on purpose (lost at restart, never shared between replicas)",
                        self.in_process_name, self.keeps
                    ),
                )),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

const MAX_REFRESH_HANDOVER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Generated when unset, which only the fully embedded default allows.
    pub jwt_secret: Option<Secret>,
    pub jwt_previous_secret: Option<Secret>,
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub refresh_handover: Duration,
    pub password_hash_queue: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: None,
            jwt_previous_secret: None,
            token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_handover: SessionPolicy::default().handover,
            password_hash_queue: 64,
        }
    }
}

impl AuthSettings {
    fn validate(&self) -> Result<(), InvalidSetting> {
        InvalidSetting::first_zero(&[("token_ttl", self.token_ttl), ("refresh_token_ttl", self.refresh_token_ttl)])?;
        if self.password_hash_queue == 0 {
            return Err(InvalidSetting::new("password_hash_queue", "must be at least 1"));
        }
        // Longer, and a stolen token used soon after its owner's refresh
        // would be handed the session instead of ending it.
        if self.refresh_handover > MAX_REFRESH_HANDOVER {
            return Err(InvalidSetting::new("refresh_handover", "must be at most 60 s (0 turns it off)"));
        }
        for (key, secret) in [("jwt_secret", &self.jwt_secret), ("jwt_previous_secret", &self.jwt_previous_secret)] {
            if let Some(secret) = secret {
                secrets::check(secret.expose()).map_err(|reason| InvalidSetting::new(key, reason))?;
            }
        }
        if self.jwt_secret.is_none() && self.jwt_previous_secret.is_some() {
            return Err(InvalidSetting::new("jwt_secret", "is required when POINTSHARE_JWT_PREVIOUS_SECRET is set"));
        }
        Ok(())
    }
}

/// The operator's first admin, created at start if no member has the email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapAdminSettings {
    pub email: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub handle: String,
}

impl Default for BootstrapAdminSettings {
    fn default() -> Self {
        BootstrapAdminSettings { email: None, password: None, password_file: None, handle: "admin".into() }
    }
}

/// The admin `[bootstrap_admin]` asks for, held to the member rules.
#[derive(Debug, Clone)]
pub struct BootstrapAdmin {
    pub email: Email,
    pub handle: Handle,
    pub password: Password,
}

impl BootstrapAdminSettings {
    /// Reads `password_file` into `password`. `Settings::load` does it, so
    /// the file is read once, at start.
    fn read_password_file(&mut self) -> Result<(), InvalidSetting> {
        let Some(file) = self.password_file.take() else { return Ok(()) };
        if self.password.is_some() {
            return Err(InvalidSetting::new("password", "give the password or the file, not both"));
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|e| InvalidSetting::new("password_file", format!("cannot read {}: {e}", file.display())))?;
        self.password = Some(Secret::from(text.trim_end_matches(['\r', '\n']).to_owned()));
        Ok(())
    }

    /// The admin, if configured: email, handle and password, each held to
    /// the member rules. Errors name the setting.
    pub fn admin(&self) -> Result<Option<BootstrapAdmin>, InvalidSetting> {
        let Some(email) = &self.email else {
            if self.password.is_some() || self.password_file.is_some() {
                return Err(InvalidSetting::new("email", "is required with a bootstrap admin password"));
            }
            return Ok(None);
        };
        let email = Email::parse(email.as_str()).map_err(|e| InvalidSetting::new("email", e.reason))?;
        let handle = Handle::parse(self.handle.as_str()).map_err(|e| InvalidSetting::new("handle", e.reason))?;
        let mut read = self.clone();
        read.read_password_file()?;
        let Some(password) = read.password.map(|password| password.expose().to_owned()) else {
            return Err(InvalidSetting::new("password", "is required with a bootstrap admin email"));
        };
        if secrets::is_placeholder(&password) {
            return Err(InvalidSetting::new("password", "is a placeholder from the deploy files; choose a password"));
        }
        let password = Password::parse(password).map_err(|e| InvalidSetting::new("password", e.reason))?;
        Ok(Some(BootstrapAdmin { email, handle, password }))
    }
}

/// Members' event streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventSettings {
    /// Whether changes to transfers are announced; off, the stream is refused.
    pub publish: bool,
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    pub streams_per_member: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            publish: true,
            retention: Duration::from_secs(15 * 60),
            heartbeat: Duration::from_secs(15),
            streams_per_member: 5,
        }
    }
}

impl EventSettings {
    fn validate(&self) -> Result<(), InvalidSetting> {
        InvalidSetting::first_zero(&[("retention", self.retention), ("heartbeat", self.heartbeat)])?;
        if self.streams_per_member == 0 {
            return Err(InvalidSetting::new("streams_per_member", "must be at least 1"));
        }
        Ok(())
    }
}

/// How a transfer is driven across replicas: the server's side of the
/// domain's `SagaSettings`, whose defaults it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SagaSection {
    #[serde(with = "humantime_serde")]
    pub balance_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub clock_skew: Duration,
    pub followup_limit: usize,
}

impl Default for SagaSection {
    fn default() -> Self {
        let saga = SagaSettings::default();
        SagaSection { balance_ttl: saga.balance_ttl, clock_skew: saga.clock_skew, followup_limit: 1024 }
    }
}

/// The recovery worker: how often it runs, and the domain's
/// `RecoverySettings` it runs with (their defaults too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoverySection {
    /// Zero: never.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    pub batch: usize,
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    pub max_attempts: u32,
}

impl Default for RecoverySection {
    fn default() -> Self {
        let recovery = RecoverySettings::default();
        RecoverySection {
            interval: Duration::from_secs(5),
            batch: recovery.batch,
            lease: recovery.lease_for,
            max_attempts: recovery.max_attempts,
        }
    }
}

impl RecoverySection {
    fn validate(&self) -> Result<(), InvalidSetting> {
        InvalidSetting::first_zero(&[("lease", self.lease)])?;
        if self.batch == 0 {
            return Err(InvalidSetting::new("batch", "must be at least 1"));
        }
        if self.max_attempts == 0 {
            return Err(InvalidSetting::new("max_attempts", "must be at least 1"));
        }
        Ok(())
    }
}

/// The domain's `ApprovalPolicy`: which corrections wait for a second
/// admin, and for how long (its defaults too).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalsSection {
    pub threshold: u64,
    #[serde(with = "humantime_serde")]
    pub expires_after: Duration,
}

impl Default for ApprovalsSection {
    fn default() -> Self {
        let ApprovalPolicy { threshold, expires_after } = ApprovalPolicy::default();
        ApprovalsSection { threshold, expires_after }
    }
}

impl ApprovalsSection {
    fn validate(&self) -> Result<(), InvalidSetting> {
        InvalidSetting::first_zero(&[("expires_after", self.expires_after)])
    }

    pub fn policy(&self) -> ApprovalPolicy {
        ApprovalPolicy { threshold: self.threshold, expires_after: self.expires_after }
    }
}

/// Mail to members: through the SMTP server at `smtp_url`, or, unset, each
/// mail's link written to the log (the embedded default); and the outbox
/// worker that sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSection {
    pub smtp_url: Option<Secret>,
    pub from: String,
    /// Where the frontend's pages are: the links in mails point there.
    pub public_url: Url,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How often the worker looks for mail to send; zero: never.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    pub max_attempts: u32,
}

impl Default for MailSection {
    fn default() -> Self {
        let smtp = SmtpSettings::new(String::new());
        MailSection {
            smtp_url: None,
            from: smtp.from,
            public_url: "http://127.0.0.1:5173".parse().expect("a URL"),
            timeout: smtp.timeout,
            interval: Duration::from_secs(2),
            max_attempts: MailSettings::default().max_attempts,
        }
    }
}

impl MailSection {
    fn validate(&self) -> Result<(), InvalidSetting> {
        if !matches!(self.public_url.scheme(), "http" | "https") {
            return Err(InvalidSetting::new("public_url", "must be an http:// or https:// URL"));
        }
        if self.max_attempts == 0 {
            return Err(InvalidSetting::new("max_attempts", "must be at least 1"));
        }
        match self.smtp() {
            Some(smtp) => smtp.validate().map_err(|invalid| match invalid.setting {
                "url" => InvalidSetting { setting: "smtp_url", ..invalid },
                _ => invalid,
            }),
            None => Ok(()),
        }
    }

    /// The SMTP server's settings, when its URL is set.
    pub fn smtp(&self) -> Option<SmtpSettings> {
        let url = self.smtp_url.clone()?;
        Some(SmtpSettings { from: self.from.clone(), timeout: self.timeout, ..SmtpSettings::new(url) })
    }

    /// The public URL without a trailing slash, as links are built on it.
    pub fn links(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }
}

/// How many API requests one replica has in flight at most, by what they
/// wait on; past that it answers 503 `overloaded` at once (see `admission`).
/// The defaults follow Little's law on the seed's figures: 200 req/s held
/// for up to 4 provider calls of about a second is ~800 in flight; a
/// store-only request takes milliseconds, so hundreds of them in flight
/// already mean the store is behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdmissionSettings {
    /// Requests that call the provider: shares, grants, corrections, balances, signups.
    pub provider_bound: usize,
    /// Requests that only read or write the store.
    pub store_bound: usize,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        AdmissionSettings { provider_bound: 1024, store_bound: 512 }
    }
}

impl AdmissionSettings {
    fn validate(&self) -> Result<(), InvalidSetting> {
        match (self.provider_bound, self.store_bound) {
            (0, _) => Err(InvalidSetting::new("provider_bound", "must be at least 1")),
            (_, 0) => Err(InvalidSetting::new("store_bound", "must be at least 1")),
            _ => Ok(()),
        }
    }
}

/// Members' own accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsSection {
    /// Whether a member shares only once their email is verified; unset:
    /// yes once anything real is configured, no in the fully embedded default.
    pub require_verified_email: Option<bool>,
    /// The handle of the member whose account receives what a member
    /// closing theirs gives up (`forfeit`); unset: closing needs a zero balance.
    pub house_handle: Option<String>,
    /// How long a closed account's handle is held back from new members.
    #[serde(with = "humantime_serde")]
    pub handle_hold: Duration,
}

impl Default for AccountsSection {
    fn default() -> Self {
        AccountsSection { require_verified_email: None, house_handle: None, handle_hold: HANDLE_HOLD }
    }
}

impl AccountsSection {
    fn validate(&self) -> Result<(), InvalidSetting> {
        self.house().map(|_| ())
    }

    /// The house account's handle, if one is set.
    pub fn house(&self) -> Result<Option<Handle>, InvalidSetting> {
        let house = self.house_handle.as_deref().map(Handle::parse).transpose();
        house.map_err(|error| InvalidSetting::new("house_handle", error.reason))
    }
}

/// What only the embedded default uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedSettings {
    #[serde(with = "humantime_serde")]
    pub provider_latency: Duration,
    pub demo_password: String,
    /// Seed the demo members; unset: when the API listens on loopback.
    pub demo_members: Option<bool>,
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        EmbeddedSettings {
            provider_latency: Duration::ZERO,
            demo_password: "pointshare-demo".into(),
            demo_members: None,
        }
    }
}

/// A setting that cannot be used, by its variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid setting {setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("unknown setting {key:?} in {origin}; `pointshare --help` lists the settings")]
    Unknown { key: String, origin: String },
}

impl SettingsError {
    fn invalid(key: &str, reason: impl Into<String>) -> Self {
        SettingsError::Invalid { setting: variable(key), reason: reason.into() }
    }

    /// A section's complaint, named by the section's key.
    pub(crate) fn in_section(section: &str) -> impl Fn(InvalidSetting) -> SettingsError {
        move |error| SettingsError::invalid(&format!("{section}.{}", error.setting), error.reason)
    }
}

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(SettingsError::Invalid {
                    setting: format!("{}CONFIG", table::PREFIX),
                    reason: format!("no such file: {}", file.display()),
                });
            }
            let toml = Toml::file_exact(file);
            let data = toml.data().map_err(named)?;
            let unknown = data.values().flat_map(table::unknown_keys).next();
            if let Some(key) = unknown {
                return Err(SettingsError::Unknown { key, origin: file.display().to_string() });
            }
            figment = figment.merge(toml);
        }
        let mut settings: Settings = figment.merge(table::environment()).extract().map_err(named)?;
        settings.bootstrap_admin.read_password_file().map_err(SettingsError::in_section("bootstrap_admin"))?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        use SettingsError as E;
        self.http.validate().map_err(E::in_section("http"))?;
        if let Some(store) = &self.store {
            store.validate().map_err(E::in_section("store"))?;
        }
        if let Some(cache) = &self.cache {
            cache.validate().map_err(E::in_section("cache"))?;
        }
        self.provider.validate().map_err(E::in_section("provider"))?;
        self.auth.validate().map_err(E::in_section("auth"))?;
        self.bootstrap_admin.admin().map_err(E::in_section("bootstrap_admin"))?;
        self.rate_limits.validate().map_err(E::in_section("rate_limits"))?;
        self.approvals.validate().map_err(E::in_section("approvals"))?;
        self.events.validate().map_err(E::in_section("events"))?;
        self.recovery.validate().map_err(E::in_section("recovery"))?;
        self.mail.validate().map_err(E::in_section("mail"))?;
        self.accounts.validate().map_err(E::in_section("accounts"))?;
        self.admission.validate().map_err(E::in_section("admission"))?;
        self.tracing.validate().map_err(E::in_section("tracing"))?;
        self.validate_timing()
    }

    /// What only serving needs, beyond `validate`: the operator's commands
    /// sign no token and name the backends they need themselves.
    pub fn validate_for_serving(&self) -> Result<(), SettingsError> {
        if self.embedded.demo_members == Some(true)
            && let Some(real) = self.real_backend()
        {
            return Err(SettingsError::invalid(
                "embedded.demo_members",
                format!(
                    "is only for the fully embedded default, and {real} is set: demo members have a published password"
                ),
            ));
        }
        if self.auth.jwt_secret.is_none()
            && let Some(real) = self.real_backend()
        {
            return Err(SettingsError::invalid(
                "auth.jwt_secret",
                format!(
                    "is required when {real} is set: every replica must sign with the same secret, and none may be guessed"
                ),
            ));
        }
        self.validate_backends()
    }

    /// Each port is served by what its URL says, or by the in-process
    /// backend: implied only while nothing real is configured, named otherwise.
    fn validate_backends(&self) -> Result<(), SettingsError> {
        let named = &self.backends;
        let ports = [
            PortChoice {
                key: "backends.store",
                url: "store.uri",
                configured: self.store.is_some(),
                in_process: named.store.map(|choice| choice == StoreChoice::Memory),
                in_process_name: "memory",
                keeps: "members, sessions and transfers",
            },
            PortChoice {
                key: "backends.cache",
                url: "cache.url",
                configured: self.cache.is_some(),
                in_process: named.cache.map(|choice| choice == CacheChoice::Memory),
                in_process_name: "memory",
                keeps: "rate limits, cached balances and events (each replica its own)",
            },
            PortChoice {
                key: "backends.provider",
                url: "provider.url",
                configured: self.provider.url.is_some(),
                in_process: named.provider.map(|choice| choice == ProviderChoice::Simulator),
                in_process_name: "simulator",
                keeps: "the points themselves, in a simulator",
            },
            PortChoice {
                key: "backends.mail",
                url: "mail.smtp_url",
                configured: self.mail.smtp_url.is_some(),
                in_process: named.mail.map(|choice| choice == MailChoice::Log),
                in_process_name: "log",
                keeps: "mail to members as lines in the log, never sent",
            },
        ];
        let real = self.real_backend();
        ports.iter().try_for_each(|port| port.check(real.as_deref()))
    }

    /// The rules between sections: a driver's provider calls must fit in its
    /// lease whoever holds it.
    fn validate_timing(&self) -> Result<(), SettingsError> {
        let deadline = self.http.request_deadline;
        let skew = self.saga.clock_skew;
        let lease = self.recovery.lease;
        let human = humantime::format_duration;
        // A request's lease is 2 × its deadline; its calls stop clock_skew
        // before the lease ends, which must not come before the deadline.
        if skew > deadline {
            return Err(SettingsError::invalid(
                "saga.clock_skew",
                format!(
                    "{} must be at most the request deadline ({}): a request's lease is 2 × the deadline = {}, its provider calls stop clock_skew before the lease ends, and that must not come before its deadline",
                    human(skew),
                    human(deadline),
                    human(deadline * 2)
                ),
            ));
        }
        // A pass gives each transfer lease / 2 of calls, which with the skew must fit.
        if skew > lease - lease / 2 {
            return Err(SettingsError::invalid(
                "recovery.lease",
                format!(
                    "{} is too short: a recovery pass gives each transfer lease / 2 = {} of provider calls, which with clock_skew {} must fit in the lease ({} > {})",
                    human(lease),
                    human(lease / 2),
                    human(skew),
                    human(lease / 2 + skew),
                    human(lease)
                ),
            ));
        }
        // A driver that took a transfer over waits out the in-flight window
        // before trusting a refusal; a pass must leave room for that.
        if self.provider.in_flight_window >= lease / 2 {
            return Err(SettingsError::invalid(
                "provider.in_flight_window",
                format!(
                    "{} must be shorter than a recovery pass's time per transfer, recovery lease / 2 = {}: a refusal after a takeover is confirmed only once the window has passed",
                    human(self.provider.in_flight_window),
                    human(lease / 2)
                ),
            ));
        }
        Ok(())
    }

    /// The first real backend configured, by its variable; `None` for the
    /// fully embedded default, the only configuration that may make up its
    /// own secret and seed demo members.
    pub fn real_backend(&self) -> Option<String> {
        let configured = [
            ("provider.url", self.provider.url.is_some()),
            ("store.uri", self.store.is_some()),
            ("cache.url", self.cache.is_some()),
        ];
        configured.into_iter().find(|(_, set)| *set).map(|(key, _)| variable(key))
    }

    pub fn is_fully_embedded(&self) -> bool {
        self.real_backend().is_none()
    }

    /// The limits on transfers, with the verified-email rule as `[accounts]` says.
    pub fn transfer_limits(&self) -> TransferLimits {
        let require = self.accounts.require_verified_email.unwrap_or(!self.is_fully_embedded());
        TransferLimits { require_verified_email: require, ..self.limits }
    }

    /// Whether to seed the demo members: in the fully embedded default, when
    /// asked for or, unasked, when the API listens on loopback only.
    pub fn seeds_demo_members(&self) -> bool {
        self.is_fully_embedded() && self.embedded.demo_members.unwrap_or_else(|| self.http.bind.ip().is_loopback())
    }

    /// The origins allowed to call the API from a browser.
    pub fn cors_origins(&self) -> CorsOrigins {
        match &self.http.cors_origins {
            Some(origins) => origins.clone(),
            // A frontend's dev server (Vite) on this machine, for the demo only.
            None if self.is_fully_embedded() => {
                CorsOrigins::parse("http://localhost:5173,http://127.0.0.1:5173").expect("exact origins")
            }
            None => CorsOrigins::default(),
        }
    }

    /// The defaults as `--help` and docs/operations.md show them: the
    /// adapters' own for the backends that are unset by default.
    fn documented() -> serde_json::Value {
        let every_backend = Settings {
            store: Some(MongoSettings::new("")),
            cache: Some(RedisSettings::new("")),
            ..Settings::default()
        };
        let mut defaults = serde_json::to_value(every_backend).expect("settings serialize");
        defaults["store"]["uri"] = serde_json::Value::Null;
        defaults["cache"]["url"] = serde_json::Value::Null;
        defaults
    }
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
    let path = error.path.join(".");
    if let figment::error::Kind::UnknownField(key, _) = &error.kind {
        let key = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        return SettingsError::Unknown { key, origin };
    }
    // A backend's other settings were given without the one saying where it is.
    if let figment::error::Kind::MissingField(field) = &error.kind {
        let section = error.path.first().map_or("the settings", String::as_str);
        return SettingsError::invalid(
            &format!("{path}.{field}"),
            format!("is required when any other [{section}] setting is given"),
        );
    }
    SettingsError::Invalid { setting: variable(&path), reason: format!("{} (from {origin})", error.kind) }
}

/// `--help`'s list of settings: variable, file key, default, and what it does.
pub fn help() -> String {
    table::help(&Settings::documented())
}

/// The settings table of docs/operations.md.
pub fn markdown() -> String {
    table::markdown(&Settings::documented())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dotted keys of every value in `value`.
    fn leaves(prefix: &str, value: &serde_json::Value, keys: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (name, inner) in fields {
                    let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                    leaves(&key, inner, keys);
                }
            }
            _ => keys.push(prefix.to_owned()),
        }
    }

    #[test]
    fn every_setting_is_in_the_table_once_and_every_row_is_a_setting() {
        let mut fields = Vec::new();
        leaves("", &Settings::documented(), &mut fields);
        let mut rows: Vec<String> = SETTINGS.iter().map(|setting| setting.key.to_owned()).collect();
        fields.sort_unstable();
        rows.sort_unstable();
        assert_eq!(fields, rows);
        let mut variables: Vec<&str> = SETTINGS.iter().map(|setting| setting.variable).collect();
        variables.sort_unstable();
        variables.dedup();
        assert_eq!(variables.len(), SETTINGS.len(), "two settings share a variable");
    }

    #[test]
    fn the_guide_s_example_file_holds_only_settings_of_the_right_types() {
        let guide = include_str!("../../../../docs/operations.md");
        let start = guide.find("```toml\n").expect("the guide shows a settings file") + "```toml\n".len();
        let example = &guide[start..start + guide[start..].find("```").expect("the block ends")];
        let data = Toml::string(example).data().expect("TOML");
        assert_eq!(data.values().flat_map(table::unknown_keys).collect::<Vec<_>>(), Vec::<String>::new());
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(example))
            .extract()
            .expect("reads");
        assert_eq!(settings.store.expect("a store").pool_size, 50);
        assert_eq!(settings.provider.calls.breaker.consecutive_failures, 10);
    }

    #[test]
    fn settings_print_without_their_secrets() {
        let file = r#"
            [provider]
            url = "https://provider.example"
            api_key = "provider-key-do-not-print"
            [auth]
            jwt_secret = "signing-secret-do-not-print"
            jwt_previous_secret = "old-signing-secret-do-not-print"
            [bootstrap_admin]
            email = "boss@example.com"
            password = "admin-password-do-not-print"
            [store]
            uri = "mongodb://app:mongo-password-do-not-print@db:27017"
            [cache]
            url = "redis://:redis-password-do-not-print@cache:6379"
        "#;
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(file))
            .extract()
            .expect("reads");
        assert_eq!(settings.auth.jwt_secret.as_ref().map(Secret::expose), Some("signing-secret-do-not-print"));
        let printed = format!("{settings:?} {settings:#?}");
        assert!(!printed.contains("do-not-print"), "{printed}");
    }

    #[test]
    fn the_bootstrap_admin_s_password_file_is_read_once_at_start() {
        let dir = std::env::temp_dir().join(format!("pointshare-admin-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let (password, file) = (dir.join("password"), dir.join("pointshare.toml"));
        std::fs::write(&password, "an operator's password\n").expect("writes");
        let toml = format!("[bootstrap_admin]\nemail = \"boss@example.com\"\npassword_file = {:?}\n", password);
        std::fs::write(&file, toml).expect("writes");
        let settings = Settings::load(Some(&file)).expect("loads");
        // A secret mounted for start-up may be gone later.
        std::fs::remove_dir_all(&dir).expect("removes");
        let admin = settings.bootstrap_admin.admin().expect("valid").expect("configured");
        assert_eq!(admin.email.as_str(), "boss@example.com");
        assert_eq!(settings.bootstrap_admin.password.as_ref().map(Secret::expose), Some("an operator's password"));
    }

    #[test]
    fn the_defaults_are_valid() {
        Settings::default().validate().expect("valid defaults");
    }
}
