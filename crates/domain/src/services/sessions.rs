//! Sessions: a login starts one, paced by the `Throttle`; a refresh
//! exchanges its current refresh token for the next; a retired token
//! presented again means a copy is in someone else's hands, so the whole
//! session ends (RFC 9700's refresh token rotation with reuse detection),
//! while a token that never was one ends nothing; logout ends it too. Access
//! tokens name their session, and stop working when it ends.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use thiserror::Error;

use super::throttle::{AccountKey, Throttle, Throttled};
use super::transfers::to_delta;
use crate::model::{Email, Member, Role, Session, SessionId, TokenHash};
use crate::ports::{Clock, HashError, MemberRepository, PasswordHasher, SessionRepository, StoreError};

/// An email and password as typed, the hash of the new session's refresh
/// token, and where the login comes from (the client address as
/// per-address limits count it).
#[derive(Debug)]
pub struct LoginCommand {
    pub email: String,
    pub password: String,
    pub token: TokenHash,
    pub client: String,
}

/// How long a network a member signed in from lets them past their
/// account's slow-down.
pub const RECOGNIZED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Error)]
pub enum LoginError {
    /// No such member, the wrong password, or a member who may not sign in:
    /// one answer for all, so a caller learns nothing about which.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// Too many passwords are being checked; try again shortly.
    #[error("too many passwords are being checked; try again shortly")]
    Busy,
    /// Too many attempts from this address, or at this account.
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<HashError> for LoginError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => LoginError::Busy,
            HashError::Unexpected(error) => LoginError::Unexpected(error.context("checking the password")),
        }
    }
}

#[derive(Debug, Error)]
pub enum RefreshError {
    /// No such session, or it expired or was ended.
    #[error("the refresh token is not valid")]
    Invalid,
    /// A retired token came back: the session is ended now.
    #[error("the refresh token was used before; the session is ended")]
    Reused,
    /// The member was suspended or removed since the login.
    #[error("the member may no longer sign in")]
    MemberNotActive,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, Error)]
pub enum LogoutError {
    #[error("the refresh token is not valid")]
    Invalid,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug)]
pub struct SessionService {
    sessions: Arc<dyn SessionRepository>,
    members: Arc<dyn MemberRepository>,
    passwords: Arc<dyn PasswordHasher>,
    throttle: Arc<Throttle>,
    clock: Arc<dyn Clock>,
    /// How long a refresh token works after it is issued.
    token_lifetime: Duration,
}

