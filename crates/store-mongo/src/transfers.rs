//! `TransferRepository` on the `transfers` collection. Every state change is
//! one conditional update filtered on the expected state and lease owner, so
//! of many racing drivers exactly one moves a transfer each step; a recovery
//! claim is one conditional update of a batch of due transfers, so two
//! claimers never take the same one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::Collection;
use mongodb::bson::{Bson, Document, doc, to_bson};

use mongodb::options::{FindOptions, Hint, ReturnDocument};
use pointshare_domain::ports::{
    Direction, HistoryFilter, InsertTransferError, ReversalHolds, StoreError, TakeOverError, TransferLeases,
    TransferReads, TransferRecords, Transition, TransitionError, Window,
};
use pointshare_domain::{
    Cursor, IdempotencyKey, LeaseOwner, MemberId, Page, Points, StateChange, Transfer, TransferId, TransferKind,
    TransferState,
};

use crate::documents::{ChangeDoc, TransferDoc, bson_time};
use crate::{
    BY_KIND_INDEX, BY_STATE_INDEX, KEY_INDEX, RECEIVED_INDEX, REVERSALS_INDEX, SENT_INDEX, duplicate_on, store_error,
};

#[derive(Debug, Clone)]
pub struct MongoTransfers {
    transfers: Collection<TransferDoc>,
}

fn state(state: TransferState) -> Bson {
    Bson::from(state.as_str())
}

fn in_saga() -> Bson {
    Bson::Array(TransferState::ALL.into_iter().filter(|s| s.is_in_saga()).map(state).collect())
}

/// Unleased (null) or expired; said without `$or`, which some servers
/// answer by scanning the whole collection once per branch.
fn lease_ended(now: DateTime<Utc>) -> Document {
    doc! {"lease_until": {"$not": {"$gte": bson_time(now)}}}
}

/// What one `find` read: the transfers, and how many documents it went
/// through (the unreadable too), which says whether a page has more.
struct Found {
    items: Vec<Transfer>,
    read: usize,
}

impl MongoTransfers {
    pub(crate) fn new(transfers: Collection<TransferDoc>) -> Self {
        MongoTransfers { transfers }
    }

    async fn find(
        &self,
        filter: Document,
        sort: Document,
        limit: usize,
        doing: &str,
    ) -> Result<Vec<Transfer>, StoreError> {
        Ok(self.find_by(filter, sort, limit, None, doing).await?.items)
    }

    /// `find` through the index named `hint`, when given. A document this
    /// binary cannot read (a state or a value a newer one wrote) is skipped
    /// and counted, not an error: history and recovery go on around it.
    async fn find_by(
        &self,
        filter: Document,
        sort: Document,
        limit: usize,
        hint: Option<&str>,
        doing: &str,
    ) -> Result<Found, StoreError> {
        let options = FindOptions::builder()
            .sort(sort)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .hint(hint.map(|index| Hint::Name(index.to_owned())))
            .build();
        let mut cursor = self.transfers.find(filter).with_options(options).await.map_err(|e| store_error(e, doing))?;
        let mut found = Found { items: Vec::with_capacity(limit.min(1024)), read: 0 };
        while cursor.advance().await.map_err(|e| store_error(e, doing))? {
            found.read += 1;
            match cursor.deserialize_current().map_err(anyhow::Error::from).and_then(Transfer::try_from) {
                Ok(transfer) => found.items.push(transfer),
                Err(error) => crate::telemetry::unreadable("transfers", cursor.current().get_str("_id").ok(), &error),
            }
        }
        Ok(found)
    }

    /// A page of the transfers any of `branches` picks, newest first by
    /// (created_at, _id), strictly after `after`. Each branch is a filter and
    /// the index that serves it in that order; the branches run at once and
    /// their pages merge here (a `$or` would leave the choice of index to
    /// the server, which may pick one that cannot sort).
    async fn newest_first(
        &self,
        branches: &[(Document, &str)],
        after: Option<Cursor>,
        limit: usize,
        doing: &str,
    ) -> Result<Page<Transfer>, StoreError> {
        let page_of = |filter: &Document| match after {
            None => filter.clone(),
            Some(cursor) => {
                let at = bson_time(cursor.created_at);
                doc! {"$and": [
                    filter.clone(),
                    {"$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": cursor.id.to_string()}}]},
                ]}
            }
        };
        let sort = doc! {"created_at": -1, "_id": -1};
        let pages = branches
            .iter()
            .map(|(filter, index)| self.find_by(page_of(filter), sort.clone(), limit + 1, Some(index), doing));
        let branches = futures::future::try_join_all(pages).await?;
        // A branch that read past the page has more, even where what it read
        // past was skipped as unreadable.
        let read_past = branches.iter().any(|found| found.read > limit);
        let mut items: Vec<Transfer> = branches.into_iter().flat_map(|found| found.items).collect();
        items.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
        // A grant an admin made to themselves is in both branches.
        items.dedup_by_key(|t| t.id);
        let more = read_past || items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(Transfer::cursor) } else { None };
        Ok(Page { items, next })
    }
}

