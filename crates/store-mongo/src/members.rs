//! `MemberRepository` on the `members` collection.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, doc};
use mongodb::error::TRANSIENT_TRANSACTION_ERROR;
use mongodb::{ClientSession, Collection};

use pointshare_domain::ports::{
    AttachAccountError, InsertMemberError, MemberDirectory, MemberRepository, MemberSearch, SetEmailError, StoreError,
};
use pointshare_domain::{
    DisplayName, Email, Handle, HandlePrefix, Member, MemberId, MemberStatus, PasswordHash, ProviderAccountId, Role,
};

use crate::documents::{MemberDoc, name_key};
use crate::{EMAIL_INDEX, HANDLE_INDEX, duplicate_on, store_error};

/// How many times a rewrite of a member's record (an email or handle
/// change) is tried when another change to the record conflicts with it.
const REWRITE_TRIES: usize = 5;

#[derive(Debug, Clone)]
pub struct MongoMembers {
    members: Collection<MemberDoc>,
}

impl MongoMembers {
    pub(crate) fn new(members: Collection<MemberDoc>) -> Self {
        MongoMembers { members }
    }

    async fn find_one(&self, filter: mongodb::bson::Document, doing: &str) -> Result<Option<Member>, StoreError> {
        let doc = self.members.find_one(filter).await.map_err(|e| store_error(e, doing))?;
        doc.map(Member::try_from).transpose().map_err(|e| store_error(e, doing))
    }

    /// Changes a member's email or handle, and what `change` changes with
    /// it, by deleting the record and writing it again in one transaction. A
    /// `$set` would do on MongoDB itself, but some MongoDB-wire servers keep
    /// the old value in the unique index after one, so nobody could take it
    /// again; a delete frees it on all. (Transactions need a replica set,
    /// which every deployment in deploy/ has.) A conflicting change retries.
    async fn rewrite(&self, id: MemberId, change: impl Fn(&mut Member)) -> Result<Option<Member>, SetEmailError> {
        let doing = "rewriting a member's record";
        let mut session = self.members.client().start_session().await.map_err(|e| store_error(e, doing))?;
        let mut tries = 0;
        loop {
            tries += 1;
            session.start_transaction().await.map_err(|e| store_error(e, doing))?;
            let rewritten = self.rewrite_in(&mut session, id, &change).await;
            let outcome = match rewritten {
                Ok(member) => session.commit_transaction().await.map(|()| member),
                Err(error) => {
                    // Nothing was written that could outlive the transaction.
                    let _ = session.abort_transaction().await;
                    Err(error)
                }
            };
            match outcome {
                Ok(member) => return Ok(member),
                Err(error) if duplicate_on(&error, EMAIL_INDEX) => return Err(SetEmailError::EmailTaken),
                Err(error) if error.contains_label(TRANSIENT_TRANSACTION_ERROR) && tries < REWRITE_TRIES => {}
                Err(error) => return Err(store_error(error, doing).into()),
            }
        }
    }

    async fn rewrite_in(
        &self,
        session: &mut ClientSession,
        id: MemberId,
        change: &impl Fn(&mut Member),
    ) -> mongodb::error::Result<Option<Member>> {
        let filter = doc! {"_id": id.to_string()};
        let Some(before) = self.members.find_one(filter.clone()).session(&mut *session).await? else {
            return Ok(None);
        };
        let mut member = Member::try_from(before).map_err(|error| mongodb::error::Error::custom(error.to_string()))?;
        change(&mut member);
        self.members.delete_one(filter).session(&mut *session).await?;
        self.members.insert_one(MemberDoc::from(&member)).session(&mut *session).await?;
        Ok(Some(member))
    }

    async fn update(
        &self,
        id: MemberId,
        set: mongodb::bson::Document,
        doing: &str,
    ) -> Result<Option<Member>, StoreError> {
        self.members
            .update_one(doc! {"_id": id.to_string()}, doc! {"$set": set})
            .await
            .map_err(|e| store_error(e, doing))?;
        self.by_id(id).await
    }
}

