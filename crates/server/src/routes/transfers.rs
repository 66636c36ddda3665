//! Moving points: a member shares with another, an admin grants; each
//! identified by its `Idempotency-Key`, so a retried request answers with the
//! transfer the first one created. Also one transfer, and my transfers.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

use pointshare_domain::services::{GetTransferError, GrantCommand, GrantError, ShareCommand, ShareError, Submitted};
use pointshare_domain::{
    Cursor, DeclineReason, Handle, IdempotencyKey, Memo, Page, Points, Transfer, TransferId, TransferKind,
    TransferState,
};

use super::views::{GrantBody, HistoryQuery, PageQuery, ShareBody, TransferPage, TransferView, transfer_views};
use super::{deadline, limit, per_minute};
use crate::auth::{Admin, Caller};
use crate::body::Body;
use crate::problem::{ApiError, Faults, IDEMPOTENT_REPLAYED, ProblemCode};
use crate::telemetry;
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

fn idempotency_key(request: &HttpRequest) -> Result<IdempotencyKey, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::IdempotencyKeyRequired,
            "An Idempotency-Key header is required",
        )
        .detail("send a unique Idempotency-Key (1 to 64 printable ASCII characters) and reuse it to retry")
    };
    let value = request.headers().get("idempotency-key").ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    IdempotencyKey::parse(value).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidIdempotencyKey, "The Idempotency-Key is not valid")
            .detail(error.to_string())
    })
}

/// 201 for a finished transfer, 202 while it is still processing (or waits
/// for an operator). The caller and the handle it named are both sides'
/// handles: no store read for the answer.
/// A replay says so, so a client can tell its retry from the first answer.
async fn created(
    state: &AppState,
    submitted: Submitted,
    caller: &Caller,
    to: &Handle,
) -> Result<HttpResponse, ApiError> {
    let Submitted { transfer, replayed } = submitted;
    let status = if transfer.state.is_terminal() { StatusCode::CREATED } else { StatusCode::ACCEPTED };
    let location = format!("/v1/transfers/{}", transfer.id);
    let known = [(caller.member, &caller.record.handle), (transfer.recipient, to)];
    let view = transfer_views(state, vec![transfer], &known).await?.remove(0);
    let mut answer = HttpResponse::build(status);
    answer.insert_header(("Location", location));
    if status == StatusCode::ACCEPTED {
        // When to look again at the transfer `Location` names.
        answer.insert_header(("Retry-After", "1"));
    }
    if replayed {
        answer.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    Ok(answer.json(view))
}

/// Why a transfer did not complete, as the problem the member sees.
fn declined(submitted: &Submitted) -> ApiError {
    let transfer = &submitted.transfer;
    let (code, title) = match transfer.decline {
        Some(DeclineReason::InsufficientFunds) => (ProblemCode::InsufficientFunds, "Not enough points"),
        Some(DeclineReason::DailyLimitExceeded) => (ProblemCode::LimitExceeded, "The daily sharing limit is reached"),
        Some(DeclineReason::GrantBudgetExceeded) => {
            (ProblemCode::GrantBudgetExceeded, "Your daily grant budget is spent; the grant was not made")
        }
        Some(DeclineReason::RecipientAccountInactive | DeclineReason::RecipientAccountNotFound) => {
            (ProblemCode::RecipientInactive, "The recipient cannot receive points")
        }
        Some(DeclineReason::SenderAccountInactive | DeclineReason::SenderAccountNotFound) => {
            (ProblemCode::MemberInactive, "Your points account cannot send points")
        }
        None => (ProblemCode::TransferFailed, "The provider refused the transfer"),
    };
    let detail = format!("transfer {} was {}", transfer.id, transfer.state.as_str());
    let problem = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, title).detail(detail).transfer(transfer.id);
    if submitted.replayed { problem.replayed() } else { problem }
}

fn key_reused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ProblemCode::IdempotencyKeyReused,
        "This Idempotency-Key was used for another request",
    )
}

fn recipient_not_found() -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ProblemCode::RecipientNotFound, "No member has that handle")
}

fn recipient_inactive() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ProblemCode::RecipientInactive,
        "The recipient cannot receive points",
    )
}

