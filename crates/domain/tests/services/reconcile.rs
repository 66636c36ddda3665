//! Reconciliation: records and the provider's ledger agree after every kind
//! of outcome, and each way they can disagree is reported.

use std::time::Duration;

use pointshare_domain::ports::{Movement, TransferRecords, Window};
use pointshare_domain::services::ReconcileService;
use pointshare_domain::{AccountStatus, MovementKind, Transfer, TransferState};
use pointshare_testkit::{Fault, Operation, World};

use super::{deadline, grant, points, share};

fn reconciler(world: &World) -> ReconcileService {
    ReconcileService::new(world.transfers.clone(), world.provider.clone(), Duration::from_secs(5))
}

#[tokio::test]
async fn every_outcome_agrees_with_the_ledger() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let carol = world.member("carol", 0).await;
    let service = &world.transfer_service;
    service.share(share(&alice, &bob, 30, "completed"), deadline()).await.expect("completes");
    service.share(share(&alice, &bob, 1_000, "rejected"), deadline()).await.expect_err("insufficient funds");
    world.provider.set_status(carol.provider_account.as_ref().expect("an account"), AccountStatus::Closed);
    service.share(share(&alice, &carol, 10, "reversed"), deadline()).await.expect_err("reversed");
    service.grant(grant(&admin, &bob, 7, "grant"), deadline()).await.expect("grants");

    let report = reconciler(&world).run(Window::default(), 8, &|| {}).await.expect("reconciles");
    assert_eq!(report.transfers, 4);
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert!(report.unfinished.is_empty());
    assert_eq!(report.granted_points, 7);
    assert_eq!(report.by_state.get("completed"), Some(&2));
    assert_eq!(report.by_state.get("rejected"), Some(&1));
    assert_eq!(report.by_state.get("reversed"), Some(&1));
}

#[tokio::test]
async fn a_record_the_ledger_does_not_bear_out_is_reported() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let rejected = world
        .transfer_service
        .share(share(&alice, &bob, 1_000, "rejected"), deadline())
        .await
        .expect_err("insufficient funds");
    let pointshare_domain::services::ShareError::Declined(rejected) = rejected else { panic!("declined") };
    // Something applied a debit under the rejected transfer's reference.
    let stray = Movement {
        account: alice.provider_account.clone().expect("an account"),
        reference: rejected.debit_reference(),
        amount: points(5),
        memo: None,
    };
    world.provider.ledger().apply(MovementKind::Debit, &stray).expect("applies");
    // A record that claims completion the provider never saw.
    let completed =
        world.transfer_service.share(share(&alice, &bob, 1, "ok"), deadline()).await.expect("completes").transfer;
    let phantom =
        Transfer { id: pointshare_domain::TransferId::new(), idempotency_key: super::key("phantom"), ..completed };
    world.transfers.insert(&phantom).await.expect("inserts");
    let unfinished = Transfer {
        id: pointshare_domain::TransferId::new(),
        idempotency_key: super::key("unfinished"),
        state: TransferState::Debited,
        ..phantom.clone()
    };
    world.transfers.insert(&unfinished).await.expect("inserts");

    let report = reconciler(&world).run(Window::default(), 8, &|| {}).await.expect("reconciles");
    let found: Vec<_> = report.mismatches.iter().map(|m| (m.transfer, m.reference.to_string())).collect();
    assert!(found.contains(&(rejected.id, format!("{}:debit", rejected.id))), "{found:?}");
    assert!(found.contains(&(phantom.id, format!("{}:debit", phantom.id))), "{found:?}");
    assert!(found.contains(&(phantom.id, format!("{}:credit", phantom.id))), "{found:?}");
    assert_eq!(found.len(), 3, "{:?}", report.mismatches);
    assert_eq!(report.unfinished, vec![unfinished.id]);
}

#[tokio::test]
async fn the_report_lists_every_transfer_once_in_store_order_across_pages_whatever_order_the_answers_come_in() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let completed =
        world.transfer_service.share(share(&alice, &bob, 1, "ok"), deadline()).await.expect("completes").transfer;
    // Records the provider never saw, older than the real one and more than
    // two pages of them: each lacks its debit and its credit.
    let phantoms: Vec<Transfer> = (0..450)
        .map(|n| Transfer {
            id: pointshare_domain::TransferId::new(),
            idempotency_key: super::key(&format!("phantom-{n}")),
            created_at: completed.created_at - chrono::Duration::hours(1) + chrono::Duration::milliseconds(n),
            ..completed.clone()
        })
        .collect();
    for phantom in &phantoms {
        world.transfers.insert(phantom).await.expect("inserts");
    }
    // The first transfer's first lookup answers last.
    world.provider.faults().fail_next(Operation::TransactionByReference, 1, Fault::Delay(Duration::from_millis(50)));

    let report = reconciler(&world).run(Window::default(), 16, &|| {}).await.expect("reconciles");
    assert_eq!(report.transfers, 451);
    let found: Vec<_> = report.mismatches.iter().map(|m| (m.transfer, m.reference.to_string())).collect();
    let expected: Vec<_> =
        phantoms.iter().flat_map(|p| [(p.id, format!("{}:debit", p.id)), (p.id, format!("{}:credit", p.id))]).collect();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn only_the_transfers_created_in_the_window_are_checked_each_told_as_it_is() {
    let world = World::default();
    let alice = world.member("alice", 100).await;
    let bob = world.member("bob", 0).await;
    let completed =
        world.transfer_service.share(share(&alice, &bob, 1, "ok"), deadline()).await.expect("completes").transfer;
    // Records the provider never saw, three days old and one day in the future.
    for (n, age) in [(0, 72), (1, -24)] {
        let phantom = Transfer {
            id: pointshare_domain::TransferId::new(),
            idempotency_key: super::key(&format!("outside-{n}")),
            created_at: completed.created_at - chrono::Duration::hours(age),
            ..completed.clone()
        };
        world.transfers.insert(&phantom).await.expect("inserts");
    }
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let tell = || {
        checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let window = Window {
        since: Some(completed.created_at - chrono::Duration::days(2)),
        until: Some(completed.created_at + chrono::Duration::seconds(1)),
    };
    let report = reconciler(&world).run(window, 4, &tell).await.expect("reconciles");
    assert_eq!((report.transfers, report.mismatches.len()), (1, 0), "{:?}", report.mismatches);
    assert_eq!(checked.load(std::sync::atomic::Ordering::Relaxed), 1);

    let everything = reconciler(&world).run(Window::default(), 4, &tell).await.expect("reconciles");
    assert_eq!((everything.transfers, everything.mismatches.len()), (3, 4), "both phantoms lack both legs");
    assert_eq!(checked.into_inner(), 4);
}
