//! The transfer store's cases: keys unique, compare-and-set under races,
//! history pages with no gap or repeat, daily totals within their limit,
//! reversal holds, leases, reviews, scans and counts.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use pointshare_domain::ports::{
    DayKey, Direction, HistoryFilter, InsertTransferError, TakeOverError, TransitionError, Window,
};
use pointshare_domain::{
    Lease, LeaseOwner, MemberId, Points, Resolution, ReviewReason, Transfer, TransferId, TransferKind, TransferState,
};

use super::{StoreUnderTest, now, step, transfer};

pub async fn a_transfer_reads_back_by_id_and_by_key(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let transfer = transfer(MemberId::new(), "key-1", &owner);
    store.transfers.insert(&transfer).await.expect("inserts");
    assert_eq!(store.transfers.get(transfer.id).await.expect("reads"), Some(transfer.clone()));
    let by_key = store.transfers.by_idempotency_key(transfer.sender, &transfer.idempotency_key).await.expect("reads");
    assert_eq!(by_key, Some(transfer.clone()));
    let elsewhere =
        store.transfers.by_idempotency_key(MemberId::new(), &transfer.idempotency_key).await.expect("reads");
    assert_eq!(elsewhere, None, "keys belong to their sender");
}

pub async fn a_sender_key_is_unique_and_answers_with_the_first_transfer(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let first = transfer(MemberId::new(), "same", &owner);
    store.transfers.insert(&first).await.expect("inserts");
    let second = transfer(first.sender, "same", &owner);
    match store.transfers.insert(&second).await {
        Err(InsertTransferError::KeyTaken(existing)) => assert_eq!(*existing, first),
        other => panic!("expected KeyTaken, got {other:?}"),
    }
    store.transfers.insert(&transfer(MemberId::new(), "same", &owner)).await.expect("another sender may use the key");
}

pub async fn transitions_are_compare_and_set(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let transfer = transfer(MemberId::new(), "cas", &owner);
    store.transfers.insert(&transfer).await.expect("inserts");
    let moved = store
        .transfers
        .transition(&step(&transfer, TransferState::Accepted, TransferState::Debited, &owner))
        .await
        .expect("moves");
    assert_eq!(moved.state, TransferState::Debited);
    let stale =
        store.transfers.transition(&step(&transfer, TransferState::Accepted, TransferState::Debited, &owner)).await;
    assert!(matches!(stale, Err(TransitionError::Conflict(now)) if now.state == TransferState::Debited));
    let stranger = LeaseOwner::unique("stranger");
    let foreign =
        store.transfers.transition(&step(&transfer, TransferState::Debited, TransferState::Completed, &stranger)).await;
    assert!(matches!(foreign, Err(TransitionError::Conflict(_))), "only the lease holder moves a transfer");
    let illegal =
        store.transfers.transition(&step(&transfer, TransferState::Debited, TransferState::Accepted, &owner)).await;
    assert!(matches!(illegal, Err(TransitionError::Illegal { .. })));
    let missing = Transfer { id: TransferId::new(), ..transfer.clone() };
    let absent =
        store.transfers.transition(&step(&missing, TransferState::Accepted, TransferState::Debited, &owner)).await;
    assert!(matches!(absent, Err(TransitionError::NotFound)));
    let mut declined = step(&transfer, TransferState::Debited, TransferState::Refunding, &owner);
    declined.decline = Some(pointshare_domain::DeclineReason::RecipientAccountInactive);
    let refunding = store.transfers.transition(&declined).await.expect("moves");
    assert_eq!(refunding.decline, declined.decline);
    assert_eq!(store.transfers.get(transfer.id).await.expect("reads"), Some(refunding));
}

pub async fn of_racing_drivers_exactly_one_moves_each_step(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let transfer = transfer(MemberId::new(), "race", &owner);
    store.transfers.insert(&transfer).await.expect("inserts");
    for (from, to) in
        [(TransferState::Accepted, TransferState::Debited), (TransferState::Debited, TransferState::Completed)]
    {
        let racers = (0..32).map(|_| {
            let transfers = Arc::clone(&store.transfers);
            let transition = step(&transfer, from, to, &owner);
            tokio::spawn(async move { transfers.transition(&transition).await })
        });
        let answers: Vec<_> = join_all(racers).await.into_iter().map(|joined| joined.expect("joins")).collect();
        let winners = answers.iter().filter(|answer| answer.is_ok()).count();
        let conflicts = answers.iter().filter(|answer| matches!(answer, Err(TransitionError::Conflict(_)))).count();
        assert_eq!((winners, conflicts), (1, 31), "{from:?} -> {to:?}");
    }
}

