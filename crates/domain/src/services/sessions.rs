//! Sessions: a login starts one, paced by the `Throttle`; a refresh
//! exchanges its current refresh token for the next; a retired token
//! presented again means a copy is in someone else's hands, so the whole
//! session ends (RFC 9700's refresh token rotation with reuse detection),
//! while a token that never was one ends nothing; logout ends it too. Access
//! tokens name their session, and stop working when it ends. A token
//! presented again within `handover` of its exchange gets the same successor
//! back (two tabs refreshing at once keep their session). A member lists
//! their open sessions and ends any of them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use thiserror::Error;

use super::throttle::{AccountKey, Quota, Throttle, Throttled};
use super::time::to_delta;
use crate::model::{Email, Handover, Member, MemberId, Role, Rotation, Session, SessionId, TokenHash};
use crate::ports::{Clock, HashError, MemberRepository, PasswordHasher, SessionRepository, StoreError};

/// An email and password as typed, the hash of the new session's refresh
/// token, and where the login comes from.
#[derive(Debug)]
pub struct LoginCommand {
    pub email: String,
    pub password: String,
    pub token: TokenHash,
    pub device: Device,
}

/// Where a session is started from: the client address as per-address
/// limits count it, and what the client says it is (`User-Agent`), which a
/// member's list of sessions shows so they can tell theirs apart.
#[derive(Debug, Clone)]
pub struct Device {
    pub client: String,
    pub user_agent: Option<String>,
}

/// The refresh token a refresh offers: its hash, which the store keeps, and
/// its secret sealed with the presented token's (see `Handover`).
#[derive(Debug, Clone)]
pub struct NextToken {
    pub hash: TokenHash,
    pub sealed: String,
}

/// Which refresh token a refresh hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Successor {
    /// The `NextToken` offered: the presented token was current.
    Offered,
    /// The successor another presenter of the same token was given a moment
    /// ago, sealed as it was offered then.
    HandedOver(String),
}

/// A refresh that worked: the session as it now stands, its member (checked
/// active again), and which token to hand out.
#[derive(Debug)]
pub struct Refreshed {
    pub session: Session,
    pub member: Member,
    pub successor: Successor,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// How long a refresh token works after it is issued.
    pub lifetime: Duration,
    /// How long an exchanged refresh token, presented again, gets the same
    /// successor rather than ending the session: long enough for two tabs
    /// that refresh together, short enough that a thief's copy is still
    /// caught. Zero turns it off.
    pub handover: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { lifetime: Duration::from_secs(30 * 24 * 3600), handover: Duration::from_secs(10) }
    }
}

/// How much of a `User-Agent` a session keeps.
const USER_AGENT_KEPT: usize = 200;

/// How long a network a member signed in from lets them past their
/// account's slow-down.
pub const RECOGNIZED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// A session started by a login, and how the client's login allowances now stand.
#[derive(Debug)]
pub struct LoggedIn {
    pub session: Session,
    pub member: Member,
    pub quotas: Vec<Quota>,
}

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
pub enum EndSessionError {
    /// No session of this member has that id.
    #[error("no such session")]
    NotFound,
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
    policy: SessionPolicy,
}

