//! `MailOutbox` on the `outbox` collection: one document per mail, a unique
//! index on its intent so a mail is queued once however often asked, and
//! claims by a conditional update on (state, next attempt, lease) as
//! recovery claims transfers, so two replicas never send one mail together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{Bson, Document, doc};

use pointshare_domain::ports::{MailOutbox, StoreError};
use pointshare_domain::{LeaseOwner, MailId, MailState, OutboxMail};

use crate::documents::{OutboxDoc, bson_time};
use crate::{duplicate_on, store_error};

pub(crate) const INTENT_INDEX: &str = "outbox_intent_unique";
pub(crate) const DUE_INDEX: &str = "outbox_due";

#[derive(Debug, Clone)]
pub struct MongoOutbox {
    mails: Collection<OutboxDoc>,
}

fn state(state: MailState) -> Bson {
    Bson::from(state.as_str())
}

/// Pending, due at `now`, and leased to nobody (or no longer).
fn due(now: DateTime<Utc>) -> Document {
    doc! {
        "state": state(MailState::Pending),
        "next_attempt_at": {"$lte": bson_time(now)},
        "lease_until": {"$not": {"$gte": bson_time(now)}},
    }
}

impl MongoOutbox {
    pub(crate) fn new(mails: Collection<OutboxDoc>) -> Self {
        MongoOutbox { mails }
    }

    async fn find(&self, filter: Document, limit: usize, doing: &str) -> Result<Vec<OutboxMail>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cursor = self
            .mails
            .find(filter)
            .sort(doc! {"created_at": 1, "_id": 1})
            .limit(limit)
            .await
            .map_err(|e| store_error(e, doing))?;
        let docs: Vec<OutboxDoc> = cursor.try_collect().await.map_err(|e| store_error(e, doing))?;
        docs.into_iter().map(OutboxMail::try_from).collect::<anyhow::Result<_>>().map_err(|e| store_error(e, doing))
    }

    /// Applies `set` to mail `id` if `owner` holds it, ending the lease.
    async fn settle(&self, id: MailId, owner: &LeaseOwner, mut set: Document, doing: &str) -> Result<bool, StoreError> {
        set.insert("lease_owner", Bson::Null);
        set.insert("lease_until", Bson::Null);
        let filter = doc! {"_id": id.to_string(), "lease_owner": owner.as_str()};
        let updated = self.mails.update_one(filter, doc! {"$set": set}).await.map_err(|e| store_error(e, doing))?;
        Ok(updated.modified_count == 1)
    }
}

#[async_trait]
impl MailOutbox for MongoOutbox {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "outbox.enqueue"))]
    async fn enqueue(&self, mail: &OutboxMail) -> Result<bool, StoreError> {
        let _timed = crate::telemetry::timed("outbox.enqueue");
        match self.mails.insert_one(OutboxDoc::from(mail)).await {
            Ok(_) => Ok(true),
            Err(error) if duplicate_on(&error, INTENT_INDEX) => Ok(false),
            Err(error) => Err(store_error(error, "queueing a mail")),
        }
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "outbox.claim_due"))]
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let _timed = crate::telemetry::timed("outbox.claim_due");
        let doing = "claiming mails to send";
        let candidates = self.find(due(now), limit, doing).await?;
        if candidates.is_empty() {
            return Ok(candidates);
        }
        let ids: Vec<String> = candidates.iter().map(|mail| mail.id.to_string()).collect();
        // Another replica may take some first: the due filter lets one update
        // win each, and (owner, until) marks the ones this call won.
        let mut claim = due(now);
        claim.insert("_id", doc! {"$in": &ids});
        let lease = doc! {"lease_owner": owner.as_str(), "lease_until": bson_time(until)};
        let update = doc! {"$set": lease.clone(), "$inc": {"attempts": 1}};
        self.mails.update_many(claim, update).await.map_err(|e| store_error(e, doing))?;
        let mut won = lease;
        won.insert("_id", doc! {"$in": ids});
        self.find(won, limit, doing).await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "outbox.sent"))]
    async fn sent(&self, id: MailId, owner: &LeaseOwner, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let _timed = crate::telemetry::timed("outbox.sent");
        let set = doc! {"state": state(MailState::Sent), "sent_at": bson_time(at), "token": Bson::Null};
        self.settle(id, owner, set, "recording a mail sent").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "outbox.failed"))]
    async fn failed(
        &self,
        id: MailId,
        owner: &LeaseOwner,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<bool, StoreError> {
        let _timed = crate::telemetry::timed("outbox.failed");
        let set = match retry_at {
            Some(at) => doc! {"next_attempt_at": bson_time(at), "last_error": error},
            None => doc! {"state": state(MailState::Abandoned), "last_error": error, "token": Bson::Null},
        };
        self.settle(id, owner, set, "recording a mail's failed attempt").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "outbox.backlog"))]
    async fn backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let _timed = crate::telemetry::timed("outbox.backlog");
        let doing = "measuring the mail backlog";
        let pending = doc! {"state": state(MailState::Pending)};
        let count = self.mails.count_documents(pending.clone()).await.map_err(|e| store_error(e, doing))?;
        let oldest = self.find(pending, 1, doing).await?;
        Ok((count, oldest.first().map(|mail| mail.created_at)))
    }
}
