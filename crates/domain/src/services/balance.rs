//! Reading a member's balance: through the cache, and with concurrent reads of
//! one account sharing a single provider call.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

use crate::model::{Member, ProviderAccount, ProviderAccountId};
use crate::ports::{BalanceCache, CachedBalance, Deadline, PointsProvider, ProviderError, Rejection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceSource {
    Cache,
    Provider,
}

impl BalanceSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cache => "cache",
            Self::Provider => "provider",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub points: u64,
    pub as_of: DateTime<Utc>,
    pub source: BalanceSource,
}

#[derive(Debug, Error)]
pub enum BalanceError {
    #[error("the member has no provider account yet")]
    NoAccount,
    #[error("the provider does not know the member's account")]
    AccountNotFound,
    #[error("the points provider is unavailable; try again")]
    ProviderUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

type SharedRead = Shared<BoxFuture<'static, Result<ProviderAccount, Arc<ProviderError>>>>;

#[derive(Debug)]
pub struct BalanceService {
    cache: Arc<dyn BalanceCache>,
    provider: Arc<dyn PointsProvider>,
    ttl: Duration,
    in_flight: Arc<Mutex<HashMap<ProviderAccountId, SharedRead>>>,
}

impl BalanceService {
    pub fn new(cache: Arc<dyn BalanceCache>, provider: Arc<dyn PointsProvider>, ttl: Duration) -> Self {
        BalanceService { cache, provider, ttl, in_flight: Arc::default() }
    }

    pub async fn balance_of(&self, member: &Member, deadline: Deadline) -> Result<Balance, BalanceError> {
        let account = member.provider_account.as_ref().ok_or(BalanceError::NoAccount)?;
        match self.cache.get(account).await {
            Ok(Some(cached)) => {
                return Ok(Balance { points: cached.balance, as_of: cached.as_of, source: BalanceSource::Cache });
            }
            Ok(None) => {}
            // The cache is an optimisation: when it fails, ask the provider.
            Err(error) => tracing::warn!(%error, "balance cache read failed; reading from the provider"),
        }
        self.fresh(member, deadline).await
    }

    /// The member's balance as the provider says it now, past the cache:
    /// for a decision a stale balance would get wrong.
    pub async fn fresh(&self, member: &Member, deadline: Deadline) -> Result<Balance, BalanceError> {
        let account = member.provider_account.as_ref().ok_or(BalanceError::NoAccount)?;
        let read = self.read_shared(account, deadline).await;
        match read {
            Ok(fresh) => {
                Ok(Balance { points: fresh.balance, as_of: fresh.updated_at, source: BalanceSource::Provider })
            }
            Err(error) => Err(match &*error {
                ProviderError::Rejected(Rejection::AccountNotFound) => BalanceError::AccountNotFound,
                ProviderError::Transient { .. } | ProviderError::OutcomeUnknown(_) => BalanceError::ProviderUnavailable,
                other => BalanceError::Unexpected(anyhow::anyhow!("reading a balance: {other}")),
            }),
        }
    }

    /// Joins the read of `account` already under way, or starts one that
    /// later callers join. The read stores its answer in the cache and leaves
    /// the table itself, so the table only ever holds reads in progress.
    async fn read_shared(
        &self,
        account: &ProviderAccountId,
        deadline: Deadline,
    ) -> Result<ProviderAccount, Arc<ProviderError>> {
        let read = {
            let mut in_flight = self.in_flight.lock();
            match in_flight.get(account) {
                Some(read) => read.clone(),
                None => {
                    let read = self.start_read(account.clone(), deadline);
                    in_flight.insert(account.clone(), read.clone());
                    read
                }
            }
        };
        read.await
    }

    fn start_read(&self, account: ProviderAccountId, deadline: Deadline) -> SharedRead {
        let provider = Arc::clone(&self.provider);
        let cache = Arc::clone(&self.cache);
        let in_flight = Arc::clone(&self.in_flight);
        let ttl = self.ttl;
        async move {
            let answer = provider.account(&account, deadline).await.map_err(Arc::new);
            if let Ok(fresh) = &answer {
                let balance = CachedBalance { balance: fresh.balance, as_of: fresh.updated_at };
                if let Err(error) = cache.put(&account, balance, ttl).await {
                    tracing::warn!(%error, "could not cache a balance");
                }
            }
            in_flight.lock().remove(&account);
            answer
        }
        .boxed()
        .shared()
    }
}
