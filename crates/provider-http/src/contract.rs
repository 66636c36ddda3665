//! The provider's HTTP contract (provider-api.md) as types, defined once: the
//! operations, the request bodies, and the error envelope with its codes.
//! This adapter speaks them; the simulator serves them; the test kit's fault
//! plans name the same operations.

use std::fmt;

use serde::{Deserialize, Serialize};

use pointshare_domain::ports::Rejection;
use pointshare_domain::{HolderRef, Memo, Points, ProviderReference};

/// The calls of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /v1/accounts`
    OpenAccount,
    /// `GET /v1/accounts/{account_id}`
    Account,
    /// `POST /v1/accounts/{account_id}/debits`
    Debit,
    /// `POST /v1/accounts/{account_id}/credits`
    Credit,
    /// `GET /v1/transactions/{reference}`
    TransactionByReference,
}

impl Operation {
    pub const ALL: [Operation; 5] =
        [Self::OpenAccount, Self::Account, Self::Debit, Self::Credit, Self::TransactionByReference];

    /// The `operation` label of the metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAccount => "open_account",
            Self::Account => "account",
            Self::Debit => "debit",
            Self::Credit => "credit",
            Self::TransactionByReference => "transaction_by_reference",
        }
    }

    /// Whether the call changes the ledger, so a request that was sent may
    /// have been applied whatever became of its answer.
    pub fn mutates(self) -> bool {
        matches!(self, Self::OpenAccount | Self::Debit | Self::Credit)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The body of `POST /v1/accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAccountRequest {
    pub holder_ref: HolderRef,
}

/// The body of a debit or a credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementRequest {
    pub reference: ProviderReference,
    pub amount: Points,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<Memo>,
}

/// `{"error": {"code": ..., "message": ...}}`, every error's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One of [`ErrorCode`]'s names; kept as text so an unknown one still reads.
    pub code: String,
    pub message: String,
}

/// The error codes of the contract, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    Unauthorized,
    AccountNotFound,
    TransactionNotFound,
    ReferenceConflict,
    InsufficientFunds,
    AccountInactive,
    RateLimited,
    Internal,
    Unavailable,
}

impl ErrorCode {
    const ALL: [ErrorCode; 10] = [
        Self::InvalidRequest,
        Self::Unauthorized,
        Self::AccountNotFound,
        Self::TransactionNotFound,
        Self::ReferenceConflict,
        Self::InsufficientFunds,
        Self::AccountInactive,
        Self::RateLimited,
        Self::Internal,
        Self::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::AccountNotFound => "account_not_found",
            Self::TransactionNotFound => "transaction_not_found",
            Self::ReferenceConflict => "reference_conflict",
            Self::InsufficientFunds => "insufficient_funds",
            Self::AccountInactive => "account_inactive",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == code)
    }

    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::AccountNotFound | Self::TransactionNotFound => 404,
            Self::ReferenceConflict => 409,
            Self::InsufficientFunds | Self::AccountInactive => 422,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// The domain's refusal this code means, if it is one.
    pub fn rejection(self) -> Option<Rejection> {
        match self {
            Self::AccountNotFound => Some(Rejection::AccountNotFound),
            Self::ReferenceConflict => Some(Rejection::ReferenceConflict),
            Self::InsufficientFunds => Some(Rejection::InsufficientFunds),
            Self::AccountInactive => Some(Rejection::AccountInactive),
            _ => None,
        }
    }

    /// The code that says `rejection`.
    pub fn of(rejection: Rejection) -> Self {
        match rejection {
            Rejection::AccountNotFound => Self::AccountNotFound,
            Rejection::ReferenceConflict => Self::ReferenceConflict,
            Rejection::InsufficientFunds => Self::InsufficientFunds,
            Rejection::AccountInactive => Self::AccountInactive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_refusals_map_both_ways() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            if let Some(rejection) = code.rejection() {
                assert_eq!(ErrorCode::of(rejection), code);
            }
        }
        assert_eq!(ErrorCode::parse("teapot"), None);
    }
}
