//! `MemberRepository`: where members are kept, with unique email and handle.

use async_trait::async_trait;
use thiserror::Error;

use super::StoreError;
use crate::model::{DisplayName, Email, Handle, Member, MemberId, MemberStatus, ProviderAccountId, Role};

#[derive(Debug, Error)]
pub enum InsertMemberError {
    #[error("email already taken")]
    EmailTaken,
    #[error("handle already taken")]
    HandleTaken,
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

#[derive(Debug, Error)]
pub enum AttachAccountError {
    #[error("no such member")]
    NotFound,
    /// The member already has another account: the caller must not open a second.
    #[error("member already has account {0}")]
    AlreadyAttached(ProviderAccountId),
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

#[async_trait]
pub trait MemberRepository: Send + Sync + std::fmt::Debug {
    /// Adds a member; email and handle are unique (both are stored normalised).
    async fn insert(&self, member: &Member) -> Result<(), InsertMemberError>;

    async fn by_id(&self, id: MemberId) -> Result<Option<Member>, StoreError>;

    /// The members of these ids that exist, in no particular order: one
    /// round trip for a page of history's counterparties.
    async fn by_ids(&self, ids: &[MemberId]) -> Result<Vec<Member>, StoreError>;

    async fn by_email(&self, email: &Email) -> Result<Option<Member>, StoreError>;

    async fn by_handle(&self, handle: &Handle) -> Result<Option<Member>, StoreError>;

    /// Records the member's provider account. Setting the same account again
    /// succeeds (so a retried signup converges); a different one is refused.
    async fn attach_account(&self, id: MemberId, account: &ProviderAccountId) -> Result<Member, AttachAccountError>;

    /// Returns the updated member, or `None` if there is no such member.
    async fn set_display_name(&self, id: MemberId, name: &DisplayName) -> Result<Option<Member>, StoreError>;

    async fn set_status(&self, id: MemberId, status: MemberStatus) -> Result<Option<Member>, StoreError>;

    async fn set_role(&self, id: MemberId, role: Role) -> Result<Option<Member>, StoreError>;

    /// Members whose signup stopped before their provider account was recorded.
    async fn without_account(&self, limit: usize) -> Result<Vec<Member>, StoreError>;
}
