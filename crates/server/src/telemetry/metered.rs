//! The balance cache and the rate limiter of any backend, with their reads
//! and failures counted (whichever backend serves them).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use metrics::counter;
use pointshare_domain::ProviderAccountId;
use pointshare_domain::ports::{BalanceCache, CacheError, CachedBalance, RateDecision, RateLimiter, RateRule};

use super::recorder::{CACHE_ERRORS, CACHE_READS};

/// The balance cache of any backend, with its reads and failures counted.
#[derive(Debug)]
pub struct MeteredCache(pub Arc<dyn BalanceCache>);

impl MeteredCache {
    fn failed<T>(operation: &'static str, result: Result<T, CacheError>) -> Result<T, CacheError> {
        if result.is_err() {
            counter!(CACHE_ERRORS, "operation" => operation).increment(1);
        }
        result
    }
}

#[async_trait]
impl BalanceCache for MeteredCache {
    async fn get(&self, account: &ProviderAccountId) -> Result<Option<CachedBalance>, CacheError> {
        let read = Self::failed("get", self.0.get(account).await);
        let result = match &read {
            Ok(Some(_)) => "hit",
            Ok(None) => "miss",
            Err(_) => "error",
        };
        counter!(CACHE_READS, "result" => result).increment(1);
        read
    }

    async fn put(&self, account: &ProviderAccountId, balance: CachedBalance, ttl: Duration) -> Result<(), CacheError> {
        Self::failed("put", self.0.put(account, balance, ttl).await)
    }

    async fn invalidate(&self, account: &ProviderAccountId) -> Result<(), CacheError> {
        Self::failed("invalidate", self.0.invalidate(account).await)
    }
}

/// The rate limiter of any backend, with its failures counted (the request
/// then passes or is refused, as the throttle's policy says).
#[derive(Debug)]
pub struct MeteredLimiter(pub Arc<dyn RateLimiter>);

#[async_trait]
impl RateLimiter for MeteredLimiter {
    async fn acquire(&self, key: &str, rule: RateRule) -> Result<RateDecision, CacheError> {
        MeteredCache::failed("rate_limit", self.0.acquire(key, rule).await)
    }
}
