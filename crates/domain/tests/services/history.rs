use std::collections::HashSet;

use pointshare_domain::services::GetTransferError;
use pointshare_testkit::World;

use super::{deadline, share};

#[tokio::test]
async fn only_the_sender_and_the_recipient_see_a_transfer() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let eve = world.member("eve", 0).await;
    let transfer = world.transfer_service.share(share(&alice, &bob, 10, "k"), deadline()).await.expect("completes");
    for member in [&alice, &bob] {
        let seen = world.transfer_service.transfer_for(member.id, transfer.id).await.expect("visible");
        assert_eq!(seen.id, transfer.id);
    }
    let hidden = world.transfer_service.transfer_for(eve.id, transfer.id).await.unwrap_err();
    assert!(matches!(hidden, GetTransferError::NotFound));
    let missing =
        world.transfer_service.transfer_for(alice.id, pointshare_domain::TransferId::new()).await.unwrap_err();
    assert!(matches!(missing, GetTransferError::NotFound));
}

#[tokio::test]
async fn history_pages_newest_first_without_gaps_or_repeats() {
    let world = World::default();
    let alice = world.member("alice", 1000).await;
    let bob = world.member("bob", 1000).await;
    let carol = world.member("carol", 0).await;
    let mut mine = Vec::new();
    for i in 0..7 {
        world.clock.advance(chrono::TimeDelta::milliseconds(1));
        let (from, to) = if i % 2 == 0 { (&alice, &bob) } else { (&bob, &alice) };
        let t =
            world.transfer_service.share(share(from, to, 1, &format!("k{i}")), deadline()).await.expect("completes");
        mine.push(t.id);
        world
            .transfer_service
            .share(share(&bob, &carol, 1, &format!("other{i}")), deadline())
            .await
            .expect("completes");
    }
    mine.reverse();

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = world.transfer_service.history(alice.id, &Default::default(), cursor, 3).await.expect("up");
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, mine);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
}
