//! Transfers as the API shows them name their members by handle: the one
//! step between a page of transfers and its views that asks the store (the
//! service resolves the parties; views.rs only shapes what it is given).

use pointshare_domain::{Handle, MemberId, Transfer};

use super::views::TransferView;
use crate::problem::ApiError;
use crate::wiring::AppState;

/// `transfers` as views: members by handle (`known` are handles the caller
/// already holds, not looked up again), states a member can act on.
pub async fn transfer_views(
    state: &AppState,
    transfers: Vec<Transfer>,
    known: &[(MemberId, &Handle)],
) -> Result<Vec<TransferView>, ApiError> {
    let resolved = state.services.transfers.with_parties(transfers, known).await.map_err(ApiError::unexpected)?;
    Ok(resolved.into_iter().map(TransferView::from).collect())
}
