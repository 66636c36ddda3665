//! `OutageCache`: the embedded balance cache and rate limiter with a switch
//! that makes every call fail as an unreachable Redis would, to show that a
//! cache outage never fails a member's request, and that the limiter fails
//! open or closed as its policy says. `OutageAuditLog`: the same for the
//! audit log, to show that no privileged act is acknowledged unrecorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use pointshare_domain::ports::{
    AppendError, AuditFilter, AuditLog, BalanceCache, CacheError, CachedBalance, RateDecision, RateLimiter, RateRule,
    StoreError,
};
use pointshare_domain::{AuditRecord, ProviderAccountId};
use pointshare_embedded::{InMemoryAuditLog, InMemoryBalanceCache, InMemoryRateLimiter};

#[derive(Debug, Default)]
pub struct OutageCache {
    inner: InMemoryBalanceCache,
    limiter: InMemoryRateLimiter,
    down: AtomicBool,
}

impl OutageCache {
    /// While `down`, every call fails.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check_up(&self) -> Result<(), CacheError> {
        if self.down.load(Ordering::SeqCst) {
            Err(CacheError(anyhow::anyhow!("cache is down (injected)")))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl BalanceCache for OutageCache {
    async fn get(&self, account: &ProviderAccountId) -> Result<Option<CachedBalance>, CacheError> {
        self.check_up()?;
        self.inner.get(account).await
    }

    async fn put(&self, account: &ProviderAccountId, balance: CachedBalance, ttl: Duration) -> Result<(), CacheError> {
        self.check_up()?;
        self.inner.put(account, balance, ttl).await
    }

    async fn invalidate(&self, account: &ProviderAccountId) -> Result<(), CacheError> {
        self.check_up()?;
        self.inner.invalidate(account).await
    }
}

#[async_trait]
impl RateLimiter for OutageCache {
    async fn acquire(&self, key: &str, rule: RateRule) -> Result<RateDecision, CacheError> {
        self.check_up()?;
        self.limiter.acquire(key, rule).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn down_means_errors_and_up_again_serves() {
        let cache = OutageCache::default();
        let account = ProviderAccountId::parse("acc_1").expect("valid");
        cache.set_down(true);
        assert!(cache.get(&account).await.is_err());
        cache.set_down(false);
        assert_eq!(cache.get(&account).await.expect("up"), None);
    }
}

/// The embedded audit log with a switch that makes every call fail as an
/// unreachable store would: no privileged act is acknowledged then.
#[derive(Debug, Default)]
pub struct OutageAuditLog {
    inner: InMemoryAuditLog,
    down: AtomicBool,
}

impl OutageAuditLog {
    /// While `down`, every call fails.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check_up(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError(anyhow::anyhow!("the audit log is down (injected)")))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl AuditLog for OutageAuditLog {
    async fn last(&self) -> Result<Option<AuditRecord>, StoreError> {
        self.check_up()?;
        self.inner.last().await
    }

    async fn append(&self, record: &AuditRecord) -> Result<(), AppendError> {
        self.check_up()?;
        self.inner.append(record).await
    }

    async fn page(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.check_up()?;
        self.inner.page(filter, before, limit).await
    }

    async fn scan(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.check_up()?;
        self.inner.scan(after, limit).await
    }
}
