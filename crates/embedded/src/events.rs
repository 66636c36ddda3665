//! `InMemoryEvents`: members' events in this process, for the embedded
//! default and tests; ids, retention and gaps as the Redis adapter has them.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use parking_lot::Mutex;

use pointshare_domain::MemberId;
use pointshare_domain::ports::{EventId, EventsError, MemberEvent, MemberEvents, Notice};

use crate::WakeupHub;

#[derive(Debug)]
pub struct InMemoryEvents {
    retention: Duration,
    state: Mutex<State>,
    hub: WakeupHub,
}

#[derive(Debug, Default)]
struct State {
    last: Option<EventId>,
    members: HashMap<MemberId, VecDeque<MemberEvent>>,
}

impl InMemoryEvents {
    /// Keeps each event for `retention`.
    pub fn new(retention: Duration) -> Self {
        InMemoryEvents { retention, state: Mutex::default(), hub: WakeupHub::default() }
    }

    fn now_millis() -> u64 {
        u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
    }

    fn oldest_kept(&self) -> u64 {
        Self::now_millis().saturating_sub(u64::try_from(self.retention.as_millis()).unwrap_or(u64::MAX))
    }
}

#[async_trait]
impl MemberEvents for InMemoryEvents {
    async fn publish(&self, member: MemberId, notice: Notice) -> Result<EventId, EventsError> {
        let oldest_kept = self.oldest_kept();
        let id = {
            let mut state = self.state.lock();
            // Like Redis: time first, a sequence within a millisecond, never backwards.
            let now = Self::now_millis();
            let id = match state.last {
                Some(last) if last.millis >= now => EventId { millis: last.millis, sequence: last.sequence + 1 },
                _ => EventId { millis: now, sequence: 0 },
            };
            state.last = Some(id);
            let events = state.members.entry(member).or_default();
            while events.front().is_some_and(|event| event.id.millis < oldest_kept) {
                events.pop_front();
            }
            events.push_back(MemberEvent { id, notice });
            id
        };
        self.hub.wake(member);
        Ok(id)
    }

    async fn latest(&self, member: MemberId) -> Result<Option<EventId>, EventsError> {
        Ok(self.state.lock().members.get(&member).and_then(|events| events.back()).map(|event| event.id))
    }

    async fn after(&self, member: MemberId, after: EventId, limit: usize) -> Result<Vec<MemberEvent>, EventsError> {
        let state = self.state.lock();
        let events = state.members.get(&member).into_iter().flatten();
        Ok(events.filter(|event| event.id > after).take(limit).copied().collect())
    }

    async fn resumable(&self, _member: MemberId, seen: EventId) -> Result<bool, EventsError> {
        Ok(seen == EventId::ZERO || seen.millis >= self.oldest_kept())
    }

    async fn wakeups(&self, member: MemberId) -> Result<BoxStream<'static, ()>, EventsError> {
        // In one process nothing is ever missed: the hub never loses track.
        Ok(self.hub.follow(member).expect("the embedded hub always tracks"))
    }
}
