//! `DailyTotals` on the `daily_totals` collection: one document per (sender,
//! kind, UTC day), `{_id: "<sender>:<kind>:<day>", total}`. A reservation is
//! one conditional increment on `_id` (`total` at most limit − amount), an
//! upsert for the day's first; a document is read only when an admin looks
//! at a member's day.

use async_trait::async_trait;
use mongodb::Collection;
use mongodb::bson::{Document, doc};

use pointshare_domain::Points;
use pointshare_domain::ports::{DailyTotals, DayKey, StoreError};

use crate::{duplicate, store_error};

#[derive(Debug, Clone)]
pub struct MongoDailyTotals {
    totals: Collection<Document>,
}

impl MongoDailyTotals {
    pub(crate) fn new(totals: Collection<Document>) -> Self {
        MongoDailyTotals { totals }
    }
}

/// When the day of a total ends: the retention index counts from it.
pub(crate) const DAY_ENDS: &str = "day_ends";
pub(crate) const EXPIRE_INDEX: &str = "daily_totals_expire";

/// The first moment after `day` (UTC), what `DAY_ENDS` holds.
pub(crate) fn day_ends(day: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    day.succ_opt().unwrap_or(day).and_time(chrono::NaiveTime::MIN).and_utc()
}

fn id(key: &DayKey) -> String {
    format!("{}:{}:{}", key.sender, key.kind.as_str(), key.day)
}

fn int64(points: u64) -> i64 {
    i64::try_from(points).unwrap_or(i64::MAX)
}

#[async_trait]
impl DailyTotals for MongoDailyTotals {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "totals.reserve"))]
    async fn reserve(&self, key: &DayKey, amount: Points, limit: u64) -> Result<bool, StoreError> {
        let _timed = crate::telemetry::timed("totals.reserve");
        let doing = "reserving against a daily total";
        let Some(ceiling) = limit.checked_sub(amount.get()) else { return Ok(false) };
        let filter = doc! {"_id": id(key), "total": {"$lte": int64(ceiling)}};
        let increment = doc! {
            "$inc": {"total": int64(amount.get())},
            "$setOnInsert": {DAY_ENDS: crate::documents::bson_time(day_ends(key.day))},
        };
        // The day's first reservation inserts the document; when the filter
        // misses because the total is too high, the upsert's insert collides
        // with the existing `_id` instead.
        match self.totals.update_one(filter.clone(), increment.clone()).upsert(true).await {
            Ok(_) => Ok(true),
            Err(error) if duplicate(&error) => {
                // Either over the limit, or two first reservations of the day
                // raced to insert: now the document exists, ask it plainly.
                let again = self.totals.update_one(filter, increment).await.map_err(|e| store_error(e, doing))?;
                Ok(again.modified_count == 1)
            }
            Err(error) => Err(store_error(error, doing)),
        }
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "totals.release"))]
    async fn release(&self, key: &DayKey, amount: Points) -> Result<(), StoreError> {
        let _timed = crate::telemetry::timed("totals.release");
        self.totals
            .update_one(doc! {"_id": id(key)}, doc! {"$inc": {"total": -int64(amount.get())}})
            .await
            .map_err(|e| store_error(e, "giving back a daily reservation"))?;
        Ok(())
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "totals.total"))]
    async fn total(&self, key: &DayKey) -> Result<u64, StoreError> {
        let _timed = crate::telemetry::timed("totals.total");
        let doing = "reading a daily total";
        let found = self.totals.find_one(doc! {"_id": id(key)}).await.map_err(|e| store_error(e, doing))?;
        let total = found.and_then(|counter| counter.get_i64("total").ok()).unwrap_or_default();
        Ok(u64::try_from(total).unwrap_or_default())
    }
}
