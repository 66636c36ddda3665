//! The domain services, exercised through the in-memory world of the testkit.
//! One test binary, one module per capability.

mod accounts;
mod adjustments;
mod approvals;
mod balance;
mod fencing;
mod grants;
mod history;
mod members;
mod properties;
mod reconcile;
mod recovery;
mod reversals;
mod review;
mod saga_faults;
mod sessions;
mod sharing;
mod throttle;

use std::time::Duration;

use pointshare_domain::ports::Deadline;
use pointshare_domain::services::{GrantCommand, ShareCommand};
use pointshare_domain::{Handle, IdempotencyKey, Member, Memo, Points};

/// A generous request deadline, for tests where time is not the point.
fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

fn points(n: u64) -> Points {
    Points::new(n).expect("valid amount")
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).expect("valid key")
}

fn share(from: &Member, to: &Member, amount: u64, idempotency_key: &str) -> ShareCommand {
    ShareCommand {
        sender: from.clone(),
        to: to.handle.clone(),
        amount: points(amount),
        memo: Some(Memo::parse("thanks").expect("valid memo")),
        idempotency_key: key(idempotency_key),
    }
}

fn grant(admin: &Member, to: &Member, amount: u64, idempotency_key: &str) -> GrantCommand {
    GrantCommand {
        admin: admin.id,
        to: to.handle.clone(),
        amount: points(amount),
        reason: Some(Memo::parse("welcome bonus").expect("valid memo")),
        idempotency_key: key(idempotency_key),
        origin: pointshare_domain::Origin::default(),
    }
}

fn handle(h: &str) -> Handle {
    Handle::parse(h).expect("valid handle")
}
