//! A member's own account: verifying the email through a one-use link mailed
//! to it, changing the password (every other session of theirs ends at once,
//! and a mail tells them), and resetting a forgotten one through a one-use
//! link mailed to them. Asking for a reset answers the same
//! whoever asks, and as fast: the lookup and the mail happen after the answer.

use std::sync::Arc;

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use pointshare_domain::Password;
use pointshare_domain::services::{AccountKey, PasswordChange};

use super::body::Body;
use super::caller::Caller;
use super::guard::client_address;
use crate::auth::{mailed_token, presented_token};
use crate::problem::{ApiError, Faults, invalid_token};
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetBody {
    #[schema(max_length = 254, example = "ada@example.com")]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirmBody {
    /// The `token` of the link in the reset mail.
    #[schema(max_length = 64, example = "q7Vb1fLxP0mZr2sT9uWy4aKcE6gHjN3dR5tY8uI0oP2")]
    pub token: String,
    /// 8 to 128 characters, not one character repeated.
    #[schema(min_length = 8, max_length = 128, example = "a brand new passphrase")]
    pub new_password: String,
}

/// Mails a link to reset the password to this address, if a member has it. The answer is the same whoever asks, and as fast; the link works once, for 30 minutes.
#[utoipa::path(post, path = "/v1/auth/password-reset", operation_id = "requestPasswordReset", tag = "auth", security(()),
    request_body = PasswordResetBody,
    responses((status = 202, description = "if a member has this address, a reset link is on its way"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many resets asked from this address, or for this email; wait `Retry-After`")))]
#[post("/v1/auth/password-reset")]
pub async fn request_password_reset(
    state: State,
    request: actix_web::HttpRequest,
    body: Body<PasswordResetBody>,
) -> Result<HttpResponse, ApiError> {
    let PasswordResetBody { email } = body.into_inner();
    state.throttle.mail_request(&client_address(&state, &request), &AccountKey::of(&email)).await?;
    let accounts = state.accounts.clone();
    // After the answer: how long the lookup takes must not tell who is a member.
    tokio::spawn(async move {
        if let Err(error) = accounts.request_reset(&email, mailed_token()).await {
            tracing::error!(%error, "could not record a password reset");
        }
    });
    Ok(HttpResponse::Accepted().finish())
}

/// Sets a new password with the token of a reset link: once, and every session of the member ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", operation_id = "confirmPasswordReset", tag = "auth", security(()),
    request_body = PasswordResetConfirmBody,
    responses((status = 204, description = "the password is set; every session of the member is ended: log in"),
        (status = 400, body = crate::problem::Problem, description = "invalid_token: unknown, used, or expired"),
        (status = 503, body = crate::problem::Problem, description = "busy: too many passwords are being hashed")))]
#[post("/v1/auth/password-reset/confirm")]
pub async fn confirm_password_reset(
    state: State,
    body: Body<PasswordResetConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let PasswordResetConfirmBody { token, new_password } = body.into_inner();
    let mut faults = Faults::default();
    let Some(new) = faults.check("/new_password", Password::parse(new_password)) else {
        return Err(faults.into_error());
    };
    let token = presented_token(&token).ok_or_else(invalid_token)?;
    for ended in state.accounts.reset_password(&token, new).await? {
        state.access.session_ended(ended);
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailBody {
    /// The `token` of the link in the verification mail.
    #[schema(max_length = 64, example = "q7Vb1fLxP0mZr2sT9uWy4aKcE6gHjN3dR5tY8uI0oP2")]
    pub token: String,
}

/// Verifies the email a verification link was mailed to, with the token of the link: once, and only while the member still has that address.
#[utoipa::path(post, path = "/v1/auth/verify-email", operation_id = "verifyEmail", tag = "auth", security(()),
    request_body = VerifyEmailBody,
    responses((status = 204, description = "the email is verified: the member may share points"),
        (status = 400, body = crate::problem::Problem, description = "invalid_token: unknown, used, or expired")))]
#[post("/v1/auth/verify-email")]
pub async fn verify_email(state: State, body: Body<VerifyEmailBody>) -> Result<HttpResponse, ApiError> {
    let token = presented_token(&body.into_inner().token).ok_or_else(invalid_token)?;
    let member = state.accounts.verify_email(&token).await?;
    state.access.member_changed(member.id);
    Ok(HttpResponse::NoContent().finish())
}

/// Mails me a new link to verify my email (unless it is verified already); the older links keep working until one is used.
#[utoipa::path(post, path = "/v1/me/verification-email", operation_id = "resendVerificationEmail", tag = "members", security(("bearer" = [])),
    responses((status = 202, description = "a link is on its way, unless my email is verified already (`email_verified` in `GET /v1/me`)"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many mails asked for; wait `Retry-After`")))]
#[post("/v1/me/verification-email")]
pub async fn resend_verification_email(
    state: State,
    caller: Caller,
    request: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let account = AccountKey::of(caller.record.email.as_str());
    state.throttle.mail_request(&client_address(&state, &request), &account).await?;
    state.accounts.send_verification(&caller.record, mailed_token()).await.map_err(ApiError::unexpected)?;
    Ok(HttpResponse::Accepted().finish())
}
