use pointshare_domain::ports::MemberRepository;
use pointshare_domain::services::{ShareError, TransferLimits};
use pointshare_domain::{DeclineReason, Member, MemberStatus, MovementKind, TransferState};
use pointshare_testkit::{World, WorldSettings};

use super::{deadline, points, share};

#[tokio::test]
async fn a_share_moves_exactly_its_amount_under_derived_references() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 5).await;
    let transfer = world.transfer_service.share(share(&alice, &bob, 30, "k1"), deadline()).await.expect("completes");
    assert_eq!(transfer.state, TransferState::Completed);
    assert_eq!((world.balance(&alice), world.balance(&bob)), (70, 35));
    let journal: Vec<_> = world.provider.ledger().transactions().into_iter().skip(2).collect();
    let references: Vec<_> = journal.iter().map(|t| (t.reference.to_string(), t.kind)).collect();
    assert_eq!(
        references,
        [
            (format!("{}:debit", transfer.id), MovementKind::Debit),
            (format!("{}:credit", transfer.id), MovementKind::Credit)
        ]
    );
}

#[tokio::test]
async fn insufficient_funds_declines_and_moves_nothing() {
    let world = World::default();
    let alice = world.member("alice", 10).await;
    let bob = world.member("bob", 0).await;
    let error = world.transfer_service.share(share(&alice, &bob, 11, "k1"), deadline()).await.unwrap_err();
    let ShareError::Declined(transfer) = error else { panic!("expected a decline, got {error:?}") };
    assert_eq!(transfer.state, TransferState::Rejected);
    assert_eq!(transfer.decline, Some(DeclineReason::InsufficientFunds));
    assert_eq!((world.balance(&alice), world.balance(&bob)), (10, 0));
}

/// The key is looked up only when a rule refuses: a repeat that goes ahead
/// meets its first request at the insert, and one that a rule now refuses
/// (the sender suspended since) answers as the first did.
#[tokio::test]
async fn a_repeat_answers_as_the_first_request_did_whether_or_not_the_rules_now_refuse_it() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let first = world.transfer_service.share(share(&alice, &bob, 30, "k1"), deadline()).await.expect("completes");
    let again = world.transfer_service.share(share(&alice, &bob, 30, "k1"), deadline()).await.expect("a repeat");
    assert_eq!((again.id, again.state, again.replayed), (first.id, TransferState::Completed, true));
    let reused = world.transfer_service.share(share(&alice, &bob, 31, "k1"), deadline()).await.unwrap_err();
    assert!(matches!(reused, ShareError::IdempotencyKeyReused), "{reused:?}");

    let suspended = world.member_service.set_status(alice.id, MemberStatus::Suspended).await.expect("up");
    let suspended = suspended.expect("alice");
    let late = world.transfer_service.share(share(&suspended, &bob, 30, "k1"), deadline()).await.expect("a repeat");
    assert_eq!((late.id, late.replayed), (first.id, true));
    let refused = world.transfer_service.share(share(&suspended, &bob, 30, "k2"), deadline()).await.unwrap_err();
    assert!(matches!(refused, ShareError::SenderNotActive), "{refused:?}");
    assert_eq!(world.transfers.all().len(), 1);
    assert_eq!((world.balance(&alice), world.balance(&bob)), (70, 30), "the repeats moved nothing");
}

#[tokio::test]
async fn the_rules_refuse_before_anything_is_recorded() {
    let settings = WorldSettings {
        limits: TransferLimits { max_per_transfer: points(50), max_per_day: 1000, ..TransferLimits::default() },
        ..WorldSettings::default()
    };
    let world = World::new(settings);
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let carol = world.member("carol", 0).await;

    let too_much = world.transfer_service.share(share(&alice, &bob, 51, "a"), deadline()).await.unwrap_err();
    assert!(matches!(too_much, ShareError::AboveTransferLimit { max } if max == points(50)), "{too_much:?}");

    let to_self = world.transfer_service.share(share(&alice, &alice, 1, "b"), deadline()).await.unwrap_err();
    assert!(matches!(to_self, ShareError::SelfTransfer), "{to_self:?}");

    let mut to_nobody = share(&alice, &bob, 1, "c");
    to_nobody.to = super::handle("nobody");
    let unknown = world.transfer_service.share(to_nobody, deadline()).await.unwrap_err();
    assert!(matches!(unknown, ShareError::RecipientNotFound), "{unknown:?}");

    world.member_service.set_status(carol.id, MemberStatus::Suspended).await.expect("up");
    let suspended = world.transfer_service.share(share(&alice, &carol, 1, "d"), deadline()).await.unwrap_err();
    assert!(matches!(suspended, ShareError::RecipientNotActive), "{suspended:?}");

    let suspended_alice = world.member_service.set_status(alice.id, MemberStatus::Suspended).await.expect("up");
    let suspended_alice = suspended_alice.expect("alice");
    let sender_suspended =
        world.transfer_service.share(share(&suspended_alice, &bob, 1, "e"), deadline()).await.unwrap_err();
    assert!(matches!(sender_suspended, ShareError::SenderNotActive), "{sender_suspended:?}");
    let mut ghost = share(&suspended_alice, &bob, 1, "f");
    ghost.sender.id = pointshare_domain::MemberId::new();
    let no_sender = world.transfer_service.share(ghost, deadline()).await.unwrap_err();
    assert!(matches!(no_sender, ShareError::SenderNotFound), "{no_sender:?}");

    assert!(world.transfers.all().is_empty());
    assert_eq!(world.balance(&alice), 100);
}

