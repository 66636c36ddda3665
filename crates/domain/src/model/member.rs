//! Members: who they are, how others find them, and whether they can receive points.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::text::{check_chars, check_len, validated_string};
use super::{InvalidValue, MemberId, ProviderAccountId};

fn check_handle(value: String) -> Result<String, InvalidValue> {
    // Handles are compared case-insensitively, so they are stored lowercased:
    // "Alice" and "alice" are one handle.
    let value = value.trim().to_ascii_lowercase();
    check_len(&value, "handle", 3, 32)?;
    check_chars(
        &value,
        "handle",
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        "only letters, digits and underscore",
    )?;
    Ok(value)
}

fn check_email(value: String) -> Result<String, InvalidValue> {
    let value = value.trim().to_ascii_lowercase();
    check_len(&value, "email", 3, 254)?;
    let Some((local, domain)) = value.split_once('@') else {
        return Err(InvalidValue::new("email", "must contain @"));
    };
    let domain_ok = !domain.contains('@') && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    if local.is_empty() || !domain_ok {
        return Err(InvalidValue::new("email", "not an email address"));
    }
    check_chars(&value, "email", |c| c.is_ascii_graphic(), "no spaces or non-ASCII characters")?;
    Ok(value)
}

fn check_display_name(value: String) -> Result<String, InvalidValue> {
    let value = value.trim().to_owned();
    check_len(&value, "display_name", 1, 64)?;
    check_chars(&value, "display_name", |c| !c.is_control(), "no control characters")?;
    Ok(value)
}

fn check_password_hash(value: String) -> Result<String, InvalidValue> {
    // The domain never sees a password, only the hash the server computed; it
    // only guards against storing an empty one by mistake.
    check_len(&value, "password hash", 1, 512)?;
    Ok(value)
}

validated_string!(
    /// How members find each other: 3–32 of `[a-z0-9_]`, lowercased on parse.
    Handle,
    check_handle
);
validated_string!(
    /// A login email, lowercased on parse so uniqueness is case-insensitive.
    Email,
    check_email
);
validated_string!(
    /// The name shown to other members: 1–64 characters, trimmed, no control characters.
    DisplayName,
    check_display_name
);
validated_string!(
    /// A password hash in PHC string format, produced by the server.
    PasswordHash,
    check_password_hash
);

/// Whether a member may take part in transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub email: Email,
    pub handle: Handle,
    pub display_name: DisplayName,
    pub password_hash: PasswordHash,
    pub status: MemberStatus,
    /// `None` between the member's creation and the provider's answer to
    /// opening the account: signup (or recovery) finishes such a member.
    pub provider_account: Option<ProviderAccountId>,
    pub created_at: DateTime<Utc>,
}

impl Member {
    pub fn is_active(&self) -> bool {
        self.status == MemberStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_lowercased_and_checked() {
        assert_eq!(Handle::parse("Alice_01").map(|h| h.to_string()), Ok("alice_01".into()));
        assert!(Handle::parse("ab").is_err());
        assert!(Handle::parse("a".repeat(33)).is_err());
        assert!(Handle::parse("a".repeat(32)).is_ok());
        assert!(Handle::parse("al ice").is_err());
        assert!(Handle::parse("al-ice").is_err());
        assert!(Handle::parse("élise").is_err());
    }

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(Email::parse(" Bob@Example.COM ").map(|e| e.to_string()), Ok("bob@example.com".into()));
        for bad in
            ["", "bob", "bob@", "@example.com", "bob@example", "bob@@example.com", "b ob@example.com", "bob@.com"]
        {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn display_name_is_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Bob  ").map(|d| d.to_string()), Ok("Bob".into()));
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("x".repeat(65)).is_err());
        assert!(DisplayName::parse("Bob\u{7}").is_err());
        assert!(DisplayName::parse("Zoë 🎉").is_ok());
    }

    #[test]
    fn parse_errors_name_the_field() {
        let err = Handle::parse("!").unwrap_err();
        assert_eq!(err.field, "handle");
    }
}
