//! `Throttle`: how often a client may knock before anything costly happens.
//! Transfers are counted per member, signups per client address and in
//! total, logins per address and per (address, account), mails asked for
//! (resets, verification links) per address and per account. One account's
//! password is checked once at a time on a replica, and once it has failed
//! more than a few times from anywhere, each next check waits a second
//! longer, up to `LOGIN_SLOW_DOWN_MAX`: guesses from many addresses come no
//! faster than that, while its owner is only ever slowed, never refused for
//! good (and, from a network they signed in from before, not slowed at all).
//! A limiter that cannot answer lets requests through or refuses them, as
//! the policy says.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use crate::model::{Email, MemberId};
use crate::ports::{RateDecision, RateLimiter, RateRule};
use crate::settings::InvalidSetting;

/// How much longer each check of a slowed account waits, per failure past
/// the free ones.
pub const LOGIN_SLOW_DOWN_STEP: Duration = Duration::from_secs(1);
/// The longest a check of a slowed account waits after the last one.
pub const LOGIN_SLOW_DOWN_MAX: Duration = Duration::from_secs(5);
/// The longest a login waits for its account's turn; past it, it is refused
/// with the time to try again, rather than held open.
pub const LOGIN_TURN_WAIT: Duration = Duration::from_secs(10);
/// How long a failed login counts toward its account's slow-down.
pub const FAILED_LOGIN_MEMORY: Duration = Duration::from_secs(15 * 60);

/// The allowances, per window. Every count must be at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottlePolicy {
    pub transfers_per_minute: u32,
    /// Recipient searches one member may make per minute, so nobody walks
    /// the directory of handles.
    pub member_searches_per_minute: u32,
    pub signups_per_hour_per_address: u32,
    pub signups_per_minute: u32,
    pub logins_per_minute_per_address: u32,
    pub logins_per_minute_per_address_and_account: u32,
    /// Mails a client address may ask for (password resets, verification
    /// links) per hour, and mails asked for one account from everywhere.
    pub mail_requests_per_hour_per_address: u32,
    pub mail_requests_per_hour_per_account: u32,
    /// Failed logins for one account from everywhere, within
    /// `FAILED_LOGIN_MEMORY`, after which its checks are spaced out.
    pub failed_logins_before_slow_down: u32,
    /// When the limiter cannot answer: let requests through, or refuse them.
    pub fail_open: bool,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            transfers_per_minute: 600,
            member_searches_per_minute: 60,
            signups_per_hour_per_address: 20,
            signups_per_minute: 300,
            logins_per_minute_per_address: 60,
            logins_per_minute_per_address_and_account: 10,
            mail_requests_per_hour_per_address: 20,
            mail_requests_per_hour_per_account: 5,
            failed_logins_before_slow_down: 5,
            fail_open: true,
        }
    }
}

impl ThrottlePolicy {
    /// Refuses an allowance of zero, which would refuse everyone.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let zero = [
            ("transfers_per_minute", self.transfers_per_minute),
            ("member_searches_per_minute", self.member_searches_per_minute),
            ("signups_per_hour_per_address", self.signups_per_hour_per_address),
            ("signups_per_minute", self.signups_per_minute),
            ("logins_per_minute_per_address", self.logins_per_minute_per_address),
            ("logins_per_minute_per_address_and_account", self.logins_per_minute_per_address_and_account),
            ("mail_requests_per_hour_per_address", self.mail_requests_per_hour_per_address),
            ("mail_requests_per_hour_per_account", self.mail_requests_per_hour_per_account),
        ]
        .into_iter()
        .find_map(|(field, allowance)| (allowance == 0).then_some(field));
        zero.map_or(Ok(()), |field| Err(InvalidSetting::new(field, "must be at least 1")))
    }

    /// How long a check waits after the last one once the account has
    /// failed `failures` times.
    pub fn slow_down(&self, failures: u32) -> Duration {
        let past_free = failures.saturating_sub(self.failed_logins_before_slow_down);
        (LOGIN_SLOW_DOWN_STEP * past_free).min(LOGIN_SLOW_DOWN_MAX)
    }
}

/// One allowance of the client's as it stands after a request: what the
/// API tells a client of its limits (the IETF `RateLimit` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// The policy's name, stable: `transfers`, `signups`, ...
    pub name: &'static str,
    pub limit: u32,
    pub window: Duration,
    pub remaining: u32,
    /// When the window restarts, from now.
    pub reset_after: Duration,
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Throttled {
    /// `quota` is the allowance it ran out of, if one (a login's turn is none).
    #[error("too many requests; try again in {retry_after:?}")]
    Limited { retry_after: Duration, quota: Option<Quota> },
    /// The limiter could not answer and the policy is to fail closed.
    #[error("the rate limiter is unavailable")]
    Unavailable,
}

