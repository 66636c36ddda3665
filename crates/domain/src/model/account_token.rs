//! One-use tokens a member receives by mail: to reset a password, or to
//! prove an address is theirs. The store keeps only the token's hash, and
//! takes a token once: a copy of the store, or a link used twice, opens
//! nothing.

use super::names::names;
use chrono::{DateTime, Utc};

use super::{Email, MemberId, TokenHash};

/// What a one-use token is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    PasswordReset,
    VerifyEmail,
    /// Proves a new address is the member's, which then replaces their email.
    ChangeEmail,
}

names!(TokenPurpose {
    PasswordReset => "password_reset",
    VerifyEmail => "verify_email",
    ChangeEmail => "change_email",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountToken {
    /// The SHA-256 of the token the mail carried.
    pub hash: TokenHash,
    pub purpose: TokenPurpose,
    pub member: MemberId,
    /// The address the mail went to: for a verification or a change, the
    /// one it proves.
    pub email: Email,
    pub expires_at: DateTime<Utc>,
    /// Set when it was taken; a token is taken once.
    pub used_at: Option<DateTime<Utc>>,
}
