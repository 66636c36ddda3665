//! Members: who they are, how others find them, and whether they can receive points.

use super::names::names;
use chrono::{DateTime, Utc};
use unicode_normalization::UnicodeNormalization;

use super::text::{check_chars, check_len, check_visible, validated_string};
use super::{InvalidValue, MemberId, ProviderAccountId};

fn check_handle(value: String) -> Result<String, InvalidValue> {
    handle_text(value, "handle", 3)
}

fn check_handle_prefix(value: String) -> Result<String, InvalidValue> {
    // Two characters at least, so a picker cannot walk the whole directory a letter at a time.
    handle_text(value, "prefix", 2)
}

/// `value` as a handle (or the start of one) of at least `min` characters.
fn handle_text(value: String, field: &'static str, min: usize) -> Result<String, InvalidValue> {
    // Handles are compared case-insensitively, so they are stored lowercased:
    // "Alice" and "alice" are one handle.
    let value = value.trim().to_ascii_lowercase();
    check_len(&value, field, min, 32)?;
    check_chars(
        &value,
        field,
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
    // NFC, so "Zoë" typed two ways is one name, and what is checked is what is shown.
    let value: String = value.trim().nfc().collect();
    check_len(&value, "display_name", 1, 64)?;
    check_visible(&value, "display_name")?;
    Ok(value)
}

fn check_password(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "password", 8, 128)?;
    let mut chars = value.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(InvalidValue::new("password", "must not be one character repeated"));
    }
    Ok(value)
}

fn check_password_hash(value: String) -> Result<String, InvalidValue> {
    // Whatever the `PasswordHasher` port makes of a password; this only
    // guards against storing an empty hash by mistake.
    check_len(&value, "password hash", 1, 512)?;
    Ok(value)
}

validated_string!(
    /// How members find each other: 3–32 of `[a-z0-9_]`, lowercased on parse.
    Handle,
    check_handle
);
validated_string!(
    /// The start of a handle a member types to pick a recipient: 2–32 of
    /// `[a-z0-9_]`, lowercased on parse.
    HandlePrefix,
    check_handle_prefix
);
validated_string!(
    /// A login email, lowercased on parse so uniqueness is case-insensitive.
    Email,
    check_email
);
validated_string!(
    /// The name shown to other members: 1–64 characters, trimmed, NFC, and
    /// nothing that hides or reorders text (control, bidi, zero-width).
    DisplayName,
    check_display_name
);
validated_string!(
    /// A password as the member typed it, held to the password policy: 8–128
    /// characters, not one character repeated. Only ever hashed, never stored.
    Password,
    check_password
);
validated_string!(
    /// A password hash in PHC string format, produced by the server.
    PasswordHash,
    check_password_hash
);

/// What a member may do beyond their own points. Lives on the member record
/// and is changed only by an operator (`pointshare admin promote|demote`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Role {
    #[default]
    Member,
    Admin,
}

names!(Role {
    Member => "member",
    Admin => "admin",
});

/// Why a member may not do what a request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// No such member, or suspended: the caller is nobody the service serves.
    #[error("the member is unknown or not active")]
    NotActive,
    #[error("admins only")]
    NotAdmin,
}

/// Whether a member may take part in transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    Active,
    Suspended,
    /// Closed by the member: for good. The record stays as a tombstone (its
    /// handle held back, so nobody else takes it and history still names it),
    /// without the email or name.
    Closed,
}

