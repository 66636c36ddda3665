//! Every failure the API answers, as an RFC 9457 `application/problem+json`
//! body with a stable `code` the frontend can switch on. Domain errors are
//! turned into problems here and nowhere else (a `From` per operation's error,
//! so a handler writes `?`); an unexpected error is logged in full and
//! answered without its details.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use pointshare_domain::ports::StoreError;
use pointshare_domain::services::{
    AdjustError, AuditError, BalanceError, ChangeEmailError, ChangePasswordError, CloseError, DecideError,
    EndSessionError, GetTransferError, GrantError, LoginError, LogoutError, OperatorError, PasswordCheckError, Quota,
    RefreshError, RenameError, ResetError, ResolveError, ReverseError, ShareError, SignupError, Submitted, Throttled,
    VerifyError,
};
use pointshare_domain::{AccessDenied, DeclineReason, InvalidValue};

use crate::headers::IDEMPOTENT_REPLAYED;
use crate::rate_limits;

macro_rules! problem_codes {
    ($($(#[doc = $doc:literal])+ $code:ident = $text:literal,)+) => {
        /// Every `code` a problem can carry: switch on it. Stable: a code is
        /// never renamed or reused, only added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ProblemCode {
            $($(#[doc = $doc])+ $code,)+
        }

        #[cfg(test)]
        const EVERY_CODE: &[ProblemCode] = &[$(ProblemCode::$code,)+];

        impl ProblemCode {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$code => $text,)+
                }
            }
        }
    };
}

