//! LedgerAPI's HTTP face over the book: routes, bearer tokens, the
//! `{"error": "<code>"}` bodies, and the simulated conditions (latency, rate
//! limit, scripted faults) every call but the sandbox's passes through.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::{Duration, Instant};

use pointshare_domain::{Points, ProviderReference};

use super::book::EntryAsked;
use super::{Controls, Endpoint, Fault, SimConfig, World};
use crate::wire::{
    EntriesPage, EntryRequest, ErrorBody, ErrorCode, OpenWalletRequest, StateRequest, TokenGrant, parse_minor_units,
};

#[derive(Debug)]
struct Sim {
    controls: Arc<Controls>,
    config: SimConfig,
}

type SimState = State<Arc<Sim>>;

/// A status and a JSON body, or an error code.
type Answer = Result<(StatusCode, Value), ErrorCode>;

pub(super) fn router(controls: Arc<Controls>, config: SimConfig) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/ledger/wallets", post(open_wallet))
        .route("/ledger/wallets/{id}", get(wallet))
        .route("/ledger/wallets/{id}/entries", post(post_entry))
        .route("/ledger/entries", get(search))
        .route("/sandbox/wallets/{id}/state", post(set_state))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(ErrorBody { error: "not_found".into() })) })
        .with_state(Arc::new(Sim { controls, config }))
}

impl Sim {
    /// Serves one call: counts it, waits half the latency, checks the token,
    /// the rate and the scripted faults, does `work` under the lock, meets a
    /// fault that strikes after the work, and waits the other half.
    async fn serve(
        &self,
        endpoint: Endpoint,
        headers: &HeaderMap,
        work: impl FnOnce(&mut World) -> Answer,
    ) -> Response {
        *self.controls.world.lock().calls.entry(endpoint).or_default() += 1;
        let half = self.config.latency / 2;
        tokio::time::sleep(half).await;
        let outcome = {
            let mut world = self.controls.world.lock();
            self.admit(&mut world, endpoint, headers).map(|fault| (fault, work(&mut world)))
        };
        let response = match outcome {
            Err(refusal) => refusal.into_response(),
            Ok((Some(Fault::FailAfterApplying), _)) => error(ErrorCode::Internal),
            Ok((Some(Fault::HangAfterApplying(hang)), answer)) => {
                tokio::time::sleep(hang).await;
                respond(answer)
            }
            Ok((Some(Fault::MalformedAmounts), answer)) => respond(answer.map(|(status, mut body)| {
                fractional(&mut body);
                (status, body)
            })),
            Ok((_, answer)) => respond(answer),
        };
        tokio::time::sleep(half).await;
        response
    }

    /// Refuses a call before any work (a stale token, over the rate, a
    /// fault that does nothing), or lets it through with the fault, if any,
    /// that strikes after the work.
    fn admit(&self, world: &mut World, endpoint: Endpoint, headers: &HeaderMap) -> Result<Option<Fault>, Refusal> {
        if endpoint != Endpoint::Token && !honoured(world, headers) {
            return Err(Refusal::Error(ErrorCode::InvalidToken));
        }
        if let Some(limit) = self.config.rate_limit {
            let now = Instant::now();
            if now.duration_since(world.window.0) >= Duration::from_secs(1) {
                world.window = (now, 0);
            }
            if world.window.1 >= limit {
                return Err(Refusal::RateLimited { retry_after_secs: 1 });
            }
            world.window.1 += 1;
        }
        match world.faults.get_mut(&endpoint).and_then(|faults| faults.pop_front()) {
            Some(Fault::RateLimited { retry_after_secs }) => Err(Refusal::RateLimited { retry_after_secs }),
            Some(Fault::Unavailable) => Err(Refusal::Error(ErrorCode::Unavailable)),
            Some(Fault::RejectToken) => Err(Refusal::Error(ErrorCode::InvalidToken)),
            fault => Ok(fault),
        }
    }
}

/// Whether the call carries a token granted and not yet expired or revoked.
fn honoured(world: &World, headers: &HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    token.and_then(|token| world.tokens.get(token)).is_some_and(|expires| Instant::now() < *expires)
}

fn respond(answer: Answer) -> Response {
    match answer {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(code) => error(code),
    }
}

fn error(code: ErrorCode) -> Response {
    (code.status(), Json(ErrorBody { error: code.as_str().into() })).into_response()
}

