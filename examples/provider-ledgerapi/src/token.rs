//! The OAuth2 client-credentials token: granted on first need, cached,
//! renewed shortly before it expires, and replaced when LedgerAPI calls it
//! stale. One lock around the cache makes concurrent callers that find it
//! missing, old or stale wait for one grant instead of each asking for one.

use std::time::Duration;

use reqwest::Client;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use pointshare_domain::ports::{Deadline, ProviderError};
use secrecy::{ExposeSecret, SecretString};

use crate::wire::{self, Operation, Reply, TokenGrant};

/// A granted token, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// `Bearer <token>`, marked sensitive so it never prints.
    header: HeaderValue,
    /// When to stop using it: a little before it expires, so a call sent
    /// just in time does not arrive just too late.
    renew_at: Instant,
}

impl Token {
    pub(crate) fn header(&self) -> HeaderValue {
        self.header.clone()
    }
}

#[derive(Debug)]
pub(crate) struct Tokens {
    client: Client,
    url: Url,
    client_id: String,
    client_secret: SecretString,
    call_timeout: Duration,
    cached: Mutex<Option<Token>>,
}

impl Tokens {
    pub(crate) fn new(
        client: Client,
        url: Url,
        client_id: String,
        client_secret: SecretString,
        call_timeout: Duration,
    ) -> Self {
        Tokens { client, url, client_id, client_secret, call_timeout, cached: Mutex::new(None) }
    }

    /// A token to send now.
    pub(crate) async fn current(&self, deadline: Deadline) -> Result<Token, ProviderError> {
        self.usable(None, deadline).await
    }

    /// A token other than `stale`, which LedgerAPI refused: callers refused
    /// together share the one grant the first of them makes.
    pub(crate) async fn replacing(&self, stale: &Token, deadline: Deadline) -> Result<Token, ProviderError> {
        self.usable(Some(stale), deadline).await
    }

    async fn usable(&self, stale: Option<&Token>, deadline: Deadline) -> Result<Token, ProviderError> {
        // Waiting behind another caller's grant counts against our deadline too.
        let mut cached = tokio::time::timeout(deadline.remaining(), self.cached.lock())
            .await
            .map_err(|_| wire::deadline_passed(Operation::Token))?;
        let now = Instant::now();
        if let Some(token) = cached.as_ref().filter(|token| now < token.renew_at && Some(*token) != stale) {
            return Ok(token.clone());
        }
        let token = self.grant(deadline).await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    async fn grant(&self, deadline: Deadline) -> Result<Token, ProviderError> {
        let timeout = self.call_timeout.min(deadline.remaining());
        if timeout.is_zero() {
            return Err(wire::deadline_passed(Operation::Token));
        }
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose_secret())
            .finish();
        // The lifetime counts from the grant, which is no earlier than the ask.
        let asked = Instant::now();
        let request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .timeout(timeout);
        let grant: TokenGrant = match wire::exchange(Operation::Token, request).await? {
            Reply::Answer(grant) => grant,
            Reply::StaleToken => return Err(wire::unexpected("token grant: answered invalid_token".into())),
        };
        if !grant.token_type.eq_ignore_ascii_case("bearer") {
            return Err(wire::unexpected(format!("token grant: a {:?} token, not a bearer token", grant.token_type)));
        }
        let mut header = HeaderValue::try_from(format!("Bearer {}", grant.access_token))
            .map_err(|_| wire::unexpected("token grant: the token is not a valid header value".into()))?;
        header.set_sensitive(true);
        let lifetime = Duration::from_secs(grant.expires_in);
        // A tenth of the lifetime, at most 30 s: enough for a call in flight,
        // short enough that a short-lived token is still used many times.
        let margin = (lifetime / 10).min(Duration::from_secs(30));
        tracing::debug!(expires_in = grant.expires_in, "LedgerAPI granted a token");
        Ok(Token { header, renew_at: asked + lifetime - margin })
    }
}
