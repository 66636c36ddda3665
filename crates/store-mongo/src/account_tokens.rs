//! `AccountTokens` on the `account_tokens` collection: one document per
//! token, `_id` its hash; taken by one conditional update (unused,
//! unexpired, of its purpose), so of two racing takes one wins. A TTL index
//! removes a token a day after it expires.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::Collection;
use mongodb::bson::{Bson, doc};
use mongodb::options::ReturnDocument;

use pointshare_domain::ports::{AccountTokens, StoreError};
use pointshare_domain::{AccountToken, MemberId, TokenHash, TokenPurpose};

use crate::documents::{AccountTokenDoc, bson_time};
use crate::store_error;

pub(crate) const EXPIRY_INDEX: &str = "account_tokens_expire";
pub(crate) const BY_MEMBER_INDEX: &str = "account_tokens_by_member";

#[derive(Debug, Clone)]
pub struct MongoAccountTokens {
    tokens: Collection<AccountTokenDoc>,
}

impl MongoAccountTokens {
    pub(crate) fn new(tokens: Collection<AccountTokenDoc>) -> Self {
        MongoAccountTokens { tokens }
    }
}

fn purpose(purpose: TokenPurpose) -> Bson {
    Bson::from(purpose.as_str())
}

#[async_trait]
impl AccountTokens for MongoAccountTokens {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "account_tokens.insert"))]
    async fn insert(&self, token: &AccountToken) -> Result<(), StoreError> {
        let _timed = crate::telemetry::timed("account_tokens.insert");
        self.tokens.insert_one(AccountTokenDoc::from(token)).await.map_err(|e| store_error(e, "storing a token"))?;
        Ok(())
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "account_tokens.take"))]
    async fn take(
        &self,
        hash: &TokenHash,
        wanted: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountToken>, StoreError> {
        let _timed = crate::telemetry::timed("account_tokens.take");
        let doing = "taking a one-use token";
        let filter = doc! {
            "_id": hash.as_str(),
            "purpose": purpose(wanted),
            "used_at": Bson::Null,
            "expires_at": {"$gt": bson_time(now)},
        };
        let taken = self
            .tokens
            .find_one_and_update(filter, doc! {"$set": {"used_at": bson_time(now)}})
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| store_error(e, doing))?;
        taken.map(AccountToken::try_from).transpose().map_err(|e| store_error(e, doing))
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "account_tokens.spend_all"))]
    async fn spend_all(&self, member: MemberId, wanted: TokenPurpose, at: DateTime<Utc>) -> Result<(), StoreError> {
        let _timed = crate::telemetry::timed("account_tokens.spend_all");
        let filter = doc! {"member": member.to_string(), "purpose": purpose(wanted), "used_at": Bson::Null};
        self.tokens
            .update_many(filter, doc! {"$set": {"used_at": bson_time(at)}})
            .await
            .map_err(|e| store_error(e, "spending a member's tokens"))?;
        Ok(())
    }
}
