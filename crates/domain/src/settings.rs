//! `InvalidSetting`: what a policy (the throttle's) or an adapter (a store,
//! the provider, mail) says of a setting it cannot work with, in the same
//! words everywhere, so the server names the variable behind any of them.

use thiserror::Error;

/// A setting an adapter or a policy cannot work with: the setting, by its key
/// within the adapter's or policy's settings (`call_timeout`,
/// `breaker.cool_down`), and why. The server names the variable behind it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid setting {setting}: {reason}")]
pub struct InvalidSetting {
    pub setting: &'static str,
    pub reason: String,
}

impl InvalidSetting {
    pub fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        InvalidSetting { setting, reason: reason.into() }
    }

    /// The first of `durations` (key, value) that is zero, as an error.
    pub fn first_zero(durations: &[(&'static str, std::time::Duration)]) -> Result<(), InvalidSetting> {
        match durations.iter().find(|(_, value)| value.is_zero()) {
            Some((setting, _)) => Err(InvalidSetting::new(setting, "must be longer than zero")),
            None => Ok(()),
        }
    }
}
