//! `InMemorySessions`: login sessions in a map, rotated by compare-and-set.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::HashMap;

use pointshare_domain::ports::{SessionRepository, StoreError};
use pointshare_domain::{MemberId, Rotation, Session, SessionId, TokenHash};

#[derive(Debug, Default)]
pub struct InMemorySessions {
    sessions: Mutex<HashMap<SessionId, Session>>,
}

#[async_trait]
impl SessionRepository for InMemorySessions {
    async fn insert(&self, session: &Session) -> Result<(), StoreError> {
        self.sessions.lock().insert(session.id, session.clone());
        Ok(())
    }

    async fn get(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self.sessions.lock().get(&id).cloned())
    }

    async fn rotate(&self, id: SessionId, presented: &TokenHash, rotation: &Rotation) -> Result<bool, StoreError> {
        let mut sessions = self.sessions.lock();
        match sessions.get_mut(&id) {
            Some(session) if session.revoked_at.is_none() && &session.token == presented => {
                session.rotate(rotation);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn open_of(&self, member: MemberId, now: DateTime<Utc>) -> Result<Vec<Session>, StoreError> {
        let sessions = self.sessions.lock();
        let mut open: Vec<Session> =
            sessions.values().filter(|s| s.member == member && s.is_live(now)).cloned().collect();
        open.sort_by_key(|s| std::cmp::Reverse((s.last_used_at, s.id)));
        Ok(open)
    }

    async fn revoke(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(session) = self.sessions.lock().get_mut(&id) {
            session.revoked_at.get_or_insert(at);
        }
        Ok(())
    }

    async fn revoke_all(
        &self,
        member: MemberId,
        except: Option<SessionId>,
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut sessions = self.sessions.lock();
        let ending =
            sessions.values_mut().filter(|s| s.member == member && s.revoked_at.is_none() && Some(s.id) != except);
        Ok(ending
            .map(|session| {
                session.revoked_at = Some(at);
                session.id
            })
            .collect())
    }

    async fn signed_in_from(&self, member: MemberId, client: &str, since: DateTime<Utc>) -> Result<bool, StoreError> {
        let sessions = self.sessions.lock();
        Ok(sessions.values().any(|s| s.member == member && s.client == client && s.created_at >= since))
    }
}
