//! Members: signing up (a member record plus a provider account, in a way that
//! converges if interrupted), looking members up, and changing a profile.

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

use super::time::to_delta;

use crate::model::{
    DisplayName, Email, Handle, HandlePrefix, HolderRef, Member, MemberId, MemberStatus, Password, Role,
};
use crate::ports::{
    AttachAccountError, Clock, Deadline, HashError, InsertMemberError, MemberRepository, PasswordHasher,
    PointsProvider, ProviderError, StoreError,
};

#[derive(Debug, Clone)]
pub struct SignupCommand {
    pub email: Email,
    pub handle: Handle,
    pub display_name: DisplayName,
    /// Hashed before it is recorded; never stored.
    pub password: Password,
}

#[derive(Debug, Error)]
pub enum SignupError {
    #[error("email already taken")]
    EmailTaken,
    #[error("handle already taken")]
    HandleTaken,
    /// The member is recorded but the provider could not open the account in
    /// time; repeating the signup (or recovery) finishes it.
    #[error("the points provider is unavailable; try again")]
    ProviderUnavailable,
    /// Too many passwords are being hashed; nothing was recorded.
    #[error("too many passwords are being hashed; try again shortly")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashError> for SignupError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => SignupError::Busy,
            HashError::Unexpected(error) => SignupError::Unexpected(error.context("hashing the password")),
        }
    }
}

#[derive(Debug, Error)]
pub enum RenameError {
    #[error("no such member")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// How long a closed account's handle is held back from new members by
/// default, so nobody passes for the leaver while people still remember them.
pub const HANDLE_HOLD: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Debug)]
pub struct MemberService {
    members: Arc<dyn MemberRepository>,
    provider: Arc<dyn PointsProvider>,
    passwords: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    /// How long a closed account's handle is held back.
    handle_hold: Duration,
}

impl MemberService {
    pub fn new(
        members: Arc<dyn MemberRepository>,
        provider: Arc<dyn PointsProvider>,
        passwords: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        handle_hold: Duration,
    ) -> Self {
        MemberService { members, provider, passwords, clock, handle_hold }
    }

    /// Records the member, then opens the provider account with the member id
    /// as `holder_ref`. The provider opens one account per holder_ref, so a
    /// signup repeated after a crash between the two steps finds the pending
    /// member and the same account: no orphan, no second account.
    ///
    /// A signup always makes a `Member`: roles are an operator's to give.
    pub async fn signup(&self, command: SignupCommand, deadline: Deadline) -> Result<Member, SignupError> {
        self.enrol(command, Role::Member, deadline).await
    }

    /// `signup` for the one admin an operator names at start (the bootstrap
    /// admin, the embedded default's demo admin): never reachable from the API.
    pub async fn enrol_admin(&self, command: SignupCommand, deadline: Deadline) -> Result<Member, SignupError> {
        self.enrol(command, Role::Admin, deadline).await
    }

    async fn enrol(&self, command: SignupCommand, role: Role, deadline: Deadline) -> Result<Member, SignupError> {
        let member = match self.pending_match(&command, role).await? {
            Some(pending) => pending,
            None => self.create(&command, role).await?,
        };
        self.open_account(member, deadline).await
    }

    /// Opens accounts for members whose signup stopped half way. Returns how
    /// many it finished.
    pub async fn finish_pending(&self, limit: usize, deadline: Deadline) -> Result<usize, StoreError> {
        let mut finished = 0;
        for member in self.members.without_account(limit).await? {
            match self.open_account(member, deadline).await {
                Ok(_) => finished += 1,
                Err(error) => tracing::warn!(%error, "could not finish a pending signup"),
            }
        }
        Ok(finished)
    }

    pub async fn by_id(&self, id: MemberId) -> Result<Option<Member>, StoreError> {
        self.members.by_id(id).await
    }

    /// The members of these ids that exist, in one store round trip.
    pub async fn by_ids(&self, ids: &[MemberId]) -> Result<Vec<Member>, StoreError> {
        self.members.by_ids(ids).await
    }

    pub async fn by_email(&self, email: &Email) -> Result<Option<Member>, StoreError> {
        self.members.by_email(email).await
    }

    pub async fn by_handle(&self, handle: &Handle) -> Result<Option<Member>, StoreError> {
        self.members.by_handle(handle).await
    }