problem_codes! {
    /// The member closed their account: it stays closed.
    AccountClosed = "account_closed",
    /// Nobody approved the correction in time; it is rejected. Ask for it again.
    ApprovalExpired = "approval_expired",
    /// The second admin rejected the correction; nothing moved.
    ApprovalRejected = "approval_rejected",
    /// A privileged act could not be recorded in the audit log, so it is not
    /// acknowledged; send the same request again.
    AuditUnavailable = "audit_unavailable",
    /// The server is busy hashing passwords; retry after `Retry-After`.
    Busy = "busy",
    /// A browser's cross-origin request (its preflight) asked for an origin, method or header the API does not allow.
    CorsRefused = "cors_refused",
    /// A member with this email exists.
    EmailTaken = "email_taken",
    /// The member must verify their email before sharing points.
    EmailUnverified = "email_unverified",
    /// This deployment announces no events (`EVENTS_PUBLISH` is off): read transfers and balance instead.
    EventsDisabled = "events_disabled",
    /// Members' events cannot be followed now; retry after `Retry-After`.
    EventsUnavailable = "events_unavailable",
    /// Admins only.
    Forbidden = "forbidden",
    /// A member closing their account asked to forfeit its points, but no house account receives them here.
    ForfeitUnavailable = "forfeit_unavailable",
    /// The admin's daily grant budget is spent; the grant is recorded rejected.
    GrantBudgetExceeded = "grant_budget_exceeded",
    /// Above the per-grant maximum.
    GrantLimitExceeded = "grant_limit_exceeded",
    /// A member with this handle exists.
    HandleTaken = "handle_taken",
    /// The request needs an `Idempotency-Key` header.
    IdempotencyKeyRequired = "idempotency_key_required",
    /// This `Idempotency-Key` was used for a different request.
    IdempotencyKeyReused = "idempotency_key_reused",
    /// Not enough points; the transfer is recorded rejected.
    InsufficientFunds = "insufficient_funds",
    /// Our fault; the details are in the server log under `X-Request-Id`.
    Internal = "internal",
    /// Wrong email or password.
    InvalidCredentials = "invalid_credentials",
    /// The cursor is not one this API gave.
    InvalidCursor = "invalid_cursor",
    /// The one-use token is unknown, used or expired.
    InvalidToken = "invalid_token",
    /// The `Idempotency-Key` is not 1 to 64 printable ASCII characters.
    InvalidIdempotencyKey = "invalid_idempotency_key",
    /// `Last-Event-ID` is not an id this API gave.
    InvalidLastEventId = "invalid_last_event_id",
    /// A query parameter is not valid.
    InvalidQuery = "invalid_query",
    /// The refresh token is unknown, expired, retired or revoked.
    InvalidRefreshToken = "invalid_refresh_token",
    /// The last active admin cannot be suspended or demoted.
    LastAdmin = "last_admin",
    /// Above the per-transfer maximum, or the sender's daily limit.
    LimitExceeded = "limit_exceeded",
    /// The body is not JSON.
    MalformedJson = "malformed_json",
    /// Your membership cannot share points now.
    MemberInactive = "member_inactive",
    /// No member has that handle.
    MemberNotFound = "member_not_found",
    /// The path does not take that method; `Allow` lists those it does.
    MethodNotAllowed = "method_not_allowed",
    /// The transfer waits for no approval: it never needed one, or was decided already.
    NotAwaitingApproval = "not_awaiting_approval",
    /// No such endpoint or resource.
    NotFound = "not_found",
    /// The transfer is not in `needs_review`: nothing to resolve.
    NotInReview = "not_in_review",
    /// Only completed shares and grants can be reversed.
    NotReversible = "not_reversible",
    /// Too many requests in flight on this replica; retry after `Retry-After`.
    Overloaded = "overloaded",
    /// An admin cannot suspend, demote or correct themselves; another admin can.
    OwnAccount = "own_account",
    /// The admin who asked for a correction cannot approve it; another admin must.
    OwnRequest = "own_request",
    /// The body is larger than the server accepts.
    PayloadTooLarge = "payload_too_large",
    /// Points are left on the account; share them before closing it.
    PointsLeft = "points_left",
    /// The points provider cannot be reached; retry after `Retry-After`.
    ProviderUnavailable = "provider_unavailable",
    /// Too many requests; retry after `Retry-After`.
    RateLimited = "rate_limited",
    /// The rate limiter cannot answer and the server refuses meanwhile.
    RateLimiterUnavailable = "rate_limiter_unavailable",
    /// The recipient cannot receive points.
    RecipientInactive = "recipient_inactive",
    /// No member has the recipient's handle.
    RecipientNotFound = "recipient_not_found",
    /// The body did not arrive within `POINTSHARE_BODY_TIMEOUT`; send it whole, then again.
    RequestTimeout = "request_timeout",
    /// What the provider holds rules the decision out; `detail` says why.
    ResolutionRefused = "resolution_refused",
    /// More than is left of the transfer to reverse; `detail` says how much is.
    ReversalExceedsTransfer = "reversal_exceeds_transfer",
    /// A member cannot share points with themselves, nor an admin grant them to themselves.
    SelfTransfer = "self_transfer",
    /// A store did not answer (a timeout, an outage); retry after `Retry-After`.
    StoreUnavailable = "store_unavailable",
    /// Too many event streams open for this member.
    TooManyStreams = "too_many_streams",
    /// Someone else is driving the transfer now; try again once they are done.
    TransferBusy = "transfer_busy",
    /// A transfer of the member's has not ended yet; try again once it has.
    TransfersUnderway = "transfers_underway",
    /// The provider refused the transfer.
    TransferFailed = "transfer_failed",
    /// The access token was good and has expired: refresh it (`POST /v1/auth/refresh`) and send the request again.
    TokenExpired = "token_expired",
    /// No such transfer of yours.
    TransferNotFound = "transfer_not_found",
    /// No token, or one that is not good (forged, its session ended, its member not active): log in again.
    Unauthenticated = "unauthenticated",
    /// The body must be `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// Fields are missing or invalid: `errors` lists each.
    ValidationFailed = "validation_failed",
    /// The current password given is not the member's.
    WrongPassword = "wrong_password",
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:pointshare:problem:validation_failed", "title": "Some fields are not valid", "status": 422,
    "code": "validation_failed", "field": "amount",
    "errors": [{"pointer": "/amount", "code": "out_of_range", "detail": "0 is less than the minimum of 1"}]
}))]
pub struct Problem {
    /// `urn:pointshare:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong with this request, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable, machine-readable: switch on this.
    pub code: ProblemCode,
    /// The request field at fault (the first, for validation problems, whose
    /// `errors` list all): a body field, or the query parameter of an `invalid_query`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The body field at fault as a JSON Pointer, on every problem about one
    /// field (`self_transfer`, `email_taken`, ... and the first of `errors`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/to_handle")]
    pub pointer: Option<String>,
    /// The limit a `limit_exceeded`, `grant_limit_exceeded` or `grant_budget_exceeded` passed, in points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Every invalid field of a `validation_failed` request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The transfer a declined share created.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub transfer_id: Option<String>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) to the field in the request body.
    #[schema(example = "/amount")]
    pub pointer: String,
    pub code: FieldErrorCode,
    /// What is wrong with it, for people.
    pub detail: String,
    /// The rule it broke, for a UI to say in its own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<FieldParams>,
}