pub async fn history_pages_have_no_gap_or_repeat_while_inserts_go_on(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let member = MemberId::new();
    let mut before = HashSet::new();
    for n in 0..30 {
        let mut t = transfer(if n % 2 == 0 { member } else { MemberId::new() }, &format!("page-{n}"), &owner);
        if n % 2 == 1 {
            t.recipient = member;
        }
        store.transfers.insert(&t).await.expect("inserts");
        before.insert(t.id);
        // Several transfers share a millisecond; the id orders them.
        if n % 5 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let writer = {
        let transfers = Arc::clone(&store.transfers);
        let owner = owner.clone();
        tokio::spawn(async move {
            for n in 0..20 {
                transfers.insert(&transfer(member, &format!("late-{n}"), &owner)).await.expect("inserts");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let (mut seen, mut order, mut cursor) = (HashSet::new(), Vec::new(), None);
    loop {
        let page = store.transfers.history(member, &HistoryFilter::default(), cursor, 7).await.expect("pages");
        for t in &page.items {
            assert!(seen.insert(t.id), "{} appeared twice", t.id);
            order.push((t.created_at, t.id));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    writer.await.expect("the writer finishes");
    assert!(
        before.is_subset(&seen),
        "every transfer older than the first page appears: {} missing",
        before.difference(&seen).count()
    );
    assert!(order.windows(2).all(|w| w[0] > w[1]), "newest first, strictly");
    assert!(
        store
            .transfers
            .history(MemberId::new(), &HistoryFilter::default(), None, 7)
            .await
            .expect("pages")
            .items
            .is_empty()
    );
}

pub async fn history_filters_by_direction_state_and_time_and_pages_within_them(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let member = MemberId::new();
    let hours_ago = |hours| now() - chrono::Duration::hours(hours);
    // Sent and completed three hours ago, received and rejected two hours
    // ago, sent and still accepted an hour ago.
    let mut sent_old = transfer(member, "filter-sent-old", &owner);
    (sent_old.state, sent_old.created_at) = (TransferState::Completed, hours_ago(3));
    let mut received = transfer(MemberId::new(), "filter-received", &owner);
    (received.recipient, received.state, received.created_at) = (member, TransferState::Rejected, hours_ago(2));
    let mut sent_new = transfer(member, "filter-sent-new", &owner);
    sent_new.created_at = hours_ago(1);
    for t in [&sent_old, &received, &sent_new] {
        store.transfers.insert(t).await.expect("inserts");
    }
    let listed = |filter: HistoryFilter| {
        let transfers = Arc::clone(&store.transfers);
        async move {
            let page = transfers.history(member, &filter, None, 10).await.expect("pages");
            page.items.into_iter().map(|t| t.id).collect::<Vec<_>>()
        }
    };
    let sent = HistoryFilter { direction: Some(Direction::Sent), ..HistoryFilter::default() };
    assert_eq!(listed(sent.clone()).await, [sent_new.id, sent_old.id]);
    let received_only = HistoryFilter { direction: Some(Direction::Received), ..HistoryFilter::default() };
    assert_eq!(listed(received_only).await, [received.id]);
    let states = vec![TransferState::Accepted, TransferState::Rejected];
    assert_eq!(listed(HistoryFilter { states, ..HistoryFilter::default() }).await, [sent_new.id, received.id]);
    let since = HistoryFilter { since: Some(received.created_at), ..HistoryFilter::default() };
    assert_eq!(listed(since).await, [sent_new.id, received.id], "since is inclusive");
    let until = HistoryFilter { until: Some(received.created_at), ..HistoryFilter::default() };
    assert_eq!(listed(until).await, [sent_old.id], "until is exclusive");
    let nothing = HistoryFilter { states: vec![TransferState::Reversed], ..sent.clone() };
    assert_eq!(listed(nothing).await, []);

    let first = store.transfers.history(member, &sent, None, 1).await.expect("pages");
    assert_eq!(first.items.iter().map(|t| t.id).collect::<Vec<_>>(), [sent_new.id]);
    let second = store.transfers.history(member, &sent, first.next, 1).await.expect("pages");
    assert_eq!((second.items.iter().map(|t| t.id).collect::<Vec<_>>(), second.next), (vec![sent_old.id], None));
}

fn day_key(kind: TransferKind) -> DayKey {
    DayKey { sender: MemberId::new(), kind, day: now().date_naive() }
}

pub async fn a_daily_total_reserves_up_to_its_limit_and_gives_back(store: &StoreUnderTest) {
    let share = day_key(TransferKind::Share);
    let points = |n| Points::new(n).expect("valid points");
    assert!(store.totals.reserve(&share, points(60), 100).await.expect("answers"));
    assert!(!store.totals.reserve(&share, points(41), 100).await.expect("answers"), "60 + 41 > 100");
    assert!(store.totals.reserve(&share, points(40), 100).await.expect("answers"), "exactly the limit");
    assert!(!store.totals.reserve(&share, points(1), 100).await.expect("answers"));
    store.totals.release(&share, points(60)).await.expect("gives back");
    assert!(store.totals.reserve(&share, points(60), 100).await.expect("answers"), "what was given back");
    assert!(!store.totals.reserve(&day_key(TransferKind::Share), points(101), 100).await.expect("answers"));
    // Another kind, sender or day is another counter.
    let grant = DayKey { kind: TransferKind::Grant, ..share };
    assert!(store.totals.reserve(&grant, points(100), 100).await.expect("answers"));
    let tomorrow = DayKey { day: share.day.succ_opt().expect("a next day"), ..share };
    assert!(store.totals.reserve(&tomorrow, points(100), 100).await.expect("answers"));
    assert_eq!(store.totals.total(&share).await.expect("reads"), 100, "40 + 60 after 60 came back");
    let untouched = DayKey { sender: MemberId::new(), ..share };
    assert_eq!(store.totals.total(&untouched).await.expect("reads"), 0, "a day nobody shared on");
}

pub async fn of_racing_reservations_the_total_never_passes_the_limit(store: &StoreUnderTest) {
    let key = day_key(TransferKind::Share);
    let attempts = (0..20).map(|_| {
        let totals = store.totals.clone();
        async move { totals.reserve(&key, Points::new(10).expect("valid"), 100).await.expect("answers") }
    });
    let granted = join_all(attempts).await.into_iter().filter(|won| *won).count();
    assert_eq!(granted, 10, "ten reservations of 10 fit in 100, the first of the day included");
}

fn as_grant(mut transfer: Transfer) -> Transfer {
    transfer.kind = TransferKind::Grant;
    transfer.sender_account = None;
    transfer
}

pub async fn grants_page_newest_first_and_only_grants(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let admin = MemberId::new();
    let mut grants = Vec::new();
    for n in 0..5 {
        let grant = as_grant(transfer(admin, &format!("grant-{n}"), &owner));
        store.transfers.insert(&grant).await.expect("inserts");
        store.transfers.insert(&transfer(admin, &format!("share-{n}"), &owner)).await.expect("inserts");
        grants.push(grant.id);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.transfers.grants(after, 2).await.expect("pages");
        assert!(page.items.iter().all(|t| t.kind == TransferKind::Grant));
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    grants.reverse();
    assert_eq!(seen, grants, "every grant once, newest first");
}

pub async fn reversals_never_hold_more_of_a_transfer_than_its_amount_however_many_race(store: &StoreUnderTest) {
    let creator = LeaseOwner::unique("request");
    let original =
        Transfer { amount: Points::new(100).expect("valid"), ..transfer(MemberId::new(), "reversed", &creator) };
    store.transfers.insert(&original).await.expect("inserts");
    let attempts = (0..8).map(|_| {
        let transfers = store.transfers.clone();
        async move { transfers.reserve_reversal(original.id, Points::new(20).expect("valid")).await.expect("answers") }
    });
    let won = join_all(attempts).await.into_iter().filter(|won| *won).count();
    assert_eq!(won, 5, "five reversals of 20 fit in 100");
    let held = store.transfers.get(original.id).await.expect("reads").expect("exists");
    assert_eq!((held.reversed, held.reversible()), (100, 0));
    store.transfers.release_reversal(original.id, Points::new(20).expect("valid")).await.expect("gives back");
    assert!(!store.transfers.reserve_reversal(original.id, Points::new(21).expect("valid")).await.expect("answers"));
    assert!(store.transfers.reserve_reversal(original.id, Points::new(20).expect("valid")).await.expect("answers"));
    assert!(
        !store.transfers.reserve_reversal(TransferId::new(), Points::new(1).expect("valid")).await.expect("answers")
    );

    // A withdrawal undoing it: linked, paying nobody, and listed among its reversals.
    let withdrawal = Transfer {
        kind: TransferKind::Withdrawal,
        recipient_account: None,
        reverses: Some(original.id),
        ..transfer(MemberId::new(), "undo", &creator)
    };
    store.transfers.insert(&withdrawal).await.expect("inserts");
    assert_eq!(store.transfers.get(withdrawal.id).await.expect("reads"), Some(withdrawal.clone()));
    assert_eq!(store.transfers.reversals_of(original.id).await.expect("lists"), vec![withdrawal]);
    assert!(store.transfers.reversals_of(TransferId::new()).await.expect("lists").is_empty());
}

pub async fn a_lease_gives_each_due_transfer_to_one_owner_until_it_ends(store: &StoreUnderTest) {
    let creator = LeaseOwner::unique("request");
    let mut due = HashSet::new();
    for n in 0..10 {
        let mut t = transfer(MemberId::new(), &format!("due-{n}"), &creator);
        t.lease = Some(Lease { owner: creator.clone(), until: now() - chrono::Duration::seconds(1) });
        store.transfers.insert(&t).await.expect("inserts");
        due.insert(t.id);
    }
    let held = transfer(MemberId::new(), "held", &creator);
    store.transfers.insert(&held).await.expect("inserts");
    let at = now();
    let until = at + chrono::Duration::seconds(60);
    let (a, b) = (LeaseOwner::unique("replica-a"), LeaseOwner::unique("replica-b"));
    let (claimed_a, claimed_b) =
        tokio::join!(store.transfers.claim_due(&a, at, until, 100), store.transfers.claim_due(&b, at, until, 100));
    let (claimed_a, claimed_b) = (claimed_a.expect("claims"), claimed_b.expect("claims"));
    let ids_a: HashSet<_> = claimed_a.iter().map(|t| t.id).collect();
    let ids_b: HashSet<_> = claimed_b.iter().map(|t| t.id).collect();
    assert!(ids_a.is_disjoint(&ids_b), "a transfer went to two owners");
    let all: HashSet<_> = ids_a.union(&ids_b).copied().collect();
    assert!(due.is_subset(&all), "every due transfer was claimed");
    assert!(!all.contains(&held.id), "a running lease is respected");
    assert!(claimed_a.iter().all(|t| t.lease.as_ref().is_some_and(|l| l.owner == a)));
    // Claimed, the lease now runs: nobody else gets them until it ends.
    let again = store.transfers.claim_due(&b, at + chrono::Duration::seconds(1), until, 100).await.expect("claims");
    assert!(again.iter().all(|t| !due.contains(&t.id)));
    let after = store
        .transfers
        .claim_due(&b, until + chrono::Duration::seconds(1), until + chrono::Duration::seconds(60), 100)
        .await
        .expect("claims");
    let after: HashSet<_> = after.iter().map(|t| t.id).collect();
    assert!(due.is_subset(&after), "after the lease ends, another owner may take over");
    // The new owner drives it; the old one no longer can.
    let taken = due.iter().next().copied().expect("one due");
    let current = store.transfers.get(taken).await.expect("reads").expect("exists");
    let old = store.transfers.transition(&step(&current, TransferState::Accepted, TransferState::Debited, &a)).await;
    assert!(matches!(old, Err(TransitionError::Conflict(_))), "the expired owner cannot move it: {old:?}");
}

pub async fn a_transfer_in_review_is_counted_skipped_and_taken_over_by_hand(store: &StoreUnderTest) {
    let creator = LeaseOwner::unique("request");
    let mut t = transfer(MemberId::new(), "parked", &creator);
    t.lease = Some(Lease { owner: creator.clone(), until: now() - chrono::Duration::seconds(1) });
    store.transfers.insert(&t).await.expect("inserts");
    let recovery = LeaseOwner::unique("recovery");
    let mut at = now();
    for attempt in 1..=2 {
        let claimed = store.transfers.claim_due(&recovery, at, at + chrono::Duration::seconds(1), 10).await;
        let claimed = claimed.expect("claims");
        assert_eq!(claimed.iter().map(|c| (c.id, c.attempts)).collect::<Vec<_>>(), [(t.id, attempt)]);
        at += chrono::Duration::seconds(2);
    }
    assert_eq!(store.transfers.count_needing_review().await.expect("counts"), 0);
    let mut park = step(&t, TransferState::Accepted, TransferState::NeedsReview, &recovery);
    park.review = Some(ReviewReason::AttemptsExhausted);
    let parked = store.transfers.transition(&park).await.expect("parks");
    assert_eq!((parked.state, parked.review), (TransferState::NeedsReview, Some(ReviewReason::AttemptsExhausted)));
    assert_eq!(parked.lease, None, "parked, nobody holds it");
    assert_eq!(store.transfers.count_needing_review().await.expect("counts"), 1);
    let queue = store.transfers.waiting(TransferState::NeedsReview, None, 10).await.expect("lists");
    assert_eq!((queue.items.iter().map(|t| t.id).collect::<Vec<_>>(), queue.next), (vec![t.id], None));
    let later = at + chrono::Duration::seconds(60);
    let claimed = store.transfers.claim_due(&recovery, later, later + chrono::Duration::seconds(1), 10).await;
    assert!(claimed.expect("claims").is_empty(), "recovery never claims a transfer in review");

    // An operator takes it over by hand; while they hold it nobody else can.
    let operator = LeaseOwner::unique("operator");
    let taken = store.transfers.take_over(t.id, &operator, later, later + chrono::Duration::seconds(60)).await;
    assert_eq!(taken.expect("takes over").lease.map(|l| l.owner), Some(operator.clone()));
    let again = store.transfers.take_over(t.id, &operator, later, later + chrono::Duration::seconds(60)).await;
    assert!(again.is_ok(), "its holder takes it again: {again:?}");
    let other = store.transfers.take_over(t.id, &recovery, later, later).await;
    assert!(matches!(other, Err(TakeOverError::Leased(_))), "{other:?}");
    let mut resolve = step(&t, TransferState::NeedsReview, TransferState::Rejected, &operator);
    resolve.resolution = Some(Resolution::Refund);
    let resolved = store.transfers.transition(&resolve).await.expect("resolves");
    assert_eq!(
        (resolved.state, resolved.review, resolved.resolution),
        (TransferState::Rejected, Some(ReviewReason::AttemptsExhausted), Some(Resolution::Refund)),
        "the reason stays beside the decision"
    );
    assert_eq!(store.transfers.count_needing_review().await.expect("counts"), 0);
    assert!(
        store.transfers.waiting(TransferState::NeedsReview, None, 10).await.expect("lists").items.is_empty(),
        "resolved, out of the queue"
    );
    let missing = store.transfers.take_over(TransferId::new(), &operator, later, later).await;
    assert!(matches!(missing, Err(TakeOverError::NotFound)), "{missing:?}");
}

pub async fn a_scan_reads_every_transfer_once_oldest_first(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let mut inserted = Vec::new();
    for n in 0..23 {
        let t = transfer(MemberId::new(), &format!("scan-{n}"), &owner);
        store.transfers.insert(&t).await.expect("inserts");
        inserted.push(t.id);
    }
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = store.transfers.scan(Window::default(), cursor, 5).await.expect("scans");
        seen.extend(page.items.iter().map(|t| (t.created_at, t.id)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "oldest first, no repeat");
    let ids: HashSet<_> = seen.iter().map(|(_, id)| *id).collect();
    assert!(inserted.iter().all(|id| ids.contains(id)), "every transfer appears");
}

pub async fn a_scan_within_a_window_reads_only_the_transfers_created_in_it(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let base = now() - chrono::Duration::days(10);
    let mut inside = Vec::new();
    for n in 0..20 {
        let mut t = transfer(MemberId::new(), &format!("window-{n}"), &owner);
        t.created_at = base + chrono::Duration::hours(n);
        store.transfers.insert(&t).await.expect("inserts");
        if (5..15).contains(&n) {
            inside.push(t.id);
        }
    }
    let window =
        Window { since: Some(base + chrono::Duration::hours(5)), until: Some(base + chrono::Duration::hours(15)) };
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = store.transfers.scan(window, cursor, 3).await.expect("scans");
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, inside, "since inclusive, until exclusive, oldest first, in pages");
}

pub async fn unfinished_transfers_are_counted_by_age(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let sender = MemberId::new();
    let (open, finished) = (transfer(sender, "open", &owner), transfer(sender, "finished", &owner));
    for t in [&open, &finished] {
        store.transfers.insert(t).await.expect("inserts");
    }
    store
        .transfers
        .transition(&step(&finished, TransferState::Accepted, TransferState::Rejected, &owner))
        .await
        .expect("moves");
    let later = open.created_at + chrono::Duration::seconds(1);
    assert_eq!(store.transfers.count_unfinished(later).await.expect("counts"), 1, "only the open one");
    assert_eq!(store.transfers.count_unfinished(open.created_at).await.expect("counts"), 0, "none older");
}