    /// The members `caller` may pick as a recipient whose handle begins with
    /// `prefix`: those who can receive, never the caller, by handle, at most
    /// `limit`.
    pub async fn recipients_like(
        &self,
        caller: MemberId,
        prefix: &HandlePrefix,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError> {
        let found = self.members.active_by_handle_prefix(prefix, limit + 1).await?;
        Ok(found.into_iter().filter(|member| member.id != caller && member.can_receive()).take(limit).collect())
    }

    pub async fn rename(&self, id: MemberId, name: &DisplayName) -> Result<Member, RenameError> {
        let renamed = self.members.set_display_name(id, name).await.context("renaming a member")?;
        renamed.ok_or(RenameError::NotFound)
    }

    pub async fn set_status(&self, id: MemberId, status: MemberStatus) -> Result<Option<Member>, StoreError> {
        self.members.set_status(id, status).await
    }

    /// A member left pending by an earlier attempt of this same signup (the
    /// same email, handle and role: a public signup never finishes an
    /// operator's admin, nor an admin's enrolment a member's signup).
    async fn pending_match(&self, command: &SignupCommand, role: Role) -> Result<Option<Member>, SignupError> {
        let existing = self.members.by_email(&command.email).await.context("looking up the email")?;
        match existing {
            None => Ok(None),
            Some(member)
                if member.provider_account.is_none() && member.handle == command.handle && member.role == role =>
            {
                Ok(Some(member))
            }
            Some(_) => Err(SignupError::EmailTaken),
        }
    }

    async fn create(&self, command: &SignupCommand, role: Role) -> Result<Member, SignupError> {
        let member = Member {
            id: MemberId::new(),
            email: command.email.clone(),
            handle: command.handle.clone(),
            display_name: command.display_name.clone(),
            password_hash: self.passwords.hash(&command.password).await?,
            role,
            status: MemberStatus::Active,
            provider_account: None,
            // An admin's address is the operator's to name, not a stranger's to type.
            email_verified: role == Role::Admin,
            created_at: self.clock.now(),
            closed_at: None,
        };
        let mut inserted = self.members.insert(&member).await;
        if matches!(inserted, Err(InsertMemberError::HandleTaken)) && self.release_held(&member.handle).await? {
            inserted = self.members.insert(&member).await;
        }
        match inserted {
            Ok(()) => Ok(member),
            // A concurrent attempt of the same signup got there first.
            Err(InsertMemberError::EmailTaken) => {
                self.pending_match(command, role).await?.ok_or(SignupError::EmailTaken)
            }
            Err(InsertMemberError::HandleTaken) => Err(SignupError::HandleTaken),
            Err(InsertMemberError::Unexpected(error)) => {
                Err(anyhow::Error::from(error).context("recording a member").into())
            }
        }
    }

    /// Frees `handle` if a closed account holds it and its hold is over: the
    /// tombstone takes a handle made of its id instead. Whether it did.
    async fn release_held(&self, handle: &Handle) -> anyhow::Result<bool> {
        let holder = self.members.by_handle(handle).await.context("looking up the handle's holder")?;
        let Some(tombstone) = holder.filter(|holder| holder.status == MemberStatus::Closed) else { return Ok(false) };
        let held_until = tombstone.closed_at.map(|closed| closed + to_delta(self.handle_hold));
        if held_until.is_none_or(|until| self.clock.now() < until) {
            return Ok(false);
        }
        let placeholder = Handle::parse(format!("closed_{}", &tombstone.id.as_uuid().simple().to_string()[..25]))
            .context("a tombstone's handle")?;
        self.members.release_handle(tombstone.id, &placeholder).await.context("releasing the handle")?;
        tracing::info!(member = %tombstone.id, "a closed account's handle, held long enough, is free again");
        Ok(true)
    }

    async fn open_account(&self, member: Member, deadline: Deadline) -> Result<Member, SignupError> {
        let holder = HolderRef::from(member.id);
        let account = match self.provider.open_account(&holder, deadline).await {
            Ok(account) => account,
            Err(error @ (ProviderError::Transient { .. } | ProviderError::OutcomeUnknown(_))) => {
                tracing::warn!(member = %member.id, %error, "provider account not opened yet");
                return Err(SignupError::ProviderUnavailable);
            }
            Err(error) => return Err(anyhow::Error::from(error).context("opening a provider account").into()),
        };
        match self.members.attach_account(member.id, &account.account_id).await {
            Ok(member) => Ok(member),
            Err(AttachAccountError::AlreadyAttached(other)) => Err(anyhow::anyhow!(
                "member {} already has account {other}, provider opened {}",
                member.id,
                account.account_id
            )
            .into()),
            Err(error) => Err(anyhow::Error::from(error).context("recording the provider account").into()),
        }
    }
}
