//! `LedgerApiProvider`: the `PointsProvider` port over LedgerAPI.
//!
//! Each call is a loop of attempts with one idempotency key: an attempt that
//! fails transiently or with an unknown outcome is repeated after a fully
//! jittered exponential backoff (longer if LedgerAPI asks with
//! `Retry-After`), as long as the caller's deadline allows; otherwise the
//! last answer goes back to the caller. Within an attempt, a token LedgerAPI
//! calls stale is replaced once and the request repeated: LedgerAPI refuses
//! a stale token before doing anything, so the repeat cannot apply twice.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::AUTHORIZATION;
use reqwest::{Client, RequestBuilder};
use serde::de::DeserializeOwned;
use url::Url;

use pointshare_domain::ports::{Deadline, Movement, PointsProvider, ProviderError};
use pointshare_domain::settings::InvalidSetting;
use pointshare_domain::{
    HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
};

use crate::settings::LedgerApiSettings;
use crate::token::{Token, Tokens};
use crate::wire::{self, EntriesPage, Entry, EntryRequest, OpenWalletRequest, Operation, Reply, Wallet};

/// The entries asked for per search page; LedgerAPI may send fewer.
const PAGE_LIMIT: &str = "100";

#[derive(Debug, Clone)]
pub struct LedgerApiProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    base: Url,
    settings: LedgerApiSettings,
    tokens: Tokens,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Settings(#[from] InvalidSetting),
    #[error("cannot build LedgerAPI's HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl LedgerApiProvider {
    pub fn new(settings: LedgerApiSettings) -> Result<Self, BuildError> {
        settings.validate()?;
        let client = Client::builder().connect_timeout(settings.call_timeout).tcp_nodelay(true).build()?;
        let base = settings.base_url.clone();
        let tokens = Tokens::new(
            client.clone(),
            join(&base, &["oauth", "token"]),
            settings.client_id.clone(),
            settings.client_secret.clone(),
            settings.call_timeout,
        );
        Ok(LedgerApiProvider { inner: Arc::new(Inner { client, base, settings, tokens }) })
    }

    fn url(&self, segments: &[&str]) -> Url {
        join(&self.inner.base, segments)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        operation: Operation,
        deadline: Deadline,
        request: impl Fn() -> RequestBuilder,
    ) -> Result<T, ProviderError> {
        let settings = &self.inner.settings;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(settings.first_delay)
            .with_max_delay(settings.max_delay)
            .without_max_times()
            .build();
        let mut earlier_unknown: Option<String> = None;
        loop {
            let error = match self.attempt(operation, deadline, &request).await {
                Ok(answer) => return Ok(answer),
                Err(error) if error.is_retryable() => error,
                Err(error) => return Err(still_unknown(error, earlier_unknown)),
            };
            if let ProviderError::OutcomeUnknown(message) = &error {
                earlier_unknown = Some(message.clone());
            }
            // Full jitter: spreads the retries of many callers that failed together.
            let jittered = rand::random_range(Duration::ZERO..=backoff.next().unwrap_or(settings.max_delay));
            let delay = match &error {
                ProviderError::Transient { retry_after: Some(after), .. } => jittered.max(*after),
                _ => jittered,
            };
            if delay >= deadline.remaining() {
                return Err(still_unknown(error, earlier_unknown));
            }
            tracing::debug!(%operation, %error, ?delay, "retrying LedgerAPI call");
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: with the current token, and once more with a new one if
    /// LedgerAPI calls it stale.
    async fn attempt<T: DeserializeOwned>(
        &self,
        operation: Operation,
        deadline: Deadline,
        request: &impl Fn() -> RequestBuilder,
    ) -> Result<T, ProviderError> {
        let token = self.inner.tokens.current(deadline).await?;
        if let Reply::Answer(answer) = self.send(operation, deadline, request, &token).await? {
            return Ok(answer);
        }
        let renewed = self.inner.tokens.replacing(&token, deadline).await?;
        match self.send(operation, deadline, request, &renewed).await? {
            Reply::Answer(answer) => Ok(answer),
            // Once only: credentials LedgerAPI never honours must not loop.
            Reply::StaleToken => {
                Err(wire::unexpected(format!("{operation}: LedgerAPI refused a token it just granted")))
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        operation: Operation,
        deadline: Deadline,
        request: &impl Fn() -> RequestBuilder,
        token: &Token,
    ) -> Result<Reply<T>, ProviderError> {
        let timeout = self.inner.settings.call_timeout.min(deadline.remaining());
        if timeout.is_zero() {
            return Err(wire::deadline_passed(operation));
        }
        wire::exchange(operation, request().header(AUTHORIZATION, token.header()).timeout(timeout)).await
    }
}

/// `base` with `segments` appended, each escaped as one path segment.
fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    // Validated: an http(s) URL can be a base.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// An attempt whose outcome is unknown may land after a later attempt's
/// answer, so a refusal or a failure to get through after it does not
/// settle the call: it stays unknown.
fn still_unknown(error: ProviderError, earlier_unknown: Option<String>) -> ProviderError {
    match (error, earlier_unknown) {
        (ProviderError::Rejected(rejection), Some(earlier)) => ProviderError::OutcomeUnknown(format!(
            "refused ({rejection}) after an attempt that may still land ({earlier})"
        )),
        (ProviderError::Transient { message, .. }, Some(earlier)) => {
            ProviderError::OutcomeUnknown(format!("{message}, after an attempt that may still land ({earlier})"))
        }
        (error, _) => error,
    }
}

#[async_trait]
impl PointsProvider for LedgerApiProvider {
    async fn open_account(&self, holder: &HolderRef, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        let url = self.url(&["ledger", "wallets"]);
        let body = OpenWalletRequest { owner: holder.clone() };
        let wallet: Wallet =
            self.call(Operation::OpenWallet, deadline, || self.inner.client.post(url.clone()).json(&body)).await?;
        if wallet.owner != *holder {
            return Err(wire::unexpected(format!(
                "open wallet: answered the wallet of {:?} for {holder:?}",
                wallet.owner
            )));
        }
        wallet.into_account()
    }

    async fn account(&self, id: &ProviderAccountId, deadline: Deadline) -> Result<ProviderAccount, ProviderError> {
        let url = self.url(&["ledger", "wallets", id.as_str()]);
        let wallet: Wallet = self.call(Operation::Wallet, deadline, || self.inner.client.get(url.clone())).await?;
        if wallet.id != *id {
            return Err(wire::unexpected(format!("read wallet: answered wallet {} for {id}", wallet.id)));
        }
        wallet.into_account()
    }

    async fn apply(
        &self,
        kind: MovementKind,
        movement: &Movement,
        deadline: Deadline,
    ) -> Result<ProviderTransaction, ProviderError> {
        let operation = Operation::Entry(kind);
        let url = self.url(&["ledger", "wallets", movement.account.as_str(), "entries"]);
        let body = EntryRequest {
            direction: kind.into(),
            amount: movement.amount.get().to_string(),
            note: movement.memo.clone(),
        };
        let entry: Entry = self
            .call(operation, deadline, || {
                self.inner.client.post(url.clone()).header("Idempotency-Key", movement.reference.as_str()).json(&body)
            })
            .await?;
        movement.answered_by(kind, entry.into_transaction()?)
    }

    /// LedgerAPI finds entries only by key prefix, a page at a time: every
    /// key that extends ours comes back too, so only the exact key counts.
    async fn transaction_by_reference(
        &self,
        reference: &ProviderReference,
        deadline: Deadline,
    ) -> Result<Option<ProviderTransaction>, ProviderError> {
        let mut cursor: Option<String> = None;
        loop {
            let mut url = self.url(&["ledger", "entries"]);
            url.query_pairs_mut().append_pair("key_prefix", reference.as_str()).append_pair("limit", PAGE_LIMIT);
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let page: EntriesPage =
                self.call(Operation::Search, deadline, || self.inner.client.get(url.clone())).await?;
            // Keys are unique, so the first exact one is the only one.
            if let Some(entry) = page.entries.into_iter().find(|entry| entry.idempotency_key == *reference) {
                return entry.into_transaction().map(Some);
            }
            match page.next_cursor {
                None => return Ok(None),
                Some(next) if cursor.as_ref() == Some(&next) => {
                    return Err(wire::unexpected(format!(
                        "{}: the same cursor came back; the pages loop",
                        Operation::Search
                    )));
                }
                Some(next) => cursor = Some(next),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_append_to_the_base_escaped() {
        let base = Url::parse("http://127.0.0.1:9200/api/").expect("valid URL");
        assert_eq!(
            join(&base, &["ledger", "wallets", "a b/c"]).as_str(),
            "http://127.0.0.1:9200/api/ledger/wallets/a%20b%2Fc"
        );
        let bare = Url::parse("http://127.0.0.1:9200").expect("valid URL");
        assert_eq!(join(&bare, &["oauth", "token"]).as_str(), "http://127.0.0.1:9200/oauth/token");
    }

    #[test]
    fn what_follows_an_unknown_attempt_stays_unknown() {
        use pointshare_domain::ports::Rejection;
        let refused = still_unknown(ProviderError::Rejected(Rejection::InsufficientFunds), Some("timed out".into()));
        assert!(matches!(refused, ProviderError::OutcomeUnknown(_)), "{refused:?}");
        let limited = ProviderError::Transient { message: "429".into(), retry_after: Some(Duration::from_secs(3)) };
        assert!(matches!(still_unknown(limited, Some("503".into())), ProviderError::OutcomeUnknown(_)));
        let first = still_unknown(ProviderError::Rejected(Rejection::InsufficientFunds), None);
        assert!(matches!(first, ProviderError::Rejected(Rejection::InsufficientFunds)));
    }
}
