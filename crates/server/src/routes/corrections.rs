//! The support desk's corrections (admins only): undoing a completed share
//! or grant, whole or in part (a reversal); crediting or debiting a member
//! (an adjustment); and the second admin a large one waits for. Each is a
//! transfer of its own, recorded before any provider call, driven by the
//! same saga as a share, and in the audit log before it is answered.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use pointshare_domain::services::{AdjustCommand, AdjustDirection, DecideCommand, Decision, ReverseCommand};
use pointshare_domain::{Handle, Points, Reason, TransferId, TransferKind};

use super::body::{Body, FieldRules, REASON, Rule};
use super::caller::Admin;
use super::guard::{Patience, PreferParam, admin_authority, deadline, origin, patience};
use super::parties::transfer_views;
use super::transfers::{Answering, idempotency_key, page_of, submit};
use super::views::{PageQuery, TransferView, millis};
use crate::problem::{ApiError, Faults, recipient_not_found, transfer_not_found};
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

/// Where a correction is answered: its timeline.
const LOCATION: &str = "/v1/admin/transfers";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReversalBody {
    /// Points to take back; all that is left of the transfer when absent.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_u64, example = 30)]
    pub amount: Option<u64>,
    /// Why, for the audit log and the members' histories (its first 140 characters).
    #[schema(min_length = 1, max_length = 500, example = "shared with the wrong handle")]
    pub reason: String,
}

impl FieldRules for ReversalBody {
    const RULES: &'static [(&'static str, Rule)] = &[REASON];
}

/// Undoes a completed share (its recipient pays its sender back) or grant
/// (its recipient gives the points up), whole or in part, as a transfer of
/// kind `reversal` linked to it (admins only). Declined, and nothing moves,
/// when the recipient no longer holds the points. Above the approval
/// threshold it is recorded `awaiting_approval` until a second admin decides.
#[utoipa::path(post, path = "/v1/admin/transfers/{id}/reversals", operation_id = "reverseTransfer", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "Unique per reversal; repeat it to retry safely"), PreferParam),
    request_body = ReversalBody,
    responses((status = 201, body = TransferView, description = "the reversal, completed; `reverses` names the transfer"),
        (status = 202, body = TransferView, description = "the reversal, processing or awaiting_approval (above POINTSHARE_APPROVAL_THRESHOLD)"),
        (status = 400, body = crate::problem::Problem, description = "idempotency_key_required, invalid_idempotency_key"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "transfer_not_found"),
        (status = 409, body = crate::problem::Problem, description = "not_reversible (only completed shares and grants are), own_account (you sent the share), idempotency_key_reused"),
        (status = 422, body = crate::problem::Problem, description = "reversal_exceeds_transfer (more than is left of it; `detail` says how much), insufficient_funds (the recipient no longer holds the points; the declined reversal's id is in `transfer_id`), approval_rejected, approval_expired (a replay of one a second admin turned down or nobody approved), validation_failed"),
        (status = 503, body = crate::problem::Problem, description = "audit_unavailable: send it again")))]
#[post("/v1/admin/transfers/{id}/reversals")]
pub async fn reverse_transfer(
    state: State,
    admin: Admin,
    request: HttpRequest,
    id: web::Path<String>,
    body: Body<ReversalBody>,
) -> Result<HttpResponse, ApiError> {
    let transfer: TransferId = id.parse().map_err(|_| transfer_not_found())?;
    let idempotency_key = idempotency_key(&request)?;
    let ReversalBody { amount, reason } = body.into_inner();
    let mut faults = Faults::default();
    let amount = faults.check("/amount", amount.map(Points::new).transpose());
    let reason = faults.check("/reason", Reason::parse(reason));
    let (Some(amount), Some(reason)) = (amount, reason) else { return Err(faults.into_error()) };
    let origin = origin(&state, &request);
    let command = ReverseCommand { admin: admin.0.member, transfer, amount, reason, idempotency_key, origin };
    let Patience { deadline, applied } = patience(&state, &request);
    let answer = Answering { caller: None, to: None, location: LOCATION, applied };
    submit(&state, TransferKind::Reversal, state.services.corrections.reverse(command, deadline), answer).await
}

