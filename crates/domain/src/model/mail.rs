//! Mail to members: what a mail says (its kind and the few facts it needs),
//! and the outbox record that carries it until it is sent. Adapters render
//! a message from one template per kind; the domain never writes prose.

use super::names::names;
use chrono::{DateTime, Utc};

use super::text::{check_chars, check_len, validated_string};
use super::{DisplayName, Email, InvalidValue, Lease, MailId};

fn check_intent(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "mail intent", 1, 200)?;
    check_chars(&value, "mail intent", |c| c.is_ascii_graphic(), "printable ASCII without spaces")?;
    Ok(value)
}

validated_string!(
    /// Why a mail is sent, unique per reason to send it (`password_changed:<session>`,
    /// `reset:<token hash>`): asking to send it again queues nothing more.
    MailIntent,
    check_intent
);

/// What a mail tells a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// A link that proves the member owns the address.
    VerifyEmail,
    /// A link that sets a new password.
    PasswordReset,
    /// The password was changed; if it was not them, reset it.
    PasswordChanged,
    /// To the old address: the account's email is changing to another.
    EmailChanged,
    /// The member closed their account.
    AccountClosed,
}

names!(MailKind {
    VerifyEmail => "verify_email",
    PasswordReset => "password_reset",
    PasswordChanged => "password_changed",
    EmailChanged => "email_changed",
    AccountClosed => "account_closed",
});

/// A one-use token a mail carries to its reader: only its hash is kept
/// for checking, and the outbox forgets the token itself once the mail is
/// sent. Never printed in full.
#[derive(Clone, PartialEq, Eq)]
pub struct MailToken(String);

impl MailToken {
    pub fn new(token: impl Into<String>) -> Self {
        MailToken(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MailToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailToken(..)")
    }
}

/// What one mail says, to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub to: Email,
    /// How the mail greets the member.
    pub name: DisplayName,
    pub kind: MailKind,
    /// For a link: the token it carries.
    pub token: Option<MailToken>,
    /// A fact the mail states, such as the new address of an email change.
    pub detail: Option<String>,
}

impl MailMessage {
    /// The page of the frontend at `public_url` that takes this mail's
    /// token (`/verify-email?token=…`, `/reset-password?token=…`), if it
    /// carries one.
    pub fn link(&self, public_url: &str) -> Option<String> {
        let page = match self.kind {
            MailKind::VerifyEmail => "verify-email",
            MailKind::PasswordReset => "reset-password",
            MailKind::PasswordChanged | MailKind::EmailChanged | MailKind::AccountClosed => return None,
        };
        let token = self.token.as_ref()?;
        Some(format!("{}/{page}?token={}", public_url.trim_end_matches('/'), token.expose()))
    }
}

/// Where a mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailState {
    /// Waiting for its next attempt.
    Pending,
    Sent,
    /// Refused for good by the mail server, or out of attempts.
    Abandoned,
}

names!(MailState {
    Pending => "pending",
    Sent => "sent",
    Abandoned => "abandoned",
});

/// A mail in the outbox: recorded before the request that wants it answers,
/// sent by a worker that leases it, so a crash or a slow mail server loses
/// nothing and slows no request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: MailId,
    pub intent: MailIntent,
    pub message: MailMessage,
    pub state: MailState,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not tried again before this.
    pub next_attempt_at: DateTime<Utc>,
    pub lease: Option<Lease>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl OutboxMail {
    /// A mail to send as soon as a worker takes it up.
    pub fn new(intent: MailIntent, message: MailMessage, now: DateTime<Utc>) -> Self {
        OutboxMail {
            id: MailId::new(),
            intent,
            message,
            state: MailState::Pending,
            attempts: 0,
            next_attempt_at: now,
            lease: None,
            last_error: None,
            created_at: now,
            sent_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_printable_and_bounded() {
        assert!(MailIntent::parse("reset:0123abcd").is_ok());
        for bad in ["", "with space", "é", &"x".repeat(201)] {
            assert!(MailIntent::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_token_is_never_printed() {
        let token = MailToken::new("s3cr3t-t0ken");
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }
}
