//! Telling members what happens to their transfers: `AnnouncedTransfers`
//! publishes an event to a transfer's sender and recipient each time the
//! store records it or moves it (whoever moves it: the request, a follow-up,
//! recovery, an operator), and `EventFeed` follows one member's events,
//! resuming after the last one a client saw.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::model::{Legs, MemberId, Transfer, TransferState};
use crate::ports::{
    EventId, EventsError, InsertTransferError, MemberEvent, MemberEvents, Notice, TransferRecords, Transition,
    TransitionError,
};

/// Transfer records that announce every recorded change. An event
/// that cannot be published is logged and skipped: the record is what
/// counts, and a client that missed it still reads the transfer.
#[derive(Debug)]
pub struct AnnouncedTransfers {
    store: Arc<dyn TransferRecords>,
    events: Arc<dyn MemberEvents>,
}

impl AnnouncedTransfers {
    pub fn new(store: Arc<dyn TransferRecords>, events: Arc<dyn MemberEvents>) -> Self {
        AnnouncedTransfers { store, events }
    }

    /// Announces `transfer`, just recorded in its state (`from` the state it
    /// left, `None` when just inserted).
    async fn announce(&self, transfer: &Transfer, from: Option<TransferState>) {
        let mut notices: Vec<(MemberId, Notice)> =
            vec![(transfer.sender, Notice::Transfer(transfer.id)), (transfer.recipient, Notice::Transfer(transfer.id))];
        notices.extend(whose_balances_moved(transfer, from).map(|member| (member, Notice::Balance)));
        let published = notices.into_iter().map(|(member, notice)| async move {
            if let Err(error) = self.events.publish(member, notice).await {
                tracing::warn!(%error, transfer = %transfer.id, ?notice, "could not publish an event");
            }
        });
        futures::future::join_all(published).await;
    }
}

/// The members whose accounts the steps from `from` to `transfer`'s state
/// moved. The saga records a debit only with what followed it, so a share
/// leaving `accepted` moved its sender's account too.
fn whose_balances_moved(transfer: &Transfer, from: Option<TransferState>) -> impl Iterator<Item = MemberId> {
    use TransferState::*;
    let debit_unrecorded = from == Some(Accepted) && transfer.kind.legs() == Legs::DebitThenCredit;
    let sender = match transfer.state {
        Debited | Reversed => true,
        Completed | Refunding => debit_unrecorded,
        _ => false,
    };
    let recipient = transfer.state == Completed;
    [sender.then_some(transfer.sender), recipient.then_some(transfer.recipient)].into_iter().flatten()
}

#[async_trait]
impl TransferRecords for AnnouncedTransfers {
    async fn insert(&self, transfer: &Transfer) -> Result<(), InsertTransferError> {
        self.store.insert(transfer).await?;
        self.announce(transfer, None).await;
        Ok(())
    }

    async fn transition(&self, transition: &Transition) -> Result<Transfer, TransitionError> {
        let moved = self.store.transition(transition).await?;
        self.announce(&moved, Some(transition.from)).await;
        Ok(moved)
    }
}

/// What a follower is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedItem {
    Event(MemberEvent),
    /// The client's last event is too old to resume from: it may have missed
    /// some. Read balance and transfers afresh; the events after this one
    /// follow on from now, and a client resuming later resumes from `from`.
    Reset {
        from: EventId,
    },
}

/// Follows members' events.
#[derive(Debug, Clone)]
pub struct EventFeed {
    events: Arc<dyn MemberEvents>,
}

/// Events read per round trip while catching up.
const BATCH: usize = 100;

struct Following {
    events: Arc<dyn MemberEvents>,
    member: MemberId,
    cursor: EventId,
    pending: VecDeque<FeedItem>,
    wakeups: BoxStream<'static, ()>,
}

impl EventFeed {
    pub fn new(events: Arc<dyn MemberEvents>) -> Self {
        EventFeed { events }
    }

    /// `member`'s events after `last_seen` (from now if `None`), in order,
    /// then each as it is published. Ends when the events store stops
    /// answering or loses track; resuming from the last event then misses
    /// nothing still retained.
    pub async fn follow(
        &self,
        member: MemberId,
        last_seen: Option<EventId>,
    ) -> Result<BoxStream<'static, FeedItem>, EventsError> {
        // Listening first: anything published from here on wakes us.
        let wakeups = self.events.wakeups(member).await?;
        let (cursor, reset) = match last_seen {
            Some(seen) if self.events.resumable(member, seen).await? => (seen, false),
            // What followed may be gone: start from now, and say so first.
            _ => (self.events.latest(member).await?.unwrap_or(EventId::ZERO), last_seen.is_some()),
        };
        let pending = if reset { VecDeque::from([FeedItem::Reset { from: cursor }]) } else { VecDeque::new() };
        let following = Following { events: Arc::clone(&self.events), member, cursor, pending, wakeups };
        Ok(Box::pin(futures::stream::unfold(following, next)))
    }
}

async fn next(mut following: Following) -> Option<(FeedItem, Following)> {
    loop {
        if let Some(item) = following.pending.pop_front() {
            return Some((item, following));
        }
        let Following { events, member, cursor, .. } = &following;
        match events.after(*member, *cursor, BATCH).await {
            Ok(found) if found.is_empty() => following.wakeups.next().await?,
            Ok(found) => {
                following.cursor = found.last().map_or(*cursor, |event| event.id);
                following.pending.extend(found.into_iter().map(FeedItem::Event));
            }
            Err(error) => {
                tracing::warn!(%error, "events unavailable; ending a member's event stream");
                return None;
            }
        }
    }
}