/// Which way an adjustment moves points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DirectionBody {
    /// Points given to the member: a grant.
    Credit,
    /// Points taken from the member, given to nobody.
    Debit,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBody {
    /// The member's handle.
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_]{3,32}$", example = "bob")]
    pub to_handle: String,
    /// Whole points; at most `POINTSHARE_MAX_POINTS_PER_GRANT`.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_u64, example = 500)]
    pub amount: u64,
    pub direction: DirectionBody,
    /// Why, for the audit log and the member's history (its first 140 characters).
    #[schema(min_length = 1, max_length = 500, example = "fraud clean-up after a stolen account")]
    pub reason: String,
}

impl FieldRules for AdjustmentBody {
    const RULES: &'static [(&'static str, Rule)] = &[REASON];
}

/// Credits a member (a grant) or debits them (points taken, given to
/// nobody: fraud clean-up), against the admin's daily grant budget either
/// way (admins only). A debit never takes more than the member holds, a
/// suspended member's points included; above the approval threshold it is
/// recorded `awaiting_approval` until a second admin decides.
#[utoipa::path(post, path = "/v1/admin/adjustments", operation_id = "createAdjustment", tag = "admin", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per adjustment; repeat it to retry safely"), PreferParam),
    request_body = AdjustmentBody,
    responses((status = 201, body = TransferView, description = "completed: a credit is of kind `grant`, a debit of kind `adjustment`"),
        (status = 202, body = TransferView, description = "processing, or awaiting_approval (a debit above POINTSHARE_APPROVAL_THRESHOLD)"),
        (status = 400, body = crate::problem::Problem, description = "idempotency_key_required, invalid_idempotency_key"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 409, body = crate::problem::Problem, description = "own_account (your own points), idempotency_key_reused"),
        (status = 422, body = crate::problem::Problem, description = "recipient_not_found, recipient_inactive (a credit to a suspended member), grant_limit_exceeded, grant_budget_exceeded, insufficient_funds (the member holds less; nothing moved), approval_rejected, approval_expired, validation_failed"),
        (status = 503, body = crate::problem::Problem, description = "audit_unavailable: send it again")))]
#[post("/v1/admin/adjustments")]
pub async fn create_adjustment(
    state: State,
    admin: Admin,
    request: HttpRequest,
    body: Body<AdjustmentBody>,
) -> Result<HttpResponse, ApiError> {
    let idempotency_key = idempotency_key(&request)?;
    let AdjustmentBody { to_handle, amount, direction, reason } = body.into_inner();
    // No member can have a handle that is not one.
    let member = Handle::parse(to_handle).map_err(|_| recipient_not_found())?;
    let mut faults = Faults::default();
    let amount = faults.check("/amount", Points::new(amount));
    let reason = faults.check("/reason", Reason::parse(reason));
    let (Some(amount), Some(reason)) = (amount, reason) else { return Err(faults.into_error()) };
    let (direction, kind) = match direction {
        DirectionBody::Credit => (AdjustDirection::Credit, TransferKind::Grant),
        DirectionBody::Debit => (AdjustDirection::Debit, TransferKind::Withdrawal),
    };
    let command = AdjustCommand {
        admin: admin.0.member,
        member,
        amount,
        direction,
        reason,
        idempotency_key,
        origin: origin(&state, &request),
    };
    let Patience { deadline, applied } = patience(&state, &request);
    let answer = Answering { caller: None, to: None, location: LOCATION, applied };
    submit(&state, kind, state.services.corrections.adjust(command, deadline), answer).await
}

/// A correction waiting for a second admin.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    pub transfer: TransferView,
    /// The handle of the admin who asked for it, who cannot approve it.
    #[schema(example = "ada")]
    pub requested_by: String,
    /// Not approved by then, it is rejected (`approval_expired`).
    #[serde(serialize_with = "millis")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalPage {
    pub items: Vec<ApprovalView>,
    /// Whether another page follows (then `next_cursor` is set).
    pub has_more: bool,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// What the second admin says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalDecisionBody {
    /// It runs now, as a share would.
    Approve,
    /// It ends `rejected` (`approval_rejected`); nothing moves.
    Reject,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    pub decision: ApprovalDecisionBody,
    /// Why, for the audit log.
    #[schema(min_length = 1, max_length = 500, example = "confirmed with the member by phone")]
    pub reason: String,
}

