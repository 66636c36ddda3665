//! `PointsProvider`: the third party that holds the points (provider-api.md).

use async_trait::async_trait;
use std::time::Duration;
use thiserror::Error;

use super::Deadline;
use crate::model::{
    HolderRef, Memo, MovementKind, Points, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
};

/// One debit or credit; `reference` makes it idempotent at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub account: ProviderAccountId,
    pub reference: ProviderReference,
    pub amount: Points,
    pub memo: Option<Memo>,
}

impl Movement {
    /// The provider's answer to this movement of `kind`, checked: a
    /// provider must answer this very movement (the original, on a replay),
    /// and anything else under its reference means it mixed two movements
    /// up, which no retry mends.
    pub fn answered_by(
        &self,
        kind: MovementKind,
        transaction: ProviderTransaction,
    ) -> Result<ProviderTransaction, ProviderError> {
        let same = transaction.reference == self.reference
            && transaction.account_id == self.account
            && transaction.kind == kind
            && transaction.amount == self.amount;
        if same {
            Ok(transaction)
        } else {
            Err(ProviderError::Unexpected(anyhow::anyhow!(
                "{} {self:?}: the provider answered with another movement ({transaction:?})",
                kind.as_str()
            )))
        }
    }
}

/// Final answers: repeating the call cannot change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum Rejection {
    #[error("insufficient funds")]
    InsufficientFunds,
    #[error("account is frozen or closed")]
    AccountInactive,
    #[error("account not found")]
    AccountNotFound,
    #[error("reference used before for another movement")]
    ReferenceConflict,
}

#[derive(Debug, Error)]
pub enum ProviderError {
    /// The provider refused; nothing was applied.
    #[error("provider rejected the call: {0}")]
    Rejected(Rejection),
    /// The provider could not serve the call now (5xx, 429, connection refused).
    /// A 5xx may still have applied it: repeat with the same reference.
    #[error("provider unavailable: {message}")]
    Transient { message: String, retry_after: Option<Duration> },
    /// The call was sent but no answer came in time: it may have been applied.
    #[error("provider outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// Anything else (bad credentials, a malformed answer): not the member's
    /// fault and not fixed by an immediate retry.
    #[error("provider call failed: {0:#}")]
    Unexpected(anyhow::Error),
}

impl ProviderError {
    /// Whether repeating the same call soon may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::OutcomeUnknown(_))
    }
}

/// What a provider offers beyond the port's minimum (provider-api.md's
/// provider offers none). An adapter declares what its provider has; the
/// domain may use a capability only where it is declared, and works without
/// any: the saga needs nothing but idempotent debits and credits and lookups
/// by reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Points can be held on an account, then captured or released (an
    /// authorisation): a share could hold the sender's points instead of
    /// debiting them before the credit, leaving nothing to refund.
    pub holds: bool,
    /// The provider lists an account's movements: reconcile could then find
    /// movements that no transfer records (after restoring an older backup,
    /// for instance), which lookups by reference cannot.
    pub movement_list: bool,
}

impl Capabilities {
    /// The minimum: idempotent debits and credits, lookups by reference.
    pub const NONE: Capabilities = Capabilities { holds: false, movement_list: false };
}

#[async_trait]
pub trait PointsProvider: Send + Sync + std::fmt::Debug {
    /// What this provider offers beyond the minimum; none unless declared.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

    /// Opens the holder's account, or returns the one already opened for it.
    async fn open_account(&self, holder: &HolderRef, deadline: Deadline) -> Result<ProviderAccount, ProviderError>;

    async fn account(&self, id: &ProviderAccountId, deadline: Deadline) -> Result<ProviderAccount, ProviderError>;

    /// Takes (a debit) or gives (a credit) points; a repeat with the same
    /// reference returns the original transaction.
    async fn apply(
        &self,
        kind: MovementKind,
        movement: &Movement,
        deadline: Deadline,
    ) -> Result<ProviderTransaction, ProviderError>;

    async fn debit(&self, movement: &Movement, deadline: Deadline) -> Result<ProviderTransaction, ProviderError> {
        self.apply(MovementKind::Debit, movement, deadline).await
    }

    async fn credit(&self, movement: &Movement, deadline: Deadline) -> Result<ProviderTransaction, ProviderError> {
        self.apply(MovementKind::Credit, movement, deadline).await
    }

    /// The transaction applied under `reference`, if any.
    async fn transaction_by_reference(
        &self,
        reference: &ProviderReference,
        deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ProviderError>;
}
