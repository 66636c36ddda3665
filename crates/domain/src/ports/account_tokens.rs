//! `AccountTokens`: the one-use tokens mailed to members, by hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::model::{AccountToken, MemberId, TokenHash, TokenPurpose};

#[async_trait]
pub trait AccountTokens: Send + Sync + std::fmt::Debug {
    async fn insert(&self, token: &AccountToken) -> Result<(), StoreError>;

    /// Takes the token with this hash for `purpose` if it is unused and
    /// unexpired at `now`, marking it used in the same step: of two racing
    /// takes, one gets it. `None` otherwise.
    async fn take(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountToken>, StoreError>;

    /// Marks every unused token of `member` for `purpose` used at `at`: a
    /// new password or a verified address makes the older links worthless.
    async fn spend_all(&self, member: MemberId, purpose: TokenPurpose, at: DateTime<Utc>) -> Result<(), StoreError>;
}
