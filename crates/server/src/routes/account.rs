//! A member's own account: verifying the email through a one-use link mailed
//! to it, changing the profile (the name at once, the email through a link
//! mailed to the new one),
//! changing the password (every other session of theirs ends at once,
//! and a mail tells them), and resetting a forgotten one through a one-use
//! link mailed to them; and a copy of everything kept about them. Asking for a reset answers the same
//! whoever asks, and as fast: the lookup and the mail happen after the answer.

use std::sync::Arc;

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use pointshare_domain::ports::HistoryFilter;
use pointshare_domain::services::{AccountKey, CloseAccount, EmailChange, PasswordChange};
use pointshare_domain::{DisplayName, Email, Password};

use super::body::{Body, FieldRules, Rule};
use super::caller::Caller;
use super::guard::{client_address, deadline};
use super::members::current;
use super::parties::transfer_views;
use super::views::{MemberView, SessionView, TransferView, millis};
use crate::auth::{mailed_token, presented_token};
use crate::problem::{ApiError, Faults, invalid_token};
use crate::rate_limits;
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

impl FieldRules for PasswordChangeBody {
    const RULES: &'static [(&'static str, Rule)] = &[("/new_password", |text| Password::parse(text).err())];
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
    for ended in state.services.accounts.change_password(change).await? {
        state.access.session_ended(ended);
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChangeBody {
    /// No control characters.
    #[schema(min_length = 1, max_length = 64, example = "Ada L.")]
    pub display_name: Option<String>,
    /// A new email: it takes effect once the link mailed to it is followed.
    #[schema(max_length = 254, example = "ada.lovelace@example.org")]
    pub email: Option<String>,
    /// My password, as for logging in: needed to change the email.
    #[schema(max_length = 128, example = "correct horse battery")]
    pub password: Option<String>,
}

impl FieldRules for ProfileChangeBody {
    const RULES: &'static [(&'static str, Rule)] =
        &[("/display_name", |text| DisplayName::parse(text).err()), ("/email", |text| Email::parse(text).err())];
}

/// Changes my display name at once, and my email once I prove the new address mine: a link mailed to it makes it my (verified) email when followed, once, within 24 hours (`verifyEmail` takes its token); until then the old one stays, and a mail tells the old address at once. Changing the email needs my password.
#[utoipa::path(patch, path = "/v1/me", operation_id = "updateMe", tag = "members", security(("bearer" = [])),
    request_body = ProfileChangeBody,
    responses((status = 200, body = MemberView, description = "my profile as it now stands (a new email shows once its link is followed)"),
        (status = 403, body = crate::problem::Problem, description = "wrong_password (counted like a failed login)"),
        (status = 409, body = crate::problem::Problem, description = "email_taken: another member has that address"),
        (status = 422, body = crate::problem::Problem, description = "validation_failed: a field is not valid, `/email` is already mine, `/password` is missing beside `email`, or nothing is to change"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many wrong passwords for this account; wait `Retry-After`"),
        (status = 503, body = crate::problem::Problem, description = "busy: too many passwords are being checked")))]