#[async_trait]
impl MemberRepository for MongoMembers {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.insert"))]
    async fn insert(&self, member: &Member) -> Result<(), InsertMemberError> {
        let _timed = crate::telemetry::timed("members.insert");
        match self.members.insert_one(MemberDoc::from(member)).await {
            Ok(_) => Ok(()),
            Err(error) if duplicate_on(&error, EMAIL_INDEX) => Err(InsertMemberError::EmailTaken),
            Err(error) if duplicate_on(&error, HANDLE_INDEX) => Err(InsertMemberError::HandleTaken),
            Err(error) => Err(InsertMemberError::Unexpected(store_error(error, "inserting a member"))),
        }
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.by_id"))]
    async fn by_id(&self, id: MemberId) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.by_id");
        self.find_one(doc! {"_id": id.to_string()}, "loading a member by id").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.by_ids"))]
    async fn by_ids(&self, ids: &[MemberId]) -> Result<Vec<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.by_ids");
        let doing = "loading members by id";
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        members(self.members.find(doc! {"_id": {"$in": ids}}).await, doing).await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.by_email"))]
    async fn by_email(&self, email: &Email) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.by_email");
        self.find_one(doc! {"email": email.as_str()}, "loading a member by email").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.by_handle"))]
    async fn by_handle(&self, handle: &Handle) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.by_handle");
        self.find_one(doc! {"handle": handle.as_str()}, "loading a member by handle").await
    }

