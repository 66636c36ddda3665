//! pointshare's balance cache, rate limiter and members' events on Redis
//! (deadpool-redis; the events in `events`).
//!
//! Both are single Lua scripts, so each decision is atomic in Redis however
//! many replicas ask at once:
//! - `put` keeps the balance with the later `as_of`. Invalidating on every
//!   write would also be correct, but would turn each share into two cache
//!   misses and two provider reads; newer-wins lets the saga write the balance
//!   it just learned from the provider, and a slow reader that fetched before
//!   the share can never overwrite it with the older figure.
//! - `acquire` is a fixed window: the first acquisition of a key starts a
//!   window of `rule.window`; the counter and its expiry are set together.
//!
//! Each script touches one key, so both run unchanged on Redis Cluster
//! (`RedisSettings::cluster`), where a key decides the node.
//!
//! Every command has a timeout, so a Redis outage costs a request at most that
//! long; failures are returned with their context as the port's `CacheError`
//! (the balance service then reads the provider; the domain's `Throttle`
//! decides whether the limiter fails open or closed; the server counts
//! failures whatever the backend).
//!
//! Depends on the domain and the Redis driver; never on another adapter or the
//! server (on the test kit in its tests only).

mod events;

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_redis::redis::aio::ConnectionLike;
use deadpool_redis::redis::{AsyncCommands, Cmd, Pipeline, RedisFuture, Script, Value};
use deadpool_redis::{Config, PoolConfig, Runtime, Timeouts, cluster};
use tracing::Instrument;

use pointshare_domain::ProviderAccountId;
use pointshare_domain::ports::{BalanceCache, CacheError, CachedBalance, RateDecision, RateLimiter, RateRule};
use pointshare_domain::settings::InvalidSetting;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use events::RedisEvents;

/// What an operator tunes about Redis; the server's `[cache]` settings
/// section deserializes straight into it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`; with `cluster`, the cluster's nodes (some or
    /// all of them), comma-separated.
    #[serde(skip_serializing)]
    pub url: SecretString,
    /// Redis Cluster rather than one server.
    #[serde(default)]
    pub cluster: bool,
    #[serde(default = "pool_size")]
    pub pool_size: usize,
    /// The longest any one operation (pool wait included) may take.
    #[serde(default = "timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Prefixes every key, so several deployments (or tests) can share a server.
    #[serde(default = "key_prefix")]
    pub key_prefix: String,
}

fn pool_size() -> usize {
    64
}

fn timeout() -> Duration {
    Duration::from_millis(250)
}

fn key_prefix() -> String {
    "pointshare".into()
}

impl RedisSettings {
    pub fn new(url: impl Into<String>) -> Self {
        RedisSettings {
            url: SecretString::from(url.into()),
            cluster: false,
            pool_size: pool_size(),
            timeout: timeout(),
            key_prefix: key_prefix(),
        }
    }

    /// Rejects settings the adapter cannot work with, naming the setting.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.url.expose_secret().trim().is_empty() {
            return Err(InvalidSetting::new("url", "must name a server"));
        }
        if self.pool_size == 0 {
            return Err(InvalidSetting::new("pool_size", "must be at least 1"));
        }
        if self.key_prefix.is_empty() {
            return Err(InvalidSetting::new("key_prefix", "must not be empty"));
        }
        InvalidSetting::first_zero(&[("timeout", self.timeout)])
    }
}

/// The stored form is `<balance>:<as_of in ms>`; the script compares the second part.
const PUT_NEWER: &str = r"
local held = redis.call('GET', KEYS[1])
if held then
  local as_of = tonumber(string.match(held, ':(%d+)$'))
  if as_of and as_of > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'PX', ARGV[3])
return 1
";

/// Returns {1, remaining} when allowed, {0, milliseconds until the window ends} when not.
const ACQUIRE: &str = r"
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local limit = tonumber(ARGV[1])
local wait = redis.call('PTTL', KEYS[1])
if wait < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); wait = tonumber(ARGV[2]) end
if used > limit then return {0, 0, wait} end
return {1, limit - used, wait}
";

/// Connections to one server or to a cluster.
#[derive(Clone)]
enum Pool {
    Single(deadpool_redis::Pool),
    Cluster(cluster::Pool),
}

enum Connection {
    Single(deadpool_redis::Connection),
    Cluster(cluster::Connection),
}

/// Every command goes through here, each in a `cache` span naming it (a
/// pipeline: its first command), which the trace exporter sends when it is on.
impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let span = cache_span(cmd);
        let sent = match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        };
        Box::pin(sent.instrument(span))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let span = pipeline.cmd_iter().next().map_or_else(tracing::Span::none, cache_span);
        let sent = match self {
            Connection::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        };
        Box::pin(sent.instrument(span))
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}

fn cache_span(cmd: &Cmd) -> tracing::Span {
    let command = match cmd.args_iter().next() {
        Some(deadpool_redis::redis::Arg::Simple(name)) => String::from_utf8_lossy(name).to_ascii_uppercase(),
        _ => String::new(),
    };
    tracing::debug_span!("cache", %command)
}

