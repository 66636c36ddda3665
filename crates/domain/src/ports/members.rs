//! `MemberRepository`: where members are kept, with unique email and handle.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use super::StoreError;
use crate::model::{
    DisplayName, Email, Handle, HandlePrefix, Member, MemberId, MemberStatus, PasswordHash, ProviderAccountId, Role,
};

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
pub enum SetEmailError {
    #[error("email already taken")]
    EmailTaken,
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
    /// Active members whose handle begins with `prefix`, by handle; at most
    /// `limit`. What a member picking a recipient may see.
    async fn active_by_handle_prefix(&self, prefix: &HandlePrefix, limit: usize) -> Result<Vec<Member>, StoreError>;

    /// Records the member's provider account. Setting the same account again
    /// succeeds (so a retried signup converges); a different one is refused.
    async fn attach_account(&self, id: MemberId, account: &ProviderAccountId) -> Result<Member, AttachAccountError>;

    /// Returns the updated member, or `None` if there is no such member.
    async fn set_display_name(&self, id: MemberId, name: &DisplayName) -> Result<Option<Member>, StoreError>;

    async fn set_status(&self, id: MemberId, status: MemberStatus) -> Result<Option<Member>, StoreError>;

    async fn set_role(&self, id: MemberId, role: Role) -> Result<Option<Member>, StoreError>;

    /// Marks the member's email verified, if it is still `email` (a link
    /// to an address they no longer have verifies nothing); `None` otherwise.
    async fn set_email_verified(&self, id: MemberId, email: &Email) -> Result<Option<Member>, StoreError>;

    /// Replaces the member's email with `email`, which they proved theirs
    /// (so it is verified), unless another member has it; `None` if there
    /// is no such member.
    async fn set_verified_email(&self, id: MemberId, email: &Email) -> Result<Option<Member>, SetEmailError>;

    /// Leaves a closed member's tombstone: status closed `at`, `email` and
    /// `name` in place of theirs (the handle stays, held back), unverified;
    /// `None` if there is no such member.
    async fn close(
        &self,
        id: MemberId,
        email: &Email,
        name: &DisplayName,
        at: DateTime<Utc>,
    ) -> Result<Option<Member>, StoreError>;

    /// Gives a closed member's tombstone `handle` in place of theirs, which
    /// a new member may then take; `None` if there is no such member.
    async fn release_handle(&self, id: MemberId, handle: &Handle) -> Result<Option<Member>, StoreError>;

    /// Replaces the member's password hash; `None` if there is no such member.
    async fn set_password(&self, id: MemberId, hash: &PasswordHash) -> Result<Option<Member>, StoreError>;

    /// Members whose signup stopped before their provider account was recorded.
    async fn without_account(&self, limit: usize) -> Result<Vec<Member>, StoreError>;
}

/// Which members an admin's search lists: those whose handle, email or
/// display name begins with `text` (letter case aside), in `status` and
/// `role` when given; every member when default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberSearch {
    text: Option<String>,
    pub status: Option<MemberStatus>,
    pub role: Option<Role>,
}

impl MemberSearch {
    /// A search for `text` (trimmed; empty searches for everyone).
    pub fn new(text: &str, status: Option<MemberStatus>, role: Option<Role>) -> Self {
        let text = text.trim().to_lowercase();
        MemberSearch { text: (!text.is_empty()).then_some(text), status, role }
    }

    /// What the handle, email or display name must begin with, lowercased.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Whether the search lists `member`.
    pub fn lists(&self, member: &Member) -> bool {
        let begins = |field: &str| self.text.as_ref().is_none_or(|text| field.to_lowercase().starts_with(text));
        (begins(member.handle.as_str()) || begins(member.email.as_str()) || begins(member.display_name.as_str()))
            && self.status.is_none_or(|status| member.status == status)
            && self.role.is_none_or(|role| member.role == role)
    }
}

/// The members as admins look them up: searched, and the active admins
/// counted. Apart from `MemberRepository`, which members' own requests use.
#[async_trait]
pub trait MemberDirectory: Send + Sync + std::fmt::Debug {
    /// The members `search` lists, by handle, after `after` when given; at most `limit`.
    async fn search(
        &self,
        search: &MemberSearch,
        after: Option<&Handle>,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError>;

    /// The ids of up to `limit` active admins.
    async fn active_admins(&self, limit: usize) -> Result<Vec<MemberId>, StoreError>;
}
