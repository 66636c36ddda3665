//! What actix's extractors refuse (a body that is not JSON, a query or path
//! that does not parse) and unknown routes, as problems.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;

use super::{ApiError, ProblemCode};

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
