//! `InMemoryBalanceCache` and `InMemoryRateLimiter`: the Redis adapter's
//! semantics (newer-wins writes, a fixed window per key) in this process.

use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

use pointshare_domain::ProviderAccountId;
use pointshare_domain::ports::{BalanceCache, CacheError, CachedBalance, RateDecision, RateLimiter, RateRule};

#[derive(Debug, Default)]
pub struct InMemoryBalanceCache {
    entries: Mutex<HashMap<ProviderAccountId, (CachedBalance, Instant)>>,
}

#[async_trait]
impl BalanceCache for InMemoryBalanceCache {
    async fn get(&self, account: &ProviderAccountId) -> Result<Option<CachedBalance>, CacheError> {
        let entries = self.entries.lock();
        Ok(entries.get(account).filter(|(_, expires)| *expires > Instant::now()).map(|(balance, _)| *balance))
    }

    async fn put(&self, account: &ProviderAccountId, balance: CachedBalance, ttl: Duration) -> Result<(), CacheError> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let newer_held =
            entries.get(account).is_some_and(|(held, expires)| *expires > now && held.as_of > balance.as_of);
        if !newer_held {
            entries.insert(account.clone(), (balance, now + ttl));
        }
        Ok(())
    }

    async fn invalidate(&self, account: &ProviderAccountId) -> Result<(), CacheError> {
        self.entries.lock().remove(account);
        Ok(())
    }
}

/// A fixed-window counter per key, the same algorithm as the Redis limiter.
/// A window that has ended is forgotten, as Redis expires its key: a key
/// seen once (an address, an account tried) costs memory for its window
/// only, however many come.
#[derive(Debug, Default)]
pub struct InMemoryRateLimiter {
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    open: HashMap<String, Window>,
    swept: Option<Instant>,
}

#[derive(Debug)]
struct Window {
    ends: Instant,
    used: u32,
}

/// How often the ended windows are swept out: each sweep walks every key, so
/// once a second keeps that cost a small share of the acquisitions between.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl Windows {
    fn sweep(&mut self, now: Instant) {
        if self.swept.is_some_and(|swept| now < swept + SWEEP_EVERY) {
            return;
        }
        self.open.retain(|_, window| window.ends > now);
        self.swept = Some(now);
    }
}

impl InMemoryRateLimiter {
    /// Keys with a window open now.
    pub fn keys(&self) -> usize {
        let mut windows = self.windows.lock();
        windows.sweep(Instant::now());
        windows.open.len()
    }
}

#[async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn acquire(&self, key: &str, rule: RateRule) -> Result<RateDecision, CacheError> {
        let now = Instant::now();
        let mut windows = self.windows.lock();
        windows.sweep(now);
        let window = windows.open.entry(key.to_owned()).or_insert(Window { ends: now + rule.window, used: 0 });
        if now >= window.ends {
            *window = Window { ends: now + rule.window, used: 0 };
        }
        if window.used >= rule.limit {
            return Ok(RateDecision::Limited { retry_after: window.ends - now });
        }
        window.used += 1;
        Ok(RateDecision::Allowed { remaining: rule.limit - window.used, reset_after: window.ends - now })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(seconds: i64, balance: u64) -> CachedBalance {
        CachedBalance { balance, as_of: Utc.timestamp_opt(seconds, 0).single().expect("valid") }
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_balance_is_never_overwritten_by_an_older_one() {
        let cache = InMemoryBalanceCache::default();
        let account = ProviderAccountId::parse("acc_1").expect("valid");
        let ttl = Duration::from_secs(30);
        cache.put(&account, at(20, 5), ttl).await.expect("up");
        cache.put(&account, at(10, 9), ttl).await.expect("up");
        assert_eq!(cache.get(&account).await.expect("up"), Some(at(20, 5)));
        cache.put(&account, at(30, 1), ttl).await.expect("up");
        assert_eq!(cache.get(&account).await.expect("up"), Some(at(30, 1)));
        tokio::time::advance(ttl).await;
        assert_eq!(cache.get(&account).await.expect("up"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_counts_per_key_and_window() {
        let limiter = InMemoryRateLimiter::default();
        let rule = RateRule { limit: 2, window: Duration::from_secs(10) };
        let ten = Duration::from_secs(10);
        assert_eq!(
            limiter.acquire("a", rule).await.ok(),
            Some(RateDecision::Allowed { remaining: 1, reset_after: ten })
        );
        assert_eq!(
            limiter.acquire("a", rule).await.ok(),
            Some(RateDecision::Allowed { remaining: 0, reset_after: ten })
        );
        assert_eq!(
            limiter.acquire("a", rule).await.ok(),
            Some(RateDecision::Limited { retry_after: Duration::from_secs(10) })
        );
        assert_eq!(
            limiter.acquire("b", rule).await.ok(),
            Some(RateDecision::Allowed { remaining: 1, reset_after: ten })
        );
        tokio::time::advance(ten).await;
        assert_eq!(
            limiter.acquire("a", rule).await.ok(),
            Some(RateDecision::Allowed { remaining: 1, reset_after: ten })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_forgets_a_window_once_it_has_ended() {
        let limiter = InMemoryRateLimiter::default();
        let minute = RateRule { limit: 5, window: Duration::from_secs(60) };
        for n in 0..10_000 {
            limiter.acquire(&format!("login:ip:{n}"), minute).await.expect("up");
        }
        assert_eq!(limiter.keys(), 10_000);
        tokio::time::advance(Duration::from_secs(30)).await;
        limiter.acquire("login:ip:late", minute).await.expect("up");
        assert_eq!(limiter.keys(), 10_001, "every window is still open");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(limiter.keys(), 1, "only the window opened later is left");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(limiter.keys(), 0);
    }
}
