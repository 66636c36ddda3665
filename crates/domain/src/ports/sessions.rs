//! `SessionRepository`: login sessions, shared by every replica, each
//! changed by compare-and-set so two refreshes of one token cannot both win.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::model::{MemberId, Rotation, Session, SessionId, TokenHash};

#[async_trait]
pub trait SessionRepository: Send + Sync + std::fmt::Debug {
    async fn insert(&self, session: &Session) -> Result<(), StoreError>;

    async fn get(&self, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// Applies `rotation` (the next token, its expiry, the time, the
    /// handover) if the session is not revoked and `presented` is still its
    /// current token, and remembers `presented` among the last
    /// `RETIRED_TOKENS_KEPT` retired ones. `false` when another call changed
    /// it first.
    async fn rotate(&self, id: SessionId, presented: &TokenHash, rotation: &Rotation) -> Result<bool, StoreError>;

    /// The member's sessions still open at `now` (not ended, refresh token
    /// not expired), the most recently used first.
    async fn open_of(&self, member: MemberId, now: DateTime<Utc>) -> Result<Vec<Session>, StoreError>;

    /// Ends the session for good (the first revocation time is kept).
    async fn revoke(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Ends every session of `member` still open, but `except`, at `at`;
    /// the ones it ended.
    async fn revoke_all(
        &self,
        member: MemberId,
        except: Option<SessionId>,
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError>;

    /// Whether `member` started a session from `client` at or after `since`.
    async fn signed_in_from(&self, member: MemberId, client: &str, since: DateTime<Utc>) -> Result<bool, StoreError>;
}
