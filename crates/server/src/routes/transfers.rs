//! Moving points: a member shares with another, an admin grants; each
//! identified by its `Idempotency-Key`, so a retried request answers with the
//! transfer the first one created. Also one transfer, and my transfers.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

use pointshare_domain::services::{
    AdjustError, GrantCommand, GrantError, ReverseError, ShareCommand, ShareError, Submitted,
};
use pointshare_domain::{
    Cursor, DeclineReason, Handle, IdempotencyKey, MemberId, Memo, Page, Points, Transfer, TransferId, TransferKind,
};

use super::body::Body;
use super::caller::{Admin, Caller};
use super::conditional::tagged;
use super::guard::{Patience, PreferParam, limit_within, origin, patience};
use super::parties::transfer_views;
use super::views::{GrantBody, HistoryQuery, PageQuery, ShareBody, TransferPage, TransferView};
use crate::headers::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, PREFERENCE_APPLIED};
use crate::problem::{ApiError, Faults, ProblemCode, recipient_not_found, transfer_not_found};
use crate::rate_limits;
use crate::telemetry;
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

pub(super) fn idempotency_key(request: &HttpRequest) -> Result<IdempotencyKey, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::IdempotencyKeyRequired,
            "An Idempotency-Key header is required",
        )
        .detail("send a unique Idempotency-Key (1 to 64 printable ASCII characters) and reuse it to retry")
    };
    let value = request.headers().get(IDEMPOTENCY_KEY).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    IdempotencyKey::parse(value).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidIdempotencyKey, "The Idempotency-Key is not valid")
            .detail(error.to_string())
    })
}

/// 201 for a finished transfer, 202 while it is still processing (or waits
/// for an operator). The caller and the handle it named are both sides'
/// handles: no store read for the answer. A replay says so, so a client can
/// tell its retry from the first answer.
async fn created(state: &AppState, submitted: Submitted, answering: &Answering<'_>) -> Result<HttpResponse, ApiError> {
    let Submitted { transfer, replayed } = submitted;
    let status = if transfer.state.is_terminal() { StatusCode::CREATED } else { StatusCode::ACCEPTED };
    let in_saga = transfer.state.is_in_saga();
    let location = format!("{}/{}", answering.location, transfer.id);
    let mut known: Vec<(MemberId, &Handle)> = answering.caller.iter().map(|c| (c.member, &c.record.handle)).collect();
    known.extend(answering.to.map(|to| (transfer.recipient, to)));
    let view = transfer_views(state, vec![transfer], &known).await?.remove(0);
    let mut answer = HttpResponse::build(status);
    answer.insert_header(("Location", location));
    if in_saga {
        // When to look again at the transfer `Location` names.
        answer.insert_header(("Retry-After", "1"));
    }
    if replayed {
        answer.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    if let Some(preference) = &answering.applied {
        answer.insert_header((PREFERENCE_APPLIED, preference.as_str()));
    }
    Ok(answer.json(view))
}

/// What a share or grant body asks for, checked: every invalid field at once.
struct Movement {
    to: Handle,
    amount: Points,
    memo: Option<Memo>,
}

impl Movement {
    fn check(to_handle: String, amount: u64, memo: (&str, Option<String>)) -> Result<Movement, ApiError> {
        // No member can have a handle that is not one.
        let to = Handle::parse(to_handle).map_err(|_| recipient_not_found())?;
        let mut faults = Faults::default();
        let amount = faults.check("/amount", Points::new(amount));
        let (pointer, text) = memo;
        let memo = faults.check(pointer, text.map(Memo::parse).transpose());
        let (Some(amount), Some(memo)) = (amount, memo) else { return Err(faults.into_error()) };
        Ok(Movement { to, amount, memo })
    }
}

impl TryFrom<ShareBody> for Movement {
    type Error = ApiError;

    fn try_from(body: ShareBody) -> Result<Self, ApiError> {
        Movement::check(body.to_handle, body.amount, ("/memo", body.memo))
    }
}

impl TryFrom<GrantBody> for Movement {
    type Error = ApiError;

    fn try_from(body: GrantBody) -> Result<Self, ApiError> {
        Movement::check(body.to_handle, body.amount, ("/reason", Some(body.reason)))
    }
}

/// A refusal that may have recorded a transfer (declined).
pub(super) trait Declines {
    fn declined(&self) -> Option<&Transfer>;
}

/// Each operation that records a transfer says so in its `Declined` case.
macro_rules! declines {
    ($($error:ident),+) => {$(
        impl Declines for $error {
            fn declined(&self) -> Option<&Transfer> {
                match self {
                    $error::Declined(submitted) => Some(&submitted.transfer),
                    _ => None,
                }
            }
        }
    )+};
}

declines!(ShareError, GrantError, ReverseError, AdjustError);

/// How a new transfer is answered: the handles the caller already holds (its
/// own, when it is a party; the recipient's it named), and the collection
/// its `Location` is in.
pub(super) struct Answering<'a> {
    pub caller: Option<&'a Caller>,
    pub to: Option<&'a Handle>,
    pub location: &'static str,
    /// The `Prefer` it followed, if any.
    pub applied: Option<String>,
}

