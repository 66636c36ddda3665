//! The provider's vocabulary (provider-api.md): accounts, references and
//! transactions, as the domain sees them once an adapter has parsed them.

use super::names::names;
use chrono::{DateTime, Utc};

use super::text::{check_chars, check_len, validated_string};
use super::{InvalidValue, MemberId, Points};

fn check_account_id(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "account id", 1, 64)?;
    check_chars(
        &value,
        "account id",
        |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
        "only letters, digits, _ and -",
    )?;
    Ok(value)
}

fn check_reference(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "reference", 1, 128)?;
    check_chars(
        &value,
        "reference",
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'),
        "only letters, digits, _ . : and -",
    )?;
    Ok(value)
}

fn check_holder_ref(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "holder_ref", 1, 128)?;
    Ok(value)
}

validated_string!(
    /// An account id chosen by the provider: 1–64 of `[A-Za-z0-9_-]`.
    ProviderAccountId,
    check_account_id
);
validated_string!(
    /// A transaction id chosen by the provider: same alphabet as account ids.
    ProviderTransactionId,
    check_account_id
);
validated_string!(
    /// The caller-chosen idempotency key of a debit or credit: 1–128 of `[A-Za-z0-9_.:-]`.
    ProviderReference,
    check_reference
);
validated_string!(
    /// Our id for an account's holder; opening twice with one holder_ref gives one account.
    HolderRef,
    check_holder_ref
);

impl From<MemberId> for HolderRef {
    fn from(member: MemberId) -> Self {
        HolderRef(member.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    Active,
    Frozen,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAccount {
    pub account_id: ProviderAccountId,
    pub balance: u64,
    pub status: AccountStatus,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MovementKind {
    Debit,
    Credit,
}

names!(MovementKind {
    Debit => "debit",
    Credit => "credit",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTransaction {
    pub transaction_id: ProviderTransactionId,
    pub reference: ProviderReference,
    pub account_id: ProviderAccountId,
    pub kind: MovementKind,
    pub amount: Points,
    pub balance_after: u64,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_alphabet_and_length() {
        assert!(ProviderReference::parse("tr_01J:debit").is_ok());
        assert!(ProviderReference::parse("a.b-c_d:e").is_ok());
        assert!(ProviderReference::parse("").is_err());
        assert!(ProviderReference::parse("x".repeat(129)).is_err());
        assert!(ProviderReference::parse("has space").is_err());
        assert!(ProviderReference::parse("slash/no").is_err());
    }

    #[test]
    fn account_id_alphabet_and_length() {
        assert!(ProviderAccountId::parse("acc_7Qm2-x").is_ok());
        assert!(ProviderAccountId::parse("acc:1").is_err());
        assert!(ProviderAccountId::parse("a".repeat(65)).is_err());
    }

    #[test]
    fn a_member_id_is_a_valid_holder_ref() {
        let holder = HolderRef::from(MemberId::new());
        assert!(HolderRef::parse(holder.as_str()).is_ok());
    }
}
