//! Each operation's failures, as the member sees them: the one place domain
//! errors become problems (a `From` per operation's error, so a handler
//! writes `?`), and the problems several of them share.

use std::time::Duration;

use actix_web::http::StatusCode;

use pointshare_domain::DeclineReason;
use pointshare_domain::services::{
    AdjustError, AuditError, BalanceError, ChangeEmailError, ChangePasswordError, CloseError, DecideError,
    EndSessionError, GetTransferError, GrantError, LoginError, LogoutError, OperatorError, PasswordCheckError,
    RefreshError, RenameError, ResetError, ResolveError, ReverseError, ShareError, SignupError, Submitted, Throttled,
    VerifyError,
};

use super::{ApiError, FieldError, FieldErrorCode, ProblemCode};
use crate::auth::{AccessRefused, TokenRefused};

// Each operation's failures, as the member sees them: the one place domain
// errors become problems.

pub fn recipient_not_found() -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ProblemCode::RecipientNotFound, "No member has that handle")
        .pointer("/to_handle")
}

fn recipient_inactive() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ProblemCode::RecipientInactive,
        "The recipient cannot receive points",
    )
    .pointer("/to_handle")
}

fn key_reused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ProblemCode::IdempotencyKeyReused,
        "This Idempotency-Key was used for another request",
    )
}

/// The member a valid token names is no longer in the store.
pub(crate) fn gone() -> ApiError {
    ApiError::unauthenticated("the member of this token no longer exists")
}

/// Why a recorded transfer did not complete; marked if it answers a replay.
fn declined(submitted: &Submitted) -> ApiError {
    let transfer = &submitted.transfer;
    let (code, title) = match transfer.decline {
        Some(DeclineReason::InsufficientFunds) => (ProblemCode::InsufficientFunds, "Not enough points"),
        Some(DeclineReason::DailyLimitExceeded) => (ProblemCode::LimitExceeded, "The daily sharing limit is reached"),
        Some(DeclineReason::GrantBudgetExceeded) => {
            (ProblemCode::GrantBudgetExceeded, "Your daily grant budget is spent; the grant was not made")
        }
        Some(DeclineReason::RecipientAccountInactive | DeclineReason::RecipientAccountNotFound) => {
            (ProblemCode::RecipientInactive, "The recipient cannot receive points")
        }
        Some(DeclineReason::SenderAccountInactive | DeclineReason::SenderAccountNotFound) => {
            (ProblemCode::MemberInactive, "Your points account cannot send points")
        }
        Some(DeclineReason::ApprovalRejected) => {
            (ProblemCode::ApprovalRejected, "A second admin rejected the correction; nothing moved")
        }
        Some(DeclineReason::ApprovalExpired) => {
            (ProblemCode::ApprovalExpired, "Nobody approved the correction in time; nothing moved")
        }
        None => (ProblemCode::TransferFailed, "The provider refused the transfer"),
    };
    let detail = format!("transfer {} was {}", transfer.id, transfer.state.as_str());
    let problem = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, title).detail(detail).transfer(transfer.id);
    if submitted.replayed { problem.replayed() } else { problem }
}

