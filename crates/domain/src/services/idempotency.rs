//! Idempotency of create requests: a sender's key names one transfer forever.
//! Repeating the request returns that transfer as it now stands; reusing the
//! key for a different request is refused, so a client bug cannot move points.

use crate::model::{Transfer, TransferRequest};

/// What an idempotency key says about a request.
#[derive(Debug)]
pub(crate) enum KeyCheck {
    /// The key is new: go ahead and create.
    Fresh,
    /// The same request was made before; answer with its transfer.
    Replay(Box<Transfer>),
    /// The key already names a different request.
    Reused,
}

pub(crate) fn check_key(existing: Option<Transfer>, request: &TransferRequest) -> KeyCheck {
    match existing {
        None => KeyCheck::Fresh,
        Some(transfer) if transfer.answers(request) => KeyCheck::Replay(Box::new(transfer)),
        Some(_) => KeyCheck::Reused,
    }
}
