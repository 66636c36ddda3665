//! What each section of the settings holds that is the server's own (the
//! listeners, the provider's address, the backends named, auth, the
//! bootstrap admin, events, the saga, recovery, approvals, mail, accounts,
//! admission, the embedded default): its fields, its one default, and its
//! rules. Loading the layers and the rules across sections are mod.rs's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use pointshare_domain::services::{
    ApprovalPolicy, HANDLE_HOLD, MailSettings, RecoverySettings, SagaSettings, SessionPolicy,
};
use pointshare_domain::settings::InvalidSetting;
use pointshare_domain::{Email, Handle, Password};
pub use pointshare_mail_smtp::SmtpSettings;
use pointshare_provider_http::HttpProviderSettings;
use secrecy::{ExposeSecret, SecretString};

// The sections that are another crate's settings type.
pub use pointshare_provider_http::CallSettings;

pub use crate::client_address::{ClientAddresses, ForwardingHeader, TrustedProxies};
pub use crate::cors::CorsOrigins;

use crate::secrets;

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
    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderSettings {
    pub url: Option<Url>,
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
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
    pub fn adapter(&self, url: Url, api_key: SecretString) -> HttpProviderSettings {
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

    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
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

const MAX_REFRESH_HANDOVER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Generated when unset, which only the fully embedded default allows.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    #[serde(skip_serializing)]
    pub jwt_previous_secret: Option<SecretString>,
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
    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
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
                secrets::check(secret.expose_secret()).map_err(|reason| InvalidSetting::new(key, reason))?;
            }
        }
        if self.jwt_secret.is_none() && self.jwt_previous_secret.is_some() {
            return Err(InvalidSetting::new("jwt_secret", "is required when POINTSHARE_JWT_PREVIOUS_SECRET is set"));
        }
        Ok(())
    }
}

/// The operator's first admin, created at start if no member has the email.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapAdminSettings {
    pub email: Option<String>,
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
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
    pub(super) fn read_password_file(&mut self) -> Result<(), InvalidSetting> {
        let Some(file) = self.password_file.take() else { return Ok(()) };
        if self.password.is_some() {
            return Err(InvalidSetting::new("password", "give the password or the file, not both"));
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|e| InvalidSetting::new("password_file", format!("cannot read {}: {e}", file.display())))?;
        self.password = Some(SecretString::from(text.trim_end_matches(['\r', '\n']).to_owned()));
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
        let Some(password) = read.password.map(|password| password.expose_secret().to_owned()) else {
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
    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
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
    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
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
    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
        InvalidSetting::first_zero(&[("expires_after", self.expires_after)])
    }

    pub fn policy(&self) -> ApprovalPolicy {
        ApprovalPolicy { threshold: self.threshold, expires_after: self.expires_after }
    }
}

/// Mail to members: through the SMTP server at `smtp_url`, or, unset, each
/// mail's link written to the log (the embedded default); and the outbox
/// worker that sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSection {
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
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
    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
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
    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
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
    pub(super) fn validate(&self) -> Result<(), InvalidSetting> {
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