impl From<ShareError> for ApiError {
    fn from(error: ShareError) -> Self {
        match error {
            ShareError::SenderNotFound => gone(),
            ShareError::SenderNotActive => ApiError::new(
                StatusCode::FORBIDDEN,
                ProblemCode::MemberInactive,
                "Your membership cannot share points now",
            ),
            ShareError::EmailUnverified => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::EmailUnverified,
                "Verify your email before you share points",
            )
            .detail("follow the link mailed to you at signup, or ask for a new one: POST /v1/me/verification-email"),
            ShareError::RecipientNotFound => recipient_not_found(),
            ShareError::RecipientNotActive => recipient_inactive(),
            ShareError::SelfTransfer => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::SelfTransfer,
                "You cannot share points with yourself",
            )
            .pointer("/to_handle"),
            ShareError::AboveTransferLimit { max } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::LimitExceeded,
                "The amount is above the limit",
            )
            .detail(format!("at most {max} points per transfer"))
            .pointer("/amount")
            .limit(max.get()),
            ShareError::IdempotencyKeyReused => key_reused(),
            ShareError::Declined(submitted) => declined(&submitted),
            ShareError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<GrantError> for ApiError {
    fn from(error: GrantError) -> Self {
        match error {
            GrantError::RecipientNotFound => recipient_not_found(),
            GrantError::RecipientNotActive => recipient_inactive(),
            GrantError::SelfGrant => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::SelfTransfer,
                "You cannot grant points to yourself",
            )
            .pointer("/to_handle"),
            GrantError::AboveGrantLimit { max } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::GrantLimitExceeded,
                "The amount is above the limit",
            )
            .detail(format!("at most {max} points per grant"))
            .pointer("/amount")
            .limit(max.get()),
            GrantError::IdempotencyKeyReused => key_reused(),
            GrantError::Declined(submitted) => declined(&submitted),
            GrantError::AuditUnavailable(error) => error.into(),
            GrantError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<GetTransferError> for ApiError {
    fn from(error: GetTransferError) -> Self {
        match error {
            GetTransferError::NotFound => transfer_not_found(),
            GetTransferError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

pub fn member_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ProblemCode::MemberNotFound, "No such member")
}

fn own_account(title: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, ProblemCode::OwnAccount, title)
}

impl From<OperatorError> for ApiError {
    fn from(error: OperatorError) -> Self {
        match error {
            OperatorError::UnknownMember => member_not_found(),
            OperatorError::OwnAccount => own_account("You cannot suspend or demote yourself; another admin can"),
            OperatorError::LastAdmin => ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::LastAdmin,
                "The last active admin cannot be suspended or demoted",
            ),
            OperatorError::Closed => ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::AccountClosed,
                "The member closed their account: it stays closed",
            ),
            OperatorError::AuditUnavailable(error) => error.into(),
            OperatorError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<AdjustError> for ApiError {
    fn from(error: AdjustError) -> Self {
        match error {
            AdjustError::MemberNotFound => recipient_not_found(),
            AdjustError::OwnAccount => own_account("You cannot adjust your own points; another admin can"),
            AdjustError::MemberNotActive => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::RecipientInactive,
                "The member's account cannot take this adjustment",
            )
            .detail("a credit needs an active member; a debit, a member with a points account"),
            AdjustError::AboveLimit { max } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::GrantLimitExceeded,
                "The amount is above the limit",
            )
            .detail(format!("at most {max} points per adjustment")),
            AdjustError::IdempotencyKeyReused => key_reused(),
            AdjustError::Declined(submitted) => declined(&submitted),
            AdjustError::AuditUnavailable(error) => error.into(),
            AdjustError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<DecideError> for ApiError {
    fn from(error: DecideError) -> Self {
        let conflict = |code, title: &str| ApiError::new(StatusCode::CONFLICT, code, title);
        match error {
            DecideError::NotFound => transfer_not_found(),
            DecideError::NotAwaiting(transfer) => {
                conflict(ProblemCode::NotAwaitingApproval, "The transfer is not awaiting approval")
                    .detail(format!("it is {}", transfer.state.as_str()))
                    .transfer(transfer.id)
            }
            DecideError::OwnRequest => {
                conflict(ProblemCode::OwnRequest, "You asked for this correction; another admin must decide it")
            }
            DecideError::OwnAccount => {
                own_account("The correction moves your own points; another admin must decide it")
            }
            DecideError::Expired(transfer) => {
                conflict(ProblemCode::ApprovalExpired, "Nobody approved the correction in time; it is rejected")
                    .detail("ask for the correction again")
                    .transfer(transfer.id)
            }
            DecideError::Busy => conflict(ProblemCode::TransferBusy, "Another admin is deciding it now"),
            DecideError::AuditUnavailable(error) => error.into(),
            DecideError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

pub fn transfer_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ProblemCode::TransferNotFound, "No such transfer of yours")
}

impl From<SignupError> for ApiError {
    fn from(error: SignupError) -> Self {
        match error {
            SignupError::EmailTaken => email_taken(),
            SignupError::HandleTaken => {
                ApiError::new(StatusCode::CONFLICT, ProblemCode::HandleTaken, "A member with this handle exists")
                    .pointer("/handle")
            }
            SignupError::ProviderUnavailable => ApiError::unavailable(
                "your membership is created and its points account will be opened shortly; log in to continue",
            ),
            SignupError::Busy => ApiError::busy(),
            SignupError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<RenameError> for ApiError {
    fn from(error: RenameError) -> Self {
        match error {
            RenameError::NotFound => gone(),
            RenameError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<BalanceError> for ApiError {
    fn from(error: BalanceError) -> Self {
        match error {
            BalanceError::NoAccount => {
                ApiError::unavailable("your points account is still being opened at the provider; try again shortly")
            }
            BalanceError::ProviderUnavailable => ApiError::unavailable("try again shortly"),
            BalanceError::AccountNotFound => {
                ApiError::unexpected(anyhow::anyhow!("the provider does not know a member's account"))
            }
            BalanceError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::Invalid | RefreshError::MemberNotActive => invalid_refresh_token(),
            RefreshError::Reused => invalid_refresh_token()
                .detail("this refresh token was already used, so the session is ended; log in again"),
            RefreshError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<EndSessionError> for ApiError {
    fn from(error: EndSessionError) -> Self {
        match error {
            EndSessionError::NotFound => ApiError::not_found("session"),
            EndSessionError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(error: ChangePasswordError) -> Self {
        match error {
            ChangePasswordError::Password(refused) => refused.into(),
            ChangePasswordError::NotFound => gone(),
            ChangePasswordError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<PasswordCheckError> for ApiError {
    fn from(error: PasswordCheckError) -> Self {
        match error {
            PasswordCheckError::Wrong => {
                ApiError::new(StatusCode::FORBIDDEN, ProblemCode::WrongPassword, "The password is wrong")
            }
            PasswordCheckError::Busy => ApiError::busy(),
            PasswordCheckError::Throttled(throttled) => throttled.into(),
        }
    }
}

impl From<CloseError> for ApiError {
    fn from(error: CloseError) -> Self {
        match error {
            CloseError::Password(refused) => refused.into(),
            CloseError::PointsLeft(points) => {
                ApiError::new(StatusCode::CONFLICT, ProblemCode::PointsLeft, "Points are left on the account")
                    .detail(format!("{points} points are left: share them before closing the account"))
            }
            CloseError::NoHouseAccount => ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::ForfeitUnavailable,
                "No house account receives forfeited points here",
            )
            .detail("share the points before closing the account"),
            CloseError::ForfeitUnfinished(state) => {
                ApiError::new(StatusCode::CONFLICT, ProblemCode::TransfersUnderway, "The forfeit has not completed")
                    .detail(format!(
                        "the forfeit is {}: the account stays open; try again once it has ended",
                        state.as_str()
                    ))
            }
            CloseError::TransfersUnderway => ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::TransfersUnderway,
                "A transfer of yours has not ended yet",
            )
            .detail("try again once every transfer of yours is completed, rejected or reversed"),
            CloseError::Admin => {
                ApiError::new(StatusCode::FORBIDDEN, ProblemCode::Forbidden, "An admin cannot close their account")
                    .detail("another admin makes you a member first")
            }
            CloseError::NotFound => gone(),
            CloseError::ProviderUnavailable => {
                ApiError::unavailable("the points provider cannot say what is left; try again shortly")
            }
            CloseError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<ChangeEmailError> for ApiError {
    fn from(error: ChangeEmailError) -> Self {
        match error {
            ChangeEmailError::Password(refused) => refused.into(),
            ChangeEmailError::Unchanged => ApiError::invalid_fields(vec![FieldError::new(
                "/email".into(),
                FieldErrorCode::Invalid,
                "is already your email",
            )]),
            ChangeEmailError::EmailTaken => email_taken(),
            ChangeEmailError::NotFound => gone(),
            ChangeEmailError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

fn email_taken() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, ProblemCode::EmailTaken, "A member with this email exists").pointer("/email")
}

pub fn invalid_token() -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidToken, "The token is not valid")
        .detail("it is unknown, was used already, or expired: ask for a new one")
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::InvalidToken => invalid_token(),
            VerifyError::EmailTaken => email_taken().detail("another member took that address since the link was sent"),
            VerifyError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<ResetError> for ApiError {
    fn from(error: ResetError) -> Self {
        match error {
            ResetError::InvalidToken => invalid_token(),
            ResetError::Busy => ApiError::busy(),
            ResetError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                ProblemCode::InvalidCredentials,
                "The email or password is wrong",
            ),
            LoginError::Busy => ApiError::busy(),
            LoginError::Throttled(throttled) => throttled.into(),
            LoginError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::Invalid => invalid_refresh_token(),
            LogoutError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<ReverseError> for ApiError {
    fn from(error: ReverseError) -> Self {
        match error {
            ReverseError::NotFound => transfer_not_found(),
            ReverseError::OwnAccount => own_account("You sent this share: another admin must reverse it"),
            ReverseError::NotReversible(transfer) => ApiError::new(
                StatusCode::CONFLICT,
                ProblemCode::NotReversible,
                "Only completed shares and grants are reversed",
            )
            .detail(format!("it is a {} {}", transfer.state.as_str(), transfer.kind.as_str())),
            ReverseError::AboveWhatIsLeft { left } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ProblemCode::ReversalExceedsTransfer,
                "More than is left of the transfer to reverse",
            )
            .detail(format!("at most {left} points of it are left to reverse")),
            ReverseError::IdempotencyKeyReused => key_reused(),
            ReverseError::Declined(submitted) => declined(&submitted),
            ReverseError::AuditUnavailable(error) => error.into(),
            ReverseError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<ResolveError> for ApiError {
    fn from(error: ResolveError) -> Self {
        let conflict = |code, title: &str| ApiError::new(StatusCode::CONFLICT, code, title);
        match error {
            ResolveError::NotFound => transfer_not_found(),
            ResolveError::NotInReview(transfer) => conflict(ProblemCode::NotInReview, "The transfer is not in review")
                .detail(format!("it is {}", transfer.state.as_str()))
                .transfer(transfer.id),
            ResolveError::Busy(detail) => {
                conflict(ProblemCode::TransferBusy, "Someone else is driving the transfer now").detail(detail)
            }
            ResolveError::Refused(detail) => {
                conflict(ProblemCode::ResolutionRefused, "What the provider holds rules this decision out")
                    .detail(detail)
            }
            ResolveError::Provider(error) => ApiError::unavailable(&error.to_string()),
            ResolveError::AuditUnavailable(error) => error.into(),
            ResolveError::Unexpected(error) => ApiError::unexpected(error),
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(error: AuditError) -> Self {
        tracing::error!(%error, "a privileged act could not be recorded in the audit log; not acknowledged");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ProblemCode::AuditUnavailable, "The audit log cannot be written")
            .detail("nothing privileged is acknowledged unrecorded; send the same request again")
            .retry_after(Duration::from_secs(1))
    }
}

impl From<Throttled> for ApiError {
    fn from(error: Throttled) -> Self {
        match error {
            Throttled::Limited { retry_after, quota } => {
                let mut limited = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ProblemCode::RateLimited,
                    "Too many requests; slow down",
                )
                .retry_after(retry_after);
                limited.0.quota = quota;
                limited
            }
            Throttled::Unavailable => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ProblemCode::RateLimiterUnavailable, "Try again shortly")
                    .retry_after(Duration::from_secs(1))
            }
        }
    }
}

impl From<TokenRefused> for ApiError {
    fn from(refused: TokenRefused) -> Self {
        match refused {
            TokenRefused::Expired => ApiError::token_expired(),
            TokenRefused::Invalid => ApiError::unauthenticated("the access token is not valid"),
        }
    }
}

impl From<AccessRefused> for ApiError {
    fn from(refused: AccessRefused) -> Self {
        match refused {
            AccessRefused::SessionEnded => ApiError::unauthenticated(&refused.to_string()),
            AccessRefused::Denied(denied) => ApiError::denied(denied),
            AccessRefused::Store(error) => ApiError::unexpected(error),
        }
    }
}

pub fn invalid_refresh_token() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, ProblemCode::InvalidRefreshToken, "The refresh token is not valid")
}
