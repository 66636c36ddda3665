//! What tests of any crate stand on: the provider double with scriptable
//! faults (`FakeProvider`, over the simulator's ledger), a cache that can be
//! switched off, a clock tests move, a password hasher without the cost,
//! signing secrets made at run time, `World` (every service wired to the
//! embedded adapters), the contract suites every adapter is held to, and the
//! inbox of the real SMTP server tests send mail through.
//!
//! A dev-dependency only: nothing here ships in a binary.

mod clock;
pub mod contract;
mod inbox;
mod outage;
mod passwords;
mod provider;
mod world;

pub use clock::ManualClock;
pub use inbox::{DeliveredMail, Inbox};
pub use outage::{OutageAuditLog, OutageCache};
pub use passwords::FakePasswords;
/// The provider double's vocabulary, the simulator's own: a fault or a
/// refusal means the same in-process and over HTTP.
pub use pointshare_provider_sim::{Fault, FaultPlan, Ledger, LedgerError, LedgerSummary, Operation, RandomFaults};
pub use provider::{FakeProvider, refusal};
pub use world::{World, WorldSettings};

/// A signing secret as an operator makes one (`openssl rand -base64 32`),
/// new each call: a secret written into a test is published, and the server
/// refuses every one this repository holds.
pub fn random_secret() -> String {
    rand::random::<[u8; 32]>().iter().map(|byte| format!("{byte:02x}")).collect()
}
