//! `BalanceCache` and `RateLimiter`: shared, fast, and allowed to fail. A
//! failure here must never fail a member's request on its own.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;
use thiserror::Error;

use crate::model::ProviderAccountId;

#[derive(Debug, Error)]
#[error("cache unavailable: {0:#}")]
pub struct CacheError(#[from] pub anyhow::Error);

/// A balance as the provider reported it at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedBalance {
    pub balance: u64,
    pub as_of: DateTime<Utc>,
}

#[async_trait]
pub trait BalanceCache: Send + Sync + std::fmt::Debug {
    async fn get(&self, account: &ProviderAccountId) -> Result<Option<CachedBalance>, CacheError>;

    /// Stores `balance` for `ttl`, unless the cache holds one with a later
    /// `as_of`: a slow reader must not overwrite what a later write stored.
    async fn put(&self, account: &ProviderAccountId, balance: CachedBalance, ttl: Duration) -> Result<(), CacheError>;

    async fn invalidate(&self, account: &ProviderAccountId) -> Result<(), CacheError>;
}

/// At most `limit` acquisitions per `window` for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    pub limit: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Counted: `remaining` more are allowed until the window restarts, `reset_after` from now.
    Allowed {
        remaining: u32,
        reset_after: Duration,
    },
    Limited {
        retry_after: Duration,
    },
}

#[async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Counts one use of `key` against `rule` and says whether it is allowed.
    async fn acquire(&self, key: &str, rule: RateRule) -> Result<RateDecision, CacheError>;
}
