//! The provider's HTTP contract (provider-api.md) as types, defined once: the
//! operations, the request and answer bodies, and the error envelope with its
//! codes. This adapter speaks them; the simulator serves them; the test kit's
//! fault plans name the same operations. Answers are read into bodies of the
//! contract's own (its names for statuses and kinds are spelt here alone) and
//! translated into the domain's types with `TryFrom`, so a renamed domain type
//! never changes what the wire says.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use pointshare_domain::ports::Rejection;
use pointshare_domain::{
    AccountStatus, HolderRef, InvalidValue, Memo, MovementKind, Points, ProviderAccount, ProviderAccountId,
    ProviderReference, ProviderTransaction, ProviderTransactionId,
};

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

/// An account, as `POST /v1/accounts` and `GET /v1/accounts/{account_id}`
/// answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountBody {
    pub account_id: String,
    pub balance: u64,
    pub status: StatusName,
    pub updated_at: DateTime<Utc>,
}

/// A debit or a credit, as applying one or `GET /v1/transactions/{reference}`
/// answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionBody {
    pub transaction_id: String,
    pub reference: String,
    pub account_id: String,
    pub kind: KindName,
    pub amount: u64,
    pub balance_after: u64,
    pub created_at: DateTime<Utc>,
}

/// An account's status as the contract spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusName {
    Active,
    Frozen,
    Closed,
}

/// A transaction's kind as the contract spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindName {
    Debit,
    Credit,
}

impl From<StatusName> for AccountStatus {
    fn from(name: StatusName) -> Self {
        match name {
            StatusName::Active => AccountStatus::Active,
            StatusName::Frozen => AccountStatus::Frozen,
            StatusName::Closed => AccountStatus::Closed,
        }
    }
}

impl From<AccountStatus> for StatusName {
    fn from(status: AccountStatus) -> Self {
        match status {
            AccountStatus::Active => StatusName::Active,
            AccountStatus::Frozen => StatusName::Frozen,
            AccountStatus::Closed => StatusName::Closed,
        }
    }
}

impl From<KindName> for MovementKind {
    fn from(name: KindName) -> Self {
        match name {
            KindName::Debit => MovementKind::Debit,
            KindName::Credit => MovementKind::Credit,
        }
    }
}

impl From<MovementKind> for KindName {
    fn from(kind: MovementKind) -> Self {
        match kind {
            MovementKind::Debit => KindName::Debit,
            MovementKind::Credit => KindName::Credit,
        }
    }
}

impl TryFrom<AccountBody> for ProviderAccount {
    type Error = InvalidValue;

    fn try_from(body: AccountBody) -> Result<Self, InvalidValue> {
        Ok(ProviderAccount {
            account_id: ProviderAccountId::parse(body.account_id)?,
            balance: body.balance,
            status: body.status.into(),
            updated_at: body.updated_at,
        })
    }
}

impl From<&ProviderAccount> for AccountBody {
    fn from(account: &ProviderAccount) -> Self {
        AccountBody {
            account_id: account.account_id.to_string(),
            balance: account.balance,
            status: account.status.into(),
            updated_at: account.updated_at,
        }
    }
}

impl TryFrom<TransactionBody> for ProviderTransaction {
    type Error = InvalidValue;

    fn try_from(body: TransactionBody) -> Result<Self, InvalidValue> {
        Ok(ProviderTransaction {
            transaction_id: ProviderTransactionId::parse(body.transaction_id)?,
            reference: ProviderReference::parse(body.reference)?,
            account_id: ProviderAccountId::parse(body.account_id)?,
            kind: body.kind.into(),
            amount: Points::new(body.amount)?,
            balance_after: body.balance_after,
            created_at: body.created_at,
        })
    }
}

impl From<&ProviderTransaction> for TransactionBody {
    fn from(transaction: &ProviderTransaction) -> Self {
        TransactionBody {
            transaction_id: transaction.transaction_id.to_string(),
            reference: transaction.reference.to_string(),
            account_id: transaction.account_id.to_string(),
            kind: transaction.kind.into(),
            amount: transaction.amount.get(),
            balance_after: transaction.balance_after,
            created_at: transaction.created_at,
        }
    }
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
    fn answers_read_as_provider_api_md_spells_them_and_write_back_the_same() {
        let account =
            r#"{"account_id": "acc_7Qm2", "balance": 1200, "status": "active", "updated_at": "2026-11-24T10:00:00Z"}"#;
        let body: AccountBody = serde_json::from_str(account).expect("the contract's account");
        let read = ProviderAccount::try_from(body.clone()).expect("a valid account");
        assert_eq!(read.status, AccountStatus::Active);
        assert_eq!(AccountBody::from(&read), body);
        for (name, status) in [("frozen", AccountStatus::Frozen), ("closed", AccountStatus::Closed)] {
            let named = account.replace("active", name);
            let body: AccountBody = serde_json::from_str(&named).expect("a status the contract names");
            assert_eq!(ProviderAccount::try_from(body).expect("valid").status, status);
        }
        assert!(serde_json::from_str::<AccountBody>(&account.replace("active", "Active")).is_err());

        let transaction = r#"{"transaction_id": "txn_91aF", "reference": "tr_01J:debit", "account_id": "acc_7Qm2",
            "kind": "credit", "amount": 300, "balance_after": 900, "created_at": "2026-11-24T10:00:01Z"}"#;
        let body: TransactionBody = serde_json::from_str(transaction).expect("the contract's transaction");
        let read = ProviderTransaction::try_from(body.clone()).expect("a valid transaction");
        assert_eq!((read.kind, read.amount.get()), (MovementKind::Credit, 300));
        assert_eq!(TransactionBody::from(&read), body);
        let zero: TransactionBody = serde_json::from_str(&transaction.replace("300", "0")).expect("reads");
        assert!(ProviderTransaction::try_from(zero).is_err(), "a movement of nothing is not a valid answer");
        let bad_id: TransactionBody = serde_json::from_str(&transaction.replace("acc_7Qm2", "acc 7")).expect("reads");
        assert!(ProviderTransaction::try_from(bad_id).is_err(), "an account id off the contract's alphabet");
    }

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
