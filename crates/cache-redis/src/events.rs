//! Members' events on Redis: one stream per member (`XADD` with a `MINID`
//! trim at the retention window, the key expiring after it), and one pub/sub
//! channel on which every replica hears "member X has news". A follower
//! wakes on the channel and reads its member's stream from its last id, so
//! order and completeness come from the stream; a message lost with a
//! dropped subscription only ends followers' streams, and they resume.
//!
//! Each script touches one key (the member's stream), and `PUBLISH` (in the
//! publishing script) reaches every node of a Redis Cluster, so both run
//! unchanged on a cluster; the subscription is held on one node listed, the
//! next one in turn when it cannot be had or drops.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use deadpool_redis::redis::{self, Script};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use pointshare_domain::ports::{EventId, EventsError, MemberEvent, MemberEvents, Notice};
use pointshare_domain::{MemberId, TransferId};
use pointshare_embedded::WakeupHub;
use secrecy::ExposeSecret;

use crate::RedisCache;

/// Appends an event (Redis's time gives the id), trims what is past the
/// window, and announces it on the channel: one round trip. ARGV: the
/// notice, the retention in milliseconds, the channel, the member.
const PUBLISH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local oldest = string.format('%d', now - tonumber(ARGV[2]))
local id = redis.call('XADD', KEYS[1], 'MINID', '~', oldest, '*', 'n', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return id
";

/// How long to wait before subscribing again after losing the subscription.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

pub struct RedisEvents {
    redis: RedisCache,
    retention: u64,
    channel: String,
    publish: Script,
    hub: Arc<WakeupHub>,
    listener: JoinHandle<()>,
}

impl std::fmt::Debug for RedisEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEvents").field("channel", &self.channel).finish_non_exhaustive()
    }
}

impl Drop for RedisEvents {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl RedisEvents {
    /// Events on `redis`'s server, kept for `retention`; returns once this
    /// process hears the channel.
    pub async fn start(redis: RedisCache, retention: Duration) -> anyhow::Result<RedisEvents> {
        let channel = redis.key("events", "news");
        let nodes = redis.settings.url.expose_secret().split(',').map(|node| redis::Client::open(node.trim()));
        let nodes = nodes.collect::<Result<Vec<_>, _>>().context("POINTSHARE_REDIS_URL is not a Redis URL")?;
        // Time to try every node once.
        let per_node = redis.settings.timeout.max(Duration::from_secs(2));
        let patience = per_node.saturating_mul(u32::try_from(nodes.len()).unwrap_or(u32::MAX));
        let hub = Arc::new(WakeupHub::default());
        // Not until the listener hears the channel.
        hub.lose_track();
        let (subscribed_tx, mut subscribed) = watch::channel(false);
        let listening =
            Listening { nodes, per_node, channel: channel.clone(), hub: Arc::clone(&hub), subscribed: subscribed_tx };
        let listener = tokio::spawn(listen(listening));
        let heard = tokio::time::timeout(patience, subscribed.wait_for(|subscribed| *subscribed)).await;
        if !matches!(heard, Ok(Ok(_))) {
            // The listener goes on trying; until it hears the channel, a stream is refused (events_unavailable).
            tracing::warn!("cannot subscribe to Redis for members' events yet; trying on");
        }
        Ok(RedisEvents {
            redis,
            retention: u64::try_from(retention.as_millis()).unwrap_or(u64::MAX).max(1),
            channel,
            publish: Script::new(PUBLISH),
            hub,
            listener,
        })
    }

    fn stream(&self, member: MemberId) -> String {
        self.redis.key("events", &member.to_string())
    }
}

/// What the listener holds: the nodes it may subscribe on, how long one
/// may take to connect, and whom it tells.
struct Listening {
    nodes: Vec<redis::Client>,
    per_node: Duration,
    channel: String,
    hub: Arc<WakeupHub>,
    subscribed: watch::Sender<bool>,
}

/// Holds the subscription, waking local followers of each member named on
/// the channel; resubscribes when it drops, first ending every follower's
/// wakeups (what was published meanwhile went unheard). Each attempt takes
/// the next node listed, so one node down does not silence the rest; after a
/// round of them it waits a moment.
async fn listen(listening: Listening) {
    let Listening { nodes, per_node, channel, hub, subscribed } = listening;
    for (attempt, node) in nodes.iter().cycle().enumerate() {
        match tokio::time::timeout(per_node, subscribe(node, &channel)).await {
            Ok(Ok(pubsub)) => {
                hub.track();
                subscribed.send_replace(true);
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let member = message.get_payload::<String>().ok().and_then(|text| text.parse().ok());
                    if let Some(member) = member {
                        hub.wake(member);
                    }
                }
                tracing::warn!("the Redis events subscription dropped; subscribing again");
            }
            Ok(Err(error)) => tracing::warn!(%error, "could not subscribe to Redis for members' events"),
            Err(_) => tracing::warn!("connecting to Redis for members' events timed out"),
        }
        subscribed.send_replace(false);
        hub.lose_track();
        if (attempt + 1) % nodes.len() == 0 {
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
        }
    }
}

