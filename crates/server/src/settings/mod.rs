//! Typed settings in layers: the defaults, then an optional TOML file
//! (`--config` / `POINTSHARE_CONFIG`) in sections (`[http]`, `[store]`,
//! `[cache]`, `[provider]`, `[auth]`, `[limits]`, ...), then `POINTSHARE_*`
//! environment variables (`POINTSHARE_BIND`, `POINTSHARE_MONGODB_URI`, ...,
//! each mapped to its key once, in `table`). Each section deserializes
//! straight into the settings type of the part it configures (an adapter's,
//! a domain policy's, or the server's own below), which holds its one default
//! and its rules. A value that does not parse or makes no sense stops
//! start-up, naming the variable; so does an unknown key in the file.

mod sections;
mod table;

use std::path::Path;

use figment::providers::{Format, Serialized, Toml};
use figment::{Figment, Provider, Source};
use serde::{Deserialize, Serialize};

use pointshare_domain::settings::InvalidSetting;
pub use pointshare_mail_smtp::SmtpSettings;

// The sections that are another crate's settings type.
pub use pointshare_cache_redis::RedisSettings;
pub use pointshare_domain::services::{ThrottlePolicy, TransferLimits};
pub use pointshare_provider_http::CallSettings;
pub use pointshare_store_mongo::MongoSettings;

pub use crate::client_address::{ClientAddresses, ForwardingHeader, TrustedProxies};
pub use crate::cors::CorsOrigins;
pub use crate::traces::TracingSettings;

pub use sections::{
    AccountsSection, AdmissionSettings, ApprovalsSection, AuthSettings, BackendChoices, BootstrapAdmin,
    BootstrapAdminSettings, CacheChoice, EmbeddedSettings, EventSettings, HttpSettings, MailChoice, MailSection,
    ProviderChoice, ProviderSettings, RecoverySection, SagaSection, StoreChoice,
};
pub use table::{SETTINGS, Setting, unknown_variables, variable};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

/// A setting that cannot be used, by its variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid setting {setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("unknown setting {key:?} in {origin}; `pointshare --help` lists the settings")]
    Unknown { key: String, origin: String },
}

impl SettingsError {
    pub(super) fn invalid(key: &str, reason: impl Into<String>) -> Self {
        SettingsError::Invalid { setting: variable(key), reason: reason.into() }
    }

    /// A section's complaint, named by the section's key.
    pub(crate) fn in_section(section: &str) -> impl Fn(InvalidSetting) -> SettingsError {
        move |error| SettingsError::invalid(&format!("{section}.{}", error.setting), error.reason)
    }
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

/// The settings whose values are secrets (`SecretString`: redacted in
/// `Debug`, never serialized, so the defaults never hold one).
const SECRETS: &[&str] = &[
    "store.uri",
    "cache.url",
    "provider.api_key",
    "auth.jwt_secret",
    "auth.jwt_previous_secret",
    "bootstrap_admin.password",
    "mail.smtp_url",
];

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
        // Secrets are never serialized; none has a default.
        for secret in SECRETS {
            let (section, key) = secret.split_once('.').expect("a section and a key");
            defaults[section][key] = serde_json::Value::Null;
        }
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
    use secrecy::ExposeSecret;

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
        assert_eq!(
            settings.auth.jwt_secret.as_ref().map(ExposeSecret::expose_secret),
            Some("signing-secret-do-not-print")
        );
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
        assert_eq!(
            settings.bootstrap_admin.password.as_ref().map(ExposeSecret::expose_secret),
            Some("an operator's password")
        );
    }

    #[test]
    fn the_defaults_are_valid() {
        Settings::default().validate().expect("valid defaults");
    }
}