impl Throttled {
    /// The same refusal without its allowance, for one the client is not
    /// to be told of (everyone's together, one account's).
    fn unnamed(self) -> Self {
        match self {
            Throttled::Limited { retry_after, .. } => Throttled::Limited { retry_after, quota: None },
            unavailable => unavailable,
        }
    }
}

/// An account as the limits count it: the email as the store knows it (so
/// every spelling of one counts together), or the text as typed when it is
/// not one, hashed, so a key is short whatever a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountKey(String);

impl AccountKey {
    pub fn of(typed: &str) -> Self {
        let account = Email::parse(typed).map_or_else(|_| typed.trim().to_lowercase(), |email| email.to_string());
        let digest = Sha256::digest(account.as_bytes());
        AccountKey(digest[..16].iter().map(|byte| format!("{byte:02x}")).collect())
    }
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One account's gate on this replica: held while its password is checked,
/// and when the next check may start.
#[derive(Debug, Default)]
struct Gate {
    next_check: Option<Instant>,
}

/// Whether a check of the gate's account would wait at `now`: one is under
/// way, or the last one failed recently enough to space the next out.
fn would_wait(gate: &tokio::sync::Mutex<Gate>, now: Instant) -> bool {
    gate.try_lock().map_or(true, |gate| gate.next_check.is_some_and(|next| next > now))
}

/// The accounts whose gate is held or still spaces checks out. One that is
/// neither is forgotten, so an attacker trying many accounts costs memory
/// only for as long as each is slowed.
#[derive(Debug, Default)]
struct Gates {
    open: HashMap<AccountKey, Arc<tokio::sync::Mutex<Gate>>>,
    swept: Option<Instant>,
}

impl Gates {
    fn sweep(&mut self, now: Instant) {
        if self.swept.is_some_and(|swept| now < swept + Duration::from_secs(1)) {
            return;
        }
        self.open.retain(|_, gate| Arc::strong_count(gate) > 1 || would_wait(gate, now));
        self.swept = Some(now);
    }
}

/// The right to check one account's password now; report a failure with
/// `Throttle::login_failed`, or drop it.
#[derive(Debug)]
pub struct LoginTurn {
    account: AccountKey,
    gate: OwnedMutexGuard<Gate>,
}

#[derive(Debug)]
pub struct Throttle {
    limiter: Arc<dyn RateLimiter>,
    policy: ThrottlePolicy,
    gates: Mutex<Gates>,
}

fn per_minute(limit: u32) -> RateRule {
    RateRule { limit, window: Duration::from_secs(60) }
}

/// Counts failures without ever refusing: the count is what `remaining` leaves.
const FAILURE_COUNT: RateRule = RateRule { limit: u32::MAX, window: FAILED_LOGIN_MEMORY };

impl Throttle {
    pub fn new(limiter: Arc<dyn RateLimiter>, policy: ThrottlePolicy) -> Self {
        Throttle { limiter, policy, gates: Mutex::default() }
    }

    /// Counts a transfer `member` is about to create.
    pub async fn transfer(&self, member: MemberId) -> Result<Vec<Quota>, Throttled> {
        let rule = per_minute(self.policy.transfers_per_minute);
        Ok(self.admit(&format!("transfers:{member}"), "transfers", rule).await?.into_iter().collect())
    }

    /// Counts a recipient search `member` is about to make.
    pub async fn member_search(&self, member: MemberId) -> Result<Vec<Quota>, Throttled> {
        let rule = per_minute(self.policy.member_searches_per_minute);
        Ok(self.admit(&format!("member-searches:{member}"), "member-searches", rule).await?.into_iter().collect())
    }

    /// Counts a signup from `address`; call it before anything costly (the
    /// password hash most). The allowance of everyone together is not the
    /// client's to know.
    pub async fn signup(&self, address: &str) -> Result<Vec<Quota>, Throttled> {
        self.admit("signup:all", "signups", per_minute(self.policy.signups_per_minute))
            .await
            .map_err(Throttled::unnamed)?;
        let hourly = RateRule { limit: self.policy.signups_per_hour_per_address, window: Duration::from_secs(3600) };
        Ok(self.admit(&format!("signup:ip:{address}"), "signups", hourly).await?.into_iter().collect())
    }

