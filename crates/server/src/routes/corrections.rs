//! The support desk's corrections (admins only): undoing a completed share
//! or grant, whole or in part, as a reversal of its own, recorded before any
//! provider call and driven by the same saga as a share; the reversals of
//! one transfer never add up to more than it.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use pointshare_domain::services::ReverseCommand;
use pointshare_domain::{Points, TransferId, TransferKind};

use super::body::Body;
use super::caller::Admin;
use super::guard::{admin_authority, deadline};
use super::transfers::{Answering, idempotency_key, submit};
use super::views::TransferView;
use crate::problem::{ApiError, FieldError, FieldErrorCode, transfer_not_found};
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

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

/// Undoes a completed share (its recipient pays its sender back) or grant
/// (its recipient gives the points up), whole or in part, as a transfer of
/// kind `reversal` linked to it (admins only). Declined, and nothing moves,
/// when the recipient no longer holds the points.
#[utoipa::path(post, path = "/v1/admin/transfers/{id}/reversals", operation_id = "reverseTransfer", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "Unique per reversal; repeat it to retry safely")),
    request_body = ReversalBody,
    responses((status = 201, body = TransferView, description = "the reversal, completed; `reverses` names the transfer"),
        (status = 202, body = TransferView, description = "the reversal, processing"),
        (status = 400, body = crate::problem::Problem, description = "idempotency_key_required, invalid_idempotency_key"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "transfer_not_found"),
        (status = 409, body = crate::problem::Problem, description = "not_reversible (only completed shares and grants are), idempotency_key_reused"),
        (status = 422, body = crate::problem::Problem, description = "reversal_exceeds_transfer (more than is left of it; `detail` says how much), insufficient_funds (the recipient no longer holds the points; the declined reversal's id is in `transfer_id`), validation_failed"),
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
    let amount = amount.map(Points::new).transpose().map_err(|error| {
        ApiError::invalid_fields(vec![FieldError::new("/amount".into(), FieldErrorCode::OutOfRange, error.reason)])
    })?;
    let by = admin_authority(&state, &request, &admin, reason)?;
    let reason = by.reason.clone().expect("an admin's authority carries its reason");
    let command =
        ReverseCommand { admin: admin.0.member, transfer, amount, reason, idempotency_key, origin: by.origin };
    let answer = Answering { caller: None, to: None, location: "/v1/admin/transfers" };
    submit(&state, TransferKind::Reversal, state.transfers.reverse(command, deadline(&state)), answer).await
}