impl Pool {
    fn create(settings: &RedisSettings) -> anyhow::Result<Pool> {
        let pool = Some(PoolConfig {
            max_size: settings.pool_size,
            timeouts: Timeouts {
                wait: Some(settings.timeout),
                create: Some(settings.timeout),
                recycle: Some(settings.timeout),
            },
            ..PoolConfig::default()
        });
        if settings.cluster {
            let urls: Vec<String> = settings.url.expose_secret().split(',').map(|url| url.trim().to_owned()).collect();
            let mut config = cluster::Config::from_urls(urls);
            config.pool = pool;
            let created = config.create_pool(Some(Runtime::Tokio1));
            Ok(Pool::Cluster(created.context("POINTSHARE_REDIS_URL is not a list of Redis Cluster node URLs")?))
        } else {
            let mut config = Config::from_url(settings.url.expose_secret());
            config.pool = pool;
            let created = config.create_pool(Some(Runtime::Tokio1));
            Ok(Pool::Single(created.context("POINTSHARE_REDIS_URL is not a Redis URL")?))
        }
    }

    async fn get(&self) -> anyhow::Result<Connection> {
        Ok(match self {
            Pool::Single(pool) => Connection::Single(pool.get().await?),
            Pool::Cluster(pool) => Connection::Cluster(pool.get().await?),
        })
    }
}

/// Both ports over one pool.
#[derive(Clone)]
pub struct RedisCache {
    pool: Pool,
    settings: RedisSettings,
    put_newer: Script,
    acquire: Script,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").field("key_prefix", &self.settings.key_prefix).finish_non_exhaustive()
    }
}

impl RedisCache {
    /// Builds the pool and checks that Redis answers.
    /// The cache, reached: `open`, then a ping.
    pub async fn connect(settings: RedisSettings) -> anyhow::Result<RedisCache> {
        let cache = RedisCache::open(settings)?;
        cache.ping().await.context("reaching Redis")?;
        Ok(cache)
    }

    /// The cache, without reaching Redis: connections are made as calls
    /// need them, and a call fails as `CacheError` while Redis is away.
    pub fn open(settings: RedisSettings) -> anyhow::Result<RedisCache> {
        let pool = Pool::create(&settings)?;
        Ok(RedisCache { pool, settings, put_newer: Script::new(PUT_NEWER), acquire: Script::new(ACQUIRE) })
    }

    /// Whether Redis answers, for readiness checks.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.run("ping", |mut connection| async move {
            let _: String = deadpool_redis::redis::cmd("PING").query_async(&mut connection).await?;
            Ok(())
        })
        .await
        .map_err(|error| error.0)
    }

    pub(crate) fn key(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{name}", self.settings.key_prefix)
    }

    /// Runs one operation on a pooled connection within the timeout, counting failures.
    pub(crate) async fn run<T, F, Fut>(&self, operation: &'static str, work: F) -> Result<T, CacheError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let attempt = async {
            let connection = self.pool.get().await.context("taking a Redis connection")?;
            work(connection).await
        };
        let answer = match tokio::time::timeout(self.settings.timeout, attempt).await {
            Ok(answer) => answer,
            Err(_) => Err(anyhow::anyhow!("Redis did not answer within {:?}", self.settings.timeout)),
        };
        answer.map_err(|error| CacheError(error.context(format!("redis {operation}"))))
    }
}

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn parse_held(value: &str) -> Option<CachedBalance> {
    let (balance, as_of) = value.split_once(':')?;
    Some(CachedBalance { balance: balance.parse().ok()?, as_of: DateTime::from_timestamp_millis(as_of.parse().ok()?)? })
}

#[async_trait]
impl BalanceCache for RedisCache {
    async fn get(&self, account: &ProviderAccountId) -> Result<Option<CachedBalance>, CacheError> {
        let key = self.key("balance", account.as_str());
        let held: Option<String> =
            self.run("get", |mut connection| async move { Ok(connection.get(key).await?) }).await?;
        Ok(held.as_deref().and_then(parse_held))
    }

    async fn put(&self, account: &ProviderAccountId, balance: CachedBalance, ttl: Duration) -> Result<(), CacheError> {
        let key = self.key("balance", account.as_str());
        let script = self.put_newer.clone();
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run("put", |mut connection| async move {
            let _stored: i64 = script
                .key(key)
                .arg(balance.balance)
                .arg(millis(balance.as_of))
                .arg(ttl)
                .invoke_async(&mut connection)
                .await?;
            Ok(())
        })
        .await
    }

    async fn invalidate(&self, account: &ProviderAccountId) -> Result<(), CacheError> {
        let key = self.key("balance", account.as_str());
        self.run("invalidate", |mut connection| async move {
            let _removed: i64 = connection.del(key).await?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl RateLimiter for RedisCache {
    async fn acquire(&self, key: &str, rule: RateRule) -> Result<RateDecision, CacheError> {
        let key = self.key("rate", key);
        let script = self.acquire.clone();
        let window = u64::try_from(rule.window.as_millis()).unwrap_or(u64::MAX).max(1);
        let (allowed, remaining, wait): (i64, i64, i64) = self
            .run("acquire", |mut connection| async move {
                Ok(script.key(key).arg(rule.limit).arg(window).invoke_async(&mut connection).await?)
            })
            .await?;
        let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
        Ok(if allowed == 1 {
            RateDecision::Allowed { remaining: u32::try_from(remaining).unwrap_or(u32::MAX), reset_after: wait }
        } else {
            RateDecision::Limited { retry_after: wait }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_balances_parse_back() {
        let held = parse_held("42:1800000000000").expect("parses");
        assert_eq!((held.balance, millis(held.as_of)), (42, 1_800_000_000_000));
        assert_eq!(parse_held("garbage"), None);
        assert_eq!(parse_held("1:x"), None);
    }
}