/// The bounds or form a field must keep, as numbers and names: each set
/// only when it is the rule the field broke.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldParams {
    /// The least a number may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// The most a number may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// The fewest characters a string may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// The most characters a string may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// The form it must have, by name: `handle` (3 to 32 of letters, digits, underscore), `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "handle")]
    pub pattern: Option<String>,
    /// The values it may take.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// Missing.
    Required,
    /// Not a field of this request (a typo?).
    UnknownField,
    /// A string where a number belongs, or the like.
    WrongType,
    /// Too small, too large, too short or too long.
    OutOfRange,
    /// Does not have the form it must (pattern, format, one of a set).
    InvalidFormat,
    /// Breaks a rule of its own (a control character in a name, say).
    Invalid,
}

impl FieldError {
    pub fn new(pointer: String, code: FieldErrorCode, detail: impl Into<String>) -> Self {
        FieldError { pointer, code, detail: detail.into(), params: None }
    }

    pub fn with(mut self, params: FieldParams) -> Self {
        self.params = Some(params);
        self
    }
}

/// Collects every invalid field of a request before answering, so a client
/// learns all of them at once.
#[derive(Debug, Default)]
pub struct Faults(Vec<FieldError>);

impl Faults {
    /// `parsed`, or `None` with its fault noted against the body field `pointer`.
    pub fn check<T>(&mut self, pointer: &str, parsed: Result<T, InvalidValue>) -> Option<T> {
        parsed
            .map_err(|error| {
                self.0.push(FieldError::new(pointer.to_owned(), FieldErrorCode::Invalid, error.to_string()))
            })
            .ok()
    }

