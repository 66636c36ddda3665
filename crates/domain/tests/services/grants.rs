use pointshare_domain::services::GrantError;
use pointshare_domain::{AccountStatus, DeclineReason, MovementKind, TransferKind, TransferState};
use pointshare_testkit::World;

use super::{deadline, grant};

#[tokio::test]
async fn a_grant_credits_the_recipient_and_debits_nobody() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    let total_before = world.provider.ledger().summary().total_balance;
    let transfer = world.transfer_service.grant(grant(&admin, &bob, 500, "g1"), deadline()).await.expect("granted");
    assert_eq!((transfer.kind, transfer.state), (TransferKind::Grant, TransferState::Completed));
    assert_eq!(transfer.sender_account, None);
    assert_eq!((world.balance(&admin), world.balance(&bob)), (0, 500));
    assert_eq!(world.provider.ledger().summary().total_balance, total_before + 500);
    let movements: Vec<_> = world.provider.ledger().transactions().into_iter().map(|t| t.kind).collect();
    assert_eq!(movements, [MovementKind::Credit]);
}

#[tokio::test]
async fn a_grant_is_idempotent_by_key() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    let first = world.transfer_service.grant(grant(&admin, &bob, 500, "g1"), deadline()).await.expect("granted");
    let again = world.transfer_service.grant(grant(&admin, &bob, 500, "g1"), deadline()).await.expect("replayed");
    assert_eq!(first.id, again.id);
    assert_eq!(world.balance(&bob), 500);
    let reused = world.transfer_service.grant(grant(&admin, &bob, 501, "g1"), deadline()).await.unwrap_err();
    assert!(matches!(reused, GrantError::IdempotencyKeyReused), "{reused:?}");
}

#[tokio::test]
async fn a_grant_to_an_inactive_account_is_declined() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let bob = world.member("bob", 0).await;
    world.provider.set_status(bob.provider_account.as_ref().expect("account"), AccountStatus::Closed);
    let error = world.transfer_service.grant(grant(&admin, &bob, 5, "g"), deadline()).await.unwrap_err();
    let GrantError::Declined(transfer) = error else { panic!("{error:?}") };
    assert_eq!(
        (transfer.state, transfer.decline),
        (TransferState::Rejected, Some(DeclineReason::RecipientAccountInactive))
    );
}

#[tokio::test]
async fn a_grant_to_an_unknown_handle_is_refused() {
    let world = World::default();
    let admin = world.member("admin", 0).await;
    let mut command = grant(&admin, &admin, 5, "g");
    command.to = super::handle("nobody");
    let error = world.transfer_service.grant(command, deadline()).await.unwrap_err();
    assert!(matches!(error, GrantError::RecipientNotFound), "{error:?}");
}
