//! In-memory implementations of every pointshare port, for tests of any crate
//! and for the server's embedded default.
//!
//! Each fake keeps the semantics its real adapter must have (uniqueness,
//! compare-and-set, leases, provider replay rules), so a test passing here
//! means something against MongoDB, Redis and the real provider too.

mod cache;
mod clock;
pub mod contract;
mod events;
mod faults;
mod ledger;
mod members;
mod provider;
mod sessions;
mod totals;
mod transfers;
mod world;

pub use cache::{InMemoryBalanceCache, InMemoryRateLimiter};
pub use clock::ManualClock;
pub use events::InMemoryEvents;
pub use faults::{Fault, FaultPlan, Operation, RandomFaults};
pub use ledger::{Ledger, LedgerError, LedgerSummary};
pub use members::InMemoryMembers;
pub use provider::{FakeProvider, refusal};
pub use sessions::InMemorySessions;
pub use totals::InMemoryDailyTotals;
pub use transfers::InMemoryTransfers;
pub use world::{World, WorldSettings};
