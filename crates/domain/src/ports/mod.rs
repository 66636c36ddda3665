//! The ports: what the rules need from the world, named for the domain's needs.
//! Adapters implement them and translate driver errors into these enums at the edge.

mod account_tokens;
mod audit;
mod cache;
mod clock;
mod deadline;
mod events;
mod mail;
mod members;
mod passwords;
mod provider;
mod secret;
mod sessions;
mod totals;
mod transfers;

pub use account_tokens::AccountTokens;
pub use audit::{AppendError, AuditFilter, AuditLog};
pub use cache::{BalanceCache, CacheError, CachedBalance, RateDecision, RateLimiter, RateRule};
pub use clock::{Clock, SystemClock};
pub use deadline::Deadline;
pub use events::{EventId, EventsError, InvalidEventId, MemberEvent, MemberEvents, Notice, WakeupHub};
pub use mail::{MailError, MailOutbox, Mailer};
pub use members::{
    AttachAccountError, InsertMemberError, MemberDirectory, MemberRepository, MemberSearch, SetEmailError,
};
pub use passwords::{HashError, PasswordHasher};
pub use provider::{Capabilities, Movement, PointsProvider, ProviderError, Rejection};
pub use secret::Secret;
pub use sessions::SessionRepository;
pub use totals::{DailyTotals, DayKey};
pub use transfers::{
    Direction, HistoryFilter, InsertTransferError, ReversalHolds, TakeOverError, TransferLeases, TransferReads,
    TransferRecords, TransferRepository, TransferStore, Transition, TransitionError, Window,
};

use thiserror::Error;

/// A store failed in a way the caller cannot act on but by retrying later.
#[derive(Debug, Error)]
#[error("store unavailable: {0:#}")]
pub struct StoreError(#[from] pub anyhow::Error);

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