#[patch("/v1/me")]
pub async fn update_me(
    state: State,
    caller: Caller,
    body: Body<ProfileChangeBody>,
) -> Result<web::Json<MemberView>, ApiError> {
    let ProfileChangeBody { display_name, email, password } = body.into_inner();
    let mut faults = Faults::default();
    let name = display_name.and_then(|name| faults.check("/display_name", DisplayName::parse(name)));
    let email = email.and_then(|email| faults.check("/email", Email::parse(email)));
    if email.is_some() && password.is_none() {
        faults.missing("/password", "is needed to change the email");
    }
    if name.is_none() && email.is_none() && faults.is_empty() {
        faults.missing("/display_name", "or `email`: give what to change");
    }
    if !faults.is_empty() {
        return Err(faults.into_error());
    }
    if let (Some(new), Some(password)) = (email, password) {
        let change = EmailChange { member: caller.member, password, new };
        state.services.accounts.request_email_change(change, mailed_token()).await?;
    }
    let member = match name {
        Some(name) => state.services.members.rename(caller.member, &name).await?,
        None => current(&state, caller).await?,
    };
    Ok(web::Json(MemberView::of(&member)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetBody {
    #[schema(max_length = 254, example = "ada@example.com")]
    pub email: String,
}

impl FieldRules for PasswordResetBody {}

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

impl FieldRules for PasswordResetConfirmBody {
    const RULES: &'static [(&'static str, Rule)] = &[("/new_password", |text| Password::parse(text).err())];
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
    let counted =
        state.services.throttle.mail_request(&client_address(&state, &request), &AccountKey::of(&email)).await;
    rate_limits::record(&request, counted)?;
    let accounts = state.services.accounts.clone();
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
    for ended in state.services.accounts.reset_password(&token, new).await? {
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

impl FieldRules for VerifyEmailBody {}

/// Proves an address is the member's with the token of a link mailed to it, once: a verification link verifies their email while they still have it; an email change's link makes the new address their email.
#[utoipa::path(post, path = "/v1/auth/verify-email", operation_id = "verifyEmail", tag = "auth", security(()),
    request_body = VerifyEmailBody,
    responses((status = 204, description = "the email is verified (or changed, and verified): the member may share points"),
        (status = 400, body = crate::problem::Problem, description = "invalid_token: unknown, used, or expired"),
        (status = 409, body = crate::problem::Problem, description = "email_taken: another member took the new address since the link was sent")))]
#[post("/v1/auth/verify-email")]
pub async fn verify_email(state: State, body: Body<VerifyEmailBody>) -> Result<HttpResponse, ApiError> {
    let token = presented_token(&body.into_inner().token).ok_or_else(invalid_token)?;
    let member = state.services.accounts.verify_email(&token).await?;
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
    rate_limits::record(
        &request,
        state.services.throttle.mail_request(&client_address(&state, &request), &account).await,
    )?;
    state.services.accounts.send_verification(&caller.record, mailed_token()).await.map_err(ApiError::unexpected)?;
    Ok(HttpResponse::Accepted().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseAccountBody {
    /// My password, as for logging in.
    #[schema(max_length = 128, example = "correct horse battery")]
    pub password: String,
    /// Give the points left to the house account (through the same saga as a share) instead of refusing; only where the deployment has one.
    #[serde(default)]
    pub forfeit: bool,
}

impl FieldRules for CloseAccountBody {}

/// Closes my account for good, once no transfer of mine is on its way and no points are left on it (or, with `forfeit: true`, what is left went to the house account): every session ends, my email and name are no longer kept (my handle stays, held back), and a mail to my address says so. Download `exportMyData` first to keep a copy.
#[utoipa::path(delete, path = "/v1/me", operation_id = "closeMyAccount", tag = "members", security(("bearer" = [])),
    request_body = CloseAccountBody,
    responses((status = 204, description = "closed; every token of mine stops working"),
        (status = 403, body = crate::problem::Problem, description = "wrong_password (counted like a failed login); forbidden: an admin's account (another admin makes them a member first)"),
        (status = 409, body = crate::problem::Problem, description = "points_left: share the points first, or forfeit them (`detail` says how many); transfers_underway: a transfer of mine, the forfeit too, has not ended yet; forfeit_unavailable: no house account receives forfeited points here"),
        (status = 429, body = crate::problem::Problem, description = "rate_limited: too many wrong passwords for this account; wait `Retry-After`"),
        (status = 503, body = crate::problem::Problem, description = "provider_unavailable: what is left cannot be read now; busy: too many passwords being checked")))]
#[delete("/v1/me")]
pub async fn close_my_account(
    state: State,
    caller: Caller,
    body: Body<CloseAccountBody>,
) -> Result<HttpResponse, ApiError> {
    let CloseAccountBody { password, forfeit } = body.into_inner();
    let command = CloseAccount { member: caller.member, password, forfeit };
    let ended = state.services.accounts.close(command, deadline(&state)).await?;
    state.access.member_changed(caller.member);
    for session in ended {
        state.access.session_ended(session);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Everything pointshare keeps about a member, as of `exported_at`. Points
/// live at the provider: `GET /v1/me/balance` reads them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountExport {
    #[serde(serialize_with = "millis")]
    pub exported_at: DateTime<Utc>,
    pub member: MemberView,
    /// My sessions not ended, the one used last first.
    pub sessions: Vec<SessionView>,
    /// Every transfer I sent or received, newest first.
    pub transfers: Vec<TransferView>,
}

/// How many transfers the export reads from the store at a time.
const EXPORT_PAGE: usize = 100;

/// A copy of everything pointshare keeps about me (profile, sessions, every transfer), as a JSON file to download.
#[utoipa::path(get, path = "/v1/me/export", operation_id = "exportMyData", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = AccountExport, description = "the export, with `Content-Disposition: attachment`")))]
#[get("/v1/me/export")]
pub async fn export_my_data(state: State, caller: Caller) -> Result<HttpResponse, ApiError> {
    let current_session = caller.bearer.session;
    let member = current(&state, caller).await?;
    let sessions = state.services.sessions.list(member.id).await.map_err(ApiError::unexpected)?;
    let mut transfers = Vec::new();
    let mut after = None;
    loop {
        let page = state.services.transfers.history(member.id, &HistoryFilter::default(), after, EXPORT_PAGE).await;
        let page = page.map_err(ApiError::unexpected)?;
        transfers.extend(transfer_views(&state, page.items, &[(member.id, &member.handle)]).await?);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let export = AccountExport {
        exported_at: Utc::now(),
        member: MemberView::of(&member),
        sessions: sessions.iter().map(|session| SessionView::of(session, current_session)).collect(),
        transfers,
    };
    let file = format!("pointshare-{}.json", member.handle);
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(file)],
    };
    Ok(HttpResponse::Ok().insert_header(disposition).json(export))
}
