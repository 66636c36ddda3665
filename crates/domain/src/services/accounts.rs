//! A member's own account: proving their email is theirs through a
//! one-use link sent by mail, changing the password (every other session
//! ends, and a mail says so), resetting a forgotten one through a one-use
//! link, moving to another email (which takes effect when a link mailed
//! to the new address is followed; the old address is told at once), and
//! closing the account: only with no points on the move, and none left
//! unless the member gives them to the house account through the saga, so
//! closing loses no point. Guesses at the current password are paced
//! like logins at that account, so a stolen access token cannot be turned
//! into the password by trying; asking for a reset says nothing about
//! whether the address is a member's.

use std::sync::Arc;

use anyhow::Context;
use thiserror::Error;

use super::throttle::{AccountKey, Throttle, Throttled};
use super::time::to_delta;
use super::transfers::SubmitError;
use super::{BalanceError, BalanceService, MailService, TransferService};
use crate::model::{
    AccountToken, DisplayName, Email, Handle, MailIntent, MailKind, MailMessage, MailToken, Member, MemberId,
    MemberStatus, Password, Points, SessionId, TokenHash, TokenPurpose, TransferState,
};
use crate::ports::{
    AccountTokens, Clock, Deadline, HashError, HistoryFilter, MemberRepository, PasswordHasher, SessionRepository,
    SetEmailError, StoreError,
};

/// How long a password reset link works.
pub const RESET_LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// How long an email verification link works.
pub const VERIFY_LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A one-use token made for a mail: what the mail carries, and the hash
/// the store keeps to check it.
#[derive(Debug, Clone)]
pub struct MailedToken {
    pub token: MailToken,
    pub hash: TokenHash,
}

/// A member's request to change their password, from one of their sessions.
#[derive(Debug)]
pub struct PasswordChange {
    pub member: MemberId,
    /// The session asking, which stays open.
    pub session: SessionId,
    /// As typed, unchecked.
    pub current: String,
    pub new: Password,
}

/// Why the password typed to confirm a change to an account did not: the
/// same for every change that asks for it. Checks are paced like logins at
/// the account.
#[derive(Debug, Error)]
pub enum PasswordCheckError {
    #[error("the password is wrong")]
    Wrong,
    #[error("too many passwords are being checked; try again shortly")]
    Busy,
    #[error(transparent)]
    Throttled(#[from] Throttled),
}

#[derive(Debug, Error)]
pub enum ChangePasswordError {
    #[error(transparent)]
    Password(#[from] PasswordCheckError),
    /// The member is gone since their token was issued.
    #[error("no such member")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashError> for ChangePasswordError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => PasswordCheckError::Busy.into(),
            HashError::Unexpected(error) => ChangePasswordError::Unexpected(error.context("hashing a password")),
        }
    }
}

/// A member's request to move to another email, with their password.
#[derive(Debug)]
pub struct EmailChange {
    pub member: MemberId,
    /// As typed, unchecked.
    pub password: String,
    pub new: Email,
}

