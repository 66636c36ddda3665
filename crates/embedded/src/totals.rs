//! `InMemoryDailyTotals`: the daily counters in a map, reserved atomically.

use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;

use pointshare_domain::Points;
use pointshare_domain::ports::{DailyTotals, DayKey, StoreError};

#[derive(Debug, Default)]
pub struct InMemoryDailyTotals {
    totals: Mutex<HashMap<DayKey, u64>>,
}

#[async_trait]
impl DailyTotals for InMemoryDailyTotals {
    async fn reserve(&self, key: &DayKey, amount: Points, limit: u64) -> Result<bool, StoreError> {
        let mut totals = self.totals.lock();
        let total = totals.entry(*key).or_default();
        if total.saturating_add(amount.get()) > limit {
            return Ok(false);
        }
        *total += amount.get();
        Ok(true)
    }

    async fn release(&self, key: &DayKey, amount: Points) -> Result<(), StoreError> {
        if let Some(total) = self.totals.lock().get_mut(key) {
            *total = total.saturating_sub(amount.get());
        }
        Ok(())
    }

    async fn total(&self, key: &DayKey) -> Result<u64, StoreError> {
        Ok(self.totals.lock().get(key).copied().unwrap_or_default())
    }
}