impl SessionService {
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        members: Arc<dyn MemberRepository>,
        passwords: Arc<dyn PasswordHasher>,
        throttle: Arc<Throttle>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        SessionService { sessions, members, passwords, throttle, clock, policy }
    }

    /// Starts a session for the member with this email and password, if
    /// they may sign in. An email that is not one, or no member's, costs as
    /// long as a wrong password (the hasher checks a decoy). The throttle
    /// counts the attempt first; then the account's password is checked in
    /// its turn, unless the member signed in from this client lately.
    pub async fn login(&self, command: LoginCommand) -> Result<LoggedIn, LoginError> {
        let account = AccountKey::of(&command.email);
        let quotas = self.throttle.login(&command.device.client, &account).await?;
        let member = match Email::parse(command.email) {
            Ok(email) => self.members.by_email(&email).await.context("looking up the member")?,
            Err(_) => None,
        };
        let turn = match &member {
            Some(member)
                if self.throttle.is_slowed(&account) && self.recognizes(member, &command.device.client).await? =>
            {
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
        let session = self.start(&member, command.token, command.device).await.context("starting the session")?;
        Ok(LoggedIn { session, member, quotas })
    }

    /// Whether `member` signed in from `client` within `RECOGNIZED_FOR`.
    async fn recognizes(&self, member: &Member, client: &str) -> anyhow::Result<bool> {
        let since = self.clock.now() - to_delta(RECOGNIZED_FOR);
        self.sessions.signed_in_from(member.id, client, since).await.context("looking up the member's sessions")
    }

    /// A new session for a member who just proved who they are.
    pub async fn start(&self, member: &Member, token: TokenHash, device: Device) -> Result<Session, StoreError> {
        let now = self.clock.now();
        let user_agent = device.user_agent.map(|agent| agent.chars().take(USER_AGENT_KEPT).collect());
        let session = Session {
            id: SessionId::new(),
            member: member.id,
            token,
            retired: Vec::new(),
            client: device.client,
            user_agent,
            created_at: now,
            last_used_at: now,
            expires_at: now + to_delta(self.policy.lifetime),
            revoked_at: None,
            handover: None,
        };
        self.sessions.insert(&session).await?;
        Ok(session)
    }

    /// Whether access tokens of session `id` still work: it exists and was
    /// not ended (its refresh token's expiry does not end them).
    pub async fn is_open(&self, id: SessionId) -> Result<bool, StoreError> {
        Ok(self.sessions.get(id).await?.is_some_and(|session| session.revoked_at.is_none()))
    }

    /// Exchanges `presented` for `next`, or, within the handover of its
    /// exchange, hands out the successor it was exchanged for then.
    pub async fn refresh(
        &self,
        id: SessionId,
        presented: &TokenHash,
        next: NextToken,
    ) -> Result<Refreshed, RefreshError> {
        let now = self.clock.now();
        let mut session = self.sessions.get(id).await.context("loading a session")?.ok_or(RefreshError::Invalid)?;
        if session.revoked_at.is_some() {
            return Err(RefreshError::Invalid);
        }
        if &session.token != presented {
            return self.repeat(session, presented).await;
        }
        if !session.is_live(now) {
            return Err(RefreshError::Invalid);
        }
        let member = self.active_member(&session).await?;
        let rotation = Rotation {
            next: next.hash,
            expires_at: now + to_delta(self.policy.lifetime),
            at: now,
            handover: Handover {
                retired: presented.clone(),
                sealed: next.sealed,
                until: now + to_delta(self.policy.handover),
            },
        };
        if !self.sessions.rotate(id, presented, &rotation).await.context("rotating a refresh token")? {
            // Another exchange of the same token won a moment ago.
            let session = self.sessions.get(id).await.context("reloading a session")?.ok_or(RefreshError::Invalid)?;
            return self.repeat(session, presented).await;
        }
        session.rotate(&rotation);
        Ok(Refreshed { session, member, successor: Successor::Offered })
    }

    /// A token presented that is not `session`'s current one: within the
    /// handover of its exchange, the same successor again; otherwise a
    /// retired token ends the session, and any other is a guess.
    async fn repeat(&self, session: Session, presented: &TokenHash) -> Result<Refreshed, RefreshError> {
        if session.revoked_at.is_none()
            && let Some(sealed) = session.handed_over(presented, self.clock.now())
        {
            let successor = Successor::HandedOver(sealed.to_owned());
            let member = self.active_member(&session).await?;
            return Ok(Refreshed { session, member, successor });
        }
        // Knowing the session's id is not enough to end it: only a token it had.
        if !session.retired(presented) {
            return Err(RefreshError::Invalid);
        }
        self.end_for_reuse(&session).await?;
        Err(RefreshError::Reused)
    }

    /// The session's member, if they may still sign in; otherwise the
    /// session ends.
    async fn active_member(&self, session: &Session) -> Result<Member, RefreshError> {
        let member = self.members.by_id(session.member).await.context("loading the session's member")?;
        match member.filter(|member| member.may_act_as(Role::Member).is_ok()) {
            Some(member) => Ok(member),
            None => {
                self.sessions
                    .revoke(session.id, self.clock.now())
                    .await
                    .context("ending a session of an inactive member")?;
                Err(RefreshError::MemberNotActive)
            }
        }
    }

    /// The member's open sessions, the most recently used first.
    pub async fn list(&self, member: MemberId) -> Result<Vec<Session>, StoreError> {
        self.sessions.open_of(member, self.clock.now()).await
    }

    /// Ends the member's session `id` (signing out a device); ending an
    /// ended one is fine, another member's is not found.
    pub async fn end_own(&self, member: MemberId, id: SessionId) -> Result<(), EndSessionError> {
        let session = self.sessions.get(id).await.context("loading a session")?;
        let session = session.filter(|session| session.member == member).ok_or(EndSessionError::NotFound)?;
        if session.revoked_at.is_none() {
            self.sessions.revoke(id, self.clock.now()).await.context("ending a session")?;
            tracing::info!(session = %id, member = %member, "session ended by its member");
        }
        Ok(())
    }

    /// Ends every session of the member but `current`; the ones it ended.
    pub async fn end_others(&self, member: MemberId, current: SessionId) -> Result<Vec<SessionId>, StoreError> {
        let ended = self.sessions.revoke_all(member, Some(current), self.clock.now()).await?;
        tracing::info!(member = %member, sessions_ended = ended.len(), "other sessions ended by their member");
        Ok(ended)
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
