//! In-memory adapters of the store, one-use tokens, audit log, mail outbox,
//! cache, rate limiter and events ports (and a mailer that writes to the
//! log): what `pointshare` runs on with nothing configured (the embedded default),
//! and what tests of any crate stand on. Each keeps the semantics its real
//! adapter must have (uniqueness, compare-and-set, leases, newer-wins
//! balances, resumable events); the contract suites in `pointshare-testkit`
//! hold both to them. Single process only: no sharing between replicas.
//!
//! Depends on the domain alone: no fault injection here (that is the test
//! kit's), nothing a production binary would not run. `WakeupHub`, the
//! in-process wakeups of followed members, is shared with Redis' events.

mod account_tokens;
mod audit;
mod cache;
mod events;
mod mail;
mod members;
mod sessions;
mod totals;
mod transfers;
mod wakeups;

pub use account_tokens::InMemoryAccountTokens;
pub use audit::InMemoryAuditLog;
pub use cache::{InMemoryBalanceCache, InMemoryRateLimiter};
pub use events::InMemoryEvents;
pub use mail::{InMemoryOutbox, LogMailer};
pub use members::InMemoryMembers;
pub use sessions::InMemorySessions;
pub use totals::InMemoryDailyTotals;
pub use transfers::InMemoryTransfers;
pub use wakeups::WakeupHub;
