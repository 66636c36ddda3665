//! A `PointsProvider` adapter with no wire yet: each method says what it must
//! do, by the port's promises (docs/provider-adapters.md), and fails until it
//! does. Copy this crate, fill each method in, and the conformance kit
//! (`tests/kit.rs`) tells you what is still missing (README.md has the steps).

use async_trait::async_trait;

use pointshare_domain::ports::{Deadline, Movement, PointsProvider, ProviderError};
use pointshare_domain::{
    HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
};

/// Where your provider is and how to authenticate: add what it needs (a
/// base URL, credentials, timeouts), validated where it is built.
#[derive(Debug, Clone, Default)]
pub struct TemplateSettings {}

#[derive(Debug, Clone)]
pub struct TemplateProvider {
    _settings: TemplateSettings,
}

impl TemplateProvider {
    pub fn new(settings: TemplateSettings) -> Self {
        TemplateProvider { _settings: settings }
    }
}

/// The answer of a method not written yet: `Unexpected`, which the saga never
/// mistakes for a refusal, naming the method and what it has to do.
fn not_written(method: &str, what: &str) -> ProviderError {
    ProviderError::Unexpected(anyhow::anyhow!("TemplateProvider::{method} is not written yet: {what}"))
}

#[async_trait]
impl PointsProvider for TemplateProvider {
    async fn open_account(&self, _holder: &HolderRef, _deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        Err(not_written(
            "open_account",
            "open the holder's account at your provider, or answer the one already opened for this holder (idempotent by holder)",
        ))
    }

    async fn account(&self, _id: &ProviderAccountId, _deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        Err(not_written(
            "account",
            "read the account (balance and status); an unknown one is Rejected(AccountNotFound)",
        ))
    }

    async fn apply(
        &self,
        _kind: MovementKind,
        _movement: &Movement,
        _deadline: Deadline,
    ) -> Result<ProviderTransaction, ProviderError> {
        Err(not_written(
            "apply",
            "debit or credit under the movement's reference as your provider's idempotency key: a repeat answers the original and applies nothing; refusals are Rejected, a call that may have landed is OutcomeUnknown",
        ))
    }

    async fn transaction_by_reference(
        &self,
        _reference: &ProviderReference,
        _deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        Err(not_written(
            "transaction_by_reference",
            "find the movement applied under this reference (Ok(None) when there is none)",
        ))
    }
}
