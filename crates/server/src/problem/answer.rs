//! `ApiError`: an error answer being built (status, code, title, detail,
//! fields, headers) and how it is written as an HTTP response; `Faults`,
//! which gathers a request's field errors into one such answer.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use pointshare_domain::ports::StoreError;
use pointshare_domain::services::Quota;
use pointshare_domain::{AccessDenied, InvalidValue};

use crate::headers::IDEMPOTENT_REPLAYED;
use crate::rate_limits;

use super::{FieldError, FieldErrorCode, Problem, ProblemCode};

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
pub struct ApiError(pub(super) Box<Answer>);

#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) problem: Problem,
    pub(super) retry_after: Option<Duration>,
    /// The methods a 405's path takes.
    pub(super) allow: Option<String>,
    /// The answer repeats an earlier request's (same `Idempotency-Key`).
    pub(super) replayed: bool,
    /// The connection closes after this answer (its request was not read whole).
    pub(super) close: bool,
    /// A 401 for a bearer token that came and was refused: its challenge
    /// says `error="invalid_token"` (RFC 6750), where a missing one says none.
    pub(super) token_refused: bool,
    /// The allowance a 429 ran out of, for its RateLimit headers.
    pub(super) quota: Option<Quota>,
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

#[cfg(test)]
mod tests {
    use pointshare_domain::ports::StoreError;
    use pointshare_domain::services::RefreshError;

    use super::*;

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
}
