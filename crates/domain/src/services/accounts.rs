//! A member's own account: changing the password (every other session
//! ends, and a mail says so). Guesses at the current password are paced
//! like logins at that account, so a stolen access token cannot be turned
//! into the password by trying.

use std::sync::Arc;

use anyhow::Context;
use thiserror::Error;

use super::MailService;
use super::throttle::{AccountKey, Throttle, Throttled};
use crate::model::{MailIntent, MailKind, MailMessage, MemberId, Password, SessionId};
use crate::ports::{Clock, HashError, MemberRepository, PasswordHasher, SessionRepository};

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

#[derive(Debug, Error)]
pub enum ChangePasswordError {
    #[error("the current password is wrong")]
    WrongPassword,
    /// The member is gone since their token was issued.
    #[error("no such member")]
    NotFound,
    #[error("too many passwords are being checked; try again shortly")]
    Busy,
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashError> for ChangePasswordError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => ChangePasswordError::Busy,
            HashError::Unexpected(error) => ChangePasswordError::Unexpected(error.context("hashing a password")),
        }
    }
}

#[derive(Debug)]
pub struct AccountService {
    members: Arc<dyn MemberRepository>,
    sessions: Arc<dyn SessionRepository>,
    passwords: Arc<dyn PasswordHasher>,
    throttle: Arc<Throttle>,
    mail: Arc<MailService>,
    clock: Arc<dyn Clock>,
}

impl AccountService {
    pub fn new(
        members: Arc<dyn MemberRepository>,
        sessions: Arc<dyn SessionRepository>,
        passwords: Arc<dyn PasswordHasher>,
        throttle: Arc<Throttle>,
        mail: Arc<MailService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        AccountService { members, sessions, passwords, throttle, mail, clock }
    }

    /// Sets a new password once the current one is given, ends every other
    /// session of the member (the sessions it ended are returned, so their
    /// access tokens can be refused at once), and mails the member that it
    /// happened. A wrong current password counts as a failed login at the
    /// account.
    pub async fn change_password(&self, change: PasswordChange) -> Result<Vec<SessionId>, ChangePasswordError> {
        let member = self.members.by_id(change.member).await.context("loading the member")?;
        let member = member.ok_or(ChangePasswordError::NotFound)?;
        let turn = self.throttle.login_turn(&AccountKey::of(member.email.as_str())).await?;
        if !self.passwords.verify(&change.current, Some(&member.password_hash)).await? {
            self.throttle.login_failed(turn).await;
            return Err(ChangePasswordError::WrongPassword);
        }
        drop(turn);
        let hash = self.passwords.hash(&change.new).await?;
        self.members.set_password(member.id, &hash).await.context("storing the new password")?;
        let now = self.clock.now();
        let ended = self.sessions.revoke_all(member.id, Some(change.session), now).await;
        let ended = ended.context("ending the member's other sessions")?;
        tracing::info!(member = %member.id, sessions_ended = ended.len(), "password changed");
        let intent = MailIntent::parse(format!("password_changed:{}:{}", member.id, now.timestamp_micros()))
            .context("naming the mail")?;
        let message = MailMessage {
            to: member.email,
            name: member.display_name,
            kind: MailKind::PasswordChanged,
            token: None,
            detail: None,
        };
        // The change is made: a mail that cannot be queued is logged, not a failure of it.
        if let Err(error) = self.mail.queue(intent, message).await {
            tracing::error!(%error, member = %member.id, "could not queue the password-changed mail");
        }
        Ok(ended)
    }
}
