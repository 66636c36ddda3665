//! What tests of any crate stand on: the provider double with scriptable
//! faults (`FakeProvider`, over the simulator's ledger), a cache that can be
//! switched off, a clock tests move, a password hasher without the cost,
//! signing secrets made at run time, `World` (every service wired to the
//! embedded adapters), the contract suites every adapter is held to, and the
//! inbox of the real SMTP server tests send mail through.
//!
//! A dev-dependency of every crate but the simulation, whose binary is a
//! test: nothing here ships in the server (`scripts/test` checks).

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

/// A setting of the real servers `scripts/with-servers` starts for the
/// tests (`POINTSHARE_TEST_*`): a test that needs one fails without it,
/// saying how to get it, rather than pass having checked nothing.
pub fn test_server(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is unset: run the tests through scripts/with-servers (scripts/test does), which starts the servers")
    })
}

/// `name` made unique to this test (`name_` and 12 hex digits), for what a
/// shared server keeps: databases, key prefixes, handles, references.
pub fn unique(name: &str) -> String {
    format!("{name}_{:012x}", rand::random::<u64>() >> 16)
}

/// A signing secret as an operator makes one (`openssl rand -base64 32`),
/// new each call: a secret written into a test is published, and the server
/// refuses every one this repository holds.
pub fn random_secret() -> String {
    rand::random::<[u8; 32]>().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// docs/provider-adapters.md, whose examples are compiled and run as this
/// crate's doctests, so the guide cannot drift from the kit and the fake.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/provider-adapters.md")]
pub struct ProviderAdaptersGuide;
