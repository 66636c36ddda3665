//! Members, for the support desk (admins only): search them, read one with
//! their balance and day, list their transfers, and suspend, reinstate,
//! promote or demote them with a reason, through the same domain service as
//! `pointshare admin`; each change is in the audit log before it is answered.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use pointshare_domain::ports::MemberSearch;
use pointshare_domain::services::MemberRef;
use pointshare_domain::{Handle, Member, MemberId, MemberStatus, Role};

use super::body::{Body, FieldRules, REASON, Rule};
use super::caller::Admin;
use super::guard::admin_authority;
use super::members::balance_of;
use super::transfers::{page_of, transfer_page};
use super::views::{BalanceView, HistoryQuery, MemberView, RoleView, TransferPage};
use crate::problem::{ApiError, ProblemCode, member_not_found};
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

/// A member as the support desk sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMemberView {
    #[serde(flatten)]
    pub member: MemberView,
    pub status: StatusView,
    /// Whether their points account at the provider is open yet.
    pub has_account: bool,
}

/// Whether a member may sign in and move points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusView {
    Active,
    Suspended,
    /// Closed by the member, for good: what is left is the handle.
    Closed,
}

impl From<StatusView> for MemberStatus {
    fn from(status: StatusView) -> Self {
        match status {
            StatusView::Active => MemberStatus::Active,
            StatusView::Suspended => MemberStatus::Suspended,
            StatusView::Closed => MemberStatus::Closed,
        }
    }
}

/// What an admin may set a member's status to: only the member closes
/// their account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewStatusView {
    Active,
    Suspended,
}

impl AdminMemberView {
    fn of(member: &Member) -> Self {
        AdminMemberView {
            member: MemberView::of(member),
            status: match member.status {
                MemberStatus::Active => StatusView::Active,
                MemberStatus::Suspended => StatusView::Suspended,
                MemberStatus::Closed => StatusView::Closed,
            },
            has_account: member.provider_account.is_some(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMemberPage {
    pub items: Vec<AdminMemberView>,
    /// Whether another page follows (then `next_cursor` is set).
    pub has_more: bool,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[schema(example = "ada", required = true)]
    pub next_cursor: Option<String>,
}

/// One member, their balance at the provider and their day.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMemberDetail {
    #[serde(flatten)]
    pub member: AdminMemberView,
    /// Their balance; absent when the provider cannot say now (then
    /// `balance_problem` says why) or they have no account yet.
    #[schema(required = true)]
    pub balance: Option<BalanceView>,
    #[schema(required = true)]
    pub balance_problem: Option<String>,
    /// Points they shared today (UTC), counted against their daily limit.
    #[schema(example = 250)]
    pub shared_today: u64,
}

/// Which members to list: the text matches the start of a handle, an email
/// or a display name, letter case aside. Keep the filters while following
/// `next_cursor`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberSearchQuery {
    #[param(example = "ada")]
    pub query: Option<String>,
    pub status: Option<StatusView>,
    pub role: Option<RoleView>,
    /// 1 to 100; 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    pub status: NewStatusView,
    /// Why, for the audit log.
    #[schema(min_length = 1, max_length = 500, example = "reported stolen by the owner")]
    pub reason: String,
}

impl FieldRules for StatusBody {
    const RULES: &'static [(&'static str, Rule)] = &[REASON];
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: RoleView,
    /// Why, for the audit log.
    #[schema(min_length = 1, max_length = 500, example = "joins the support desk")]
    pub reason: String,
}

impl FieldRules for RoleBody {
    const RULES: &'static [(&'static str, Rule)] = &[REASON];
}

fn member_id(id: &str) -> Result<MemberId, ApiError> {
    id.parse().map_err(|_| member_not_found())
}

/// Members whose handle, email or display name begins with the query, by handle (admins only).
#[utoipa::path(get, path = "/v1/admin/members", operation_id = "searchMembers", tag = "admin", security(("bearer" = [])), params(MemberSearchQuery),
    responses((status = 200, body = AdminMemberPage, description = "a page of members, by handle"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query or invalid_cursor"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only")))]
#[get("/v1/admin/members")]
pub async fn search_members(
    state: State,
    _admin: Admin,
    query: web::Query<MemberSearchQuery>,
) -> Result<web::Json<AdminMemberPage>, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) || query.query.as_ref().is_some_and(|text| text.chars().count() > 254) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidQuery, "The query string is not valid")
            .detail("limit is 1 to 100, query at most 254 characters"));
    }
    let after = query.cursor.as_deref().map(Handle::parse).transpose().map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidCursor, "The cursor is not one this API gave")
    })?;
    let search = MemberSearch::new(
        query.query.as_deref().unwrap_or_default(),
        query.status.map(MemberStatus::from),
        query.role.map(RoleView::into),
    );
    // One more than asked says whether another page follows.
    let mut found =
        state.services.operators.search(&search, after.as_ref(), limit + 1).await.map_err(ApiError::unexpected)?;
    let has_more = found.len() > limit;
    found.truncate(limit);
    Ok(web::Json(AdminMemberPage {
        has_more,
        next_cursor: has_more.then(|| found.last().map(|member| member.handle.to_string())).flatten(),
        items: found.iter().map(AdminMemberView::of).collect(),
    }))
}