/// Why a call is turned away before any work.
#[derive(Debug)]
enum Refusal {
    Error(ErrorCode),
    RateLimited { retry_after_secs: u64 },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Error(code) => error(code),
            Refusal::RateLimited { retry_after_secs } => {
                let mut response = error(ErrorCode::RateLimited);
                response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
                response
            }
        }
    }
}

fn json(status: StatusCode, body: &impl Serialize) -> Answer {
    Ok((status, serde_json::to_value(body).expect("the wire's types serialize")))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ErrorCode> {
    serde_json::from_slice(body).map_err(|_| ErrorCode::InvalidRequest)
}

/// Writes every amount in `body` as a fraction, for `Fault::MalformedAmounts`.
fn fractional(body: &mut Value) {
    match body {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                match field {
                    Value::String(text) if matches!(name.as_str(), "available" | "amount" | "balance") => {
                        text.push_str(".50");
                    }
                    _ => fractional(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fractional),
        _ => {}
    }
}

async fn token(State(sim): SimState, headers: HeaderMap, body: Bytes) -> Response {
    sim.serve(Endpoint::Token, &headers, |world| {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return Err(ErrorCode::InvalidRequest);
        }
        if form.get("client_id") != Some(&sim.config.client_id)
            || form.get("client_secret") != Some(&sim.config.client_secret)
        {
            return Err(ErrorCode::InvalidClient);
        }
        let now = Instant::now();
        world.tokens.retain(|_, expires| now < *expires);
        let token = format!("{:032x}", rand::random::<u128>());
        world.tokens.insert(token.clone(), now + world.token_lifetime);
        world.grants += 1;
        let grant =
            TokenGrant { access_token: token, token_type: "Bearer".into(), expires_in: world.token_lifetime.as_secs() };
        json(StatusCode::OK, &grant)
    })
    .await
}

async fn open_wallet(State(sim): SimState, headers: HeaderMap, body: Bytes) -> Response {
    sim.serve(Endpoint::OpenWallet, &headers, |world| {
        let request: OpenWalletRequest = parse(&body)?;
        let (wallet, opened) = world.book.open(request.owner);
        json(if opened { StatusCode::CREATED } else { StatusCode::OK }, &wallet)
    })
    .await
}

async fn wallet(State(sim): SimState, headers: HeaderMap, Path(id): Path<String>) -> Response {
    sim.serve(Endpoint::Wallet, &headers, |world| json(StatusCode::OK, &world.book.wallet(&id)?)).await
}

async fn post_entry(State(sim): SimState, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    sim.serve(Endpoint::PostEntry, &headers, |world| {
        let key = headers
            .get("idempotency-key")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| ProviderReference::parse(value).ok())
            .ok_or(ErrorCode::InvalidRequest)?;
        let request: EntryRequest = parse(&body)?;
        let amount = parse_minor_units(&request.amount)
            .and_then(|amount| Points::new(amount).ok())
            .ok_or(ErrorCode::InvalidRequest)?;
        let (entry, new) = world.book.book(EntryAsked { wallet: id, key, direction: request.direction, amount })?;
        json(if new { StatusCode::CREATED } else { StatusCode::OK }, &entry)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    key_prefix: String,
    limit: Option<usize>,
    /// Opaque to clients: `c<position>` in the book.
    cursor: Option<String>,
}

async fn search(
    State(sim): SimState,
    headers: HeaderMap,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    sim.serve(Endpoint::SearchEntries, &headers, |world| {
        let Query(params) = params.map_err(|_| ErrorCode::InvalidRequest)?;
        if params.key_prefix.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        let limit = params.limit.unwrap_or(usize::MAX).clamp(1, sim.config.page_limit.max(1));
        let from = match params.cursor {
            None => 0,
            Some(cursor) => cursor.strip_prefix('c').and_then(|at| at.parse().ok()).ok_or(ErrorCode::InvalidRequest)?,
        };
        let (entries, next) = world.book.search(&params.key_prefix, limit, from);
        json(StatusCode::OK, &EntriesPage { entries, next_cursor: next.map(|at| format!("c{at}")) })
    })
    .await
}

/// Sandbox only: suspends, terminates or reopens a wallet. Outside the
/// simulated conditions and the tokens, so arranging a test never fails.
async fn set_state(State(sim): SimState, Path(id): Path<String>, body: Bytes) -> Response {
    let changed =
        parse::<StateRequest>(&body).and_then(|request| sim.controls.world.lock().book.set_state(&id, request.state));
    respond(changed.and_then(|wallet| json(StatusCode::OK, &wallet)))
}
