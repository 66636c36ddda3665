//! What a transfer holds while it runs, and gives back when it moves
//! nothing: its amount against its sender's day (`DailyTotals`), and for a
//! reversal, against what its original may still give back. Shared by the
//! request that records a transfer, the saga that ends one, and the support
//! desk's corrections and reviews.

use crate::model::{Transfer, TransferKind};
use crate::ports::{DailyTotals, DayKey, ReversalHolds};

/// Gives back what `transfer` reserved, once it moved nothing: against its
/// day, and for a reversal, against what its original may still give back.
/// Whoever ended it calls this, so it happens once. If it fails the
/// allowance stays smaller than it should: the safe side.
pub(crate) async fn release_reservation(totals: &dyn DailyTotals, holds: &dyn ReversalHolds, transfer: &Transfer) {
    if let Err(error) = totals.release(&day_key(transfer), transfer.amount).await {
        tracing::warn!(%error, transfer = %transfer.id, "could not give back a daily reservation");
    }
    if let Some(original) = transfer.reverses
        && let Err(error) = holds.release_reversal(original, transfer.amount).await
    {
        tracing::warn!(%error, transfer = %transfer.id, %original, "could not give back a reversal's reservation");
    }
}

/// The daily counter a transfer counts against, on the UTC day it was
/// created: its sender's for its kind; for a withdrawal an admin decided,
/// their (the recipient's) grant budget, which pays for points taken as for
/// points made. Undoing a grant spends no budget (`TransferLimits::daily`).
pub(crate) fn day_key(transfer: &Transfer) -> DayKey {
    let (holder, kind) = match transfer.kind {
        TransferKind::Withdrawal if transfer.reverses.is_none() => (transfer.recipient, TransferKind::Grant),
        kind => (transfer.sender, kind),
    };
    DayKey { sender: holder, kind, day: transfer.created_at.date_naive() }
}
