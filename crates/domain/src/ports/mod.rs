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
mod sessions;
mod totals;
mod transfers;

pub use account_tokens::AccountTokens;
pub use audit::{AppendError, AuditFilter, AuditLog};
pub use cache::{BalanceCache, CacheError, CachedBalance, RateDecision, RateLimiter, RateRule};
pub use clock::{Clock, SystemClock};
pub use deadline::Deadline;
pub use events::{EventId, EventsError, InvalidEventId, MemberEvent, MemberEvents, Notice};
pub use mail::{MailError, MailOutbox, Mailer};
pub use members::{
    AttachAccountError, InsertMemberError, MemberDirectory, MemberRepository, MemberSearch, SetEmailError,
};
pub use passwords::{HashError, PasswordHasher};
pub use provider::{Capabilities, Movement, PointsProvider, ProviderError, Rejection};
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