    /// Notes that the body field `pointer` is needed and missing.
    pub fn missing(&mut self, pointer: &str, detail: &str) {
        self.0.push(FieldError::new(pointer.to_owned(), FieldErrorCode::Required, detail));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_error(self) -> ApiError {
        ApiError::invalid_fields(self.0)
    }
}

/// Boxed: handlers return it in every `Result`, which should stay small.
#[derive(Debug, Clone)]
pub struct ApiError(Box<Answer>);

#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    problem: Problem,
    retry_after: Option<Duration>,
    /// The methods a 405's path takes.
    allow: Option<String>,
    /// The answer repeats an earlier request's (same `Idempotency-Key`).
    replayed: bool,
    /// The connection closes after this answer (its request was not read whole).
    close: bool,
    /// A 401 for a bearer token that came and was refused: its challenge
    /// says `error="invalid_token"` (RFC 6750), where a missing one says none.
    token_refused: bool,
    /// The allowance a 429 ran out of, for its RateLimit headers.
    quota: Option<Quota>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ProblemCode, title: &str) -> Self {
        ApiError(Box::new(Answer {
            status,
            problem: Problem {
                kind: format!("urn:pointshare:problem:{code}"),
                title: title.to_owned(),
                status: status.as_u16(),
                detail: None,
                code,
                field: None,
                pointer: None,
                limit: None,
                errors: Vec::new(),
                transfer_id: None,
            },
            retry_after: None,
            allow: None,
            replayed: false,
            close: false,
            token_refused: false,
            quota: None,
        }))
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0.problem.detail = Some(detail.into());
        self
    }

    pub fn transfer(mut self, id: impl ToString) -> Self {
        self.0.problem.transfer_id = Some(id.to_string());
        self
    }

    /// The body field at fault, by JSON Pointer (`/to_handle`).
    pub fn pointer(mut self, pointer: &str) -> Self {
        self.0.problem.field = Some(pointer.trim_start_matches('/').to_owned());
        self.0.problem.pointer = Some(pointer.to_owned());
        self
    }

    /// The query parameter at fault.
    pub fn parameter(mut self, name: &str) -> Self {
        self.0.problem.field = Some(name.to_owned());
        self
    }

    /// The limit, in points, the request passed.
    pub fn limit(mut self, limit: u64) -> Self {
        self.0.problem.limit = Some(limit);
        self
    }

    pub fn replayed(mut self) -> Self {
        self.0.replayed = true;
        self
    }

    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.0.retry_after = Some(wait);
        self
    }

    pub fn code(&self) -> ProblemCode {
        self.0.problem.code
    }

    /// A request value that breaks a domain rule.
    pub fn invalid(error: InvalidValue) -> Self {
        let mut faults = Faults::default();
        faults.check::<()>(&format!("/{}", error.field), Err(error));
        faults.into_error()
    }

    /// 422 listing every invalid field.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let title = if errors.len() == 1 { "A field is not valid" } else { "Some fields are not valid" };
        let mut problem = Self::new(StatusCode::UNPROCESSABLE_ENTITY, ProblemCode::ValidationFailed, title);
        let detail = errors.iter().map(|error| format!("{}: {}", error.pointer, error.detail)).collect::<Vec<_>>();
        problem.0.problem.detail = Some(detail.join("; "));
        problem.0.problem.field = errors.first().map(|error| error.pointer.trim_start_matches('/').to_owned());
        problem.0.problem.pointer = errors.first().map(|error| error.pointer.clone());
        problem.0.problem.errors = errors;
        problem
    }

    /// Logs the cause where operators can see it; the caller learns only that it failed.
    /// An error the caller cannot act on: a store that failed (a timeout,
    /// an outage: `StoreError` anywhere in its chain) is 503
    /// `store_unavailable`, worth retrying shortly; anything else is ours,
    /// 500 `internal`. Either way the log has the whole chain.
    pub fn unexpected(error: impl Into<anyhow::Error>) -> Self {
        let error = error.into();
        if error.chain().any(|cause| cause.is::<StoreError>()) {
            tracing::warn!(error = format!("{error:#}"), "a store failed");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ProblemCode::StoreUnavailable,
                "The store is unavailable",
            )
            .detail("try again shortly")
            .retry_after(Duration::from_secs(1));
        }
        tracing::error!(error = format!("{error:#}"), "request failed unexpectedly");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ProblemCode::Internal, "Something went wrong on our side")
    }

    pub fn unavailable(detail: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::ProviderUnavailable,
            "The points provider is unavailable",
        )
        .detail(detail)
        .retry_after(Duration::from_secs(1))
    }

    /// The request came with no bearer token.
    pub fn no_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ProblemCode::Unauthenticated, "Authentication required")
            .detail("send Authorization: Bearer <access token>")
    }

    /// The bearer token that came is not good, and refreshing will not make it so.
    pub fn unauthenticated(detail: &str) -> Self {
        let mut refused =
            Self::new(StatusCode::UNAUTHORIZED, ProblemCode::Unauthenticated, "Authentication required").detail(detail);
        refused.0.token_refused = true;
        refused
    }

    /// The bearer token was good until it expired: a refresh gives a new one.
    pub fn token_expired() -> Self {
        let mut expired =
            Self::new(StatusCode::UNAUTHORIZED, ProblemCode::TokenExpired, "The access token has expired")
                .detail("refresh it with POST /v1/auth/refresh, then send the request again");
        expired.0.token_refused = true;
        expired
    }

    /// The caller's member may not act (suspended, gone) or is no admin.
    pub fn denied(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::NotActive => Self::unauthenticated("the member of this token is not active"),
            AccessDenied::NotAdmin => Self::new(StatusCode::FORBIDDEN, ProblemCode::Forbidden, "Admins only"),
        }
    }

    /// Too much CPU-bound work is queued already (password hashing).
    pub fn busy() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, ProblemCode::Busy, "The server is busy; try again shortly")
            .retry_after(Duration::from_secs(1))
    }

    /// The body came too slowly: the connection closes with this answer, so
    /// a trickle of bytes holds it no longer.
    pub fn body_timed_out(after: Duration) -> Self {
        let mut problem =
            Self::new(StatusCode::REQUEST_TIMEOUT, ProblemCode::RequestTimeout, "The body came too slowly")
                .detail(format!("the whole body must arrive within {} s", after.as_secs()));
        problem.0.close = true;
        problem
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, "Not found").detail(format!("{what} not found"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0.status, self.0.problem.code)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let answer = &self.0;
        let mut response = HttpResponse::build(answer.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        if let Some(wait) = answer.retry_after {
            response.insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()));
        }
        if let Some(methods) = &answer.allow {
            response.insert_header((header::ALLOW, methods.as_str()));
        }
        if answer.replayed {
            response.insert_header((IDEMPOTENT_REPLAYED, "true"));
        }
        if answer.status == StatusCode::UNAUTHORIZED {
            let challenge = match (answer.token_refused, answer.problem.code) {
                (false, _) => "Bearer",
                (true, ProblemCode::TokenExpired) => {
                    r#"Bearer error="invalid_token", error_description="The access token expired""#
                }
                (true, _) => r#"Bearer error="invalid_token", error_description="The access token is not valid""#,
            };
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Some(headers) =
            answer.quota.as_ref().and_then(|quota| rate_limits::header_values(std::slice::from_ref(quota)))
        {
            for (name, value) in headers {
                response.insert_header((name, value));
            }
        }
        if answer.close {
            response.force_close();
        }
        response.body(serde_json::to_string(&answer.problem).expect("a problem serializes"))
    }
}

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