/// Drives a new transfer, counted in flight meanwhile and then by the state
/// the caller is told; answers it as `created` does, or as its problem.
pub(super) async fn submit<E: Declines + Into<ApiError>>(
    state: &AppState,
    kind: TransferKind,
    work: impl Future<Output = Result<Submitted, E>>,
    answer: Answering<'_>,
) -> Result<HttpResponse, ApiError> {
    let in_flight = telemetry::transfer_in_flight();
    let outcome = work.await;
    drop(in_flight);
    let answered = match &outcome {
        Ok(submitted) => Some(submitted.state),
        Err(error) => error.declined().map(|transfer| transfer.state),
    };
    telemetry::transfer_answered(kind, answered);
    let submitted = outcome.map_err(|error| {
        // A daily limit's refusal says the limit, as the per-transfer one does.
        let daily = error.declined().filter(|transfer| {
            matches!(transfer.decline, Some(DeclineReason::DailyLimitExceeded | DeclineReason::GrantBudgetExceeded))
        });
        let limit = daily.map(|transfer| state.settings.transfer_limits().daily(transfer).0);
        let problem: ApiError = error.into();
        match limit {
            Some(limit) => problem.limit(limit),
            None => problem,
        }
    })?;
    created(state, submitted, &answer).await
}

/// Shares points with another member.
#[utoipa::path(post, path = "/v1/transfers", operation_id = "createTransfer", tag = "transfers", security(("bearer" = [])), request_body = ShareBody,
    params(("Idempotency-Key" = String, Header, description = "Unique per transfer; repeat it to retry safely"), PreferParam),
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
    let idempotency_key = idempotency_key(&request)?;
    let Movement { to, amount, memo } = body.into_inner().try_into()?;
    rate_limits::record(&request, state.services.throttle.transfer(caller.member).await)?;
    let command = ShareCommand { sender: caller.record.clone(), to: to.clone(), amount, memo, idempotency_key };
    let Patience { deadline, applied } = patience(&state, &request);
    let answer = Answering { caller: Some(&caller), to: Some(&to), location: "/v1/transfers", applied };
    submit(&state, TransferKind::Share, state.services.transfers.share(command, deadline), answer).await
}

/// Grants points to a member (admins only).
#[utoipa::path(post, path = "/v1/admin/grants", operation_id = "createGrant", tag = "admin", security(("bearer" = [])), request_body = GrantBody,
    params(("Idempotency-Key" = String, Header, description = "Unique per grant; repeat it to retry safely"), PreferParam),
    responses((status = 201, body = TransferView, description = "completed"), (status = 202, body = TransferView, description = "processing"),
        (status = 400, body = crate::problem::Problem, description = "idempotency_key_required, invalid_idempotency_key, malformed_json"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only (by the member record, checked on every request)"),
        (status = 409, body = crate::problem::Problem, description = "idempotency_key_reused"),
        (status = 422, body = crate::problem::Problem, description = "grant_limit_exceeded (above the per-grant maximum), grant_budget_exceeded (the admin's daily budget is spent; a rejected grant is recorded), recipient_not_found, recipient_inactive, self_transfer (an admin granting to themselves), transfer_failed, validation_failed")))]
#[post("/v1/admin/grants")]
pub async fn create_grant(
    state: State,
    admin: Admin,
    request: HttpRequest,
    body: Body<GrantBody>,
) -> Result<HttpResponse, ApiError> {
    let idempotency_key = idempotency_key(&request)?;
    let Movement { to, amount, memo } = body.into_inner().try_into()?;
    let origin = origin(&state, &request);
    let command = GrantCommand { admin: admin.0.member, to: to.clone(), amount, reason: memo, idempotency_key, origin };
    let Patience { deadline, applied } = patience(&state, &request);
    let answer = Answering { caller: Some(&admin.0), to: Some(&to), location: "/v1/transfers", applied };
    submit(&state, TransferKind::Grant, state.services.transfers.grant(command, deadline), answer).await
}

/// One transfer I sent or received.
#[utoipa::path(get, path = "/v1/transfers/{id}", operation_id = "getTransfer", tag = "transfers", security(("bearer" = [])),
    params(("id" = String, Path), ("If-None-Match" = Option<String>, Header, description = "The `ETag` of the transfer the client holds: 304 with no body while it is still current")),
    responses((status = 200, body = TransferView, description = "the transfer", headers(("ETag" = String, description = "Send it back in `If-None-Match`"))),
        (status = 304, description = "not modified: the transfer is as `If-None-Match` names it"),
        (status = 404, body = crate::problem::Problem, description = "transfer_not_found: no such transfer, or not yours")))]
#[get("/v1/transfers/{id}")]
pub async fn get_transfer(
    state: State,
    caller: Caller,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: TransferId = id.parse().map_err(|_| transfer_not_found())?;
    let transfer = state.services.transfers.transfer_for(caller.member, id).await?;
    let view = transfer_views(&state, vec![transfer], &[(caller.member, &caller.record.handle)]).await?.remove(0);
    tagged(&request, &view)
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
    query.check()?;
    let (after, limit) = page_of(query.limit, query.cursor.as_deref())?;
    let page = state
        .services
        .transfers
        .history(caller.member, &query.filter(), after, limit)
        .await
        .map_err(ApiError::unexpected)?;
    transfer_page(&state, page, caller.member, &caller.record.handle).await
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
    let page = state.services.transfers.grants(after, limit).await.map_err(ApiError::unexpected)?;
    transfer_page(&state, page, admin.0.member, &admin.0.record.handle).await
}

/// Where a page starts and how long it is, from the query.
pub(super) fn page_of(limit: Option<usize>, cursor: Option<&str>) -> Result<(Option<Cursor>, usize), ApiError> {
    let limit = limit_within(limit, 20, 100)?;
    let after = cursor.map(Cursor::decode).transpose().map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidCursor, "The cursor is not one this API gave")
            .parameter("cursor")
    })?;
    Ok((after, limit))
}

/// A page of transfers as the API shows them; `member`'s handle is known already.
pub(super) async fn transfer_page(
    state: &AppState,
    page: Page<Transfer>,
    member: MemberId,
    handle: &Handle,
) -> Result<web::Json<TransferPage>, ApiError> {
    Ok(web::Json(TransferPage {
        items: transfer_views(state, page.items, &[(member, handle)]).await?,
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}
