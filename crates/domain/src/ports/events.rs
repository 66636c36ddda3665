//! `MemberEvents`: what a member is told as it happens (a transfer of theirs
//! changed, their balance changed), kept for a retention window so a client
//! that reconnects resumes where it stopped. Shared by every replica: an
//! event published where a transfer moved reaches followers on any replica.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use futures::stream::BoxStream;
use thiserror::Error;

use crate::model::{MemberId, TransferId};

/// Where an event sits in its member's sequence: `<milliseconds>-<sequence>`,
/// ordered by both (the form Redis streams give ids; clients treat it as opaque).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    pub millis: u64,
    pub sequence: u64,
}

impl EventId {
    /// Before every event: where a follower of a member with no events yet starts.
    pub const ZERO: EventId = EventId { millis: 0, sequence: 0 };
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.millis, self.sequence)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("not an event id")]
pub struct InvalidEventId;

impl FromStr for EventId {
    type Err = InvalidEventId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (millis, sequence) = text.split_once('-').ok_or(InvalidEventId)?;
        let number = |part: &str| part.parse::<u64>().map_err(|_| InvalidEventId);
        Ok(EventId { millis: number(millis)?, sequence: number(sequence)? })
    }
}

/// What happened, without what it now looks like: a follower reads the
/// transfer or balance as it stands when it delivers the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A transfer the member sent or received was recorded or changed state.
    Transfer(TransferId),
    /// A movement on the member's account was applied.
    Balance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberEvent {
    pub id: EventId,
    pub notice: Notice,
}

#[derive(Debug, Error)]
#[error("events unavailable: {0:#}")]
pub struct EventsError(#[from] pub anyhow::Error);

/// Events kept beside the cache fail as the cache does.
impl From<super::CacheError> for EventsError {
    fn from(error: super::CacheError) -> Self {
        EventsError(error.0)
    }
}

#[async_trait]
pub trait MemberEvents: Send + Sync + fmt::Debug {
    /// Appends `notice` to `member`'s events and wakes their followers.
    async fn publish(&self, member: MemberId, notice: Notice) -> Result<EventId, EventsError>;

    /// The newest of `member`'s retained events: where a new follower starts.
    async fn latest(&self, member: MemberId) -> Result<Option<EventId>, EventsError>;

    /// Up to `limit` of `member`'s retained events after `after`, oldest first.
    async fn after(&self, member: MemberId, after: EventId, limit: usize) -> Result<Vec<MemberEvent>, EventsError>;

    /// Whether every event of `member`'s after `seen` is certainly still
    /// retained: `seen` is `EventId::ZERO` or within the retention window.
    /// Otherwise a client resuming from it may have missed some.
    async fn resumable(&self, member: MemberId, seen: EventId) -> Result<bool, EventsError>;

    /// Yields whenever `member` may have new events, from the moment this
    /// returns. Ends when the adapter lost track of publications (a dropped
    /// connection): the follower then resumes from its last event.
    async fn wakeups(&self, member: MemberId) -> Result<BoxStream<'static, ()>, EventsError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_read_back_and_order_by_time_then_sequence() {
        let id: EventId = "1700000000000-3".parse().expect("an id");
        assert_eq!(id.to_string(), "1700000000000-3");
        assert!(id < "1700000000000-4".parse().expect("an id"));
        assert!(id < "1700000000001-0".parse().expect("an id"));
        for bad in ["", "12", "a-1", "1-", "-1", "1-2-3"] {
            assert_eq!(bad.parse::<EventId>(), Err(InvalidEventId), "{bad}");
        }
    }
}
