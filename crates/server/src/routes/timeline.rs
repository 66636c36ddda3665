//! A transfer's timeline for the support desk (admins only): the transfer,
//! every state it was recorded in with when and who drove it there (its
//! request, the follow-up after the request answered, recovery on which
//! replica, an admin or operator), what the provider holds under its
//! references, its reversals, and the approval it waited for.

use std::sync::Arc;

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use pointshare_domain::{Actor, Driver, MemberId, StateChange, Transfer, TransferId, TransferState};

use super::caller::Admin;
use super::guard::deadline;
use super::parties::transfer_views;
use super::reviews::ReferenceView;
use super::views::{TransferView, millis};
use crate::problem::{ApiError, transfer_not_found};
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

/// A state of the saga, finer than a member's view of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SagaStateView {
    Accepted,
    Debited,
    Completed,
    Rejected,
    Refunding,
    Reversed,
    NeedsReview,
    AwaitingApproval,
}

impl From<TransferState> for SagaStateView {
    fn from(state: TransferState) -> Self {
        match state {
            TransferState::Accepted => SagaStateView::Accepted,
            TransferState::Debited => SagaStateView::Debited,
            TransferState::Completed => SagaStateView::Completed,
            TransferState::Rejected => SagaStateView::Rejected,
            TransferState::Refunding => SagaStateView::Refunding,
            TransferState::Reversed => SagaStateView::Reversed,
            TransferState::NeedsReview => SagaStateView::NeedsReview,
            TransferState::AwaitingApproval => SagaStateView::AwaitingApproval,
        }
    }
}

/// Who drove a transfer into a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriverKindView {
    /// The request that created it, before it answered.
    Request,
    /// The same replica driving on after the request answered 202.
    FollowUp,
    /// A recovery pass (which also expires unapproved corrections).
    Recovery,
    /// An admin, over the API: an approval or a resolution.
    Admin,
    /// An operator, with the `pointshare` command.
    Operator,
    /// Recorded before drivers were named.
    Unknown,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DriverView {
    pub kind: DriverKindView,
    /// The replica, for a request, follow-up or recovery.
    #[schema(example = "pointshare-1a2b3c4d", required = true)]
    pub replica: Option<String>,
    /// The admin's handle, or the operator's name.
    #[schema(example = "ada", required = true)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    #[serde(serialize_with = "millis")]
    pub at: DateTime<Utc>,
    pub state: SagaStateView,
    pub driver: DriverView,
    /// The lease owner as stored, for operators reading the store.
    pub lease_owner: String,
}

/// The second admin a correction waited for.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalStatusView {
    /// The handle of the admin who asked for it.
    pub requested_by: String,
    #[serde(serialize_with = "millis")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineView {
    pub transfer: TransferView,
    /// Every state it was recorded in, oldest first.
    pub changes: Vec<ChangeView>,
    /// What the provider holds under each of its references; empty when the
    /// provider could not say (then `provider_problem` says why).
    pub references: Vec<ReferenceView>,
    #[schema(required = true)]
    pub provider_problem: Option<String>,
    /// Its reversals, oldest first.
    pub reversals: Vec<TransferView>,
    /// Set on a correction that needed a second admin.
    #[schema(required = true)]
    pub approval: Option<ApprovalStatusView>,
}

/// A transfer with every recorded state change and its driver, the provider's references, its reversals and its approval (admins only).
#[utoipa::path(get, path = "/v1/admin/transfers/{id}", operation_id = "getTransferTimeline", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = TimelineView, description = "the transfer's timeline"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "transfer_not_found")))]
#[get("/v1/admin/transfers/{id}")]
pub async fn get_transfer_timeline(
    state: State,
    admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<TimelineView>, ApiError> {
    let id: TransferId = id.parse().map_err(|_| transfer_not_found())?;
    let transfer =
        state.services.transfers.get(id).await.map_err(ApiError::unexpected)?.ok_or_else(transfer_not_found)?;
    let (holdings, reversals) = futures::join!(
        state.services.review.holdings(&transfer, deadline(&state)),
        state.services.corrections.reversals_of(transfer.id)
    );
    let reversals = reversals.map_err(ApiError::unexpected)?;
    let (references, provider_problem) = match holdings {
        Ok(holdings) => (holdings.into_iter().map(ReferenceView::from).collect(), None),
        Err(error) => (Vec::new(), Some(error.to_string())),
    };
    let known = [(admin.0.member, &admin.0.record.handle)];
    let people: Vec<MemberId> = transfer
        .changes
        .iter()
        .filter_map(|change| match change.by.driver() {
            Driver::Person(Actor::Member(id)) => Some(id),
            _ => None,
        })
        .chain(transfer.approval.map(|approval| approval.requested_by))
        .collect();
    let handles = state.services.transfers.handles(&people, &known).await.map_err(ApiError::unexpected)?;
    let handle = |id: &MemberId| handles.get(id).map_or_else(|| "unknown".to_owned(), ToString::to_string);
    // The request stops waiting at its deadline; what its owner did later, its follow-up did.
    let answered_by = transfer.created_at + state.settings.http.request_deadline;
    let changes = transfer
        .changes
        .iter()
        .map(|change| ChangeView {
            at: change.at,
            state: change.state.into(),
            driver: driver(change, answered_by, &handle),
            lease_owner: change.by.to_string(),
        })
        .collect();
    let approval = transfer.approval.map(|approval| ApprovalStatusView {
        requested_by: handle(&approval.requested_by),
        expires_at: approval.expires_at,
    });
    let mut views =
        transfer_views(&state, std::iter::once(transfer).chain(reversals).collect::<Vec<Transfer>>(), &known)
            .await?
            .into_iter();
    let transfer = views.next().expect("the transfer's own view");
    Ok(web::Json(TimelineView {
        transfer,
        changes,
        references,
        provider_problem,
        reversals: views.collect(),
        approval,
    }))
}

fn driver(change: &StateChange, answered_by: DateTime<Utc>, handle: &impl Fn(&MemberId) -> String) -> DriverView {
    let on = |kind, replica: String| DriverView { kind, replica: Some(replica), name: None };
    let by = |kind, name: String| DriverView { kind, replica: None, name: Some(name) };
    match change.by.driver() {
        Driver::Request { replica } if change.at > answered_by => on(DriverKindView::FollowUp, replica),
        Driver::Request { replica } => on(DriverKindView::Request, replica),
        Driver::Recovery { replica } => on(DriverKindView::Recovery, replica),
        Driver::Person(Actor::Member(id)) => by(DriverKindView::Admin, handle(&id)),
        Driver::Person(Actor::Operator(name)) => by(DriverKindView::Operator, name.to_string()),
        Driver::Unknown(_) => DriverView { kind: DriverKindView::Unknown, replica: None, name: None },
    }
}
