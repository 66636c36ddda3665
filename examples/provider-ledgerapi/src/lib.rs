//! LedgerAPI, a provider shaped unlike provider-api.md, behind the same
//! `PointsProvider` port: OAuth2 client-credentials tokens instead of an API
//! key, amounts as decimal strings of minor units, the reference in an
//! `Idempotency-Key` header, and no lookup by reference but a search by key
//! prefix in cursor pages. `LedgerApiProvider` adapts it; `sim` serves it.
//!
//! README.md maps each of LedgerAPI's shapes to the port.

mod client;
mod settings;
pub mod sim;
mod token;
mod wire;

pub use client::{BuildError, LedgerApiProvider};
pub use settings::LedgerApiSettings;
pub use wire::WalletState;