names!(MemberStatus {
    Active => "active",
    Suspended => "suspended",
    Closed => "closed",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub email: Email,
    pub handle: Handle,
    pub display_name: DisplayName,
    pub password_hash: PasswordHash,
    pub role: Role,
    pub status: MemberStatus,
    /// `None` between the member's creation and the provider's answer to
    /// opening the account: signup (or recovery) finishes such a member.
    pub provider_account: Option<ProviderAccountId>,
    /// Whether the member proved, by a link mailed to it, that `email` is
    /// theirs. An unverified member may receive points but, where the rule
    /// holds, not share them: anyone can type someone else's address.
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    /// When the member closed their account: their handle is held back
    /// from new members for a while after.
    pub closed_at: Option<DateTime<Utc>>,
}

impl Member {
    pub fn is_active(&self) -> bool {
        self.status == MemberStatus::Active
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether points may be shared to them: active, with an account.
    pub fn can_receive(&self) -> bool {
        self.is_active() && self.provider_account.is_some()
    }

    /// The rule every authenticated request goes through: the member as the
    /// store has it now must be active, and an admin for an admin's action.
    /// Nothing a token claims takes part.
    pub fn may_act_as(&self, needed: Role) -> Result<(), AccessDenied> {
        if !self.is_active() {
            return Err(AccessDenied::NotActive);
        }
        match needed {
            Role::Admin if !self.is_admin() => Err(AccessDenied::NotAdmin),
            _ => Ok(()),
        }
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
    fn display_names_refuse_what_hides_or_reorders_text() {
        for spoof in ["Bob\u{202e}txt.exe", "Bo\u{200b}b", "Bob\u{2066}", "\u{feff}Bob", "Bo\u{200d}b", "Bob\u{061c}"] {
            let error = DisplayName::parse(spoof).expect_err(spoof);
            assert_eq!(error.field, "display_name");
        }
    }

    #[test]
    fn display_names_refuse_what_shows_nothing_or_breaks_lines() {
        for spoof in [
            "Bob\u{2028}Admin",
            "Bo\u{2029}b",
            "Ad\u{ad}min",
            "Bo\u{34f}b",
            "\u{115f}",
            "\u{1160}Bob",
            "\u{3164}",
            "\u{ffa0}",
            "\u{2800}",
            "Bob\u{206a}",
            "Bob\u{206f}",
            "Bob\u{e0041}\u{e0042}",
            "Bob\u{e000}",
            "Z\u{336}\u{336}\u{336}\u{336}",
            "\u{301}\u{302}",
            "\u{3000}\u{2003}",
        ] {
            let error = DisplayName::parse(spoof).expect_err(&format!("{spoof:?}"));
            assert_eq!(error.field, "display_name");
        }
        for fine in ["Nguyễn Thị Minh Khai", "हिन्दी", "José ❤️", "山田 太郎", "Zoë 🎉"] {
            DisplayName::parse(fine).expect(fine);
        }
    }

    #[test]
    fn display_names_are_nfc() {
        let decomposed = "Zoe\u{308}";
        assert_eq!(DisplayName::parse(decomposed).map(|d| d.to_string()), Ok("Zo\u{eb}".into()));
    }

    #[test]
    fn the_password_policy() {
        assert!(Password::parse("correct horse").is_ok());
        assert_eq!(Password::parse("short").unwrap_err().field, "password");
        assert!(Password::parse("a".repeat(129)).is_err());
        assert!(Password::parse("aaaaaaaaaa").is_err());
    }

    #[test]
    fn access_needs_an_active_member_and_the_role() {
        let member = |role, status| Member {
            id: MemberId::new(),
            email: Email::parse("a@example.com").unwrap(),
            handle: Handle::parse("ada").unwrap(),
            display_name: DisplayName::parse("Ada").unwrap(),
            password_hash: PasswordHash::parse("$argon2id$x").unwrap(),
            role,
            status,
            provider_account: None,
            email_verified: true,
            created_at: Utc::now(),
            closed_at: None,
        };
        assert_eq!(member(Role::Admin, MemberStatus::Active).may_act_as(Role::Admin), Ok(()));
        assert_eq!(member(Role::Member, MemberStatus::Active).may_act_as(Role::Member), Ok(()));
        assert_eq!(member(Role::Member, MemberStatus::Active).may_act_as(Role::Admin), Err(AccessDenied::NotAdmin));
        assert_eq!(member(Role::Admin, MemberStatus::Suspended).may_act_as(Role::Admin), Err(AccessDenied::NotActive));
        assert_eq!(
            member(Role::Member, MemberStatus::Suspended).may_act_as(Role::Member),
            Err(AccessDenied::NotActive)
        );
    }

    #[test]
    fn parse_errors_name_the_field() {
        let err = Handle::parse("!").unwrap_err();
        assert_eq!(err.field, "handle");
    }
}
