//! The catalogue of problem codes: every `code` a problem can carry, each
//! with its meaning (docs/api.md explains each; a test holds them together).

use serde::Serialize;
use utoipa::ToSchema;

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
        pub(super) const EVERY_CODE: &[ProblemCode] = &[$(ProblemCode::$code,)+];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_guide_explains_every_code() {
        let guide = include_str!("../../../../docs/api.md");
        let missing: Vec<&str> =
            EVERY_CODE.iter().map(|code| code.as_str()).filter(|code| !guide.contains(&format!("`{code}`"))).collect();
        assert!(missing.is_empty(), "docs/api.md does not explain {missing:?}");
    }

    #[test]
    fn each_code_reads_as_it_serializes() {
        for code in EVERY_CODE {
            assert_eq!(serde_json::to_value(code).expect("serializes"), code.as_str());
        }
    }
}
