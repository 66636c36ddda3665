//! The ports: what the rules need from the world, named for the domain's needs.
//! Adapters implement them and translate driver errors into these enums at the edge.

mod cache;
mod clock;
mod deadline;
mod events;
mod members;
mod provider;
mod sessions;
mod totals;
mod transfers;

pub use cache::{BalanceCache, CacheError, CachedBalance, RateDecision, RateLimiter, RateRule};
pub use clock::{Clock, SystemClock};
pub use deadline::Deadline;
pub use events::{EventId, EventsError, InvalidEventId, MemberEvent, MemberEvents, Notice, WakeupHub};
pub use members::{AttachAccountError, InsertMemberError, MemberRepository};
pub use provider::{Movement, PointsProvider, ProviderError, Rejection};
pub use sessions::SessionRepository;
pub use totals::{DailyTotals, DayKey};
pub use transfers::{
    Direction, HistoryFilter, InsertTransferError, TakeOverError, TransferRepository, Transition, TransitionError,
};

use thiserror::Error;

/// A store failed in a way the caller cannot act on but by retrying later.
#[derive(Debug, Error)]
#[error("store unavailable: {0:#}")]
pub struct StoreError(#[from] pub anyhow::Error);
