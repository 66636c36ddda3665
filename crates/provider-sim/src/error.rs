//! The provider's error answers: the `{"error": {"code", "message"}}`
//! envelope with the status the contract gives each code, for the routes
//! (`api`) and the simulated conditions (`conditions`) alike.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use pointshare_domain::ports::Rejection;
use pointshare_provider_http::contract::{ErrorBody, ErrorCode, ErrorEnvelope};

use crate::LedgerError;

/// An answer in the provider's error envelope.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// A contract error, with the status the contract gives its code.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(code.status()).expect("the contract's statuses are valid");
        ApiError { status, code: code.as_str(), message: message.into() }
    }

    /// Another status for the code (a 504 is `unavailable` too), or an
    /// answer off the contract (a route that does not exist).
    pub(crate) fn with_status(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    pub(crate) fn invalid_request(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidRequest, message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope { error: ErrorBody { code: self.code.into(), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let message = match rejection {
            Rejection::InsufficientFunds => "the balance is lower than the amount",
            Rejection::AccountInactive => "the account is frozen or closed",
            Rejection::AccountNotFound => "no such account",
            Rejection::ReferenceConflict => "the reference was used before with a different account, kind or amount",
        };
        ApiError::new(ErrorCode::of(rejection), message)
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        error.rejection().map_or_else(|| ApiError::invalid_request(error), ApiError::from)
    }
}
