//! Every name the domain's enums give the store and the wire, pinned. Each
//! enum's names are written once (`names!`): stored documents, queries,
//! metrics labels and logs use `as_str`, and read them back with `FromStr`.
//! This holds that list to what stored documents already hold, so a rename
//! cannot leave stored documents unreadable or queries missing them
//! (docs/operations.md, *Upgrades*: a change of these is a migration).

use std::fmt::Debug;
use std::str::FromStr;

use pointshare_domain::{
    AuditAction, DeclineReason, MailKind, MailState, MemberStatus, MovementKind, Resolution, ReviewReason, Role,
    TokenPurpose, TransferKind, TransferState,
};

/// The names of `all`, each read back to its value; an unknown name is refused.
fn names<T: Copy + PartialEq + Debug + FromStr>(all: &[T], as_str: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    assert!(T::from_str("no_such_name").is_err(), "an unknown name is refused");
    all.iter()
        .map(|value| {
            assert_eq!(T::from_str(as_str(*value)).ok(), Some(*value), "its name reads back");
            as_str(*value)
        })
        .collect()
}

#[test]
fn transfer_names_are_the_stored_ones() {
    assert_eq!(
        names(&TransferState::ALL, TransferState::as_str),
        ["accepted", "debited", "completed", "rejected", "refunding", "reversed", "needs_review", "awaiting_approval"]
    );
    assert_eq!(
        names(&TransferKind::ALL, TransferKind::as_str),
        ["share", "grant", "reversal", "withdrawal", "forfeit"]
    );
    assert_eq!(
        names(&DeclineReason::ALL, DeclineReason::as_str),
        [
            "insufficient_funds",
            "sender_account_inactive",
            "sender_account_not_found",
            "recipient_account_inactive",
            "recipient_account_not_found",
            "daily_limit_exceeded",
            "grant_budget_exceeded",
            "approval_rejected",
            "approval_expired"
        ]
    );
    assert_eq!(
        names(&ReviewReason::ALL, ReviewReason::as_str),
        ["attempts_exhausted", "provider_refused", "reference_conflict", "refund_refused"]
    );
    assert_eq!(names(&Resolution::ALL, Resolution::as_str), ["refund", "complete"]);
    assert_eq!(names(&MovementKind::ALL, MovementKind::as_str), ["debit", "credit"]);
}

#[test]
fn member_mail_and_audit_names_are_the_stored_ones() {
    assert_eq!(names(&Role::ALL, Role::as_str), ["member", "admin"]);
    assert_eq!(names(&MemberStatus::ALL, MemberStatus::as_str), ["active", "suspended", "closed"]);
    assert_eq!(names(&TokenPurpose::ALL, TokenPurpose::as_str), ["password_reset", "verify_email", "change_email"]);
    assert_eq!(
        names(&MailKind::ALL, MailKind::as_str),
        ["verify_email", "password_reset", "password_changed", "email_changed", "account_closed"]
    );
    assert_eq!(names(&MailState::ALL, MailState::as_str), ["pending", "sent", "abandoned"]);
    assert_eq!(
        names(&AuditAction::ALL, AuditAction::as_str),
        [
            "grant",
            "reversal",
            "adjustment",
            "approval",
            "role_change",
            "status_change",
            "resolution",
            "bootstrap_admin"
        ]
    );
}
