//! The JSON the API speaks: request bodies as the frontend sends them (plain
//! strings and numbers, parsed into domain types by the handlers so each
//! error can name its field) and the shapes of every answer.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use pointshare_domain::services::{Balance, BalanceSource};
use pointshare_domain::{
    DeclineReason, Handle, Member, MemberId, ReviewReason, Role, Transfer, TransferKind, TransferState,
};

use crate::problem::ApiError;
use crate::wiring::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupBody {
    /// Unique, case-insensitively.
    #[schema(format = Email, min_length = 3, max_length = 254, example = "ada@example.com")]
    pub email: String,
    #[schema(min_length = 8, max_length = 128, example = "correct horse battery")]
    pub password: String,
    /// Letters, digits and `_`; unique, case-insensitively (stored lower case).
    #[schema(pattern = "^[A-Za-z0-9_]{3,32}$", example = "ada")]
    pub handle: String,
    /// No control characters.
    #[schema(min_length = 1, max_length = 64, example = "Ada")]
    pub display_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshBody {
    /// The `refresh_token` of the last login or refresh.
    pub refresh_token: String,
}

/// A session's tokens: a short access token for `Authorization: Bearer`, and
/// a refresh token that buys the next pair once (then it is retired; using a
/// retired one again ends the session).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameBody {
    /// No control characters.
    #[schema(min_length = 1, max_length = 64, example = "Ada L.")]
    pub display_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub handle: String,
    pub display_name: String,
    pub role: RoleView,
    pub created_at: DateTime<Utc>,
}

/// What a member may do beyond their own points; operators change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleView {
    Member,
    Admin,
}

