//! The cache and events contracts against a real Redis (`scripts/with-servers`
//! provides one, and a cluster), each test under its own key prefix; and what
//! happens when Redis is gone.

use std::sync::Arc;
use std::time::Duration;

use pointshare_cache_redis::{RedisCache, RedisEvents, RedisSettings};
use pointshare_domain::ProviderAccountId;
use pointshare_domain::ports::{BalanceCache, CachedBalance, MemberEvents, RateDecision, RateLimiter, RateRule};
use pointshare_testkit::contract::cache::CacheUnderTest;
use pointshare_testkit::contract::events::EventsUnderTest;

fn url() -> String {
    pointshare_testkit::test_server("POINTSHARE_TEST_REDIS_URL")
}

fn prefix() -> String {
    pointshare_testkit::unique("test")
}

async fn cache() -> CacheUnderTest {
    let redis = RedisCache::connect(RedisSettings { key_prefix: prefix(), ..RedisSettings::new(url()) })
        .await
        .expect("connects to the test server");
    let redis = Arc::new(redis);
    CacheUnderTest { cache: redis.clone(), limiter: redis }
}

pointshare_testkit::cache_contract!(cache());

/// Two replicas' events on one Redis (or cluster), keeping events a second.
async fn events_on(settings: RedisSettings) -> EventsUnderTest {
    let retention = Duration::from_secs(1);
    let replica = || async {
        let redis = RedisCache::connect(settings.clone()).await.expect("connects to the test server");
        Arc::new(RedisEvents::start(redis, retention).await.expect("subscribes"))
    };
    EventsUnderTest { here: replica().await, elsewhere: replica().await, retention }
}

mod events {
    use super::*;
    pointshare_testkit::events_contract!(events_on(RedisSettings {
        key_prefix: prefix(),
        ..RedisSettings::new(url())
    }));
}

/// The same contract on a three-master Redis Cluster (`scripts/with-servers`
/// starts one): every key lands on the node its slot says, and each script
/// still runs whole on one node.
mod on_a_cluster {
    use super::*;

    async fn cache() -> CacheUnderTest {
        let urls = pointshare_testkit::test_server("POINTSHARE_TEST_REDIS_CLUSTER_URLS");
        let settings = RedisSettings { cluster: true, key_prefix: prefix(), ..RedisSettings::new(urls) };
        let redis = Arc::new(RedisCache::connect(settings).await.expect("connects to the test cluster"));
        CacheUnderTest { cache: redis.clone(), limiter: redis }
    }

    pointshare_testkit::cache_contract!(cache());

    mod events {
        use super::*;
        pointshare_testkit::events_contract!(events_on(RedisSettings {
            cluster: true,
            key_prefix: prefix(),
            ..RedisSettings::new(
                std::env::var("POINTSHARE_TEST_REDIS_CLUSTER_URLS").expect("set by scripts/with-servers")
            )
        }));
    }

    /// The cluster's nodes behind one that is down: events still reach
    /// every replica, subscribed on a node that answers.
    mod with_the_first_node_listed_down {
        use super::*;

        fn behind_a_dead_node() -> String {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            let dead = listener.local_addr().expect("an address").port();
            drop(listener);
            let nodes = std::env::var("POINTSHARE_TEST_REDIS_CLUSTER_URLS").expect("set by scripts/with-servers");
            format!("redis://127.0.0.1:{dead},{nodes}")
        }

        pointshare_testkit::events_contract!(events_on(RedisSettings {
            cluster: true,
            key_prefix: prefix(),
            ..RedisSettings::new(behind_a_dead_node())
        }));
    }

    #[tokio::test]
    async fn keys_spread_over_the_masters_and_limits_hold() {
        let subject = cache().await;
        let rule = RateRule { limit: 5, window: Duration::from_secs(30) };
        // Many keys: with three masters, some land on each.
        for key in 0..30 {
            let key = format!("spread-{key}");
            let tries = (0..8).map(|_| subject.limiter.acquire(&key, rule));
            let decisions = futures::future::join_all(tries).await;
            let allowed = decisions.iter().filter(|d| matches!(d, Ok(RateDecision::Allowed { .. }))).count();
            assert_eq!(allowed, 5, "{key}");
        }
    }
}

#[tokio::test]
async fn concurrent_acquisitions_never_exceed_the_limit() {
    let subject = cache().await;
    let rule = RateRule { limit: 25, window: Duration::from_secs(30) };
    let tries = (0..100).map(|_| subject.limiter.acquire("burst", rule));
    let decisions = futures::future::join_all(tries).await;
    let allowed = decisions.iter().filter(|d| matches!(d, Ok(RateDecision::Allowed { .. }))).count();
    assert_eq!(allowed, 25);
}

/// A Redis of this test's own, to stop in the middle.
struct OwnRedis(std::process::Child, String);

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("bound").port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/with-servers installs it)");
        OwnRedis(child, format!("redis://127.0.0.1:{port}"))
    }

    /// A cache on it with a short timeout, once it answers.
    async fn connected(&self) -> RedisCache {
        let settings = RedisSettings { timeout: Duration::from_millis(200), ..RedisSettings::new(self.1.clone()) };
        for _ in 0..50 {
            if let Ok(cache) = RedisCache::connect(settings.clone()).await {
                return cache;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the test's own Redis did not start");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn when_redis_goes_away_calls_fail_within_the_timeout() {
    let mut redis = OwnRedis::start();
    let cache = redis.connected().await;
    let account = ProviderAccountId::parse("acc_1").expect("valid id");
    let balance = CachedBalance { balance: 1, as_of: chrono::Utc::now() };
    cache.put(&account, balance, Duration::from_secs(30)).await.expect("writes while up");
    redis.0.kill().expect("stops Redis");
    redis.0.wait().expect("Redis exits");
    let started = std::time::Instant::now();
    assert!(cache.get(&account).await.is_err());
    assert!(cache.acquire("k", RateRule { limit: 1, window: Duration::from_secs(1) }).await.is_err());
    assert!(cache.ping().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5), "failed fast, not hung: {:?}", started.elapsed());

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let nowhere = format!("redis://{}", listener.local_addr().expect("bound"));
    drop(listener);
    let error =
        RedisCache::connect(RedisSettings { timeout: Duration::from_millis(200), ..RedisSettings::new(nowhere) })
            .await
            .expect_err("nothing listens there");
    assert!(format!("{error:#}").contains("reaching Redis"), "{error:#}");
}

#[tokio::test]
async fn followers_are_told_when_the_subscription_drops_and_it_comes_back() {
    let mut redis = OwnRedis::start();
    let events = RedisEvents::start(redis.connected().await, Duration::from_secs(60)).await.expect("subscribes");
    let member = pointshare_domain::MemberId::new();
    let mut wakeups = events.wakeups(member).await.expect("follows");
    redis.0.kill().expect("stops Redis");
    redis.0.wait().expect("Redis exits");
    let ended = tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut wakeups))
        .await
        .expect("told in time");
    assert_eq!(ended, None, "the wakeups end: publications may go unheard now");
    assert!(events.wakeups(member).await.is_err(), "no new follower while unsubscribed");
    let port = redis.1.rsplit(':').next().expect("a port").to_owned();
    let restarted = std::process::Command::new("redis-server")
        .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server restarts");
    redis.0 = restarted;
    let mut back = false;
    for _ in 0..100 {
        if events.wakeups(member).await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "subscribed again once Redis is back");
}
