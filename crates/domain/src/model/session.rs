//! Sessions: what one login started. A session holds the hash of its one
//! current refresh token and of the last ones it replaced, so a replaced
//! token presented again is told from a token that never was one: the
//! first is a copy in someone else's hands and ends the whole session, the
//! second is a guess and ends nothing. For a few seconds after a token is
//! exchanged, presenting it again hands back the same successor instead (two
//! tabs refreshing together), which is why a session holds that successor
//! until its handover ends.

use chrono::{DateTime, Utc};

use super::text::{check_chars, check_len, validated_string};
use super::{InvalidValue, MemberId, SessionId};

fn check_token_hash(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "token hash", 64, 64)?;
    check_chars(&value, "token hash", |c| c.is_ascii_digit() || ('a'..='f').contains(&c), "lowercase hex only")?;
    Ok(value)
}

validated_string!(
    /// The SHA-256 of a refresh token, in lowercase hex: what the store keeps,
    /// so a copy of the store opens no session.
    TokenHash,
    check_token_hash
);

/// How many retired refresh tokens a session remembers: a copy older than
/// that counts as a guess, not as reuse.
pub const RETIRED_TOKENS_KEPT: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub member: MemberId,
    /// The refresh token that may be used next; every earlier one is retired.
    pub token: TokenHash,
    /// The last `RETIRED_TOKENS_KEPT` tokens this one replaced, oldest first.
    pub retired: Vec<TokenHash>,
    /// Where the login came from: the client's address (an IPv6 client's
    /// network) as per-address limits count it.
    pub client: String,
    /// What the client said it is (`User-Agent`), cut to 200 characters.
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last exchanged (or the login).
    pub last_used_at: DateTime<Utc>,
    /// When the current refresh token stops working.
    pub expires_at: DateTime<Utc>,
    /// Set by logout or by a retired token presented again; final.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The last exchange, repeatable for a moment.
    pub handover: Option<Handover>,
}

/// A token exchange a second presenter of the same token may repeat until
/// `until`, getting the same successor rather than ending the session.
#[derive(Clone, PartialEq, Eq)]
pub struct Handover {
    /// The token that was exchanged.
    pub retired: TokenHash,
    /// The successor's secret sealed with the exchanged token's secret, which
    /// the store never holds: only a presenter of that token can open it,
    /// so a copy of the store hands out no session.
    pub sealed: String,
    pub until: DateTime<Utc>,
}

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handover").field("retired", &self.retired).field("until", &self.until).finish_non_exhaustive()
    }
}

/// One exchange of a session's refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub next: TokenHash,
    pub expires_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub handover: Handover,
}

impl Session {
    /// Whether `token` may be exchanged now.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// Whether `token` is one this session replaced.
    pub fn retired(&self, token: &TokenHash) -> bool {
        self.retired.contains(token)
    }

    /// Makes the rotation's token the current one, and the current one the
    /// newest retired, forgetting the oldest past `RETIRED_TOKENS_KEPT`.
    pub fn rotate(&mut self, rotation: &Rotation) {
        let replaced = std::mem::replace(&mut self.token, rotation.next.clone());
        self.retired.push(replaced);
        let forgotten = self.retired.len().saturating_sub(RETIRED_TOKENS_KEPT);
        self.retired.drain(..forgotten);
        self.expires_at = rotation.expires_at;
        self.last_used_at = rotation.at;
        self.handover = Some(rotation.handover.clone());
    }

    /// The successor, sealed, if `presented` is the token just exchanged and
    /// its handover still runs at `now`.
    pub fn handed_over(&self, presented: &TokenHash, now: DateTime<Utc>) -> Option<&str> {
        let handover = self.handover.as_ref()?;
        (&handover.retired == presented && now < handover.until).then_some(handover.sealed.as_str())
    }
}
