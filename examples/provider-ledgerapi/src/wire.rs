//! LedgerAPI's wire, defined once for the adapter and the simulator: the
//! operations, the bodies, the error codes, amounts as decimal strings of
//! minor units, and what each answer means for the port. This is the one
//! place where LedgerAPI's answers become `ProviderError`s.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use pointshare_domain::ports::{ProviderError, Rejection};
use pointshare_domain::{
    AccountStatus, HolderRef, Memo, MovementKind, Points, ProviderAccount, ProviderAccountId, ProviderReference,
    ProviderTransaction, ProviderTransactionId,
};

/// The calls the adapter makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    /// `POST /oauth/token`
    Token,
    /// `POST /ledger/wallets`
    OpenWallet,
    /// `GET /ledger/wallets/{id}`
    Wallet,
    /// `POST /ledger/wallets/{id}/entries`, a debit or a credit.
    Entry(MovementKind),
    /// `GET /ledger/entries?key_prefix=..`, one page of it.
    Search,
}

impl Operation {
    /// Whether the call changes the ledger, so a request that was sent may
    /// have been applied whatever became of its answer.
    pub(crate) fn mutates(self) -> bool {
        matches!(self, Self::OpenWallet | Self::Entry(_))
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Token => "token grant",
            Self::OpenWallet => "open wallet",
            Self::Wallet => "read wallet",
            Self::Entry(MovementKind::Debit) => "debit entry",
            Self::Entry(MovementKind::Credit) => "credit entry",
            Self::Search => "entry search",
        })
    }
}

/// The answer to `POST /oauth/token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenGrant {
    pub access_token: String,
    pub token_type: String,
    /// Seconds the token stays valid from its grant.
    pub expires_in: u64,
}

/// The body of `POST /ledger/wallets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OpenWalletRequest {
    pub owner: HolderRef,
}

/// A wallet's state: only an open wallet takes entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletState {
    Open,
    Suspended,
    Terminated,
}

impl From<WalletState> for AccountStatus {
    fn from(state: WalletState) -> Self {
        match state {
            WalletState::Open => AccountStatus::Active,
            WalletState::Suspended => AccountStatus::Frozen,
            WalletState::Terminated => AccountStatus::Closed,
        }
    }
}

impl From<AccountStatus> for WalletState {
    fn from(status: AccountStatus) -> Self {
        match status {
            AccountStatus::Active => WalletState::Open,
            AccountStatus::Frozen => WalletState::Suspended,
            AccountStatus::Closed => WalletState::Terminated,
        }
    }
}

/// Which way an entry moves a wallet, as LedgerAPI spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    Debit,
    Credit,
}

impl From<Direction> for MovementKind {
    fn from(direction: Direction) -> Self {
        match direction {
            Direction::Debit => MovementKind::Debit,
            Direction::Credit => MovementKind::Credit,
        }
    }
}

impl From<MovementKind> for Direction {
    fn from(kind: MovementKind) -> Self {
        match kind {
            MovementKind::Debit => Direction::Debit,
            MovementKind::Credit => Direction::Credit,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Wallet {
    pub id: ProviderAccountId,
    pub owner: HolderRef,
    /// Minor units as a decimal string.
    pub available: String,
    pub state: WalletState,
    pub updated: DateTime<Utc>,
}

/// The body of `POST /ledger/wallets/{id}/entries`; the reference travels
/// in the `Idempotency-Key` header, not here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EntryRequest {
    pub direction: Direction,
    pub amount: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Memo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub entry_id: ProviderTransactionId,
    pub wallet_id: ProviderAccountId,
    pub direction: Direction,
    pub amount: String,
    /// The wallet's available amount once this entry was booked.
    pub balance: String,
    pub idempotency_key: ProviderReference,
    pub booked_at: DateTime<Utc>,
}

/// One page of `GET /ledger/entries`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EntriesPage {
    pub entries: Vec<Entry>,
    pub next_cursor: Option<String>,
}

/// The body of the sandbox's `POST /sandbox/wallets/{id}/state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StateRequest {
    pub state: WalletState,
}

/// `{"error": "<code>"}`, every error's body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: String,
}

/// LedgerAPI's error codes, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidToken,
    InsufficientBalance,
    WalletNotFound,
    IdempotencyKeyReused,
    WalletNotOpen,
    RateLimited,
    Internal,
    Unavailable,
}

