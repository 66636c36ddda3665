//! The `BalanceCache` and `RateLimiter` contract: reads, newer-wins writes,
//! expiry and invalidation; a fixed window of acquisitions per key. Run it
//! with `cache_contract!(async { <a fresh CacheUnderTest> })`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use pointshare_domain::ProviderAccountId;
use pointshare_domain::ports::{BalanceCache, CachedBalance, RateDecision, RateLimiter, RateRule};

#[derive(Debug, Clone)]
pub struct CacheUnderTest {
    pub cache: Arc<dyn BalanceCache>,
    pub limiter: Arc<dyn RateLimiter>,
}

#[macro_export]
macro_rules! cache_contract {
    ($setup:expr) => {
        $crate::cache_contract!(@cases $setup;
            a_balance_reads_back_until_it_expires,
            a_newer_balance_is_never_overwritten_by_an_older_one,
            invalidating_forgets_a_balance,
            the_limiter_allows_the_limit_per_window_and_says_how_long_to_wait,
            the_limiter_keeps_keys_apart,
        );
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let subject = $setup.await;
                $crate::contract::cache::$case(&subject).await;
            }
        )+
    };
}

fn account() -> ProviderAccountId {
    ProviderAccountId::parse(format!("acc_{:016x}", rand::random::<u64>())).expect("valid id")
}

fn at(seconds: i64, balance: u64) -> CachedBalance {
    CachedBalance { balance, as_of: Utc.timestamp_opt(1_800_000_000 + seconds, 0).single().expect("valid time") }
}

fn key(name: &str) -> String {
    format!("{name}:{:016x}", rand::random::<u64>())
}

pub async fn a_balance_reads_back_until_it_expires(subject: &CacheUnderTest) {
    let account = account();
    assert_eq!(subject.cache.get(&account).await.expect("reads"), None);
    subject.cache.put(&account, at(0, 42), Duration::from_millis(300)).await.expect("writes");
    assert_eq!(subject.cache.get(&account).await.expect("reads"), Some(at(0, 42)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(subject.cache.get(&account).await.expect("reads"), None, "expired");
}

pub async fn a_newer_balance_is_never_overwritten_by_an_older_one(subject: &CacheUnderTest) {
    let account = account();
    let ttl = Duration::from_secs(30);
    subject.cache.put(&account, at(10, 7), ttl).await.expect("writes");
    subject.cache.put(&account, at(5, 99), ttl).await.expect("an older write is accepted and ignored");
    assert_eq!(subject.cache.get(&account).await.expect("reads"), Some(at(10, 7)));
    subject.cache.put(&account, at(11, 8), ttl).await.expect("writes");
    assert_eq!(subject.cache.get(&account).await.expect("reads"), Some(at(11, 8)));
}

pub async fn invalidating_forgets_a_balance(subject: &CacheUnderTest) {
    let account = account();
    subject.cache.put(&account, at(10, 7), Duration::from_secs(30)).await.expect("writes");
    subject.cache.invalidate(&account).await.expect("invalidates");
    assert_eq!(subject.cache.get(&account).await.expect("reads"), None);
    subject.cache.put(&account, at(1, 3), Duration::from_secs(30)).await.expect("writes");
    assert_eq!(subject.cache.get(&account).await.expect("reads"), Some(at(1, 3)), "an older write fills an empty slot");
}

pub async fn the_limiter_allows_the_limit_per_window_and_says_how_long_to_wait(subject: &CacheUnderTest) {
    let key = key("login");
    let rule = RateRule { limit: 3, window: Duration::from_millis(800) };
    for expected in [2, 1, 0] {
        match subject.limiter.acquire(&key, rule).await.expect("answers") {
            RateDecision::Allowed { remaining, reset_after } => {
                assert_eq!(remaining, expected);
                assert!(reset_after > Duration::ZERO && reset_after <= rule.window, "{reset_after:?}");
            }
            limited => panic!("within the limit, got {limited:?}"),
        }
    }
    match subject.limiter.acquire(&key, rule).await.expect("answers") {
        RateDecision::Limited { retry_after } => assert!(retry_after <= rule.window, "{retry_after:?}"),
        allowed => panic!("the fourth acquisition should be limited, got {allowed:?}"),
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let again = subject.limiter.acquire(&key, rule).await.expect("answers");
    assert!(matches!(again, RateDecision::Allowed { remaining: 2, .. }), "{again:?}");
}

pub async fn the_limiter_keeps_keys_apart(subject: &CacheUnderTest) {
    let rule = RateRule { limit: 1, window: Duration::from_secs(30) };
    let (first, second) = (key("a"), key("b"));
    assert!(matches!(subject.limiter.acquire(&first, rule).await.expect("answers"), RateDecision::Allowed { .. }));
    assert!(matches!(subject.limiter.acquire(&first, rule).await.expect("answers"), RateDecision::Limited { .. }));
    assert!(matches!(subject.limiter.acquire(&second, rule).await.expect("answers"), RateDecision::Allowed { .. }));
}
