//! `SessionRepository` on the `sessions` collection: one document per login
//! session holding its current refresh token's hash; a refresh is one
//! conditional update on (id, current token, not revoked), so of two uses of
//! one token exactly one matches.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{Bson, doc};

use pointshare_domain::ports::{SessionRepository, StoreError};
use pointshare_domain::{MemberId, RETIRED_TOKENS_KEPT, Rotation, Session, SessionId, TokenHash};

use crate::documents::{SessionDoc, bson_time};
use crate::store_error;

#[derive(Debug, Clone)]
pub struct MongoSessions {
    sessions: Collection<SessionDoc>,
}

impl MongoSessions {
    pub(crate) fn new(sessions: Collection<SessionDoc>) -> Self {
        MongoSessions { sessions }
    }
}

#[async_trait]
impl SessionRepository for MongoSessions {
    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "sessions.insert"))]
    async fn insert(&self, session: &Session) -> Result<(), StoreError> {
        let _timed = crate::telemetry::timed("sessions.insert");
        self.sessions.insert_one(SessionDoc::from(session)).await.map_err(|e| store_error(e, "recording a session"))?;
        Ok(())
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "sessions.get"))]
    async fn get(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let _timed = crate::telemetry::timed("sessions.get");
        let doing = "loading a session";
        let doc = self.sessions.find_one(doc! {"_id": id.to_string()}).await.map_err(|e| store_error(e, doing))?;
        doc.map(Session::try_from).transpose().map_err(|e| store_error(e, doing))
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "sessions.rotate"))]
    async fn rotate(&self, id: SessionId, presented: &TokenHash, rotation: &Rotation) -> Result<bool, StoreError> {
        let _timed = crate::telemetry::timed("sessions.rotate");
        let handover = &rotation.handover;
        let updated = self
            .sessions
            .update_one(
                doc! {"_id": id.to_string(), "token": presented.as_str(), "revoked_at": Bson::Null},
                doc! {
                    "$set": {
                        "token": rotation.next.as_str(),
                        "expires_at": bson_time(rotation.expires_at),
                        "last_used_at": bson_time(rotation.at),
                        "handover": {
                            "retired": handover.retired.as_str(),
                            "sealed": handover.sealed.as_str(),
                            "until": bson_time(handover.until),
                        },
                    },
                    "$push": {"retired": {"$each": [presented.as_str()], "$slice": -(RETIRED_TOKENS_KEPT as i64)}},
                },
            )
            .await
            .map_err(|e| store_error(e, "rotating a refresh token"))?;
        Ok(updated.modified_count == 1)
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "sessions.open_of"))]
    async fn open_of(&self, member: MemberId, now: DateTime<Utc>) -> Result<Vec<Session>, StoreError> {
        let _timed = crate::telemetry::timed("sessions.open_of");
        let doing = "listing a member's sessions";
        let filter =
            doc! {"member": member.to_string(), "revoked_at": Bson::Null, "expires_at": {"$gt": bson_time(now)}};
        let cursor = self.sessions.find(filter).await.map_err(|e| store_error(e, doing))?;
        let docs: Vec<SessionDoc> = cursor.try_collect().await.map_err(|e| store_error(e, doing))?;
        let mut open: Vec<Session> = docs
            .into_iter()
            .map(Session::try_from)
            .collect::<anyhow::Result<_>>()
            .map_err(|e| store_error(e, doing))?;
        open.sort_by_key(|s| std::cmp::Reverse((s.last_used_at, s.id)));
        Ok(open)
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "sessions.revoke"))]
    async fn revoke(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let _timed = crate::telemetry::timed("sessions.revoke");
        self.sessions
            .update_one(
                doc! {"_id": id.to_string(), "revoked_at": Bson::Null},
                doc! {"$set": {"revoked_at": bson_time(at)}},
            )
            .await
            .map_err(|e| store_error(e, "ending a session"))?;
        Ok(())
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "sessions.revoke_all"))]
    async fn revoke_all(
        &self,
        member: MemberId,
        except: Option<SessionId>,
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let _timed = crate::telemetry::timed("sessions.revoke_all");
        let doing = "ending a member's sessions";
        let mut open = doc! {"member": member.to_string(), "revoked_at": Bson::Null};
        if let Some(kept) = except {
            open.insert("_id", doc! {"$ne": kept.to_string()});
        }
        let cursor = self.sessions.find(open.clone()).await.map_err(|e| store_error(e, doing))?;
        let found: Vec<SessionDoc> = cursor.try_collect().await.map_err(|e| store_error(e, doing))?;
        let ids: Vec<String> = found.into_iter().map(|session| session.id).collect();
        open.insert("_id", doc! {"$in": &ids});
        self.sessions
            .update_many(open, doc! {"$set": {"revoked_at": bson_time(at)}})
            .await
            .map_err(|e| store_error(e, doing))?;
        ids.iter().map(|id| id.parse().map_err(|e: pointshare_domain::InvalidValue| store_error(e, doing))).collect()
    }

    #[tracing::instrument(name = "store", level = "debug", skip_all, fields(operation = "sessions.signed_in_from"))]
    async fn signed_in_from(&self, member: MemberId, client: &str, since: DateTime<Utc>) -> Result<bool, StoreError> {
        let _timed = crate::telemetry::timed("sessions.signed_in_from");
        let filter = doc! {"member": member.to_string(), "client": client, "created_at": {"$gte": bson_time(since)}};
        let found =
            self.sessions.find_one(filter).await.map_err(|e| store_error(e, "looking up where a member signed in"))?;
        Ok(found.is_some())
    }
}
