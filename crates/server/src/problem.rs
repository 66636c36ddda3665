//! Every failure the API answers, as an RFC 9457 `application/problem+json`
//! body with a stable `code` the frontend can switch on. Domain errors are
//! turned into problems here and nowhere else; an unexpected error is logged
//! in full and answered without its details.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use pointshare_domain::{AccessDenied, InvalidValue};

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    pub code: String,
    /// The request field at fault, for validation problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The transfer a declined share created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
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
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, title: &str) -> Self {
        ApiError(Box::new(Answer {
            status,
            problem: Problem {
                kind: format!("urn:pointshare:problem:{code}"),
                title: title.to_owned(),
                status: status.as_u16(),
                detail: None,
                code: code.to_owned(),
                field: None,
                transfer_id: None,
            },
            retry_after: None,
            allow: None,
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

    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.0.retry_after = Some(wait);
        self
    }

    pub fn code(&self) -> &str {
        &self.0.problem.code
    }

    /// A request value that breaks a domain rule.
    pub fn invalid(error: InvalidValue) -> Self {
        let mut problem = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "A field is not valid")
            .detail(error.to_string());
        problem.0.problem.field = Some(error.field.to_owned());
        problem
    }

    /// Logs the cause where operators can see it; the caller learns only that it failed.
    pub fn unexpected(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed unexpectedly");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side")
    }

    pub fn unavailable(detail: &str) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable", "The points provider is unavailable")
            .detail(detail)
            .retry_after(Duration::from_secs(1))
    }

    pub fn unauthenticated(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required").detail(detail)
    }

    /// The caller's member may not act (suspended, gone) or is no admin.
    pub fn denied(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::NotActive => Self::unauthenticated("the member of this token is not active"),
            AccessDenied::NotAdmin => Self::new(StatusCode::FORBIDDEN, "forbidden", "Admins only"),
        }
    }

    /// Too much CPU-bound work is queued already (password hashing).
    pub fn busy() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "The server is busy; try again shortly")
            .retry_after(Duration::from_secs(1))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found").detail(format!("{what} not found"))
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
        if answer.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.body(serde_json::to_string(&answer.problem).expect("a problem serializes"))
    }
}

/// Bodies that are not JSON, too large, or of the wrong type.
pub fn json_error(error: actix_web::error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let problem = match &error {
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The body must be application/json",
        ),
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The body is too large")
        }
        E::Deserialize(parse) if parse.is_data() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "A field is missing or has the wrong type",
        )
        .detail(parse.to_string()),
        _ => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", "The body is not valid JSON")
            .detail(error.to_string()),
    };
    problem.into()
}

pub fn query_error(error: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "The query string is not valid")
        .detail(error.to_string())
        .into()
}

pub fn path_error(error: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found("resource").detail(error.to_string()).into()
}

pub fn unknown_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint")
}

/// A known path asked with a method it does not take; `allow` lists those it does.
pub fn method_not_allowed(allow: Option<&str>) -> ApiError {
    let mut error =
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This endpoint does not take that method");
    error.0.allow = allow.map(str::to_owned);
    error
}
