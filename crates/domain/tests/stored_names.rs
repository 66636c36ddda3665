//! Every name the domain's enums give the wire and the store, pinned. Each
//! enum says its names twice, by serde (API views, stored documents) and by
//! `as_str` (queries, metrics labels, logs): this holds the two to one list,
//! and the list to what stored documents already hold, so a rename cannot
//! leave stored documents unreadable or queries missing them
//! (docs/operations.md, *Upgrades*: a change of these is a migration).

use pointshare_domain::{
    AuditAction, DeclineReason, MailKind, MailState, MemberStatus, MovementKind, Resolution, ReviewReason, Role,
    TokenPurpose, TransferKind, TransferState,
};
use serde::Serialize;

fn names<T: Serialize + Copy>(all: &[T], as_str: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter()
        .map(|value| {
            let serde = serde_json::to_value(value).expect("serialises");
            assert_eq!(serde.as_str(), Some(as_str(*value)), "serde and as_str name it alike");
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
    use DeclineReason as D;
    let declines = [
        D::InsufficientFunds,
        D::SenderAccountInactive,
        D::SenderAccountNotFound,
        D::RecipientAccountInactive,
        D::RecipientAccountNotFound,
        D::DailyLimitExceeded,
        D::GrantBudgetExceeded,
        D::ApprovalRejected,
        D::ApprovalExpired,
    ];
    assert_eq!(
        names(&declines, DeclineReason::as_str),
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
    use ReviewReason as R;
    let reviews = [R::AttemptsExhausted, R::ProviderRefused, R::ReferenceConflict, R::RefundRefused];
    assert_eq!(
        names(&reviews, ReviewReason::as_str),
        ["attempts_exhausted", "provider_refused", "reference_conflict", "refund_refused"]
    );
    assert_eq!(names(&[Resolution::Refund, Resolution::Complete], Resolution::as_str), ["refund", "complete"]);
    assert_eq!(names(&[MovementKind::Debit, MovementKind::Credit], MovementKind::as_str), ["debit", "credit"]);
}

#[test]
fn member_mail_and_audit_names_are_the_stored_ones() {
    assert_eq!(names(&[Role::Member, Role::Admin], Role::as_str), ["member", "admin"]);
    let statuses = [MemberStatus::Active, MemberStatus::Suspended, MemberStatus::Closed];
    assert_eq!(names(&statuses, MemberStatus::as_str), ["active", "suspended", "closed"]);
    let purposes = [TokenPurpose::PasswordReset, TokenPurpose::VerifyEmail, TokenPurpose::ChangeEmail];
    assert_eq!(names(&purposes, TokenPurpose::as_str), ["password_reset", "verify_email", "change_email"]);
    assert_eq!(
        names(&MailKind::ALL, MailKind::as_str),
        ["verify_email", "password_reset", "password_changed", "email_changed", "account_closed"]
    );
    let states = [MailState::Pending, MailState::Sent, MailState::Abandoned];
    assert_eq!(names(&states, MailState::as_str), ["pending", "sent", "abandoned"]);
    // Named by `as_str` alone (the audit store writes it; no API view has it).
    assert_eq!(
        AuditAction::ALL.map(AuditAction::as_str),
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
