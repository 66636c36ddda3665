//! `WakeupHub`: the in-process half of `MemberEvents::wakeups`, which the
//! in-memory events and Redis' share: followers wait on it, a publication
//! (here, or read from Redis by the one listener a replica keeps) wakes them.

use std::collections::HashMap;

use futures::stream::BoxStream;
use parking_lot::Mutex;
use pointshare_domain::MemberId;
use tokio::sync::broadcast;

/// One broadcast per followed member. A lagging receiver only means it was
/// woken more than once, which is the same as once. Whether it is tracking publications is
/// kept under the same lock as the followers, so no follower can join
/// between losing track and the clearing that ends every stream.
#[derive(Debug)]
pub struct WakeupHub {
    /// `None` while publications may be missed (tracking was lost).
    members: Mutex<Option<HashMap<MemberId, broadcast::Sender<()>>>>,
}

impl Default for WakeupHub {
    fn default() -> Self {
        WakeupHub { members: Mutex::new(Some(HashMap::new())) }
    }
}

impl WakeupHub {
    /// Wakeups for `member`; `None` while the hub has lost track.
    pub fn follow(&self, member: MemberId) -> Option<BoxStream<'static, ()>> {
        let mut members = self.members.lock();
        let receiver = members.as_mut()?.entry(member).or_insert_with(|| broadcast::channel(1).0).subscribe();
        Some(Box::pin(futures::stream::unfold(receiver, |mut receiver| async move {
            match receiver.recv().await {
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => Some(((), receiver)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })))
    }

    pub fn wake(&self, member: MemberId) {
        let mut members = self.members.lock();
        let Some(members) = members.as_mut() else { return };
        // Nobody follows any more: forget the member.
        if members.get(&member).is_some_and(|sender| sender.send(()).is_err()) {
            members.remove(&member);
        }
    }

    /// Ends every follower's wakeups, and refuses new followers until
    /// `track`: publications may have been missed.
    pub fn lose_track(&self) {
        *self.members.lock() = None;
    }

    /// Publications are followed again (after `lose_track`).
    pub fn track(&self) {
        self.members.lock().get_or_insert_with(HashMap::new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hub_that_lost_track_ends_its_followers_and_takes_none_until_it_tracks_again() {
        use futures::StreamExt;
        let hub = WakeupHub::default();
        let member = MemberId::new();
        let mut before = hub.follow(member).expect("tracking");
        hub.wake(member);
        assert_eq!(before.next().await, Some(()));
        hub.lose_track();
        assert_eq!(before.next().await, None, "its wakeups end");
        assert!(hub.follow(member).is_none(), "no follower joins while publications may be missed");
        hub.track();
        let mut after = hub.follow(member).expect("tracking again");
        hub.wake(member);
        assert_eq!(after.next().await, Some(()));
    }
}