impl ErrorCode {
    const ALL: [ErrorCode; 10] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidToken,
        Self::InsufficientBalance,
        Self::WalletNotFound,
        Self::IdempotencyKeyReused,
        Self::WalletNotOpen,
        Self::RateLimited,
        Self::Internal,
        Self::Unavailable,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientBalance => "insufficient_balance",
            Self::WalletNotFound => "wallet_not_found",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::WalletNotOpen => "wallet_not_open",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == code)
    }

    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InvalidClient | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientBalance => StatusCode::PAYMENT_REQUIRED,
            Self::WalletNotFound => StatusCode::NOT_FOUND,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::WalletNotOpen => StatusCode::LOCKED,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn rejection(self) -> Option<Rejection> {
        match self {
            Self::InsufficientBalance => Some(Rejection::InsufficientFunds),
            Self::WalletNotFound => Some(Rejection::AccountNotFound),
            Self::IdempotencyKeyReused => Some(Rejection::ReferenceConflict),
            Self::WalletNotOpen => Some(Rejection::AccountInactive),
            _ => None,
        }
    }
}

/// A LedgerAPI amount: whole minor units in canonical decimal ("0", "1200"),
/// nothing else. A sign, a fraction, an exponent, spaces or leading zeros
/// mean the two sides disagree on the format, and guessing would move the
/// wrong number of points.
pub(crate) fn parse_minor_units(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// What one answer means.
#[derive(Debug)]
pub(crate) enum Reply<T> {
    Answer(T),
    /// `401 invalid_token`: the token expired or was revoked; nothing was done.
    StaleToken,
}

/// Reads an answer; every status and error code LedgerAPI documents is
/// sorted here and nowhere else.
fn interpret<T: DeserializeOwned>(
    operation: Operation,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<Reply<T>, ProviderError> {
    if status.is_success() {
        return serde_json::from_slice(body).map(Reply::Answer).map_err(|error| {
            unexpected(format!("malformed {status} answer to {operation}: {error}; body: {}", snippet(body)))
        });
    }
    let code = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|body| ErrorCode::parse(&body.error))
        .filter(|code| code.status() == status);
    if let Some(rejection) = code.and_then(ErrorCode::rejection) {
        return Err(ProviderError::Rejected(rejection));
    }
    match (status.as_u16(), code) {
        (401, Some(ErrorCode::InvalidToken)) if operation != Operation::Token => Ok(Reply::StaleToken),
        // Refused at the door: nothing was taken up.
        (429, _) => Err(ProviderError::Transient { message: format!("{operation}: rate limited (429)"), retry_after }),
        (500..=599, _) if operation.mutates() => Err(ProviderError::OutcomeUnknown(format!(
            "{operation}: LedgerAPI answered {status}; it may have applied the call"
        ))),
        (500..=599, _) => {
            Err(ProviderError::Transient { message: format!("{operation}: LedgerAPI answered {status}"), retry_after })
        }
        _ => Err(unexpected(format!("{operation}: LedgerAPI answered {status}: {}", snippet(body)))),
    }
}

/// Sends one request and reads its answer.
pub(crate) async fn exchange<T: DeserializeOwned>(
    operation: Operation,
    request: RequestBuilder,
) -> Result<Reply<T>, ProviderError> {
    let response = request.send().await.map_err(|error| transport_failure(operation, error))?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = response.bytes().await.map_err(|error| transport_failure(operation, error))?;
    interpret(operation, status, retry_after, &body)
}

/// A call not sent because the caller's deadline passed: nothing happened,
/// and the caller may try again.
pub(crate) fn deadline_passed(operation: Operation) -> ProviderError {
    ProviderError::Transient { message: format!("{operation}: the deadline passed before the call"), retry_after: None }
}

/// A request that failed on the way: if it may have been sent, a write may
/// have been applied, and only a repeat with the same key can tell.
fn transport_failure(operation: Operation, error: reqwest::Error) -> ProviderError {
    let connect = error.is_connect();
    let detail = format!("{:#}", anyhow::Error::new(error));
    if connect {
        ProviderError::Transient {
            message: format!("{operation}: cannot connect to LedgerAPI: {detail}"),
            retry_after: None,
        }
    } else if operation.mutates() {
        ProviderError::OutcomeUnknown(format!("{operation}: sent, but no answer: {detail}"))
    } else {
        ProviderError::Transient { message: format!("{operation}: no answer: {detail}"), retry_after: None }
    }
}

/// `Retry-After` in whole seconds, the only form LedgerAPI sends.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

pub(crate) fn unexpected(message: String) -> ProviderError {
    ProviderError::Unexpected(anyhow::anyhow!(message))
}

fn minor_units(field: &str, text: &str) -> Result<u64, ProviderError> {
    parse_minor_units(text)
        .ok_or_else(|| unexpected(format!("LedgerAPI answered a malformed {field} {text:?}: not whole minor units")))
}

impl Wallet {
    pub(crate) fn into_account(self) -> Result<ProviderAccount, ProviderError> {
        Ok(ProviderAccount {
            balance: minor_units("available", &self.available)?,
            account_id: self.id,
            status: self.state.into(),
            updated_at: self.updated,
        })
    }
}

impl Entry {
    pub(crate) fn into_transaction(self) -> Result<ProviderTransaction, ProviderError> {
        let amount = Points::new(minor_units("amount", &self.amount)?)
            .map_err(|error| unexpected(format!("LedgerAPI answered an entry amount out of range: {error}")))?;
        Ok(ProviderTransaction {
            balance_after: minor_units("balance", &self.balance)?,
            transaction_id: self.entry_id,
            reference: self.idempotency_key,
            account_id: self.wallet_id,
            kind: self.direction.into(),
            amount,
            created_at: self.booked_at,
        })
    }
}

fn snippet(body: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(LIMIT)]);
    if body.len() > LIMIT { format!("{text}…") } else { text.into_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(operation: Operation, status: u16, body: &str) -> Result<Reply<Wallet>, ProviderError> {
        interpret(operation, StatusCode::from_u16(status).expect("valid status"), None, body.as_bytes())
    }

    fn error(code: &str) -> String {
        format!(r#"{{"error": "{code}"}}"#)
    }

    const DEBIT: Operation = Operation::Entry(MovementKind::Debit);

    #[test]
    fn amounts_are_whole_minor_units_in_canonical_decimal() {
        assert_eq!(parse_minor_units("0"), Some(0));
        assert_eq!(parse_minor_units("1200"), Some(1200));
        assert_eq!(parse_minor_units("18446744073709551615"), Some(u64::MAX));
        for malformed in ["", "12.5", "12.00", "-3", "+3", " 3", "3 ", "1e3", "007", "18446744073709551616", "١٢"] {
            assert_eq!(parse_minor_units(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn each_refusal_maps_to_its_rejection() {
        let cases = [
            (402, "insufficient_balance", Rejection::InsufficientFunds),
            (404, "wallet_not_found", Rejection::AccountNotFound),
            (422, "idempotency_key_reused", Rejection::ReferenceConflict),
            (423, "wallet_not_open", Rejection::AccountInactive),
        ];
        for (status, code, rejection) in cases {
            let answer = read(DEBIT, status, &error(code));
            assert!(matches!(answer, Err(ProviderError::Rejected(r)) if r == rejection), "{code}: {answer:?}");
        }
        // A code under a status it does not belong to is not trusted as a refusal.
        assert!(matches!(read(DEBIT, 500, &error("insufficient_balance")), Err(ProviderError::OutcomeUnknown(_))));
    }

    #[test]
    fn a_5xx_is_unknown_for_a_write_and_transient_for_a_read() {
        for status in [500, 502, 503, 504] {
            assert!(matches!(read(DEBIT, status, "<html>"), Err(ProviderError::OutcomeUnknown(_))), "{status}");
            assert!(matches!(read(Operation::OpenWallet, status, ""), Err(ProviderError::OutcomeUnknown(_))));
            assert!(matches!(read(Operation::Wallet, status, ""), Err(ProviderError::Transient { .. })));
            assert!(matches!(read(Operation::Search, status, ""), Err(ProviderError::Transient { .. })));
        }
        let limited = interpret::<Wallet>(DEBIT, StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(2)), b"");
        assert!(
            matches!(limited, Err(ProviderError::Transient { retry_after: Some(after), .. }) if after.as_secs() == 2)
        );
    }

    #[test]
    fn a_stale_token_is_its_own_answer_except_to_a_grant() {
        assert!(matches!(read(DEBIT, 401, &error("invalid_token")), Ok(Reply::StaleToken)));
        assert!(matches!(read(Operation::Token, 401, &error("invalid_client")), Err(ProviderError::Unexpected(_))));
        assert!(matches!(read(Operation::Token, 401, &error("invalid_token")), Err(ProviderError::Unexpected(_))));
        assert!(matches!(read(DEBIT, 400, &error("invalid_request")), Err(ProviderError::Unexpected(_))));
    }

    #[test]
    fn a_wallet_with_a_malformed_amount_is_unexpected() {
        let wallet =
            r#"{"id":"wal_1","owner":"m1","available":"12.50","state":"open","updated":"2026-11-24T10:00:00Z"}"#;
        let Ok(Reply::Answer(wallet)) = read(Operation::Wallet, 200, wallet) else { panic!("decodes the wire shape") };
        let answer = wallet.into_account();
        assert!(
            matches!(&answer, Err(ProviderError::Unexpected(e)) if e.to_string().contains("\"12.50\"")),
            "{answer:?}"
        );
    }

    #[test]
    fn wallet_states_map_to_account_statuses_both_ways() {
        for (state, status) in [
            (WalletState::Open, AccountStatus::Active),
            (WalletState::Suspended, AccountStatus::Frozen),
            (WalletState::Terminated, AccountStatus::Closed),
        ] {
            assert_eq!((AccountStatus::from(state), WalletState::from(status)), (status, state));
        }
    }
}