/// One member: profile, role, status, balance at the provider, and today's shared total (admins only).
#[utoipa::path(get, path = "/v1/admin/members/{id}", operation_id = "getMemberForAdmin", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AdminMemberDetail, description = "the member"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "member_not_found")))]
#[get("/v1/admin/members/{id}")]
pub async fn get_member_for_admin(
    state: State,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<web::Json<AdminMemberDetail>, ApiError> {
    let id = member_id(&id)?;
    let overview =
        state.services.operators.overview(id).await.map_err(ApiError::unexpected)?.ok_or_else(member_not_found)?;
    // A provider in trouble costs the support desk the balance, not the page.
    let (balance, balance_problem) = match balance_of(&state, &overview.member).await {
        Ok(balance) => (Some(balance), None),
        Err(problem) => (None, Some(problem.to_string())),
    };
    Ok(web::Json(AdminMemberDetail {
        member: AdminMemberView::of(&overview.member),
        balance,
        balance_problem,
        shared_today: overview.shared_today,
    }))
}

/// One member's transfers, sent and received, newest first, with the filters of `GET /v1/transfers` (admins only).
#[utoipa::path(get, path = "/v1/admin/members/{id}/transfers", operation_id = "listMemberTransfers", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), HistoryQuery),
    responses((status = 200, body = TransferPage, description = "a page of the member's transfers, newest first"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query or invalid_cursor"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "member_not_found")))]
#[get("/v1/admin/members/{id}/transfers")]
pub async fn list_member_transfers(
    state: State,
    _admin: Admin,
    id: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<TransferPage>, ApiError> {
    let id = member_id(&id)?;
    let query = query.into_inner();
    query.check()?;
    let member = state.services.members.by_id(id).await.map_err(ApiError::unexpected)?.ok_or_else(member_not_found)?;
    let (after, limit) = page_of(query.limit, query.cursor.as_deref())?;
    let page =
        state.services.transfers.history(id, &query.filter(), after, limit).await.map_err(ApiError::unexpected)?;
    transfer_page(&state, page, member.id, &member.handle).await
}

/// Suspends or reinstates a member, with a reason (admins only; not yourself).
#[utoipa::path(put, path = "/v1/admin/members/{id}/status", operation_id = "setMemberStatus", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = StatusBody,
    responses((status = 200, body = AdminMemberView, description = "the member as now recorded; their tokens stop within seconds when suspended"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "member_not_found"),
        (status = 409, body = crate::problem::Problem, description = "own_account (yourself) or last_admin (the last active admin)"),
        (status = 422, body = crate::problem::Problem, description = "validation_failed"),
        (status = 503, body = crate::problem::Problem, description = "audit_unavailable: send it again")))]
#[put("/v1/admin/members/{id}/status")]
pub async fn set_member_status(
    state: State,
    admin: Admin,
    request: HttpRequest,
    id: web::Path<String>,
    body: Body<StatusBody>,
) -> Result<web::Json<AdminMemberView>, ApiError> {
    let id = member_id(&id)?;
    let StatusBody { status, reason } = body.into_inner();
    let by = admin_authority(&state, &request, &admin, reason)?;
    let status = match status {
        NewStatusView::Active => MemberStatus::Active,
        NewStatusView::Suspended => MemberStatus::Suspended,
    };
    let change = state.services.operators.set_status(MemberRef::Id(id), status, &by).await?;
    state.access.member_changed(id);
    Ok(web::Json(AdminMemberView::of(&change.member)))
}

/// Makes a member an admin or a member again, with a reason (admins only; not yourself).
#[utoipa::path(put, path = "/v1/admin/members/{id}/role", operation_id = "setMemberRole", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RoleBody,
    responses((status = 200, body = AdminMemberView, description = "the member as now recorded; the role applies within seconds"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only"),
        (status = 404, body = crate::problem::Problem, description = "member_not_found"),
        (status = 409, body = crate::problem::Problem, description = "own_account (yourself) or last_admin (the last active admin)"),
        (status = 422, body = crate::problem::Problem, description = "validation_failed"),
        (status = 503, body = crate::problem::Problem, description = "audit_unavailable: send it again")))]
#[put("/v1/admin/members/{id}/role")]
pub async fn set_member_role(
    state: State,
    admin: Admin,
    request: HttpRequest,
    id: web::Path<String>,
    body: Body<RoleBody>,
) -> Result<web::Json<AdminMemberView>, ApiError> {
    let id = member_id(&id)?;
    let RoleBody { role, reason } = body.into_inner();
    let by = admin_authority(&state, &request, &admin, reason)?;
    let change = state.services.operators.set_role(MemberRef::Id(id), role.into(), &by).await?;
    state.access.member_changed(id);
    Ok(web::Json(AdminMemberView::of(&change.member)))
}

impl From<RoleView> for Role {
    fn from(role: RoleView) -> Self {
        match role {
            RoleView::Member => Role::Member,
            RoleView::Admin => Role::Admin,
        }
    }
}