/// Shares points with another member.
#[utoipa::path(post, path = "/v1/transfers", operation_id = "createTransfer", tag = "transfers", security(("bearer" = [])), request_body = ShareBody,
    params(("Idempotency-Key" = String, Header, description = "Unique per transfer; repeat it to retry safely")),
    responses((status = 201, body = TransferView, description = "completed"), (status = 202, body = TransferView, description = "processing"),
        (status = 400, body = crate::problem::Problem, description = "idempotency_key_required, invalid_idempotency_key, malformed_json"),
        (status = 403, body = crate::problem::Problem, description = "member_inactive: your membership cannot share now"),
        (status = 409, body = crate::problem::Problem, description = "idempotency_key_reused"),
        (status = 422, body = crate::problem::Problem, description = "insufficient_funds, limit_exceeded, recipient_not_found, recipient_inactive, self_transfer, member_inactive, transfer_failed, validation_failed; a declined transfer's id is in `transfer_id`"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many transfers this minute"),
        (status = 503, body = crate::problem::Problem, description = "rate_limiter_unavailable")))]
#[post("/v1/transfers")]
pub async fn create_transfer(
    state: State,
    caller: Caller,
    request: HttpRequest,
    body: Body<ShareBody>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&request)?;
    let body = body.into_inner();
    let to = Handle::parse(body.to_handle).map_err(|_| recipient_not_found())?;
    let mut faults = Faults::default();
    let amount = faults.check("/amount", Points::new(body.amount));
    let memo = faults.check("/memo", body.memo.map(Memo::parse).transpose());
    let (Some(amount), Some(memo)) = (amount, memo) else { return Err(faults.into_error()) };
    let command = ShareCommand { sender: caller.member, to: to.clone(), amount, memo, idempotency_key: key };
    limit(&state, &format!("transfers:{}", caller.member), per_minute(state.settings.transfer_rate_limit)).await?;
    let told = |error: &ShareError| match error {
        ShareError::Declined(transfer) => Some(transfer.state),
        _ => None,
    };
    match counted(TransferKind::Share, state.transfers.share(command, deadline(&state)), told).await {
        Ok(submitted) => created(&state, submitted, &caller, &to).await,
        Err(error) => Err(match error {
            ShareError::SenderNotFound => ApiError::unauthenticated("the member of this token no longer exists"),
            ShareError::SenderNotActive => ApiError::new(
                StatusCode::FORBIDDEN,
                ProblemCode::MemberInactive,
                "Your membership cannot share points now",
            ),
            ShareError::RecipientNotFound => recipient_not_found(),
            ShareError::RecipientNotActive => recipient_inactive(),
            ShareError::SelfTransfer => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::SelfTransfer,
                "You cannot share points with yourself",
            ),
            ShareError::AboveTransferLimit { max } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::LimitExceeded,
                "The amount is above the limit",
            )
            .detail(format!("at most {max} points per transfer")),
            ShareError::IdempotencyKeyReused => key_reused(),
            ShareError::Declined(transfer) => declined(&transfer),
            ShareError::Unexpected(error) => ApiError::unexpected(format!("{error:#}")),
        }),
    }
}

/// Drives a share or grant, counted in flight meanwhile and then by the
/// state the caller is told (`declined` finds it in a refusal).
async fn counted<E>(
    kind: TransferKind,
    work: impl Future<Output = Result<Submitted, E>>,
    declined: impl Fn(&E) -> Option<TransferState>,
) -> Result<Submitted, E> {
    let in_flight = telemetry::TransferInFlight::start();
    let outcome = work.await;
    drop(in_flight);
    let told = match &outcome {
        Ok(transfer) => Some(transfer.state),
        Err(error) => declined(error),
    };
    telemetry::transfer_answered(kind, told);
    outcome
}

/// Grants points to a member (admins only).
#[utoipa::path(post, path = "/v1/admin/grants", operation_id = "createGrant", tag = "admin", security(("bearer" = [])), request_body = GrantBody,
    params(("Idempotency-Key" = String, Header, description = "Unique per grant; repeat it to retry safely")),
    responses((status = 201, body = TransferView, description = "completed"), (status = 202, body = TransferView, description = "processing"),
        (status = 400, body = crate::problem::Problem, description = "idempotency_key_required, invalid_idempotency_key, malformed_json"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only (by the member record, checked on every request)"),
        (status = 409, body = crate::problem::Problem, description = "idempotency_key_reused"),
        (status = 422, body = crate::problem::Problem, description = "grant_limit_exceeded (above the per-grant maximum), grant_budget_exceeded (the admin's daily budget is spent; a rejected grant is recorded), recipient_not_found, recipient_inactive, transfer_failed, validation_failed")))]
