//! Members: signing up, one's own profile and balance, and looking another
//! member up by handle.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

use pointshare_domain::services::SignupCommand;
use pointshare_domain::{DisplayName, Email, Handle, HandlePrefix, Member, Password};

use super::body::Body;
use super::caller::Caller;
use super::conditional::tagged;
use super::guard::{client_address, deadline, device, limit_within};
use super::sessions::tokens;
use super::views::{
    BalanceView, MemberView, PublicMemberList, PublicMemberView, RecentQuery, RecentRecipientView, RecentRecipients,
    RecipientSearchQuery, SignupBody, SignupView,
};
use crate::auth::{RefreshToken, mailed_token};
use crate::problem::{ApiError, Faults, ProblemCode, gone};
use crate::rate_limits;
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

/// Creates a member, opens their account at the provider, and logs them in:
/// the answer carries the member and a session's tokens. A link to verify
/// the email is mailed to it. Always a member:
/// roles are an admin's to give.
#[utoipa::path(post, path = "/v1/auth/signup", operation_id = "signup", tag = "members", request_body = SignupBody,
    responses((status = 201, body = SignupView, description = "the member, with a points account at the provider, and `session`: the tokens of their first session, as a login gives them"),
        (status = 409, body = crate::problem::Problem, description = "email_taken or handle_taken"),
        (status = 422, body = crate::problem::Problem, description = "validation_failed: `field` names the field at fault"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many signups from this address, or from everywhere"),
        (status = 503, body = crate::problem::Problem, description = "provider_unavailable: the member exists and the account opens shortly; busy: too many passwords being hashed")))]
#[post("/v1/auth/signup")]
pub async fn signup(state: State, request: HttpRequest, body: Body<SignupBody>) -> Result<HttpResponse, ApiError> {
    // Limits first: everything after costs, the password hash most.
    rate_limits::record(&request, state.services.throttle.signup(&client_address(&state, &request)).await)?;
    let body = body.into_inner();
    let mut faults = Faults::default();
    let email = faults.check("/email", Email::parse(body.email));
    let handle = faults.check("/handle", Handle::parse(body.handle));
    let display_name = faults.check("/display_name", DisplayName::parse(body.display_name));
    let password = faults.check("/password", Password::parse(body.password));
    let (Some(email), Some(handle), Some(display_name), Some(password)) = (email, handle, display_name, password)
    else {
        return Err(faults.into_error());
    };
    let command = SignupCommand { email, handle, display_name, password };
    let member = state.services.members.signup(command, deadline(&state)).await?;
    let (secret, token) = RefreshToken::secret();
    let session =
        state.services.sessions.start(&member, token, device(&state, &request)).await.map_err(ApiError::unexpected)?;
    let session = tokens(&state, &member, &session, &secret)?;
    if let Err(error) = state.services.accounts.send_verification(&member, mailed_token()).await {
        // The member exists and is logged in; they can ask for the link again.
        tracing::error!(%error, member = %member.id, "could not queue the verification mail");
    }
    Ok(HttpResponse::Created().json(SignupView { member: MemberView::of(&member), session }))
}

pub async fn current(state: &AppState, caller: Caller) -> Result<Member, ApiError> {
    state.services.members.by_id(caller.member).await.map_err(ApiError::unexpected)?.ok_or_else(gone)
}

pub(super) async fn balance_of(state: &AppState, member: &Member) -> Result<BalanceView, ApiError> {
    Ok(state.services.balances.balance_of(member, deadline(state)).await?.into())
}

/// My profile, from the store alone: a slow provider never keeps a page
/// from showing who is logged in (the balance is `GET /v1/me/balance`).
#[utoipa::path(get, path = "/v1/me", operation_id = "getMe", tag = "members", security(("bearer" = [])),
    params(("If-None-Match" = Option<String>, Header, description = "The `ETag` of the profile the client holds: 304 with no body while it is still current")),
    responses((status = 200, body = MemberView, description = "my profile", headers(("ETag" = String, description = "Send it back in `If-None-Match`"))),
        (status = 304, description = "not modified: the profile is the one `If-None-Match` names")))]
#[get("/v1/me")]
pub async fn get_me(state: State, caller: Caller, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    tagged(&request, &MemberView::of(&current(&state, caller).await?))
}

