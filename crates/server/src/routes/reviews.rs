//! The support desk's review queue (admins only): the transfers automation
//! parked in `needs_review`, each with what the provider holds under its
//! references, and the decision that ends one (refund or complete), through
//! the same domain service as `pointshare transfers resolve`.

use std::sync::Arc;

use actix_web::{HttpRequest, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use pointshare_domain::{MovementKind, Resolution, TransferId};

use super::body::{Body, FieldRules, REASON, Rule};
use super::caller::Admin;
use super::guard::{admin_authority, deadline};
use super::parties::transfer_views;
use super::transfers::page_of;
use super::views::{PageQuery, TransferView, millis};
use crate::problem::{ApiError, transfer_not_found};
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

/// A movement the provider applied.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovementView {
    pub kind: MovementKindView,
    /// The provider's account it moved points in.
    #[schema(example = "acc_7Qm2")]
    pub account_id: String,
    #[schema(example = 30)]
    pub amount: u64,
    #[serde(serialize_with = "millis")]
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKindView {
    Debit,
    Credit,
}

/// What the provider holds under one of a transfer's references.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferenceView {
    /// `<transfer id>:debit` (a share's), or `<transfer id>:credit` (the
    /// recipient's credit, or the sender's refund: they share it).
    #[schema(example = "0193a5b2-7c1e-7d2f-9a4b-3c5d6e7f8091:credit")]
    pub reference: String,
    /// The movement applied under it; absent when none was.
    #[schema(required = true)]
    pub movement: Option<MovementView>,
}

/// A transfer waiting for a person, and where its points are.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewItemView {
    pub transfer: TransferView,
    /// Empty when the provider could not say (then `provider_problem` says why).
    pub references: Vec<ReferenceView>,
    #[schema(required = true)]
    pub provider_problem: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewPageView {
    pub items: Vec<ReviewItemView>,
    /// Whether another page follows (then `next_cursor` is set).
    pub has_more: bool,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// How to end a transfer in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionView {
    /// The points go (back) to the sender: `reversed`, or `rejected` if never debited.
    Refund,
    /// The points go to the recipient: `completed`.
    Complete,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionBody {
    pub decision: DecisionView,
    /// Why, for the audit log.
    #[schema(min_length = 1, max_length = 500, example = "the recipient's account was closed; refunded")]
    pub reason: String,
}

impl FieldRules for ResolutionBody {
    const RULES: &'static [(&'static str, Rule)] = &[REASON];
}

/// The transfers in `needs_review`, newest first, each with what the provider holds under its references (admins only).
#[utoipa::path(get, path = "/v1/admin/reviews", operation_id = "listReviews", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = ReviewPageView, description = "a page of transfers waiting for a person, newest first"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query or invalid_cursor"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only")))]
#[get("/v1/admin/reviews")]
pub async fn list_reviews(
    state: State,
    admin: Admin,
    query: web::Query<PageQuery>,
) -> Result<web::Json<ReviewPageView>, ApiError> {
    let (after, limit) = page_of(query.limit, query.cursor.as_deref())?;
    let page = state.services.review.queue(after, limit).await.map_err(ApiError::unexpected)?;
    let known = [(admin.0.member, &admin.0.record.handle)];
    let views = transfer_views(&state, page.items.clone(), &known).await?;
    // The lookups of every item at once, under the one request's deadline.
    let deadline = deadline(&state);
    let holdings =
        futures::future::join_all(page.items.iter().map(|t| state.services.review.holdings(t, deadline))).await;
    let items = views
        .into_iter()
        .zip(holdings)
        .map(|(view, holdings)| {
            let (references, provider_problem) = match holdings {
                Ok(holdings) => (holdings.into_iter().map(ReferenceView::from).collect(), None),
                Err(error) => (Vec::new(), Some(error.to_string())),
            };
            ReviewItemView { transfer: view, references, provider_problem }
        })
        .collect();
    Ok(web::Json(ReviewPageView {
        items,
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

/// Ends a transfer in review as decided, after checking what the provider holds: it never moves points twice, and asking again changes nothing (admins only).
#[utoipa::path(post, path = "/v1/admin/transfers/{id}/resolution", operation_id = "resolveTransfer", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ResolutionBody,
    responses((status = 200, body = TransferView, description = "the transfer as resolved (also when it already was, that way)"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "transfer_not_found"),
        (status = 409, body = crate::problem::Problem, description = "not_in_review, transfer_busy (someone else holds it now) or resolution_refused (what the provider holds rules the decision out; `detail` says why)"),
        (status = 422, body = crate::problem::Problem, description = "validation_failed"),
        (status = 503, body = crate::problem::Problem, description = "provider_unavailable or audit_unavailable: send it again")))]
#[post("/v1/admin/transfers/{id}/resolution")]
pub async fn resolve_transfer(
    state: State,
    admin: Admin,
    request: HttpRequest,
    id: web::Path<String>,
    body: Body<ResolutionBody>,
) -> Result<web::Json<TransferView>, ApiError> {
    let id: TransferId = id.parse().map_err(|_| transfer_not_found())?;
    let ResolutionBody { decision, reason } = body.into_inner();
    let by = admin_authority(&state, &request, &admin, reason)?;
    let resolution = match decision {
        DecisionView::Refund => Resolution::Refund,
        DecisionView::Complete => Resolution::Complete,
    };
    let resolved = state.services.review.resolve(id, resolution, &by, deadline(&state)).await?;
    let known = [(admin.0.member, &admin.0.record.handle)];
    Ok(web::Json(transfer_views(&state, vec![resolved], &known).await?.remove(0)))
}

impl From<pointshare_domain::services::ReferenceHolding> for ReferenceView {
    fn from(holding: pointshare_domain::services::ReferenceHolding) -> Self {
        ReferenceView {
            reference: holding.reference.to_string(),
            movement: holding.transaction.map(|transaction| MovementView {
                kind: match transaction.kind {
                    MovementKind::Debit => MovementKindView::Debit,
                    MovementKind::Credit => MovementKindView::Credit,
                },
                account_id: transaction.account_id.to_string(),
                amount: transaction.amount.get(),
                at: transaction.created_at,
            }),
        }
    }
}
