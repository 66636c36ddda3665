//! `InMemoryAccountTokens`: one-use tokens in a map by hash, taken once
//! under the lock as a store's conditional update would.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use pointshare_domain::ports::{AccountTokens, StoreError};
use pointshare_domain::{AccountToken, MemberId, TokenHash, TokenPurpose};

#[derive(Debug, Default)]
pub struct InMemoryAccountTokens {
    tokens: Mutex<HashMap<TokenHash, AccountToken>>,
}

#[async_trait]
impl AccountTokens for InMemoryAccountTokens {
    async fn insert(&self, token: &AccountToken) -> Result<(), StoreError> {
        self.tokens.lock().insert(token.hash.clone(), token.clone());
        Ok(())
    }

    async fn take(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountToken>, StoreError> {
        let mut tokens = self.tokens.lock();
        let Some(token) = tokens.get_mut(hash) else { return Ok(None) };
        if token.purpose != purpose || token.used_at.is_some() || token.expires_at <= now {
            return Ok(None);
        }
        token.used_at = Some(now);
        Ok(Some(token.clone()))
    }

    async fn spend_all(&self, member: MemberId, purpose: TokenPurpose, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tokens = self.tokens.lock();
        for token in tokens.values_mut().filter(|t| t.member == member && t.purpose == purpose && t.used_at.is_none()) {
            token.used_at = Some(at);
        }
        Ok(())
    }
}
