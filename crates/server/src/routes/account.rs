//! A member's own account: changing the password (every other session of
//! theirs ends at once, and a mail tells them).

use std::sync::Arc;

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use pointshare_domain::Password;
use pointshare_domain::services::PasswordChange;

use super::body::Body;
use super::caller::Caller;
use crate::problem::{ApiError, Faults};
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeBody {
    #[schema(max_length = 128, example = "correct horse battery")]
    pub current_password: String,
    /// 8 to 128 characters, not one character repeated.
    #[schema(min_length = 8, max_length = 128, example = "a brand new passphrase")]
    pub new_password: String,
}

/// Changes my password, given the current one: every other session of mine ends at once (their access tokens, refresh tokens and event streams), this one stays, and a mail tells me it happened.
#[utoipa::path(post, path = "/v1/me/password", operation_id = "changeMyPassword", tag = "members", security(("bearer" = [])),
    request_body = PasswordChangeBody,
    responses((status = 204, description = "changed; my other sessions are ended"),
        (status = 403, body = crate::problem::Problem, description = "wrong_password: the current password is not it (counted like a failed login)"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many wrong passwords for this account; wait `Retry-After`"),
        (status = 503, body = crate::problem::Problem, description = "busy: too many passwords are being checked")))]
#[post("/v1/me/password")]
pub async fn change_my_password(
    state: State,
    caller: Caller,
    body: Body<PasswordChangeBody>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChangeBody { current_password, new_password } = body.into_inner();
    let mut faults = Faults::default();
    let Some(new) = faults.check("/new_password", Password::parse(new_password)) else {
        return Err(faults.into_error());
    };
    let change =
        PasswordChange { member: caller.member, session: caller.bearer.session, current: current_password, new };
    for ended in state.accounts.change_password(change).await? {
        state.access.session_ended(ended);
    }
    Ok(HttpResponse::NoContent().finish())
}