    #[tracing::instrument(
        name = "store",
        level = "debug",
        skip_all,
        fields(operation = "members.active_by_handle_prefix")
    )]
    async fn active_by_handle_prefix(&self, prefix: &HandlePrefix, limit: usize) -> Result<Vec<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.active_by_handle_prefix");
        // Anchored and case-sensitive (handles are stored lowercased): a range
        // of the handle index, never a scan.
        let filter = doc! {
            "handle": {"$regex": format!("^{}", regex_escape(prefix.as_str()))},
            "status": MemberStatus::Active.as_str(),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let found = self.members.find(filter).sort(doc! {"handle": 1}).limit(limit).await;
        members(found, "finding members by handle prefix").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.attach_account"))]
    async fn attach_account(&self, id: MemberId, account: &ProviderAccountId) -> Result<Member, AttachAccountError> {
        let _timed = crate::telemetry::timed("members.attach_account");
        let doing = "attaching a provider account";
        self.members
            .update_one(
                doc! {"_id": id.to_string(), "provider_account": Bson::Null},
                doc! {"$set": {"provider_account": account.as_str()}},
            )
            .await
            .map_err(|e| AttachAccountError::Unexpected(store_error(e, doing)))?;
        let member =
            self.by_id(id).await.map_err(AttachAccountError::Unexpected)?.ok_or(AttachAccountError::NotFound)?;
        // Ours, whether this call attached it or a retried signup did before.
        match &member.provider_account {
            Some(attached) if attached == account => Ok(member),
            Some(other) => Err(AttachAccountError::AlreadyAttached(other.clone())),
            // Cleared in between: a state this repository never writes.
            None => {
                Err(AttachAccountError::Unexpected(store_error(anyhow::anyhow!("provider account vanished"), doing)))
            }
        }
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.set_display_name"))]
    async fn set_display_name(&self, id: MemberId, name: &DisplayName) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.set_display_name");
        self.update(id, doc! {"display_name": name.as_str(), "name_key": name_key(name)}, "renaming a member").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.set_status"))]
    async fn set_status(&self, id: MemberId, status: MemberStatus) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.set_status");
        self.update(id, doc! {"status": status.as_str()}, "changing a member's status").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.set_role"))]
    async fn set_role(&self, id: MemberId, role: Role) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.set_role");
        self.update(id, doc! {"role": role.as_str()}, "changing a member's role").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.set_email_verified"))]
    async fn set_email_verified(&self, id: MemberId, email: &Email) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.set_email_verified");
        let doing = "marking an email verified";
        let filter = doc! {"_id": id.to_string(), "email": email.as_str()};
        let updated = self
            .members
            .update_one(filter, doc! {"$set": {"email_verified": true}})
            .await
            .map_err(|e| store_error(e, doing))?;
        if updated.matched_count == 0 {
            return Ok(None);
        }
        self.by_id(id).await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.set_verified_email"))]
    async fn set_verified_email(&self, id: MemberId, email: &Email) -> Result<Option<Member>, SetEmailError> {
        let _timed = crate::telemetry::timed("members.set_verified_email");
        self.rewrite(id, |member| {
            member.email = email.clone();
            member.email_verified = true;
        })
        .await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.close"))]
    async fn close(
        &self,
        id: MemberId,
        email: &Email,
        name: &DisplayName,
        at: DateTime<Utc>,
    ) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.close");
        let closed = self.rewrite(id, |member| {
            member.status = MemberStatus::Closed;
            member.email = email.clone();
            member.email_verified = false;
            member.display_name = name.clone();
            member.closed_at = Some(at);
        });
        closed.await.map_err(|error| match error {
            SetEmailError::EmailTaken => StoreError(anyhow::anyhow!("a closed account's address is taken")),
            SetEmailError::Unexpected(error) => error,
        })
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.release_handle"))]
    async fn release_handle(&self, id: MemberId, handle: &Handle) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.release_handle");
        let released = self.rewrite(id, |member| member.handle = handle.clone()).await;
        released.map_err(|error| match error {
            // The tombstone's handle is made of its id: another member cannot hold it.
            SetEmailError::EmailTaken => StoreError(anyhow::anyhow!("a tombstone's address is taken")),
            SetEmailError::Unexpected(error) => error,
        })
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.set_password"))]
    async fn set_password(&self, id: MemberId, hash: &PasswordHash) -> Result<Option<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.set_password");
        self.update(id, doc! {"password_hash": hash.as_str()}, "changing a member's password").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.without_account"))]
    async fn without_account(&self, limit: usize) -> Result<Vec<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.without_account");
        let doing = "listing members without a provider account";
        let found = self
            .members
            .find(doc! {"provider_account": Bson::Null})
            .sort(doc! {"created_at": 1})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await;
        members(found, doing).await
    }
}

/// Searched by anchored prefixes, each on an indexed field (`handle`, `email`,
/// `name_key`), paged by `handle`.
#[async_trait]
impl MemberDirectory for MongoMembers {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.search"))]
    async fn search(
        &self,
        search: &MemberSearch,
        after: Option<&Handle>,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError> {
        let _timed = crate::telemetry::timed("members.search");
        let mut query = mongodb::bson::Document::new();
        if let Some(text) = search.text() {
            let prefix = format!("^{}", regex_escape(text));
            let fields = ["handle", "email", "name_key"].map(|field| doc! {field: {"$regex": &prefix}});
            query.insert("$or", fields.to_vec());
        }
        if let Some(after) = after {
            query.insert("handle", doc! {"$gt": after.as_str()});
        }
        if let Some(status) = search.status {
            query.insert("status", status.as_str());
        }
        if let Some(role) = search.role {
            query.insert("role", role.as_str());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        members(self.members.find(query).sort(doc! {"handle": 1}).limit(limit).await, "searching members").await
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "members.active_admins"))]
    async fn active_admins(&self, limit: usize) -> Result<Vec<MemberId>, StoreError> {
        let _timed = crate::telemetry::timed("members.active_admins");
        let found = self
            .members
            .find(doc! {"role": Role::Admin.as_str(), "status": MemberStatus::Active.as_str()})
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await;
        Ok(members(found, "listing active admins").await?.into_iter().map(|member| member.id).collect())
    }
}

/// `text` matched literally inside a regular expression.
fn regex_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut escaped, c| {
        if "\\.^$|?*+()[]{}/-".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
        escaped
    })
}

/// Every member a query found, each read back into the domain's type.
async fn members(
    found: mongodb::error::Result<mongodb::Cursor<MemberDoc>>,
    doing: &str,
) -> Result<Vec<Member>, StoreError> {
    let docs: Vec<MemberDoc> =
        found.map_err(|e| store_error(e, doing))?.try_collect().await.map_err(|e| store_error(e, doing))?;
    docs.into_iter().map(Member::try_from).collect::<anyhow::Result<_>>().map_err(|e| store_error(e, doing))
}