impl SessionService {
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        members: Arc<dyn MemberRepository>,
        passwords: Arc<dyn PasswordHasher>,
        throttle: Arc<Throttle>,
        clock: Arc<dyn Clock>,
        token_lifetime: Duration,
    ) -> Self {
        SessionService { sessions, members, passwords, throttle, clock, token_lifetime }
    }

    /// Starts a session for the member with this email and password, if
    /// they may sign in. An email that is not one, or no member's, costs as
    /// long as a wrong password (the hasher checks a decoy). The throttle
    /// counts the attempt first; then the account's password is checked in
    /// its turn, unless the member signed in from this client lately.
    pub async fn login(&self, command: LoginCommand) -> Result<(Session, Member), LoginError> {
        let account = AccountKey::of(&command.email);
        self.throttle.login(&command.client, &account).await?;
        let member = match Email::parse(command.email) {
            Ok(email) => self.members.by_email(&email).await.context("looking up the member")?,
            Err(_) => None,
        };
        let turn = match &member {
            Some(member) if self.throttle.is_slowed(&account) && self.recognizes(member, &command.client).await? => {
                None
            }
            _ => Some(self.throttle.login_turn(&account).await?),
        };
        let matches = self.passwords.verify(&command.password, member.as_ref().map(|m| &m.password_hash)).await?;
        if !matches && let Some(turn) = turn {
            self.throttle.login_failed(turn).await;
        }
        let member =
            member.filter(|m| matches && m.may_act_as(Role::Member).is_ok()).ok_or(LoginError::InvalidCredentials)?;
        let session = self.start(&member, command.token, command.client).await.context("starting the session")?;
        Ok((session, member))
    }

    /// Whether `member` signed in from `client` within `RECOGNIZED_FOR`.
    async fn recognizes(&self, member: &Member, client: &str) -> anyhow::Result<bool> {
        let since = self.clock.now() - to_delta(RECOGNIZED_FOR);
        self.sessions.signed_in_from(member.id, client, since).await.context("looking up the member's sessions")
    }

    /// A new session for a member who just proved who they are, from `client`.
    pub async fn start(&self, member: &Member, token: TokenHash, client: String) -> Result<Session, StoreError> {
        let now = self.clock.now();
        let session = Session {
            id: SessionId::new(),
            member: member.id,
            token,
            retired: Vec::new(),
            client,
            created_at: now,
            expires_at: now + to_delta(self.token_lifetime),
            revoked_at: None,
        };
        self.sessions.insert(&session).await?;
        Ok(session)
    }

    /// Whether access tokens of session `id` still work: it exists and was
    /// not ended (its refresh token's expiry does not end them).
    pub async fn is_open(&self, id: SessionId) -> Result<bool, StoreError> {
        Ok(self.sessions.get(id).await?.is_some_and(|session| session.revoked_at.is_none()))
    }

    /// Exchanges `presented` for `next`; answers the session as it now stands
    /// and its member, checked active again.
    pub async fn refresh(
        &self,
        id: SessionId,
        presented: &TokenHash,
        next: TokenHash,
    ) -> Result<(Session, Member), RefreshError> {
        let now = self.clock.now();
        let mut session = self.sessions.get(id).await.context("loading a session")?.ok_or(RefreshError::Invalid)?;
        if session.revoked_at.is_some() {
            return Err(RefreshError::Invalid);
        }
        if &session.token != presented {
            // Knowing the session's id is not enough to end it: only a token it had.
            if !session.retired(presented) {
                return Err(RefreshError::Invalid);
            }
            self.end_for_reuse(&session).await?;
            return Err(RefreshError::Reused);
        }
        if !session.is_live(now) {
            return Err(RefreshError::Invalid);
        }
        let member = self.members.by_id(session.member).await.context("loading the session's member")?;
        let Some(member) = member.filter(|member| member.may_act_as(Role::Member).is_ok()) else {
            self.sessions.revoke(id, now).await.context("ending a session of an inactive member")?;
            return Err(RefreshError::MemberNotActive);
        };
        let expires_at = now + to_delta(self.token_lifetime);
        if !self.sessions.rotate(id, presented, &next, expires_at).await.context("rotating a refresh token")? {
            // Another exchange of the same token won: two holders of one token.
            self.end_for_reuse(&session).await?;
            return Err(RefreshError::Reused);
        }
        session.rotate(next, expires_at);
        Ok((session, member))
    }

    /// Ends the session `presented` belongs to, given its current or a
    /// retired token; ending an ended one is fine.
    pub async fn end(&self, id: SessionId, presented: &TokenHash) -> Result<(), LogoutError> {
        let session = self.sessions.get(id).await.context("loading a session")?.ok_or(LogoutError::Invalid)?;
        if &session.token != presented {
            if !session.retired(presented) {
                return Err(LogoutError::Invalid);
            }
            tracing::warn!(session = %id, member = %session.member, "logout with a retired refresh token");
        }
        if session.revoked_at.is_none() {
            self.sessions.revoke(id, self.clock.now()).await.context("ending a session")?;
        }
        Ok(())
    }

    async fn end_for_reuse(&self, session: &Session) -> anyhow::Result<()> {
        tracing::warn!(session = %session.id, member = %session.member, "a retired refresh token was presented; ending the session");
        self.sessions.revoke(session.id, self.clock.now()).await.context("ending a session after token reuse")
    }
}
