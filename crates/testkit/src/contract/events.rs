//! The `MemberEvents` contract: events read back in order after any one of
//! them, per member; a publication on one replica wakes followers on
//! another; a resume from past the retention window is refused; and `EventFeed`
//! over it resumes, follows live and resets. Run it with
//! `events_contract!(async { <a fresh EventsUnderTest> })`.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use pointshare_domain::ports::{EventId, MemberEvents, Notice};
use pointshare_domain::services::{EventFeed, FeedItem};
use pointshare_domain::{MemberId, TransferId};

/// Two handles on one events store, as two replicas have, keeping events
/// for `retention`.
#[derive(Debug, Clone)]
pub struct EventsUnderTest {
    pub here: Arc<dyn MemberEvents>,
    pub elsewhere: Arc<dyn MemberEvents>,
    pub retention: Duration,
}

#[macro_export]
macro_rules! events_contract {
    ($setup:expr) => {
        $crate::events_contract!(@cases $setup;
            events_read_back_in_order_after_any_of_them,
            a_publication_elsewhere_wakes_a_follower_here,
            a_resume_from_past_the_retention_window_is_refused,
            the_feed_resumes_then_follows_live,
            the_feed_resets_a_follower_who_missed_too_much,
        );
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let subject = $setup.await;
                $crate::contract::events::$case(&subject).await;
            }
        )+
    };
}

const PATIENCE: Duration = Duration::from_secs(5);

async fn events(store: &dyn MemberEvents, member: MemberId, after: EventId) -> Vec<(EventId, Notice)> {
    let found = store.after(member, after, 100).await.expect("reads");
    found.into_iter().map(|event| (event.id, event.notice)).collect()
}

pub async fn events_read_back_in_order_after_any_of_them(subject: &EventsUnderTest) {
    let (member, other) = (MemberId::new(), MemberId::new());
    assert_eq!(subject.here.latest(member).await.expect("reads"), None);
    let transfer = TransferId::new();
    let mut published = Vec::new();
    for notice in [Notice::Transfer(transfer), Notice::Balance, Notice::Transfer(transfer)] {
        published.push((subject.elsewhere.publish(member, notice).await.expect("publishes"), notice));
    }
    subject.here.publish(other, Notice::Balance).await.expect("publishes");
    assert!(published.windows(2).all(|pair| pair[0].0 < pair[1].0), "ids increase: {published:?}");
    assert_eq!(subject.here.latest(member).await.expect("reads"), Some(published[2].0));
    assert_eq!(events(subject.here.as_ref(), member, EventId::ZERO).await, published);
    assert_eq!(events(subject.here.as_ref(), member, published[0].0).await, published[1..]);
    assert_eq!(events(subject.here.as_ref(), member, published[2].0).await, []);
    assert_eq!(events(subject.here.as_ref(), other, EventId::ZERO).await.len(), 1, "members apart");
}

pub async fn a_publication_elsewhere_wakes_a_follower_here(subject: &EventsUnderTest) {
    let member = MemberId::new();
    let mut wakeups = subject.here.wakeups(member).await.expect("follows");
    let id = subject.elsewhere.publish(member, Notice::Balance).await.expect("publishes");
    tokio::time::timeout(PATIENCE, wakeups.next()).await.expect("woken in time").expect("still following");
    assert_eq!(events(subject.here.as_ref(), member, EventId::ZERO).await, [(id, Notice::Balance)]);
}

pub async fn a_resume_from_past_the_retention_window_is_refused(subject: &EventsUnderTest) {
    let member = MemberId::new();
    let old = subject.here.publish(member, Notice::Balance).await.expect("publishes");
    assert!(subject.here.resumable(member, old).await.expect("answers"), "within the window");
    tokio::time::sleep(subject.retention + Duration::from_millis(500)).await;
    assert!(!subject.here.resumable(member, old).await.expect("answers"), "what followed may be gone");
    assert!(subject.here.resumable(member, EventId::ZERO).await.expect("answers"), "from the start of what is kept");
    let recent = subject.here.publish(member, Notice::Balance).await.expect("publishes");
    assert!(subject.here.resumable(member, recent).await.expect("answers"), "a recent id");
}

async fn next_item(feed: &mut futures::stream::BoxStream<'static, FeedItem>) -> FeedItem {
    tokio::time::timeout(PATIENCE, feed.next()).await.expect("an item in time").expect("the feed goes on")
}

pub async fn the_feed_resumes_then_follows_live(subject: &EventsUnderTest) {
    let member = MemberId::new();
    let transfer = TransferId::new();
    let seen = subject.elsewhere.publish(member, Notice::Transfer(transfer)).await.expect("publishes");
    let missed = subject.elsewhere.publish(member, Notice::Balance).await.expect("publishes");
    let feed = EventFeed::new(Arc::clone(&subject.here));

    let mut resumed = feed.follow(member, Some(seen)).await.expect("follows");
    let mut fresh = feed.follow(member, None).await.expect("follows");
    assert!(matches!(next_item(&mut resumed).await, FeedItem::Event(event) if event.id == missed));
    let live = subject.elsewhere.publish(member, Notice::Transfer(transfer)).await.expect("publishes");
    for feed in [&mut resumed, &mut fresh] {
        match next_item(feed).await {
            FeedItem::Event(event) => assert_eq!((event.id, event.notice), (live, Notice::Transfer(transfer))),
            other => panic!("expected the live event, got {other:?}"),
        }
    }
}

pub async fn the_feed_resets_a_follower_who_missed_too_much(subject: &EventsUnderTest) {
    let member = MemberId::new();
    let old = subject.elsewhere.publish(member, Notice::Balance).await.expect("publishes");
    tokio::time::sleep(subject.retention + Duration::from_millis(500)).await;
    let mut feed = EventFeed::new(Arc::clone(&subject.here)).follow(member, Some(old)).await.expect("follows");
    assert!(matches!(next_item(&mut feed).await, FeedItem::Reset { .. }));
    let live = subject.elsewhere.publish(member, Notice::Balance).await.expect("publishes");
    assert!(matches!(next_item(&mut feed).await, FeedItem::Event(event) if event.id == live));
}