impl MemberView {
    pub fn of(member: &Member) -> Self {
        MemberView {
            id: member.id.to_string(),
            email: member.email.to_string(),
            handle: member.handle.to_string(),
            display_name: member.display_name.to_string(),
            role: match member.role {
                Role::Member => RoleView::Member,
                Role::Admin => RoleView::Admin,
            },
            created_at: member.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    pub member: MemberView,
    pub balance: BalanceView,
}

/// What another member sees: enough to pick a recipient.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicMemberView {
    pub handle: String,
    pub display_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BalanceView {
    pub balance: u64,
    /// When the provider reported this balance.
    pub as_of: DateTime<Utc>,
    pub source: SourceView,
}

/// Where a balance was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceView {
    Cache,
    Provider,
}

impl From<Balance> for BalanceView {
    fn from(balance: Balance) -> Self {
        let source = match balance.source {
            BalanceSource::Cache => SourceView::Cache,
            BalanceSource::Provider => SourceView::Provider,
        };
        BalanceView { balance: balance.points, as_of: balance.as_of, source }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ShareBody {
    /// The recipient's handle.
    #[schema(pattern = "^[A-Za-z0-9_]{3,32}$", example = "ben")]
    pub to_handle: String,
    /// Whole points; at most the server's per-transfer limit.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_u64, example = 30)]
    pub amount: u64,
    /// No control characters.
    #[schema(max_length = 140, example = "lunch")]
    pub memo: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantBody {
    #[schema(pattern = "^[A-Za-z0-9_]{3,32}$", example = "ada")]
    pub to_handle: String,
    #[schema(minimum = 1, maximum = 1_000_000_000_000_u64, example = 100)]
    pub amount: u64,
    /// Why the points were granted; no control characters.
    #[schema(max_length = 140, example = "welcome")]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    pub id: String,
    pub kind: KindView,
    pub state: StateView,
    /// The sender's handle; for a grant, the admin's.
    pub from_handle: String,
    pub to_handle: String,
    pub amount: u64,
    pub memo: Option<String>,
    /// Why a rejected or reversed transfer did not complete.
    pub decline_reason: Option<DeclineView>,
    /// Why a transfer waits for an operator (`needs_review`); kept once resolved.
    pub review_reason: Option<ReviewView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A member's share, or an admin's grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindView {
    Share,
    Grant,
}

/// `processing` until final; then `completed`, `rejected` (nothing moved) or
/// `reversed` (taken, then given back because the recipient could not receive).
/// `needs_review`: the provider answered in a way software cannot settle; an
/// operator will finish it as `completed` or `reversed`/`rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateView {
    Processing,
    Completed,
    Rejected,
    Reversed,
    NeedsReview,
}

impl From<TransferState> for StateView {
    fn from(state: TransferState) -> Self {
        match state {
            TransferState::Accepted | TransferState::Debited | TransferState::Refunding => StateView::Processing,
            TransferState::Completed => StateView::Completed,
            TransferState::Rejected => StateView::Rejected,
            TransferState::Reversed => StateView::Reversed,
            TransferState::NeedsReview => StateView::NeedsReview,
        }
    }
}

/// Why a transfer did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclineView {
    InsufficientFunds,
    SenderAccountInactive,
    SenderAccountNotFound,
    RecipientAccountInactive,
    RecipientAccountNotFound,
    DailyLimitExceeded,
    GrantBudgetExceeded,
}

impl From<DeclineReason> for DeclineView {
    fn from(reason: DeclineReason) -> Self {
        match reason {
            DeclineReason::InsufficientFunds => DeclineView::InsufficientFunds,
            DeclineReason::SenderAccountInactive => DeclineView::SenderAccountInactive,
            DeclineReason::SenderAccountNotFound => DeclineView::SenderAccountNotFound,
            DeclineReason::RecipientAccountInactive => DeclineView::RecipientAccountInactive,
            DeclineReason::RecipientAccountNotFound => DeclineView::RecipientAccountNotFound,
            DeclineReason::DailyLimitExceeded => DeclineView::DailyLimitExceeded,
            DeclineReason::GrantBudgetExceeded => DeclineView::GrantBudgetExceeded,
        }
    }
}

/// Why a transfer waits for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewView {
    AttemptsExhausted,
    ProviderRefused,
    ReferenceConflict,
    RefundRefused,
}

impl From<ReviewReason> for ReviewView {
    fn from(reason: ReviewReason) -> Self {
        match reason {
            ReviewReason::AttemptsExhausted => ReviewView::AttemptsExhausted,
            ReviewReason::ProviderRefused => ReviewView::ProviderRefused,
            ReviewReason::ReferenceConflict => ReviewView::ReferenceConflict,
            ReviewReason::RefundRefused => ReviewView::RefundRefused,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferPage {
    pub items: Vec<TransferView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100; 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Transfers as the API shows them: members by handle, states a member can
/// act on. `known` are handles the caller already holds (its own, the one a
/// request named); the rest are read in one store round trip.
pub async fn transfer_views(
    state: &AppState,
    transfers: Vec<Transfer>,
    known: &[(MemberId, &Handle)],
) -> Result<Vec<TransferView>, ApiError> {
    let mut handles: HashMap<MemberId, String> = known.iter().map(|(id, handle)| (*id, handle.to_string())).collect();
    let mut missing: Vec<MemberId> =
        transfers.iter().flat_map(|t| [t.sender, t.recipient]).filter(|id| !handles.contains_key(id)).collect();
    missing.sort_unstable();
    missing.dedup();
    if !missing.is_empty() {
        let found = state.members.by_ids(&missing).await.map_err(ApiError::unexpected)?;
        handles.extend(found.into_iter().map(|member| (member.id, member.handle.to_string())));
    }
    let handle = |id: &MemberId| handles.get(id).cloned().unwrap_or_else(|| "unknown".to_owned());
    let mut views = Vec::with_capacity(transfers.len());
    for transfer in transfers {
        views.push(TransferView {
            id: transfer.id.to_string(),
            kind: match transfer.kind {
                TransferKind::Share => KindView::Share,
                TransferKind::Grant => KindView::Grant,
            },
            state: transfer.state.into(),
            from_handle: handle(&transfer.sender),
            to_handle: handle(&transfer.recipient),
            amount: transfer.amount.get(),
            memo: transfer.memo.map(|memo| memo.to_string()),
            decline_reason: transfer.decline.map(DeclineView::from),
            review_reason: transfer.review.map(ReviewView::from),
            created_at: transfer.created_at,
            updated_at: transfer.updated_at,
        });
    }
    Ok(views)
}
