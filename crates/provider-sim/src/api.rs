//! The provider's HTTP API (provider-api.md) over the ledger: routes, bodies,
//! status codes and the `{"error": {"code", "message"}}` envelope.
//!
//! The contract routes pass through the simulated conditions; the sandbox
//! extensions that tests use to arrange and check the ledger do not, so a
//! check of the total balance is never itself a victim of the faults.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::{Ledger, Operation};
use pointshare_domain::ports::{Movement, Rejection};
use pointshare_domain::{MovementKind, Points, ProviderAccountId, ProviderReference};
use pointshare_provider_http::contract::{
    AccountBody, ErrorCode, MovementRequest, OpenAccountRequest, StatusName, TransactionBody,
};

use crate::conditions::Conditions;
use crate::error::ApiError;

#[derive(Debug)]
struct Sim {
    ledger: Arc<Ledger>,
    conditions: Conditions,
    api_key: String,
}

type SimState = State<Arc<Sim>>;

pub(crate) fn router(ledger: Arc<Ledger>, conditions: Conditions, api_key: String) -> Router {
    let sim = Arc::new(Sim { ledger, conditions, api_key });
    Router::new()
        .route("/v1/accounts", post(open_account))
        .route("/v1/accounts/{account_id}", get(account).patch(set_status))
        .route("/v1/accounts/{account_id}/debits", post(debit))
        .route("/v1/accounts/{account_id}/credits", post(credit))
        .route("/v1/transactions/{reference}", get(transaction))
        .route("/v1/_sandbox/ledger", get(summary))
        .fallback(|| async { ApiError::with_status(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::with_status(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::InvalidRequest.as_str(),
                "method not allowed on this endpoint",
            )
        })
        .layer(middleware::from_fn_with_state(Arc::clone(&sim), authorize))
        .with_state(sim)
}

async fn authorize(State(sim): SimState, request: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", sim.api_key);
    let given = request.headers().get(header::AUTHORIZATION).map(|value| value.as_bytes());
    if given != Some(expected.as_bytes()) {
        return ApiError::new(ErrorCode::Unauthorized, "missing or wrong API key").into_response();
    }
    next.run(request).await
}

/// A JSON body whose every fault (syntax, content type, a value out of
/// range) is answered `400 invalid_request` in the provider's envelope.
struct Body<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(body)| Body(body))
            .map_err(|rejection: JsonRejection| ApiError::invalid_request(rejection.body_text()))
    }
}

/// An account id in a path: one that is not even well-formed names no account.
fn account_id(raw: &str) -> Result<ProviderAccountId, ApiError> {
    ProviderAccountId::parse(raw).map_err(|_| Rejection::AccountNotFound.into())
}

/// The contract's body, with the sandbox's extension.
#[derive(Deserialize)]
struct OpenAccountBody {
    #[serde(flatten)]
    request: OpenAccountRequest,
    /// Sandbox extension: open the account funded.
    #[serde(default)]
    initial_balance: Option<Points>,
}

async fn open_account(State(sim): SimState, Body(body): Body<OpenAccountBody>) -> Response {
    sim.conditions
        .serve(Operation::OpenAccount, || {
            let initial = body.initial_balance.map_or(0, Points::get);
            let (account, opened) = sim.ledger.open_account(&body.request.holder_ref, initial);
            let status = if opened { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(AccountBody::from(&account))).into_response())
        })
        .await
}

async fn account(State(sim): SimState, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let id = account_id(&raw)?;
    Ok(sim
        .conditions
        .serve(Operation::Account, || Ok(Json(AccountBody::from(&sim.ledger.account(&id)?)).into_response()))
        .await)
}

async fn debit(state: SimState, path: Path<String>, body: Body<MovementRequest>) -> Result<Response, ApiError> {
    movement(state, path, body, MovementKind::Debit).await
}

async fn credit(state: SimState, path: Path<String>, body: Body<MovementRequest>) -> Result<Response, ApiError> {
    movement(state, path, body, MovementKind::Credit).await
}

async fn movement(
    State(sim): SimState,
    Path(raw): Path<String>,
    Body(body): Body<MovementRequest>,
    kind: MovementKind,
) -> Result<Response, ApiError> {
    let account = account_id(&raw)?;
    let operation = match kind {
        MovementKind::Debit => Operation::Debit,
        MovementKind::Credit => Operation::Credit,
    };
    let movement = Movement { account, reference: body.reference, amount: body.amount, memo: body.memo };
    let answer = sim.conditions.serve(operation, || {
        let (transaction, replayed) = sim.ledger.apply(kind, &movement)?;
        let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
        Ok((status, Json(TransactionBody::from(&transaction))).into_response())
    });
    Ok(answer.await)
}

async fn transaction(State(sim): SimState, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let reference = ProviderReference::parse(raw).map_err(ApiError::invalid_request)?;
    let answer = sim.conditions.serve(Operation::TransactionByReference, || {
        let transaction = sim
            .ledger
            .transaction(&reference)
            .ok_or_else(|| ApiError::new(ErrorCode::TransactionNotFound, "no transaction with that reference"))?;
        Ok(Json(TransactionBody::from(&transaction)).into_response())
    });
    Ok(answer.await)
}

#[derive(Deserialize)]
struct StatusBody {
    status: StatusName,
}

/// Sandbox extension: freeze, close or reactivate an account.
async fn set_status(
    State(sim): SimState,
    Path(raw): Path<String>,
    Body(body): Body<StatusBody>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(AccountBody::from(&sim.ledger.set_status(&account_id(&raw)?, body.status.into())?)))
}

#[derive(Serialize)]
struct Summary {
    accounts: usize,
    total_balance: u128,
    transactions: usize,
}

/// Sandbox extension: the totals every correct sequence of transfers keeps.
async fn summary(State(sim): SimState) -> Json<Summary> {
    let summary = sim.ledger.summary();
    Json(Summary {
        accounts: summary.accounts,
        total_balance: summary.total_balance,
        transactions: summary.transactions,
    })
}