pub fn invalid_refresh_token() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, ProblemCode::InvalidRefreshToken, "The refresh token is not valid")
}

/// Bodies that are not JSON, too large, or of another content type (`body`
/// checks the JSON itself).
pub fn json_error(error: actix_web::error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let problem = match &error {
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemCode::UnsupportedMediaType,
            "The body must be application/json",
        ),
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ProblemCode::PayloadTooLarge, "The body is too large")
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::MalformedJson, "The body is not valid JSON")
            .detail(error.to_string()),
    };
    problem.into()
}

pub fn query_error(error: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidQuery, "The query string is not valid")
        .detail(error.to_string())
        .into()
}

pub fn path_error(error: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found("resource").detail(error.to_string()).into()
}

pub fn unknown_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, "No such endpoint")
}

/// A known path asked with a method it does not take; `allow` lists those it does.
pub fn method_not_allowed(allow: &str) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ProblemCode::MethodNotAllowed,
        "This endpoint does not take that method",
    );
    error.0.allow = Some(allow.to_owned());
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_guide_explains_every_code() {
        let guide = include_str!("../../../docs/api.md");
        let missing: Vec<&str> =
            EVERY_CODE.iter().map(|code| code.as_str()).filter(|code| !guide.contains(&format!("`{code}`"))).collect();
        assert!(missing.is_empty(), "docs/api.md does not explain {missing:?}");
    }

    #[test]
    fn a_store_failure_anywhere_in_the_chain_is_503_store_unavailable_and_anything_else_500() {
        let timed_out = || StoreError(anyhow::anyhow!("operation timed out"));
        let in_a_route = ApiError::unexpected(timed_out());
        let in_a_service = ApiError::from(RefreshError::Unexpected(
            anyhow::Error::from(timed_out()).context("loading a session").context("refreshing"),
        ));
        for answer in [in_a_route, in_a_service] {
            let Answer { status, problem, retry_after, .. } = *answer.0;
            assert_eq!(
                (status, problem.code, retry_after),
                (StatusCode::SERVICE_UNAVAILABLE, ProblemCode::StoreUnavailable, Some(Duration::from_secs(1)))
            );
        }
        let ours = ApiError::unexpected(anyhow::anyhow!("an invariant broke"));
        assert_eq!((ours.0.status, ours.0.problem.code), (StatusCode::INTERNAL_SERVER_ERROR, ProblemCode::Internal));
    }

    #[test]
    fn each_code_reads_as_it_serializes() {
        for code in EVERY_CODE {
            assert_eq!(serde_json::to_value(code).expect("serializes"), code.as_str());
        }
    }
}
