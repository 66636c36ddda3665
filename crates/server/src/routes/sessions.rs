//! Sessions: logging in (an access token and a refresh token), exchanging a
//! refresh token for the next pair, and logging out, which ends the
//! session's access tokens too; a member's list of their open sessions
//! (devices), any of which they end. How often one may try to log in is the
//! domain's `Throttle`, which `SessionService::login` consults.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};

use pointshare_domain::services::{LoggedIn, LoginCommand, LoginError, RefreshError, Refreshed, Successor};
use pointshare_domain::{Member, Session, SessionId};

use super::body::Body;
use super::caller::Caller;
use super::guard::device;
use super::views::{LoginBody, RefreshBody, SessionView, SessionsView, TokenView};
use crate::auth::RefreshToken;
use crate::problem::{ApiError, invalid_refresh_token};
use crate::rate_limits;
use crate::telemetry::{self, AuthEvent};
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

/// Exchanges email and password for an access token and a refresh token.
#[utoipa::path(post, path = "/v1/auth/login", operation_id = "login", tag = "sessions", request_body = LoginBody,
    responses((status = 200, body = TokenView, description = "a new session's tokens"),
        (status = 401, body = crate::problem::Problem, description = "invalid_credentials, whether or not the email exists"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many attempts from this address, or for this account from this address, or this account's password is being tried too often to wait for a turn; retry after `Retry-After`"),
        (status = 503, body = crate::problem::Problem, description = "busy: too many passwords being checked; retry after `Retry-After`")))]
#[post("/v1/auth/login")]
pub async fn login(
    state: State,
    request: HttpRequest,
    body: Body<LoginBody>,
) -> Result<web::Json<TokenView>, ApiError> {
    let body = body.into_inner();
    let (secret, token) = RefreshToken::secret();
    let device = device(&state, &request);
    let login =
        state.services.sessions.login(LoginCommand { email: body.email, password: body.password, token, device }).await;
    match &login {
        Ok(_) => telemetry::auth_event(AuthEvent::LoginSucceeded),
        Err(LoginError::InvalidCredentials) => telemetry::auth_event(AuthEvent::LoginFailed),
        Err(_) => {}
    }
    let LoggedIn { session, member, quotas } = login?;
    rate_limits::record(&request, Ok(quotas))?;
    Ok(web::Json(tokens(&state, &member, &session, &secret)?))
}

/// The tokens of a session just started, as the client is given them.
pub(super) fn tokens(
    state: &AppState,
    member: &Member,
    session: &Session,
    secret: &str,
) -> Result<TokenView, ApiError> {
    let refresh_expires_in = (session.expires_at - chrono::Utc::now()).num_seconds().max(0);
    Ok(TokenView {
        access_token: state.tokens.issue(member.id, session.id).map_err(ApiError::unexpected)?,
        token_type: "Bearer".into(),
        expires_in: state.tokens.ttl().as_secs(),
        refresh_token: RefreshToken::text(session.id, secret),
        refresh_expires_in: u64::try_from(refresh_expires_in).unwrap_or_default(),
    })
}

/// Exchanges a refresh token for a new access token and a new refresh token;
/// the one sent is retired. Sending a retired one again ends the session,
/// except within 10 seconds (`REFRESH_HANDOVER`) of its exchange: then the
/// answer carries the same refresh token as that exchange did, so two tabs
/// that refresh at once both keep the session.
#[utoipa::path(post, path = "/v1/auth/refresh", operation_id = "refreshSession", tag = "sessions", request_body = RefreshBody,
    responses((status = 200, body = TokenView, description = "the session's next tokens"),
        (status = 401, body = crate::problem::Problem, description = "invalid_refresh_token: unknown, expired, ended, or used before (which ends the session)")))]
