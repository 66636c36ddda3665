//! `Throttle`: how often a client may knock before anything costly happens.
//! Transfers are counted per member, signups per client address and in
//! total, logins per address and per (address, account). Attempts against
//! one account from everywhere only slow its answers down, never refuse
//! them, so an attacker can never lock the owner out. A limiter that cannot
//! answer lets requests through or refuses them, as the policy says.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Email, MemberId};
use crate::ports::{InvalidSetting, RateDecision, RateLimiter, RateRule};

/// How much longer each login answer takes while its account is under attack.
pub const LOGIN_SLOW_DOWN: Duration = Duration::from_secs(1);

/// The allowances, per window. Every count must be at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottlePolicy {
    pub transfers_per_minute: u32,
    pub signups_per_hour_per_address: u32,
    pub signups_per_minute: u32,
    pub logins_per_minute_per_address: u32,
    pub logins_per_minute_per_address_and_account: u32,
    /// Logins per minute for one account from everywhere after which each
    /// answer waits `LOGIN_SLOW_DOWN`.
    pub logins_per_minute_before_slow_down: u32,
    /// When the limiter cannot answer: let requests through, or refuse them.
    pub fail_open: bool,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            transfers_per_minute: 600,
            signups_per_hour_per_address: 20,
            signups_per_minute: 300,
            logins_per_minute_per_address: 60,
            logins_per_minute_per_address_and_account: 10,
            logins_per_minute_before_slow_down: 20,
            fail_open: true,
        }
    }
}

impl ThrottlePolicy {
    /// Refuses an allowance of zero, which would refuse everyone.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let zero = [
            ("transfers_per_minute", self.transfers_per_minute),
            ("signups_per_hour_per_address", self.signups_per_hour_per_address),
            ("signups_per_minute", self.signups_per_minute),
            ("logins_per_minute_per_address", self.logins_per_minute_per_address),
            ("logins_per_minute_per_address_and_account", self.logins_per_minute_per_address_and_account),
            ("logins_per_minute_before_slow_down", self.logins_per_minute_before_slow_down),
        ]
        .into_iter()
        .find_map(|(field, allowance)| (allowance == 0).then_some(field));
        zero.map_or(Ok(()), |field| Err(InvalidSetting::new(field, "must be at least 1")))
    }
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Throttled {
    #[error("too many requests; try again in {retry_after:?}")]
    Limited { retry_after: Duration },
    /// The limiter could not answer and the policy is to fail closed.
    #[error("the rate limiter is unavailable")]
    Unavailable,
}

#[derive(Debug)]
pub struct Throttle {
    limiter: Arc<dyn RateLimiter>,
    policy: ThrottlePolicy,
}

fn per_minute(limit: u32) -> RateRule {
    RateRule { limit, window: Duration::from_secs(60) }
}

impl Throttle {
    pub fn new(limiter: Arc<dyn RateLimiter>, policy: ThrottlePolicy) -> Self {
        Throttle { limiter, policy }
    }

    /// Counts a transfer `member` is about to create.
    pub async fn transfer(&self, member: MemberId) -> Result<(), Throttled> {
        self.admit(&format!("transfers:{member}"), per_minute(self.policy.transfers_per_minute)).await
    }

    /// Counts a signup from `address`; call it before anything costly (the
    /// password hash most).
    pub async fn signup(&self, address: &str) -> Result<(), Throttled> {
        self.admit("signup:all", per_minute(self.policy.signups_per_minute)).await?;
        let hourly = RateRule { limit: self.policy.signups_per_hour_per_address, window: Duration::from_secs(3600) };
        self.admit(&format!("signup:ip:{address}"), hourly).await
    }

    /// Counts a login from `address` for `account` (the email as typed,
    /// compared without case), and waits `LOGIN_SLOW_DOWN` when the account
    /// is being tried from everywhere.
    pub async fn login(&self, address: &str, account: &str) -> Result<(), Throttled> {
        // The account as the store knows it, so every spelling of one email counts together.
        let account =
            Email::parse(account).map_or_else(|_| account.trim().to_ascii_lowercase(), |email| email.to_string());
        let policy = &self.policy;
        self.admit(&format!("login:ip:{address}"), per_minute(policy.logins_per_minute_per_address)).await?;
        let key = format!("login:ip-account:{address}:{account}");
        self.admit(&key, per_minute(policy.logins_per_minute_per_address_and_account)).await?;
        let everywhere = per_minute(policy.logins_per_minute_before_slow_down);
        // A limiter that cannot answer slows no one down: the two limits above
        // already decided how to fail.
        if let Ok(RateDecision::Limited { .. }) =
            self.limiter.acquire(&format!("login:account:{account}"), everywhere).await
        {
            tokio::time::sleep(LOGIN_SLOW_DOWN).await;
        }
        Ok(())
    }

    async fn admit(&self, key: &str, rule: RateRule) -> Result<(), Throttled> {
        match self.limiter.acquire(key, rule).await {
            Ok(RateDecision::Allowed { .. }) => Ok(()),
            Ok(RateDecision::Limited { retry_after }) => Err(Throttled::Limited { retry_after }),
            Err(error) if self.policy.fail_open => {
                tracing::warn!(%error, key, "rate limiter unavailable; letting the request through");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, key, "rate limiter unavailable; refusing the request");
                Err(Throttled::Unavailable)
            }
        }
    }
}