    /// Counts a login from `address` for `account`.
    pub async fn login(&self, address: &str, account: &AccountKey) -> Result<Vec<Quota>, Throttled> {
        let policy = &self.policy;
        let from_address = per_minute(policy.logins_per_minute_per_address);
        let address_quota = self.admit(&format!("login:ip:{address}"), "logins", from_address).await?;
        let key = format!("login:ip-account:{address}:{account}");
        let per_account = per_minute(policy.logins_per_minute_per_address_and_account);
        let account_quota = self.admit(&key, "logins-per-account", per_account).await?;
        Ok(address_quota.into_iter().chain(account_quota).collect())
    }

    /// Counts a mail asked for from `address` to `account` (a password
    /// reset, a verification link), whether or not the account exists, so
    /// the answer says nothing about that: only the address's allowance is
    /// told, and the account's refusal looks like no other.
    pub async fn mail_request(&self, address: &str, account: &AccountKey) -> Result<Vec<Quota>, Throttled> {
        let hourly = |limit| RateRule { limit, window: Duration::from_secs(3600) };
        let policy = &self.policy;
        let from_address = hourly(policy.mail_requests_per_hour_per_address);
        let quota = self.admit(&format!("mail:ip:{address}"), "mail-requests", from_address).await?;
        let per_account = hourly(policy.mail_requests_per_hour_per_account);
        self.admit(&format!("mail:account:{account}"), "mail-requests", per_account)
            .await
            .map_err(Throttled::unnamed)?;
        Ok(quota.into_iter().collect())
    }

    /// Whether a check of `account` would wait now: it is being checked, or
    /// was failed lately enough to be spaced out.
    pub fn is_slowed(&self, account: &AccountKey) -> bool {
        self.gates.lock().open.get(account).is_some_and(|gate| would_wait(gate, Instant::now()))
    }

    /// Waits for `account`'s turn: the check before it done, and its
    /// slow-down past. Refused when that takes longer than `LOGIN_TURN_WAIT`.
    pub async fn login_turn(&self, account: &AccountKey) -> Result<LoginTurn, Throttled> {
        let gate = {
            let mut gates = self.gates.lock();
            gates.sweep(Instant::now());
            gates.open.entry(account.clone()).or_default().clone()
        };
        let turn = async {
            let gate = gate.lock_owned().await;
            if let Some(next) = gate.next_check {
                tokio::time::sleep_until(next).await;
            }
            gate
        };
        let gate = tokio::time::timeout(LOGIN_TURN_WAIT, turn)
            .await
            .map_err(|_| Throttled::Limited { retry_after: LOGIN_SLOW_DOWN_MAX, quota: None })?;
        Ok(LoginTurn { account: account.clone(), gate })
    }

    /// Counts a failed check of the turn's account (on every replica, through
    /// the limiter) and spaces its next check out accordingly.
    pub async fn login_failed(&self, mut turn: LoginTurn) {
        let counted = self.limiter.acquire(&format!("login:failed:{}", turn.account), FAILURE_COUNT).await;
        let failures = match counted {
            Ok(RateDecision::Allowed { remaining, .. }) => u32::MAX - remaining,
            Ok(RateDecision::Limited { .. }) => u32::MAX,
            // Without the shared count, this replica still spaces the account's checks out.
            Err(error) => {
                tracing::warn!(%error, "cannot count a failed login; slowing its account down as far as allowed");
                u32::MAX
            }
        };
        turn.gate.next_check = Some(Instant::now() + self.policy.slow_down(failures));
    }

    /// Counts one use of `key` under `rule`, named `name` to the client; the
    /// quota as it now stands, or none when the limiter could not say.
    async fn admit(&self, key: &str, name: &'static str, rule: RateRule) -> Result<Option<Quota>, Throttled> {
        let quota =
            |remaining, reset_after| Quota { name, limit: rule.limit, window: rule.window, remaining, reset_after };
        match self.limiter.acquire(key, rule).await {
            Ok(RateDecision::Allowed { remaining, reset_after }) => Ok(Some(quota(remaining, reset_after))),
            Ok(RateDecision::Limited { retry_after }) => {
                Err(Throttled::Limited { retry_after, quota: Some(quota(0, retry_after)) })
            }
            Err(error) if self.policy.fail_open => {
                tracing::warn!(%error, key, "rate limiter unavailable; letting the request through");
                Ok(None)
            }
            Err(error) => {
                tracing::warn!(%error, key, "rate limiter unavailable; refusing the request");
                Err(Throttled::Unavailable)
            }
        }
    }
}