#[tokio::test]
async fn a_recipient_still_waiting_for_an_account_cannot_receive() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    world.provider.faults().fail_next(
        pointshare_testkit::Operation::OpenAccount,
        1,
        pointshare_testkit::Fault::Reject(pointshare_domain::ports::Rejection::AccountInactive),
    );
    let pending = world.member_service.signup(World::signup_command("pending"), deadline()).await;
    assert!(pending.is_err());
    let mut command = share(&alice, &alice, 1, "k");
    command.to = super::handle("pending");
    let error = world.transfer_service.share(command, deadline()).await.unwrap_err();
    assert!(matches!(error, ShareError::RecipientNotActive), "{error:?}");
}

/// A world where a member may share 100 points a day; alice holding
/// `balance` and bob nothing.
async fn a_day_of_100_points(balance: u64) -> (World, Member, Member) {
    let settings = WorldSettings {
        limits: TransferLimits { max_per_transfer: points(100), max_per_day: 100, ..TransferLimits::default() },
        ..WorldSettings::default()
    };
    let world = World::new(settings);
    let alice = world.member("alice", balance).await;
    let bob = world.member("bob", 0).await;
    (world, alice, bob)
}

#[tokio::test]
async fn the_daily_limit_counts_today_and_resets_tomorrow() {
    let (world, alice, bob) = a_day_of_100_points(1000).await;
    world.transfer_service.share(share(&alice, &bob, 60, "1"), deadline()).await.expect("within the limit");
    let error = world.transfer_service.share(share(&alice, &bob, 41, "2"), deadline()).await.unwrap_err();
    let ShareError::Declined(declined) = error else { panic!("expected a decline, got {error:?}") };
    assert_eq!(declined.decline, Some(DeclineReason::DailyLimitExceeded));
    // A declined share does not use up the allowance.
    world.transfer_service.share(share(&alice, &bob, 40, "3"), deadline()).await.expect("exactly at the limit");

    world.clock.advance(chrono::TimeDelta::hours(12));
    world.transfer_service.share(share(&alice, &bob, 100, "4"), deadline()).await.expect("a new day");
    assert_eq!(world.balance(&bob), 200);
}

#[tokio::test]
async fn a_share_that_moved_nothing_gives_its_allowance_back() {
    let (world, alice, bob) = a_day_of_100_points(50).await;
    let error = world.transfer_service.share(share(&alice, &bob, 80, "too-much"), deadline()).await.unwrap_err();
    let ShareError::Declined(declined) = error else { panic!("expected a decline, got {error:?}") };
    assert_eq!(declined.decline, Some(DeclineReason::InsufficientFunds));
    world
        .provider
        .ledger()
        .apply(
            pointshare_domain::MovementKind::Credit,
            &pointshare_domain::ports::Movement {
                account: alice.provider_account.clone().expect("an account"),
                reference: pointshare_domain::ProviderReference::parse("top-up").expect("valid"),
                amount: points(100),
                memo: None,
            },
        )
        .expect("tops alice up");
    world.transfer_service.share(share(&alice, &bob, 100, "all"), deadline()).await.expect("the whole allowance");
}

#[tokio::test]
async fn a_share_over_the_limit_is_recorded_declined_and_recovery_never_debits_it() {
    let (world, alice, bob) = a_day_of_100_points(1000).await;
    world.transfer_service.share(share(&alice, &bob, 100, "full"), deadline()).await.expect("the allowance");
    let error = world.transfer_service.share(share(&alice, &bob, 1, "over"), deadline()).await.unwrap_err();
    let ShareError::Declined(over) = error else { panic!("expected a decline, got {error:?}") };
    assert_eq!((over.state, over.lease.clone()), (pointshare_domain::TransferState::Rejected, None));
    let again = world.transfer_service.share(share(&alice, &bob, 1, "over"), deadline()).await.unwrap_err();
    assert!(matches!(again, ShareError::Declined(t) if t.id == over.id), "a retry gets the same answer");
    world.clock.advance(chrono::TimeDelta::minutes(5));
    world.recovery.run_once().await.expect("a recovery pass");
    assert_eq!(world.balance(&bob), 100, "nothing past the limit moved");
}

