//! The operator's subcommands of the `pointshare` binary, one module each:
//! `migrate`, `reconcile`, `transfers resolve`, `admin …` and
//! `audit verify`. Each reaches the configured store (and provider) at once
//! and says plainly when it cannot (`wiring::Reach::Now`); main.rs maps what
//! each returns to its exit status.

pub mod admin;
pub mod audit;
pub mod migrate;
pub mod reconcile;
pub mod resolve;