async fn subscribe(node: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = node.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

fn encode(notice: Notice) -> String {
    match notice {
        Notice::Transfer(id) => format!("t:{id}"),
        Notice::Balance => "b".to_owned(),
    }
}

fn decode(id: &str, fields: &[String]) -> Option<MemberEvent> {
    let notice = match fields.get(1)?.as_str() {
        "b" => Notice::Balance,
        text => Notice::Transfer(text.strip_prefix("t:")?.parse::<TransferId>().ok()?),
    };
    Some(MemberEvent { id: id.parse().ok()?, notice })
}

fn decode_all(entries: Vec<(String, Vec<String>)>) -> Vec<MemberEvent> {
    entries.iter().filter_map(|(id, fields)| decode(id, fields)).collect()
}

#[async_trait]
impl MemberEvents for RedisEvents {
    async fn publish(&self, member: MemberId, notice: Notice) -> Result<EventId, EventsError> {
        let (stream, channel, script, retention) =
            (self.stream(member), self.channel.clone(), self.publish.clone(), self.retention);
        let id: String = self
            .redis
            .run("publish an event", |mut connection| async move {
                let mut publish = script.key(stream);
                publish.arg(encode(notice)).arg(retention).arg(channel).arg(member.to_string());
                Ok(publish.invoke_async(&mut connection).await?)
            })
            .await?;
        id.parse().map_err(|_| EventsError(anyhow::anyhow!("Redis gave the event id {id:?}")))
    }

    async fn latest(&self, member: MemberId) -> Result<Option<EventId>, EventsError> {
        let stream = self.stream(member);
        let newest: Vec<(String, Vec<String>)> = self
            .redis
            .run("read the newest event", |mut connection| async move {
                let mut newest = redis::cmd("XREVRANGE");
                newest.arg(stream).arg("+").arg("-").arg("COUNT").arg(1);
                Ok(newest.query_async(&mut connection).await?)
            })
            .await?;
        // Only the id: an entry this version cannot read still marks where the stream is.
        Ok(newest.first().and_then(|(id, _)| id.parse().ok()))
    }

    async fn after(&self, member: MemberId, after: EventId, limit: usize) -> Result<Vec<MemberEvent>, EventsError> {
        let stream = self.stream(member);
        let entries: Vec<(String, Vec<String>)> = self
            .redis
            .run("read events", |mut connection| async move {
                let mut range = redis::cmd("XRANGE");
                range.arg(stream).arg(format!("({after}")).arg("+").arg("COUNT").arg(limit);
                Ok(range.query_async(&mut connection).await?)
            })
            .await?;
        Ok(decode_all(entries))
    }

    async fn resumable(&self, _member: MemberId, seen: EventId) -> Result<bool, EventsError> {
        if seen == EventId::ZERO {
            return Ok(true);
        }
        // By Redis's clock, which gave the ids and trims the streams.
        let (seconds, micros): (u64, u64) =
            self.redis
                .run("read the time", |mut connection| async move {
                    Ok(redis::cmd("TIME").query_async(&mut connection).await?)
                })
                .await?;
        let now = seconds * 1000 + micros / 1000;
        Ok(seen.millis >= now.saturating_sub(self.retention))
    }

    async fn wakeups(&self, member: MemberId) -> Result<BoxStream<'static, ()>, EventsError> {
        self.hub
            .follow(member)
            .ok_or_else(|| EventsError(anyhow::anyhow!("not subscribed to Redis for members' events; resubscribing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_back() {
        let transfer = TransferId::new();
        for notice in [Notice::Transfer(transfer), Notice::Balance] {
            let event = decode("1700000000000-2", &["n".into(), encode(notice)]).expect("decodes");
            assert_eq!((event.id.to_string(), event.notice), ("1700000000000-2".to_owned(), notice));
        }
        assert_eq!(decode("1-0", &["n".into(), "x".into()]), None);
        assert_eq!(decode("nope", &["n".into(), "b".into()]), None);
    }
}
