//! Sessions: what one login started. A session holds the hash of its one
//! current refresh token; each refresh replaces it, so a token presented
//! after it was replaced is a copy, and ends the whole session.

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub member: MemberId,
    /// The refresh token that may be used next; every earlier one is retired.
    pub token: TokenHash,
    pub created_at: DateTime<Utc>,
    /// When the current refresh token stops working.
    pub expires_at: DateTime<Utc>,
    /// Set by logout or by a retired token presented again; final.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether `token` may be exchanged now.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}
