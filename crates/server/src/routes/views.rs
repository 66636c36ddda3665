//! The JSON the API speaks: request bodies as the frontend sends them (plain
//! strings and numbers, parsed into domain types by the handlers so each
//! error can name its field) and the shapes of every answer.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use pointshare_domain::services::Balance;
use pointshare_domain::{Member, MemberId, Transfer, TransferKind};

use crate::auth::Role;
use crate::problem::ApiError;
use crate::wiring::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupBody {
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
    /// 3 to 32 of `a-z`, `0-9` and `_`; unique, case-insensitively.
    pub handle: String,
    pub display_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameBody {
    pub display_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub handle: String,
    pub display_name: String,
    #[schema(value_type = String, example = "member")]
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl MemberView {
    pub fn of(member: &Member, role: Role) -> Self {
        MemberView {
            id: member.id.to_string(),
            email: member.email.to_string(),
            handle: member.handle.to_string(),
            display_name: member.display_name.to_string(),
            role,
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
    /// `cache` or `provider`.
    pub source: String,
}

impl From<Balance> for BalanceView {
    fn from(balance: Balance) -> Self {
        BalanceView { balance: balance.points, as_of: balance.as_of, source: balance.source.as_str().to_owned() }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ShareBody {
    /// The recipient's handle.
    pub to_handle: String,
    /// Whole points, at least 1.
    pub amount: u64,
    /// Up to 140 characters.
    pub memo: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantBody {
    pub to_handle: String,
    pub amount: u64,
    /// Why the points were granted; up to 140 characters.
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    pub id: String,
    /// `share` or `grant`.
    pub kind: String,
    /// `processing` until final, then `completed`, `rejected` or `reversed`.
    pub state: String,
    /// The sender's handle; for a grant, the admin's.
    pub from_handle: String,
    pub to_handle: String,
    pub amount: u64,
    pub memo: Option<String>,
    /// Why a rejected or reversed transfer did not complete.
    pub decline_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferPage {
    pub items: Vec<TransferView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1 to 100; 20 when absent.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Transfers as the API shows them: members by handle, states a member can act on.
pub async fn transfer_views(state: &AppState, transfers: Vec<Transfer>) -> Result<Vec<TransferView>, ApiError> {
    let mut handles: HashMap<MemberId, String> = HashMap::new();
    let mut views = Vec::with_capacity(transfers.len());
    for transfer in transfers {
        for id in [transfer.sender, transfer.recipient] {
            if let std::collections::hash_map::Entry::Vacant(slot) = handles.entry(id) {
                let member = state.members.by_id(id).await.map_err(ApiError::unexpected)?;
                slot.insert(member.map_or_else(|| "unknown".to_owned(), |m| m.handle.to_string()));
            }
        }
        let state = if transfer.state.is_terminal() { transfer.state.as_str() } else { "processing" };
        views.push(TransferView {
            id: transfer.id.to_string(),
            kind: match transfer.kind {
                TransferKind::Share => "share",
                TransferKind::Grant => "grant",
            }
            .to_owned(),
            state: state.to_owned(),
            from_handle: handles[&transfer.sender].clone(),
            to_handle: handles[&transfer.recipient].clone(),
            amount: transfer.amount.get(),
            memo: transfer.memo.map(|memo| memo.to_string()),
            decline_reason: transfer.decline.map(|reason| reason.as_str().to_owned()),
            created_at: transfer.created_at,
            updated_at: transfer.updated_at,
        });
    }
    Ok(views)
}
