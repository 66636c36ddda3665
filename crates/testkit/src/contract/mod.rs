//! Contract suites for the ports, written once and run against every
//! implementation: the in-memory fakes here and the real adapters in their
//! own crates' tests. Each suite is a set of `pub async fn` cases plus a macro
//! that turns them into one `#[tokio::test]` per case for a given set-up.

pub mod audit;
pub mod cache;
pub mod events;
pub mod outbox;
pub mod provider;
pub mod provider_kit;
pub mod store;
