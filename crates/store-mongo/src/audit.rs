//! `AuditLog` on the `audit` collection: one document per record, `_id` its
//! place in the chain, so of two writers racing for one place the unique
//! `_id` lets one in; a unique index on `act` stores each act once. The
//! adapter never updates or deletes a document.

use async_trait::async_trait;
use mongodb::Collection;
use mongodb::bson::{Document, doc};
use mongodb::options::FindOptions;

use futures::TryStreamExt;
use pointshare_domain::AuditRecord;
use pointshare_domain::ports::{AppendError, AuditFilter, AuditLog, StoreError};

use crate::documents::{AuditDoc, bson_time};
use crate::{duplicate_on, store_error};

pub(crate) const ACT_INDEX: &str = "audit_act_unique";

#[derive(Debug, Clone)]
pub struct MongoAuditLog {
    records: Collection<AuditDoc>,
}

impl MongoAuditLog {
    pub(crate) fn new(records: Collection<AuditDoc>) -> Self {
        MongoAuditLog { records }
    }

    async fn find(&self, filter: Document, options: FindOptions, doing: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let cursor = self.records.find(filter).with_options(options).await.map_err(|e| store_error(e, doing))?;
        let docs: Vec<AuditDoc> = cursor.try_collect().await.map_err(|e| store_error(e, doing))?;
        docs.into_iter().map(AuditRecord::try_from).collect::<anyhow::Result<_>>().map_err(|e| store_error(e, doing))
    }
}

fn seq(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The query for `filter`; each field it names has an index with `_id`.
fn query(filter: &AuditFilter, before: Option<u64>) -> Document {
    let mut query = Document::new();
    if let Some(before) = before {
        query.insert("_id", doc! {"$lt": seq(before)});
    }
    if let Some(actor) = &filter.actor {
        query.insert("actor", actor.to_string());
    }
    if let Some(target) = &filter.target {
        query.insert("target", target.to_string());
    }
    if let Some(action) = filter.action {
        query.insert("action", action.as_str());
    }
    let mut at = Document::new();
    if let Some(since) = filter.since {
        at.insert("$gte", bson_time(since));
    }
    if let Some(until) = filter.until {
        at.insert("$lt", bson_time(until));
    }
    if !at.is_empty() {
        query.insert("at", at);
    }
    query
}

#[async_trait]
impl AuditLog for MongoAuditLog {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "audit.last"))]
    async fn last(&self) -> Result<Option<AuditRecord>, StoreError> {
        let _timed = crate::telemetry::timed("audit.last");
        let options = FindOptions::builder().sort(doc! {"_id": -1}).limit(1).build();
        Ok(self.find(doc! {}, options, "reading the last audit record").await?.pop())
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "audit.append"))]
    async fn append(&self, record: &AuditRecord) -> Result<(), AppendError> {
        let _timed = crate::telemetry::timed("audit.append");
        let doing = "appending an audit record";
        match self.records.insert_one(AuditDoc::from(record)).await {
            Ok(_) => Ok(()),
            Err(error) if duplicate_on(&error, ACT_INDEX) => {
                let held =
                    self.records.find_one(doc! {"act": &record.entry.act}).await.map_err(|e| store_error(e, doing))?;
                let held = held.ok_or_else(|| store_error(error, doing))?;
                Err(AppendError::Recorded(Box::new(AuditRecord::try_from(held).map_err(|e| store_error(e, doing))?)))
            }
            Err(error) if duplicate_on(&error, "_id_") => Err(AppendError::SeqTaken(record.seq)),
            Err(error) => Err(store_error(error, doing).into()),
        }
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "audit.page"))]
    async fn page(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let _timed = crate::telemetry::timed("audit.page");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let options = FindOptions::builder().sort(doc! {"_id": -1}).limit(limit).build();
        self.find(query(filter, before), options, "reading a page of the audit log").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "audit.scan"))]
    async fn scan(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let _timed = crate::telemetry::timed("audit.scan");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let options = FindOptions::builder().sort(doc! {"_id": 1}).limit(limit).build();
        self.find(doc! {"_id": {"$gt": seq(after)}}, options, "reading the audit chain").await
    }
}