#[derive(Debug, Error)]
pub enum ChangeEmailError {
    #[error(transparent)]
    Password(#[from] PasswordCheckError),
    #[error("that is already the member's email")]
    Unchanged,
    #[error("another member has that email")]
    EmailTaken,
    #[error("no such member")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A member's request to close their account, with their password.
#[derive(Debug)]
pub struct CloseAccount {
    pub member: MemberId,
    /// As typed, unchecked.
    pub password: String,
    /// Give what is left to the house account rather than refuse.
    pub forfeit: bool,
}

#[derive(Debug, Error)]
pub enum CloseError {
    #[error(transparent)]
    Password(#[from] PasswordCheckError),
    /// Points are left: closing would lose them. Share them first, or forfeit them.
    #[error("{0} points are left on the account")]
    PointsLeft(u64),
    /// A forfeit was asked, but no house account is set up to receive it.
    #[error("no house account receives forfeited points")]
    NoHouseAccount,
    /// The forfeit did not complete within the request: still processing
    /// (it completes on its own), or refused. The account stays open.
    #[error("the forfeit is {}", .0.as_str())]
    ForfeitUnfinished(TransferState),
    /// A transfer the member sent or receives has not ended yet.
    #[error("a transfer of the member's is still on its way")]
    TransfersUnderway,
    /// An admin's account is closed only once another admin has made them a member.
    #[error("an admin cannot close their own account")]
    Admin,
    #[error("no such member")]
    NotFound,
    #[error("the points provider is unavailable; try again")]
    ProviderUnavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The states a transfer is in while points may still move for it.
const UNDERWAY: [TransferState; 5] = [
    TransferState::Accepted,
    TransferState::Debited,
    TransferState::Refunding,
    TransferState::NeedsReview,
    TransferState::AwaitingApproval,
];

#[derive(Debug, Error)]
pub enum ResetError {
    /// Unknown, used, expired, or for something else.
    #[error("the token is not valid")]
    InvalidToken,
    #[error("too many passwords are being hashed; try again shortly")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashError> for ResetError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => ResetError::Busy,
            HashError::Unexpected(error) => ResetError::Unexpected(error.context("hashing a password")),
        }
    }
}

#[derive(Debug, Error)]
pub enum VerifyError {
    /// Unknown, used, expired, or for an address the member no longer has.
    #[error("the token is not valid")]
    InvalidToken,
    /// The new address of a change became another member's meanwhile.
    #[error("another member has that email")]
    EmailTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The stores and the hasher a member's account is kept with.
#[derive(Debug, Clone)]
pub struct AccountPorts {
    pub members: Arc<dyn MemberRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub tokens: Arc<dyn AccountTokens>,
    pub passwords: Arc<dyn PasswordHasher>,
}

/// The services closing an account leans on, and the house account that
/// receives what a leaving member forfeits (none: closing needs a zero balance).
#[derive(Debug, Clone)]
pub struct Leaving {
    pub transfers: Arc<TransferService>,
    pub balances: Arc<BalanceService>,
    pub house: Option<Handle>,
}

#[derive(Debug)]
pub struct AccountService {
    members: Arc<dyn MemberRepository>,
    sessions: Arc<dyn SessionRepository>,
    tokens: Arc<dyn AccountTokens>,
    passwords: Arc<dyn PasswordHasher>,
    throttle: Arc<Throttle>,
    mail: Arc<MailService>,
    leaving: Leaving,
    clock: Arc<dyn Clock>,
}

impl AccountService {
    pub fn new(
        ports: AccountPorts,
        throttle: Arc<Throttle>,
        mail: Arc<MailService>,
        leaving: Leaving,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let AccountPorts { members, sessions, tokens, passwords } = ports;
        AccountService { members, sessions, tokens, passwords, throttle, mail, leaving, clock }
    }

    /// Sets a new password once the current one is given, ends every other
    /// session of the member (the sessions it ended are returned, so their
    /// access tokens can be refused at once), and mails the member that it
    /// happened. A wrong current password counts as a failed login at the
    /// account.
    pub async fn change_password(&self, change: PasswordChange) -> Result<Vec<SessionId>, ChangePasswordError> {
        let member = self.members.by_id(change.member).await.context("loading the member")?;
        let member = member.ok_or(ChangePasswordError::NotFound)?;
        self.confirm_password(&member, &change.current).await??;
        let hash = self.passwords.hash(&change.new).await?;
        self.members.set_password(member.id, &hash).await.context("storing the new password")?;
        let now = self.clock.now();
        let ended = self.sessions.revoke_all(member.id, Some(change.session), now).await;
        let ended = ended.context("ending the member's other sessions")?;
        tracing::info!(member = %member.id, sessions_ended = ended.len(), "password changed");
        self.tell_password_changed(member).await;
        Ok(ended)
    }

    /// Checks `typed` is the member's password, paced like a login at their
    /// account: a wrong one counts as a failed login there. The outer error
    /// is the unexpected.
    async fn confirm_password(&self, member: &Member, typed: &str) -> anyhow::Result<Result<(), PasswordCheckError>> {
        let turn = match self.throttle.login_turn(&AccountKey::of(member.email.as_str())).await {
            Ok(turn) => turn,
            Err(throttled) => return Ok(Err(throttled.into())),
        };
        match self.passwords.verify(typed, Some(&member.password_hash)).await {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                self.throttle.login_failed(turn).await;
                Ok(Err(PasswordCheckError::Wrong))
            }
            Err(HashError::Busy) => Ok(Err(PasswordCheckError::Busy)),
            Err(HashError::Unexpected(error)) => Err(error.context("checking the password")),
        }
    }

    /// Mails a link to the new address that moves the member there when
    /// followed (once, within `VERIFY_LINK_LIFETIME`), and tells the old
    /// address at once, so a member whose password was taken learns of it
    /// while the address is still theirs.
    pub async fn request_email_change(&self, change: EmailChange, token: MailedToken) -> Result<(), ChangeEmailError> {
        let member = self.members.by_id(change.member).await.context("loading the member")?;
        let member = member.ok_or(ChangeEmailError::NotFound)?;
        self.confirm_password(&member, &change.password).await??;
        if change.new == member.email {
            return Err(ChangeEmailError::Unchanged);
        }
        if self.members.by_email(&change.new).await.context("looking the address up")?.is_some() {
            return Err(ChangeEmailError::EmailTaken);
        }
        let proof = AccountToken {
            hash: token.hash.clone(),
            purpose: TokenPurpose::ChangeEmail,
            member: member.id,
            email: change.new.clone(),
            expires_at: self.clock.now() + to_delta(VERIFY_LINK_LIFETIME),
            used_at: None,
        };
        self.tokens.insert(&proof).await.context("keeping the link's token")?;
        let to_new = MailMessage {
            to: change.new.clone(),
            name: member.display_name.clone(),
            kind: MailKind::VerifyEmail,
            token: Some(token.token),
            detail: None,
        };
        self.mail.queue(intent(format!("change_email:{}", token.hash))?, to_new).await.context("queueing the link")?;
        let to_old = MailMessage {
            to: member.email.clone(),
            name: member.display_name,
            kind: MailKind::EmailChanged,
            token: None,
            detail: Some(change.new.to_string()),
        };
        self.mail
            .queue(intent(format!("email_changing:{}", token.hash))?, to_old)
            .await
            .context("queueing the notice")?;
        tracing::info!(member = %member.id, "email change asked");
        Ok(())
    }

    /// Closes the member's account for good, given their password, once no
    /// points are on their way and none are left (or, with `forfeit`, what
    /// is left went to the house account): it is closed first, so no new
    /// transfer starts, then checked, and opened again if it may not close. What is left is a tombstone (the handle, held back; no email
    /// or name); every session ends (returned, so their access tokens can
    /// be refused at once), and a mail to the old address says so.
    pub async fn close(&self, command: CloseAccount, deadline: Deadline) -> Result<Vec<SessionId>, CloseError> {
        let member = self.members.by_id(command.member).await.context("loading the member")?;
        let member = member.filter(Member::is_active).ok_or(CloseError::NotFound)?;
        if member.is_admin() {
            return Err(CloseError::Admin);
        }
        self.confirm_password(&member, &command.password).await??;
        self.members.set_status(member.id, MemberStatus::Closed).await.context("closing the account")?;
        if let Err(refused) = self.empty(&member, command.forfeit, deadline).await {
            self.members.set_status(member.id, MemberStatus::Active).await.context("opening the account again")?;
            return Err(refused);
        }
        let tombstone = Email::parse(format!("closed-{}@closed.invalid", member.id.as_uuid().simple()))
            .context("a closed account's address")?;
        let nameless = DisplayName::parse("Closed account").context("a closed account's name")?;
        let now = self.clock.now();
        self.members.close(member.id, &tombstone, &nameless, now).await.context("leaving the tombstone")?;
        let ended = self.sessions.revoke_all(member.id, None, now).await.context("ending the member's sessions")?;
        for purpose in [TokenPurpose::PasswordReset, TokenPurpose::VerifyEmail, TokenPurpose::ChangeEmail] {
            self.tokens.spend_all(member.id, purpose, now).await.context("spending the member's links")?;
        }
        tracing::info!(member = %member.id, sessions_ended = ended.len(), "account closed by its member");
        let message = MailMessage {
            to: member.email,
            name: member.display_name,
            kind: MailKind::AccountClosed,
            token: None,
            detail: None,
        };
        if let Err(error) = self.mail.queue(intent(format!("closed:{}", member.id))?, message).await {
            tracing::error!(%error, member = %member.id, "could not queue the account-closed mail");
        }
        Ok(ended)
    }

    /// Empties the member's account for closing, or says why it may not
    /// close: no transfer of theirs may still be moving points, and none may
    /// be left at the provider, unless `forfeit` gives them to the house.
    async fn empty(&self, member: &Member, forfeit: bool, deadline: Deadline) -> Result<(), CloseError> {
        let underway = HistoryFilter { states: UNDERWAY.to_vec(), ..HistoryFilter::default() };
        let moving = self.leaving.transfers.history(member.id, &underway, None, 1).await;
        if !moving.context("looking for transfers")?.items.is_empty() {
            return Err(CloseError::TransfersUnderway);
        }
        let left = match self.leaving.balances.fresh(member, deadline).await {
            Ok(balance) => balance.points,
            Err(BalanceError::NoAccount) => 0,
            Err(BalanceError::ProviderUnavailable) => return Err(CloseError::ProviderUnavailable),
            Err(BalanceError::AccountNotFound) => {
                return Err(anyhow::anyhow!("the provider does not know the account").into());
            }
            Err(BalanceError::Unexpected(error)) => return Err(error.into()),
        };
        if left == 0 {
            return Ok(());
        }
        let (true, Ok(left)) = (forfeit, Points::new(left)) else { return Err(CloseError::PointsLeft(left)) };
        let house = self.house(member).await?.ok_or(CloseError::NoHouseAccount)?;
        match self.leaving.transfers.forfeit(member, &house, left, deadline).await {
            Ok(forfeited) if forfeited.state == TransferState::Completed => {
                tracing::info!(member = %member.id, transfer = %forfeited.id, points = left.get(), "points forfeited to the house");
                Ok(())
            }
            Ok(unfinished) => Err(CloseError::ForfeitUnfinished(unfinished.state)),
            Err(SubmitError::Declined(declined)) => Err(CloseError::ForfeitUnfinished(declined.state)),
            Err(SubmitError::KeyReused) => Err(anyhow::anyhow!("a forfeit's key was used before").into()),
            Err(SubmitError::Unexpected(error)) => Err(error.into()),
        }
    }

    /// The house account's member, if one is set up and may receive (and is
    /// not the one leaving).
    async fn house(&self, leaver: &Member) -> anyhow::Result<Option<Member>> {
        let Some(handle) = &self.leaving.house else { return Ok(None) };
        let house = self.members.by_handle(handle).await.context("loading the house account")?;
        let house =
            house.filter(|house| house.id != leaver.id && house.is_active() && house.provider_account.is_some());
        if house.is_none() {
            tracing::error!(%handle, "the house account cannot receive forfeited points: no active member with an account has its handle");
        }
        Ok(house)
    }

    /// Mails `member` a link that proves their email is theirs, unless it is
    /// proven already. The link works once, for `VERIFY_LINK_LIFETIME`.
    pub async fn send_verification(&self, member: &Member, token: MailedToken) -> Result<(), StoreError> {
        if member.email_verified {
            return Ok(());
        }
        let verification = AccountToken {
            hash: token.hash.clone(),
            purpose: TokenPurpose::VerifyEmail,
            member: member.id,
            email: member.email.clone(),
            expires_at: self.clock.now() + to_delta(VERIFY_LINK_LIFETIME),
            used_at: None,
        };
        self.tokens.insert(&verification).await?;
        let intent = intent(format!("verify:{}", token.hash)).map_err(StoreError)?;
        let message = MailMessage {
            to: member.email.clone(),
            name: member.display_name.clone(),
            kind: MailKind::VerifyEmail,
            token: Some(token.token),
            detail: None,
        };
        self.mail.queue(intent, message).await
    }

    /// Proves the address a link was mailed to is the member's, once: a
    /// verification link marks their email verified if they still have it;
    /// a change's link makes the new address their (verified) email. Their
    /// other links of that kind stop working.
    pub async fn verify_email(&self, token: &TokenHash) -> Result<Member, VerifyError> {
        let now = self.clock.now();
        let taken = self.tokens.take(token, TokenPurpose::VerifyEmail, now).await.context("taking the token")?;
        let (taken, member) = match taken {
            Some(taken) => {
                let member = self.members.set_email_verified(taken.member, &taken.email).await.context("verifying")?;
                (taken, member)
            }
            None => {
                let taken =
                    self.tokens.take(token, TokenPurpose::ChangeEmail, now).await.context("taking the token")?;
                let taken = taken.ok_or(VerifyError::InvalidToken)?;
                let member = match self.members.set_verified_email(taken.member, &taken.email).await {
                    Ok(member) => member,
                    Err(SetEmailError::EmailTaken) => return Err(VerifyError::EmailTaken),
                    Err(SetEmailError::Unexpected(error)) => {
                        return Err(anyhow::Error::from(error).context("moving").into());
                    }
                };
                (taken, member)
            }
        };
        let member = member.ok_or(VerifyError::InvalidToken)?;
        self.tokens.spend_all(member.id, taken.purpose, now).await.context("spending other links")?;
        tracing::info!(member = %member.id, purpose = taken.purpose.as_str(), "email proven");
        Ok(member)
    }

    /// Mails a reset link to the member with this email, if there is one
    /// who may sign in; nothing otherwise, and nothing says which. The link
    /// works once, for `RESET_LINK_LIFETIME`.
    pub async fn request_reset(&self, email: &str, token: MailedToken) -> Result<(), StoreError> {
        let Ok(email) = Email::parse(email) else { return Ok(()) };
        let Some(member) = self.members.by_email(&email).await?.filter(Member::is_active) else { return Ok(()) };
        let reset = AccountToken {
            hash: token.hash.clone(),
            purpose: TokenPurpose::PasswordReset,
            member: member.id,
            email: member.email.clone(),
            expires_at: self.clock.now() + to_delta(RESET_LINK_LIFETIME),
            used_at: None,
        };
        self.tokens.insert(&reset).await?;
        let intent = intent(format!("reset:{}", token.hash)).map_err(StoreError)?;
        let message = MailMessage {
            to: member.email,
            name: member.display_name,
            kind: MailKind::PasswordReset,
            token: Some(token.token),
            detail: None,
        };
        self.mail.queue(intent, message).await
    }

    /// Sets a new password for the member a reset link names, once: every
    /// session of theirs ends, every other reset link of theirs stops
    /// working, and a mail says the password changed.
    pub async fn reset_password(&self, token: &TokenHash, new: Password) -> Result<Vec<SessionId>, ResetError> {
        // Hashed first: a busy hasher must not spend the link.
        let hash = self.passwords.hash(&new).await?;
        let now = self.clock.now();
        let taken = self.tokens.take(token, TokenPurpose::PasswordReset, now).await.context("taking the token")?;
        let taken = taken.ok_or(ResetError::InvalidToken)?;
        let member = self.members.set_password(taken.member, &hash).await.context("storing the new password")?;
        let member = member.ok_or(ResetError::InvalidToken)?;
        let ended = self.sessions.revoke_all(member.id, None, now).await.context("ending the member's sessions")?;
        self.tokens.spend_all(member.id, TokenPurpose::PasswordReset, now).await.context("spending older links")?;
        tracing::info!(member = %member.id, sessions_ended = ended.len(), "password reset");
        self.tell_password_changed(member).await;
        Ok(ended)
    }

    /// Mails `member` that their password changed. The change is made by
    /// then: a mail that cannot be queued is logged, not a failure of it.
    async fn tell_password_changed(&self, member: Member) {
        let at = self.clock.now().timestamp_micros();
        let Ok(intent) = intent(format!("password_changed:{}:{at}", member.id)) else { return };
        let (id, to, name) = (member.id, member.email, member.display_name);
        let message = MailMessage { to, name, kind: MailKind::PasswordChanged, token: None, detail: None };
        if let Err(error) = self.mail.queue(intent, message).await {
            tracing::error!(%error, member = %id, "could not queue the password-changed mail");
        }
    }
}

/// Why a mail is sent, as the outbox keys it (`kind:what`).
fn intent(text: String) -> anyhow::Result<MailIntent> {
    Ok(MailIntent::parse(text)?)
}