/// My balance, as the provider last reported it.
#[utoipa::path(get, path = "/v1/me/balance", operation_id = "getMyBalance", tag = "members", security(("bearer" = [])),
    params(("If-None-Match" = Option<String>, Header, description = "The `ETag` of the balance the client holds: 304 with no body while it is still current")),
    responses((status = 200, body = BalanceView, description = "my balance", headers(("ETag" = String, description = "Send it back in `If-None-Match`"))),
        (status = 304, description = "not modified: the balance is the one `If-None-Match` names"),
        (status = 503, body = crate::problem::Problem, description = "provider_unavailable")))]
#[get("/v1/me/balance")]
pub async fn get_my_balance(state: State, caller: Caller, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    // The account never changes once opened: the checked record names it.
    tagged(&request, &balance_of(&state, &caller.record).await?)
}

/// Members whose handle begins with `prefix`, to pick a recipient: only
/// those who can receive, never me; handle and display name only.
#[utoipa::path(get, path = "/v1/members", operation_id = "searchRecipients", tag = "members", security(("bearer" = [])),
    params(RecipientSearchQuery),
    responses((status = 200, body = PublicMemberList, description = "up to `limit` members by handle"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query: `prefix` is not 2 to 32 of letters, digits and underscore, or `limit` is not 1 to 20"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many searches this minute (`POINTSHARE_MEMBER_SEARCH_RATE_LIMIT`)")))]
#[get("/v1/members")]
pub async fn search_recipients(
    state: State,
    caller: Caller,
    request: HttpRequest,
    query: web::Query<RecipientSearchQuery>,
) -> Result<web::Json<PublicMemberList>, ApiError> {
    let query = query.into_inner();
    let limit = picker_limit(query.limit)?;
    let prefix = HandlePrefix::parse(query.prefix).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidQuery, "The query string is not valid")
            .detail(format!("prefix: {}; 2 to 32 of letters, digits and underscore", error.reason))
            .parameter("prefix")
    })?;
    rate_limits::record(&request, state.services.throttle.member_search(caller.member).await)?;
    let found =
        state.services.members.recipients_like(caller.member, &prefix, limit).await.map_err(ApiError::unexpected)?;
    Ok(web::Json(PublicMemberList { items: found.iter().map(PublicMemberView::of).collect() }))
}

/// The members I shared with lately, most recent first, each once: those
/// who can still receive.
#[utoipa::path(get, path = "/v1/me/recipients", operation_id = "listMyRecentRecipients", tag = "members", security(("bearer" = [])),
    params(RecentQuery),
    responses((status = 200, body = RecentRecipients, description = "up to `limit` members, most recent first"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query: `limit` is not 1 to 20")))]
#[get("/v1/me/recipients")]
pub async fn list_my_recent_recipients(
    state: State,
    caller: Caller,
    query: web::Query<RecentQuery>,
) -> Result<web::Json<RecentRecipients>, ApiError> {
    let limit = picker_limit(query.into_inner().limit)?;
    let recent =
        state.services.transfers.recent_recipients(caller.member, limit).await.map_err(ApiError::unexpected)?;
    let items = recent
        .into_iter()
        .map(|(member, at)| RecentRecipientView {
            handle: member.handle.to_string(),
            display_name: member.display_name.to_string(),
            last_shared_at: at,
        })
        .collect();
    Ok(web::Json(RecentRecipients { items }))
}

/// A picker's `limit`: 1 to 20, 10 when absent.
fn picker_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    limit_within(limit, 10, 20)
}

/// Another member's public profile, to pick a recipient.
#[utoipa::path(get, path = "/v1/members/{handle}", operation_id = "getMember", tag = "members", security(("bearer" = [])),
    params(("handle" = String, Path)),
    responses((status = 200, body = PublicMemberView, description = "the member's public profile"),
        (status = 404, body = crate::problem::Problem, description = "member_not_found")))]
#[get("/v1/members/{handle}")]
pub async fn get_member(
    state: State,
    _caller: Caller,
    handle: web::Path<String>,
) -> Result<web::Json<PublicMemberView>, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, ProblemCode::MemberNotFound, "No member has that handle");
    let handle = Handle::parse(handle.into_inner()).map_err(|_| not_found())?;
    let member =
        state.services.members.by_handle(&handle).await.map_err(ApiError::unexpected)?.ok_or_else(not_found)?;
    Ok(web::Json(PublicMemberView::of(&member)))
}
