//! What the LedgerAPI adapter needs to know: where LedgerAPI is, the OAuth2
//! client it signs in as, and how long calls and retries may take.

use std::time::Duration;

use pointshare_domain::settings::InvalidSetting;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

#[derive(Debug, Clone)]
pub struct LedgerApiSettings {
    /// LedgerAPI's base URL; `/oauth/token` and `/ledger/...` are relative to it.
    pub base_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The longest one attempt may take; the caller's deadline shortens it further.
    pub call_timeout: Duration,
    /// The backoff before the first retry (before jitter).
    pub first_delay: Duration,
    /// The longest backoff between two attempts (before jitter).
    pub max_delay: Duration,
}

impl LedgerApiSettings {
    /// Settings for the client `client_id` of LedgerAPI at `base_url`, with
    /// the defaults for the rest.
    pub fn new(base_url: Url, client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        LedgerApiSettings {
            base_url,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            call_timeout: Duration::from_secs(5),
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }

    /// Rejects settings the adapter cannot work with, naming the setting.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.cannot_be_a_base() {
            return Err(InvalidSetting::new("base_url", format!("must be an http(s) URL, not {}", self.base_url)));
        }
        if self.client_id.is_empty() || self.client_secret.expose_secret().is_empty() {
            return Err(InvalidSetting::new("client_id", "the client id and secret must not be empty"));
        }
        InvalidSetting::first_zero(&[("call_timeout", self.call_timeout), ("first_delay", self.first_delay)])?;
        if self.max_delay < self.first_delay {
            return Err(InvalidSetting::new("max_delay", "must not be shorter than first_delay"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LedgerApiSettings {
        LedgerApiSettings::new(Url::parse("http://127.0.0.1:9200").expect("valid URL"), "id", "secret")
    }

    #[test]
    fn the_defaults_are_valid_and_bad_settings_are_named() {
        assert_eq!(settings().validate(), Ok(()));
        let zero = LedgerApiSettings { call_timeout: Duration::ZERO, ..settings() };
        assert_eq!(zero.validate().map_err(|e| e.setting), Err("call_timeout"));
        let inverted = LedgerApiSettings { max_delay: Duration::from_millis(1), ..settings() };
        assert_eq!(inverted.validate().map_err(|e| e.setting), Err("max_delay"));
        let mail = LedgerApiSettings { base_url: Url::parse("mailto:a@b.c").expect("valid URL"), ..settings() };
        assert_eq!(mail.validate().map_err(|e| e.setting), Err("base_url"));
    }
}
