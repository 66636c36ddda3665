//! `Access`: the members and sessions behind tokens, as the store had them
//! a few seconds ago at most, and the domain's access rule applied to them.

use std::sync::Arc;
use std::time::Duration;

use pointshare_domain::ports::StoreError;
use pointshare_domain::services::{MemberService, SessionService};
use pointshare_domain::{AccessDenied, Member, MemberId, Role, SessionId};

use super::tokens::Bearer;

/// How stale the member and session behind a token may be when a request is
/// authorized: a demotion, suspension or ended session takes effect on every
/// replica within this.
pub const ACCESS_FRESHNESS: Duration = Duration::from_secs(5);

/// The members and sessions behind tokens, as the store had them a few
/// seconds ago at most: every request is checked against the records without
/// a store read each, and a demotion, a suspension or an ended session
/// reaches every replica within `ttl` (this one at once, when it ended here).
pub struct Access {
    members: Arc<MemberService>,
    sessions: Arc<SessionService>,
    recent: moka::sync::Cache<MemberId, Member>,
    open_sessions: moka::sync::Cache<SessionId, bool>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("cached", &self.recent.entry_count()).finish_non_exhaustive()
    }
}

impl Access {
    pub fn new(members: Arc<MemberService>, sessions: Arc<SessionService>, ttl: Duration) -> Self {
        Access {
            members,
            sessions,
            recent: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(ttl).build(),
            open_sessions: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(ttl).build(),
        }
    }

    /// Session `id` just ended on this replica: its tokens stop here at once.
    pub fn session_ended(&self, id: SessionId) {
        self.open_sessions.insert(id, false);
    }

    /// Member `id`'s role or status just changed on this replica: the next
    /// request here reads the record afresh.
    pub fn member_changed(&self, id: MemberId) {
        self.recent.invalidate(&id);
    }

    async fn session_is_open(&self, id: SessionId) -> Result<bool, StoreError> {
        if let Some(open) = self.open_sessions.get(&id) {
            return Ok(open);
        }
        let open = self.sessions.is_open(id).await?;
        self.open_sessions.insert(id, open);
        Ok(open)
    }

    async fn member(&self, id: MemberId) -> Result<Option<Member>, StoreError> {
        if let Some(member) = self.recent.get(&id) {
            return Ok(Some(member));
        }
        let member = self.members.by_id(id).await?;
        if let Some(member) = &member {
            self.recent.insert(id, member.clone());
        }
        Ok(member)
    }

    /// The member a token names as checked, if its session is open and the
    /// member may act with `needed` by the domain's rule.
    pub async fn check(&self, bearer: &Bearer, needed: Role) -> Result<Member, AccessRefused> {
        let (member, open) = futures::try_join!(self.member(bearer.member), self.session_is_open(bearer.session))?;
        if !open {
            return Err(AccessRefused::SessionEnded);
        }
        let member = member.ok_or(AccessDenied::NotActive)?;
        member.may_act_as(needed)?;
        Ok(member)
    }
}

/// Why a verified token does not let its bearer in (problem/ answers each).
#[derive(Debug, thiserror::Error)]
pub enum AccessRefused {
    #[error("the session of this access token has ended; log in again")]
    SessionEnded,
    #[error(transparent)]
    Denied(#[from] AccessDenied),
    #[error("checking the access token's member and session")]
    Store(#[from] StoreError),
}
