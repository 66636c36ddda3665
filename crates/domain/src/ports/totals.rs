//! `DailyTotals`: how many points each sender has moved today, one counter
//! per (sender, kind, UTC day). A transfer reserves its amount before it is
//! recorded, so a recorded transfer is always within its sender's limit:
//! whoever later drives it (the request, or recovery after a crash) never has
//! to check again, and no sum over documents is ever computed.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::StoreError;
use crate::model::{MemberId, Points, TransferKind};

/// One sender's counter for one kind of transfer on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DayKey {
    pub sender: MemberId,
    pub kind: TransferKind,
    pub day: NaiveDate,
}

#[async_trait]
pub trait DailyTotals: Send + Sync + std::fmt::Debug {
    /// Adds `amount` to the counter if the total stays at most `limit`, in one
    /// atomic step; `false`, and nothing added, if it would not.
    async fn reserve(&self, key: &DayKey, amount: Points, limit: u64) -> Result<bool, StoreError>;

    /// Takes back what a transfer that moved nothing had reserved.
    async fn release(&self, key: &DayKey, amount: Points) -> Result<(), StoreError>;

    /// The counter as it stands: what an admin reads of a member's day.
    async fn total(&self, key: &DayKey) -> Result<u64, StoreError>;
}