#[post("/v1/admin/grants")]
pub async fn create_grant(
    state: State,
    admin: Admin,
    request: HttpRequest,
    body: Body<GrantBody>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&request)?;
    let body = body.into_inner();
    let to = Handle::parse(body.to_handle).map_err(|_| recipient_not_found())?;
    let mut faults = Faults::default();
    let amount = faults.check("/amount", Points::new(body.amount));
    let reason = faults.check("/reason", Memo::parse(body.reason));
    let (Some(amount), Some(reason)) = (amount, reason) else { return Err(faults.into_error()) };
    let command =
        GrantCommand { admin: admin.0.member, to: to.clone(), amount, reason: Some(reason), idempotency_key: key };
    let told = |error: &GrantError| match error {
        GrantError::Declined(transfer) => Some(transfer.state),
        _ => None,
    };
    match counted(TransferKind::Grant, state.transfers.grant(command, deadline(&state)), told).await {
        Ok(submitted) => created(&state, submitted, &admin.0, &to).await,
        Err(error) => Err(match error {
            GrantError::RecipientNotFound => recipient_not_found(),
            GrantError::RecipientNotActive => recipient_inactive(),
            GrantError::AboveGrantLimit { max } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::GrantLimitExceeded,
                "The amount is above the limit",
            )
            .detail(format!("at most {max} points per grant")),
            GrantError::IdempotencyKeyReused => key_reused(),
            GrantError::Declined(transfer) => declined(&transfer),
            GrantError::Unexpected(error) => ApiError::unexpected(format!("{error:#}")),
        }),
    }
}

/// One transfer I sent or received.
#[utoipa::path(get, path = "/v1/transfers/{id}", operation_id = "getTransfer", tag = "transfers", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = TransferView, description = "the transfer"),
        (status = 404, body = crate::problem::Problem, description = "transfer_not_found: no such transfer, or not yours")))]
#[get("/v1/transfers/{id}")]
pub async fn get_transfer(
    state: State,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<TransferView>, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, ProblemCode::TransferNotFound, "No such transfer of yours");
    let id: TransferId = id.parse().map_err(|_| not_found())?;
    let transfer = state.transfers.transfer_for(caller.member, id).await.map_err(|error| match error {
        GetTransferError::NotFound => not_found(),
        GetTransferError::Unexpected(error) => ApiError::unexpected(format!("{error:#}")),
    })?;
    Ok(web::Json(transfer_views(&state, vec![transfer], &[(caller.member, &caller.record.handle)]).await?.remove(0)))
}

/// My transfers, sent and received, newest first.
#[utoipa::path(get, path = "/v1/transfers", operation_id = "listTransfers", tag = "transfers", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = TransferPage, description = "a page of my transfers, newest first"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query (a filter is not valid, or since is not before until) or invalid_cursor")))]
#[get("/v1/transfers")]
pub async fn list_transfers(
    state: State,
    caller: Caller,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<TransferPage>, ApiError> {
    let query = query.into_inner();
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since >= until
    {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidQuery, "since must be before until"));
    }
    let (after, limit) = page_of(query.limit, query.cursor.as_deref())?;
    let page =
        state.transfers.history(caller.member, &query.filter(), after, limit).await.map_err(ApiError::unexpected)?;
    transfer_page(&state, page, &caller).await
}

/// Every grant, newest first: who granted how much to whom, when and why (admins only).
#[utoipa::path(get, path = "/v1/admin/grants", operation_id = "listGrants", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = TransferPage, description = "a page of grants, newest first; `from_handle` is the admin, `memo` the reason"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query or invalid_cursor"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only")))]
#[get("/v1/admin/grants")]
pub async fn list_grants(
    state: State,
    admin: Admin,
    query: web::Query<PageQuery>,
) -> Result<web::Json<TransferPage>, ApiError> {
    let query = query.into_inner();
    let (after, limit) = page_of(query.limit, query.cursor.as_deref())?;
    let page = state.transfers.grants(after, limit).await.map_err(ApiError::unexpected)?;
    transfer_page(&state, page, &admin.0).await
}

/// Where a page starts and how long it is, from the query.
fn page_of(limit: Option<usize>, cursor: Option<&str>) -> Result<(Option<Cursor>, usize), ApiError> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidQuery,
            "limit must be between 1 and 100",
        ));
    }
    let after = cursor.map(Cursor::decode).transpose().map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidCursor, "The cursor is not one this API gave")
    })?;
    Ok((after, limit))
}

async fn transfer_page(
    state: &AppState,
    page: Page<Transfer>,
    caller: &Caller,
) -> Result<web::Json<TransferPage>, ApiError> {
    Ok(web::Json(TransferPage {
        items: transfer_views(state, page.items, &[(caller.member, &caller.record.handle)]).await?,
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}