#[tokio::test]
async fn concurrent_shares_never_exceed_the_daily_limit() {
    let (world, alice, bob) = a_day_of_100_points(1000).await;
    let attempts = (0..10).map(|i| world.transfer_service.share(share(&alice, &bob, 30, &format!("k{i}")), deadline()));
    futures::future::join_all(attempts).await;
    assert!(world.balance(&bob) <= 100, "bob received {}", world.balance(&bob));
}

#[tokio::test]
async fn repeating_a_request_returns_the_same_transfer_and_moves_points_once() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let first = world.transfer_service.share(share(&alice, &bob, 25, "same"), deadline()).await.expect("completes");
    let again = world.transfer_service.share(share(&alice, &bob, 25, "same"), deadline()).await.expect("replays");
    assert_eq!(first.id, again.id);
    assert_eq!((world.balance(&alice), world.balance(&bob)), (75, 25));
}

#[tokio::test]
async fn concurrent_repeats_create_one_transfer() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let attempts = (0..10).map(|_| world.transfer_service.share(share(&alice, &bob, 25, "same"), deadline()));
    let results = futures::future::join_all(attempts).await;
    let ids: std::collections::HashSet<_> = results.iter().map(|r| r.as_ref().expect("ok").id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(world.transfers.all().len(), 1);
    assert_eq!(world.balance(&bob), 25);
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let carol = world.member("carol", 0).await;
    world.transfer_service.share(share(&alice, &bob, 25, "k"), deadline()).await.expect("completes");
    for other in [share(&alice, &bob, 26, "k"), share(&alice, &carol, 25, "k"), {
        let mut no_memo = share(&alice, &bob, 25, "k");
        no_memo.memo = None;
        no_memo
    }] {
        let error = world.transfer_service.share(other, deadline()).await.unwrap_err();
        assert!(matches!(error, ShareError::IdempotencyKeyReused), "{error:?}");
    }
    // Keys belong to their sender: bob may use "k" too.
    world.transfer_service.share(share(&bob, &carol, 5, "k"), deadline()).await.expect("bob's own key");
    assert_eq!((world.balance(&alice), world.balance(&bob), world.balance(&carol)), (75, 20, 5));
}

#[tokio::test]
async fn a_replayed_decline_is_declined_again() {
    let world = World::default();
    let alice = world.member("alice", 10).await;
    let bob = world.member("bob", 0).await;
    let first = world.transfer_service.share(share(&alice, &bob, 50, "k"), deadline()).await.unwrap_err();
    let again = world.transfer_service.share(share(&alice, &bob, 50, "k"), deadline()).await.unwrap_err();
    match (first, again) {
        (ShareError::Declined(a), ShareError::Declined(b)) => assert_eq!(a.id, b.id),
        other => panic!("expected two declines, got {other:?}"),
    }
}

#[tokio::test]
async fn a_member_picks_recipients_by_handle_prefix_and_from_whom_they_shared_with_lately() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let (bob, bobby, boa) =
        (world.member("bob", 0).await, world.member("bobby", 0).await, world.member("boa", 0).await);
    let albert = world.member("albert", 0).await;
    world.members.set_status(bobby.id, MemberStatus::Suspended).await.expect("suspends");
    let prefix = |text: &str| pointshare_domain::HandlePrefix::parse(text).expect("a prefix");
    let handles = |found: Vec<Member>| found.into_iter().map(|m| m.handle.to_string()).collect::<Vec<_>>();

    let like = |text: &str, limit| {
        let prefix = prefix(text);
        let service = world.member_service.clone();
        async move { handles(service.recipients_like(alice.id, &prefix, limit).await.expect("finds")) }
    };
    assert_eq!(like("bo", 10).await, ["boa", "bob"], "who can receive");
    assert_eq!(like("al", 10).await, ["albert"], "never the caller");
    assert_eq!(like("bo", 1).await, ["boa"]);
    assert!(pointshare_domain::HandlePrefix::parse("b").is_err(), "two characters at least");

    for (to, key) in [(&bob, "1"), (&boa, "2"), (&bob, "3"), (&albert, "4")] {
        world.transfer_service.share(share(&alice, to, 1, key), deadline()).await.expect("completes");
    }
    world.members.set_status(albert.id, MemberStatus::Suspended).await.expect("suspends");
    let recent = world.transfer_service.recent_recipients(alice.id, 10).await.expect("reads");
    let recent: Vec<String> = recent.into_iter().map(|(member, _)| member.handle.to_string()).collect();
    assert_eq!(recent, ["bob", "boa"], "most recent first, each once, only who can still receive");
}