#[post("/v1/auth/refresh")]
pub async fn refresh_session(state: State, body: Body<RefreshBody>) -> Result<web::Json<TokenView>, ApiError> {
    let presented = RefreshToken::parse(&body.0.refresh_token).ok_or_else(invalid_refresh_token)?;
    let (offered, next) = presented.next();
    let refreshed = state.services.sessions.refresh(presented.session, &presented.hash(), next).await;
    if let Err(RefreshError::Reused | RefreshError::MemberNotActive) = refreshed {
        state.access.session_ended(presented.session);
    }
    if let Err(RefreshError::Reused) = refreshed {
        telemetry::auth_event(AuthEvent::RefreshReused);
    }
    let Refreshed { session, member, successor } = refreshed?;
    let secret = match successor {
        Successor::Offered => offered,
        Successor::HandedOver(sealed) => {
            telemetry::auth_event(AuthEvent::RefreshHandedOver);
            presented
                .open(&sealed)
                .ok_or_else(|| ApiError::unexpected(anyhow::anyhow!("a handed-over refresh token does not open")))?
        }
    };
    Ok(web::Json(tokens(&state, &member, &session, &secret)?))
}

/// Ends the session of a refresh token: every token of that login, refresh
/// and access alike, on every replica within seconds, and its event streams.
#[utoipa::path(post, path = "/v1/auth/logout", operation_id = "logout", tag = "sessions", request_body = RefreshBody,
    responses((status = 204, description = "the session is ended (also when it already was)"),
        (status = 401, body = crate::problem::Problem, description = "invalid_refresh_token: no such session, or a token it never had")))]
#[post("/v1/auth/logout")]
pub async fn logout(state: State, body: Body<RefreshBody>) -> Result<HttpResponse, ApiError> {
    let presented = RefreshToken::parse(&body.0.refresh_token).ok_or_else(invalid_refresh_token)?;
    state.services.sessions.end(presented.session, &presented.hash()).await?;
    state.access.session_ended(presented.session);
    Ok(HttpResponse::NoContent().finish())
}

/// My open sessions (one per login, on each device), the one used last
/// first; `current` marks the one this request's access token belongs to.
#[utoipa::path(get, path = "/v1/me/sessions", operation_id = "listMySessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = SessionsView, description = "my sessions not ended and not expired")))]
#[get("/v1/me/sessions")]
pub async fn list_my_sessions(state: State, caller: Caller) -> Result<web::Json<SessionsView>, ApiError> {
    let sessions = state.services.sessions.list(caller.member).await.map_err(ApiError::unexpected)?;
    let current = caller.bearer.session;
    Ok(web::Json(SessionsView { items: sessions.iter().map(|session| SessionView::of(session, current)).collect() }))
}

/// Ends one of my sessions (signs a device out): its access tokens, refresh
/// token and event streams stop working on every replica within seconds.
/// Ending an ended one, or this very one, is fine.
#[utoipa::path(delete, path = "/v1/me/sessions/{id}", operation_id = "endMySession", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "the session's id, as listed")),
    responses((status = 204, description = "the session is ended"),
        (status = 404, body = crate::problem::Problem, description = "not_found: no session of mine has this id")))]
#[delete("/v1/me/sessions/{id}")]
pub async fn end_my_session(state: State, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id: SessionId = id.parse().map_err(|_| ApiError::not_found("session"))?;
    state.services.sessions.end_own(caller.member, id).await?;
    state.access.session_ended(id);
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of mine but this one (signs out everywhere else).
#[utoipa::path(delete, path = "/v1/me/sessions", operation_id = "endMyOtherSessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 204, description = "every other session of mine is ended")))]
#[delete("/v1/me/sessions")]
pub async fn end_my_other_sessions(state: State, caller: Caller) -> Result<HttpResponse, ApiError> {
    let ended = state.services.sessions.end_others(caller.member, caller.bearer.session).await;
    for id in ended.map_err(ApiError::unexpected)? {
        state.access.session_ended(id);
    }
    Ok(HttpResponse::NoContent().finish())
}