#[async_trait]
impl TransferRecords for MongoTransfers {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.insert"))]
    async fn insert(&self, transfer: &Transfer) -> Result<(), InsertTransferError> {
        let _timed = crate::telemetry::timed("transfers.insert");
        match self.transfers.insert_one(TransferDoc::from(transfer)).await {
            Ok(_) => Ok(()),
            Err(error) if duplicate_on(&error, KEY_INDEX) => {
                let existing = self
                    .by_idempotency_key(transfer.sender, &transfer.idempotency_key)
                    .await?
                    .ok_or_else(|| store_error(error, "the transfer holding a duplicate key vanished"))?;
                Err(InsertTransferError::KeyTaken(Box::new(existing)))
            }
            Err(error) => Err(InsertTransferError::Unexpected(store_error(error, "inserting a transfer"))),
        }
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.transition"))]
    async fn transition(&self, transition: &Transition) -> Result<Transfer, TransitionError> {
        let _timed = crate::telemetry::timed("transfers.transition");
        let doing = "changing a transfer's state";
        if !transition.from.can_become(transition.to, transition.kind) {
            return Err(TransitionError::Illegal { from: transition.from, to: transition.to });
        }
        let decline = transition.decline.map(|reason| Bson::from(reason.as_str()));
        let mut set = doc! {
            "state": state(transition.to),
            "decline": decline.unwrap_or(Bson::Null),
            "updated_at": bson_time(transition.at),
        };
        if let Some(reason) = transition.review {
            set.insert("review", reason.as_str());
        }
        if let Some(resolution) = transition.resolution {
            set.insert("resolution", resolution.as_str());
        }
        if transition.to == TransferState::NeedsReview {
            set.insert("lease_owner", Bson::Null);
            set.insert("lease_until", Bson::Null);
        }
        let change = to_bson(&ChangeDoc::from(&StateChange {
            at: transition.at,
            state: transition.to,
            by: transition.owner.clone(),
        }))
        .expect("a state change encodes");
        // One round trip: the update answers with the document as it now is.
        let moved = self
            .transfers
            .find_one_and_update(
                doc! {
                    "_id": transition.id.to_string(),
                    "kind": transition.kind.as_str(),
                    "state": state(transition.from),
                    "lease_owner": transition.owner.as_str(),
                },
                doc! {"$set": set, "$push": {"changes": change}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| TransitionError::Unexpected(store_error(e, doing)))?;
        match moved {
            Some(doc) => Transfer::try_from(doc).map_err(|e| TransitionError::Unexpected(store_error(e, doing))),
            // Only a lost race reads again, to say how the transfer stands.
            None => match self.get(transition.id).await? {
                Some(current) => Err(TransitionError::Conflict(Box::new(current))),
                None => Err(TransitionError::NotFound),
            },
        }
    }
}

#[async_trait]
impl TransferReads for MongoTransfers {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.get"))]
    async fn get(&self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        let _timed = crate::telemetry::timed("transfers.get");
        let doing = "loading a transfer";
        let doc = self.transfers.find_one(doc! {"_id": id.to_string()}).await.map_err(|e| store_error(e, doing))?;
        doc.map(Transfer::try_from).transpose().map_err(|e| store_error(e, doing))
    }

    #[tracing::instrument(
        name = "store",
        level = "debug",
        skip_all,
        fields(operation = "transfers.by_idempotency_key")
    )]
    async fn by_idempotency_key(&self, sender: MemberId, key: &IdempotencyKey) -> Result<Option<Transfer>, StoreError> {
        let _timed = crate::telemetry::timed("transfers.by_idempotency_key");
        let doing = "loading a transfer by idempotency key";
        let filter = doc! {"sender": sender.to_string(), "idempotency_key": key.as_str()};
        let doc = self.transfers.find_one(filter).await.map_err(|e| store_error(e, doing))?;
        doc.map(Transfer::try_from).transpose().map_err(|e| store_error(e, doing))
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.history"))]
    async fn history(
        &self,
        member: MemberId,
        filter: &HistoryFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Transfer>, StoreError> {
        let _timed = crate::telemetry::timed("transfers.history");
        let member = member.to_string();
        // The rest of the filter narrows each branch within its index's range.
        let mut narrowed = Document::new();
        if !filter.states.is_empty() {
            let states: Vec<Bson> = filter.states.iter().copied().map(state).collect();
            narrowed.insert("state", doc! {"$in": states});
        }
        let mut created = Document::new();
        if let Some(since) = filter.since {
            created.insert("$gte", bson_time(since));
        }
        if let Some(until) = filter.until {
            created.insert("$lt", bson_time(until));
        }
        if !created.is_empty() {
            narrowed.insert("created_at", created);
        }
        let branch = |side: &str, index| {
            let mut branch = doc! {side: &member};
            branch.extend(narrowed.clone());
            (branch, index)
        };
        let branches = match filter.direction {
            None => vec![branch("sender", SENT_INDEX), branch("recipient", RECEIVED_INDEX)],
            Some(Direction::Sent) => vec![branch("sender", SENT_INDEX)],
            Some(Direction::Received) => vec![branch("recipient", RECEIVED_INDEX)],
        };
        self.newest_first(&branches, after, limit, "loading a page of transfers").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.grants"))]
    async fn grants(&self, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError> {
        let _timed = crate::telemetry::timed("transfers.grants");
        let branches = [(doc! {"kind": TransferKind::Grant.as_str()}, BY_KIND_INDEX)];
        self.newest_first(&branches, after, limit, "listing grants").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.waiting"))]
    async fn waiting(
        &self,
        state: TransferState,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<Transfer>, StoreError> {
        let _timed = crate::telemetry::timed("transfers.waiting");
        let branches = [(doc! {"state": state.as_str()}, BY_STATE_INDEX)];
        self.newest_first(&branches, after, limit, "listing transfers in one state").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.reversals_of"))]
    async fn reversals_of(&self, id: TransferId) -> Result<Vec<Transfer>, StoreError> {
        let _timed = crate::telemetry::timed("transfers.reversals_of");
        let filter = doc! {"reverses": id.to_string()};
        let sort = doc! {"created_at": 1, "_id": 1};
        Ok(self.find_by(filter, sort, 1000, Some(REVERSALS_INDEX), "listing reversals").await?.items)
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.scan"))]
    async fn scan(&self, window: Window, after: Option<Cursor>, limit: usize) -> Result<Page<Transfer>, StoreError> {
        let _timed = crate::telemetry::timed("transfers.scan");
        let mut created = Document::new();
        if let Some(since) = window.since {
            created.insert("$gte", bson_time(since));
        }
        if let Some(until) = window.until {
            created.insert("$lt", bson_time(until));
        }
        let mut filter = if created.is_empty() {
            doc! {}
        } else {
            doc! {"created_at": created}
        };
        if let Some(cursor) = after {
            let at = bson_time(cursor.created_at);
            let past =
                doc! {"$or": [{"created_at": {"$gt": at}}, {"created_at": at, "_id": {"$gt": cursor.id.to_string()}}]};
            filter = doc! {"$and": [filter, past]};
        }
        let sort = doc! {"created_at": 1, "_id": 1};
        let Found { mut items, read } = self.find_by(filter, sort, limit + 1, None, "scanning transfers").await?;
        let more = read > limit;
        items.truncate(limit);
        let next = if more { items.last().map(Transfer::cursor) } else { None };
        Ok(Page { items, next })
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.count_unfinished"))]
    async fn count_unfinished(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let _timed = crate::telemetry::timed("transfers.count_unfinished");
        let filter = doc! {"state": {"$in": in_saga()}, "created_at": {"$lt": bson_time(before)}};
        self.transfers.count_documents(filter).await.map_err(|e| store_error(e, "counting unfinished transfers"))
    }

    #[tracing::instrument(
        name = "store",
        level = "debug",
        skip_all,
        fields(operation = "transfers.count_needing_review")
    )]
    async fn count_needing_review(&self) -> Result<u64, StoreError> {
        let _timed = crate::telemetry::timed("transfers.count_needing_review");
        let filter = doc! {"state": state(TransferState::NeedsReview)};
        self.transfers.count_documents(filter).await.map_err(|e| store_error(e, "counting transfers needing review"))
    }
}

#[async_trait]
impl TransferLeases for MongoTransfers {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.claim_due"))]
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StoreError> {
        let _timed = crate::telemetry::timed("transfers.claim_due");
        let doing = "claiming transfers for recovery";
        let due = || {
            let mut due = lease_ended(now);
            due.insert("state", doc! {"$in": in_saga()});
            due
        };
        let candidates = self.find(due(), doc! {"created_at": 1, "_id": 1}, limit, doing).await?;
        if candidates.is_empty() {
            return Ok(candidates);
        }
        let ids: Vec<String> = candidates.iter().map(|t| t.id.to_string()).collect();
        // Another claimer may take some first: the due filter makes only one
        // update win each, and (owner, until) marks the ones this call won.
        let mut claim = due();
        claim.insert("_id", doc! {"$in": &ids});
        let lease = doc! {"lease_owner": owner.as_str(), "lease_until": bson_time(until)};
        let update = doc! {"$set": lease.clone(), "$inc": {"attempts": 1}};
        self.transfers.update_many(claim, update).await.map_err(|e| store_error(e, doing))?;
        let mut won = lease;
        won.insert("_id", doc! {"$in": ids});
        self.find(won, doc! {"created_at": 1, "_id": 1}, limit, doing).await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.take_over"))]
    async fn take_over(
        &self,
        id: TransferId,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Transfer, TakeOverError> {
        let _timed = crate::telemetry::timed("transfers.take_over");
        let doing = "taking a transfer over";
        // By _id, so the `$or` costs one index lookup.
        let filter = doc! {"_id": id.to_string(), "$or": [lease_ended(now), {"lease_owner": owner.as_str()}]};
        let taken = self
            .transfers
            .find_one_and_update(
                filter,
                doc! {"$set": {"lease_owner": owner.as_str(), "lease_until": bson_time(until)}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| store_error(e, doing))?;
        match taken {
            Some(doc) => Transfer::try_from(doc).map_err(|e| store_error(e, doing).into()),
            None => match self.get(id).await? {
                Some(current) => Err(TakeOverError::Leased(Box::new(current))),
                None => Err(TakeOverError::NotFound),
            },
        }
    }
}

#[async_trait]
impl ReversalHolds for MongoTransfers {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.reserve_reversal"))]
    async fn reserve_reversal(&self, id: TransferId, amount: Points) -> Result<bool, StoreError> {
        let _timed = crate::telemetry::timed("transfers.reserve_reversal");
        // A transfer's amount never changes, so its ceiling is read once; the
        // increment is conditional on it, so racing reservations cannot pass
        // it. A transfer from before reversals has no `reversed` yet (none).
        let Some(transfer) = self.get(id).await? else { return Ok(false) };
        let Some(ceiling) = transfer.amount.get().checked_sub(amount.get()) else { return Ok(false) };
        let ceiling = i64::try_from(ceiling).unwrap_or(i64::MAX);
        let filter = doc! {
            "_id": id.to_string(),
            "$or": [{"reversed": {"$lte": ceiling}}, {"reversed": {"$exists": false}}],
        };
        let amount = i64::try_from(amount.get()).unwrap_or(i64::MAX);
        let reserved = self
            .transfers
            .update_one(filter, doc! {"$inc": {"reversed": amount}})
            .await
            .map_err(|e| store_error(e, "reserving a reversal"))?;
        Ok(reserved.modified_count == 1)
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "transfers.release_reversal"))]
    async fn release_reversal(&self, id: TransferId, amount: Points) -> Result<(), StoreError> {
        let _timed = crate::telemetry::timed("transfers.release_reversal");
        let amount = i64::try_from(amount.get()).unwrap_or(i64::MAX);
        self.transfers
            .update_one(doc! {"_id": id.to_string()}, doc! {"$inc": {"reversed": -amount}})
            .await
            .map_err(|e| store_error(e, "giving back a reversal's reservation"))?;
        Ok(())
    }
}