impl FieldRules for ApprovalBody {
    const RULES: &'static [(&'static str, Rule)] = &[REASON];
}

/// The corrections waiting for a second admin, newest first (admins only).
#[utoipa::path(get, path = "/v1/admin/approvals", operation_id = "listApprovals", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = ApprovalPage, description = "a page of corrections awaiting approval, newest first"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query or invalid_cursor"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only")))]
#[get("/v1/admin/approvals")]
pub async fn list_approvals(
    state: State,
    admin: Admin,
    query: web::Query<PageQuery>,
) -> Result<web::Json<ApprovalPage>, ApiError> {
    let (after, limit) = page_of(query.limit, query.cursor.as_deref())?;
    let page = state.services.corrections.awaiting_approval(after, limit).await.map_err(ApiError::unexpected)?;
    let known = [(admin.0.member, &admin.0.record.handle)];
    let approvals: Vec<_> = page.items.iter().filter_map(|t| t.approval).collect();
    let requesters: Vec<_> = approvals.iter().map(|a| a.requested_by).collect();
    let handles = state.services.transfers.handles(&requesters, &known).await.map_err(ApiError::unexpected)?;
    let views = transfer_views(&state, page.items, &known).await?;
    let items = views
        .into_iter()
        .zip(approvals)
        .map(|(transfer, approval)| ApprovalView {
            transfer,
            requested_by: handles.get(&approval.requested_by).map_or_else(|| "unknown".into(), ToString::to_string),
            expires_at: approval.expires_at,
        })
        .collect();
    Ok(web::Json(ApprovalPage {
        items,
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

/// Approves a correction (it runs now, under this request's deadline) or
/// rejects it (nothing moves), as a second admin: not the one who asked for
/// it, nor a member it moves points of (admins only). Asking again for what
/// you already decided answers the transfer as it stands.
#[utoipa::path(post, path = "/v1/admin/approvals/{id}", operation_id = "decideApproval", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "the correction's transfer id")), request_body = ApprovalBody,
    responses((status = 200, body = TransferView, description = "the correction as it stands: `completed`, `processing`, or `rejected` (`decline_reason`: `approval_rejected`, or `insufficient_funds` when approved but the points were gone)"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "transfer_not_found"),
        (status = 409, body = crate::problem::Problem, description = "own_request (you asked for it), own_account (it moves your points), not_awaiting_approval (decided already, or never needed it), approval_expired (it is rejected now), transfer_busy (another admin is deciding it)"),
        (status = 422, body = crate::problem::Problem, description = "validation_failed"),
        (status = 503, body = crate::problem::Problem, description = "audit_unavailable: send it again")))]
#[post("/v1/admin/approvals/{id}")]
pub async fn decide_approval(
    state: State,
    admin: Admin,
    request: HttpRequest,
    id: web::Path<String>,
    body: Body<ApprovalBody>,
) -> Result<web::Json<TransferView>, ApiError> {
    let transfer: TransferId = id.parse().map_err(|_| transfer_not_found())?;
    let ApprovalBody { decision, reason } = body.into_inner();
    let by = admin_authority(&state, &request, &admin, reason)?;
    let decision = match decision {
        ApprovalDecisionBody::Approve => Decision::Approve,
        ApprovalDecisionBody::Reject => Decision::Reject,
    };
    let command = DecideCommand {
        admin: admin.0.member,
        transfer,
        decision,
        reason: by.reason.expect("an admin's authority carries its reason"),
        origin: by.origin,
    };
    let decided = state.services.corrections.decide(command, deadline(&state)).await?;
    let known = [(admin.0.member, &admin.0.record.handle)];
    Ok(web::Json(transfer_views(&state, vec![decided.transfer], &known).await?.remove(0)))
}
