//! What the provider's answers mean (provider-api.md, "Errors"): a body to
//! decode, a final rejection, a transient failure worth repeating, or
//! something unexpected that no retry fixes. Transport failures are sorted by
//! whether the request may have reached the provider.

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use pointshare_domain::ports::ProviderError;
use pointshare_domain::{InvalidValue, ProviderAccount, ProviderTransaction};

use crate::contract::{AccountBody, ErrorCode, ErrorEnvelope, Operation, TransactionBody};

/// A domain type an answer translates into, and the contract's body it is
/// read from.
pub(crate) trait Answer: TryFrom<Self::Body, Error = InvalidValue> {
    type Body: DeserializeOwned;
}

impl Answer for ProviderAccount {
    type Body = AccountBody;
}

impl Answer for ProviderTransaction {
    type Body = TransactionBody;
}

/// Reads an answer: `Ok(Some(_))` for a decoded success, `Ok(None)` for the
/// one "not found" that is an answer rather than an error (a reference never
/// applied), `Err` for everything else.
pub(crate) fn interpret<T: Answer>(
    operation: Operation,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<Option<T>, ProviderError> {
    if status.is_success() {
        let malformed = |error: &dyn std::fmt::Display| {
            unexpected(format!("malformed {status} answer to {operation}: {error}; body: {}", snippet(body)))
        };
        let read: T::Body = serde_json::from_slice(body).map_err(|error| malformed(&error))?;
        return T::try_from(read).map(Some).map_err(|error| malformed(&error));
    }
    let code = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .and_then(|envelope| ErrorCode::parse(&envelope.error.code))
        .filter(|code| code.status() == status.as_u16());
    if let Some(rejection) = code.and_then(ErrorCode::rejection) {
        return Err(ProviderError::Rejected(rejection));
    }
    match (status.as_u16(), code) {
        (404, Some(ErrorCode::TransactionNotFound)) if operation == Operation::TransactionByReference => Ok(None),
        (429, _) => Err(ProviderError::Transient { message: format!("{operation}: rate limited (429)"), retry_after }),
        (500..=599, _) => Err(ProviderError::Transient {
            message: format!("{operation}: provider answered {status}; it may have applied the call"),
            retry_after,
        }),
        _ => Err(unexpected(format!("{operation}: provider answered {status}: {}", snippet(body)))),
    }
}

/// A request that failed on the way: if it may have been sent, the provider
/// may have applied it, and only a retry with the same reference can tell.
pub(crate) fn transport_failure(operation: Operation, error: reqwest::Error) -> ProviderError {
    let connect = error.is_connect();
    let detail = format!("{:#}", anyhow::Error::new(error));
    if connect {
        ProviderError::Transient {
            message: format!("{operation}: cannot connect to the provider: {detail}"),
            retry_after: None,
        }
    } else if operation.mutates() {
        ProviderError::OutcomeUnknown(format!("{operation}: sent, but no answer: {detail}"))
    } else {
        ProviderError::Transient { message: format!("{operation}: no answer: {detail}"), retry_after: None }
    }
}

/// `Retry-After` in seconds; the HTTP-date form is not used by the provider.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

pub(crate) fn unexpected(message: String) -> ProviderError {
    ProviderError::Unexpected(anyhow::anyhow!(message))
}

fn snippet(body: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(LIMIT)]);
    if body.len() > LIMIT { format!("{text}…") } else { text.into_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pointshare_domain::ProviderAccount;
    use pointshare_domain::ports::Rejection;

    fn read(operation: Operation, status: u16, body: &str) -> Result<Option<ProviderAccount>, ProviderError> {
        interpret(operation, StatusCode::from_u16(status).expect("valid status"), None, body.as_bytes())
    }

    fn error(code: &str) -> String {
        format!(r#"{{"error": {{"code": "{code}", "message": "text"}}}}"#)
    }

    #[test]
    fn each_error_code_maps_to_its_case() {
        let cases = [
            (404, "account_not_found", Rejection::AccountNotFound),
            (409, "reference_conflict", Rejection::ReferenceConflict),
            (422, "insufficient_funds", Rejection::InsufficientFunds),
            (422, "account_inactive", Rejection::AccountInactive),
        ];
        for (status, code, rejection) in cases {
            let answer = read(Operation::Debit, status, &error(code));
            assert!(matches!(answer, Err(ProviderError::Rejected(r)) if r == rejection), "{code}: {answer:?}");
        }
    }

    #[test]
    fn transient_and_unexpected_answers() {
        for status in [500, 502, 503, 504] {
            assert!(matches!(read(Operation::Credit, status, "<html>"), Err(ProviderError::Transient { .. })));
        }
        assert!(matches!(read(Operation::Debit, 429, &error("rate_limited")), Err(ProviderError::Transient { .. })));
        for (status, body) in [(401, error("unauthorized")), (400, error("invalid_request")), (418, String::new())] {
            assert!(matches!(read(Operation::Debit, status, &body), Err(ProviderError::Unexpected(_))), "{status}");
        }
    }

    #[test]
    fn transaction_not_found_is_an_answer_only_to_a_lookup() {
        let body = error("transaction_not_found");
        let lookup: Result<Option<ProviderAccount>, _> =
            interpret(Operation::TransactionByReference, StatusCode::NOT_FOUND, None, body.as_bytes());
        assert!(matches!(lookup, Ok(None)));
        assert!(matches!(read(Operation::Account, 404, &body), Err(ProviderError::Unexpected(_))));
    }

    #[test]
    fn a_malformed_success_is_unexpected_with_context() {
        let answer = read(Operation::Account, 200, r#"{"account_id": "acc_1", "balance": -5}"#);
        let Err(ProviderError::Unexpected(error)) = answer else { panic!("expected Unexpected, got {answer:?}") };
        let message = error.to_string();
        assert!(message.contains("malformed 200 OK answer to account"), "{message}");
        assert!(message.contains("balance"), "{message}");
    }

    #[test]
    fn retry_after_reads_whole_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "3".parse().expect("valid header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2026 07:28:00 GMT".parse().expect("valid header"));
        assert_eq!(retry_after(&headers), None);
    }
}
