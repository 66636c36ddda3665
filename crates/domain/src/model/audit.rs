//! The audit log's records: who did what privileged act to what, with what
//! result, why, from where. Records form a hash chain: each holds the hash of
//! the one before, so a record altered, removed or inserted after the fact
//! breaks every hash after it (`AuditRecord::follows` and `hash_of`).

use super::names::names;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::text::{check_chars, check_len, check_visible, validated_string};
use super::{InvalidValue, MemberId};

fn check_operator(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "operator", 1, 64)?;
    check_chars(&value, "operator", |c| c.is_ascii_graphic(), "printable ASCII without spaces")?;
    Ok(value)
}

fn check_reason(value: String) -> Result<String, InvalidValue> {
    let value = value.trim().to_owned();
    check_len(&value, "reason", 1, 500)?;
    check_visible(&value, "reason")?;
    Ok(value)
}

fn check_chain_hash(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "chain hash", 64, 64)?;
    check_chars(&value, "chain hash", |c| c.is_ascii_digit() || ('a'..='f').contains(&c), "lowercase hex only")?;
    Ok(value)
}

validated_string!(
    /// Who ran a command on the operator's side (`$USER`, `bootstrap`):
    /// 1–64 printable ASCII characters.
    OperatorName,
    check_operator
);
validated_string!(
    /// Why a privileged act was done, as its doer wrote it: 1–500 visible characters.
    Reason,
    check_reason
);
validated_string!(
    /// A record's SHA-256 in lowercase hex: the link the next record holds.
    ChainHash,
    check_chain_hash
);

impl ChainHash {
    /// What the first record follows.
    pub fn genesis() -> Self {
        ChainHash("0".repeat(64))
    }
}

/// Who did an act: an admin over the API, or an operator at the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    Member(MemberId),
    Operator(OperatorName),
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Member(id) => write!(f, "member:{id}"),
            Actor::Operator(name) => write!(f, "operator:{name}"),
        }
    }
}

impl std::str::FromStr for Actor {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        match text.split_once(':') {
            Some(("member", id)) => Ok(Actor::Member(id.parse()?)),
            Some(("operator", name)) => Ok(Actor::Operator(OperatorName::parse(name)?)),
            _ => Err(InvalidValue::new("actor", "member:<id> or operator:<name>")),
        }
    }
}

/// The privileged acts the log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// Points granted to a member.
    Grant,
    /// A transfer undone, whole or in part.
    Reversal,
    /// Points credited to or taken from a member outside any transfer of theirs.
    Adjustment,
    /// A second admin's decision on a large correction.
    Approval,
    /// A member's role changed.
    RoleChange,
    /// A member suspended or reinstated.
    StatusChange,
    /// A transfer in review ended by a person's decision.
    Resolution,
    /// The operator's first admin created at start.
    BootstrapAdmin,
}

names!(AuditAction {
    Grant => "grant",
    Reversal => "reversal",
    Adjustment => "adjustment",
    Approval => "approval",
    RoleChange => "role_change",
    StatusChange => "status_change",
    Resolution => "resolution",
    BootstrapAdmin => "bootstrap_admin",
});

/// What an act was done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditTarget {
    Member(MemberId),
    Transfer(super::TransferId),
}

impl std::fmt::Display for AuditTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditTarget::Member(id) => write!(f, "member:{id}"),
            AuditTarget::Transfer(id) => write!(f, "transfer:{id}"),
        }
    }
}

impl std::str::FromStr for AuditTarget {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        match text.split_once(':') {
            Some(("member", id)) => Ok(AuditTarget::Member(id.parse()?)),
            Some(("transfer", id)) => Ok(AuditTarget::Transfer(id.parse()?)),
            _ => Err(InvalidValue::new("target", "member:<id> or transfer:<id>")),
        }
    }
}

/// Where an act was asked for: an API request (its `X-Request-Id`, the
/// client's address as per-address limits count it), or neither (the
/// operator's command line, the server's own start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub request_id: Option<String>,
    pub client: Option<String>,
}

/// Who asks for a privileged act, why, and from where: what its audit record
/// will say of the doer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub actor: Actor,
    pub reason: Option<Reason>,
    pub origin: Origin,
}

impl Authority {
    /// An operator at the command line.
    pub fn operator(name: OperatorName, reason: Option<Reason>) -> Self {
        Authority { actor: Actor::Operator(name), reason, origin: Origin::default() }
    }

    /// The entry recording `action` on `target` by this authority; `act`
    /// names the act, so recording it again stores nothing new.
    pub fn entry(&self, action: AuditAction, target: AuditTarget, act: String) -> AuditEntry {
        AuditEntry {
            actor: self.actor.clone(),
            action,
            target,
            before: None,
            after: None,
            reason: self.reason.clone(),
            request_id: self.origin.request_id.clone(),
            client: self.origin.client.clone(),
            caused: None,
            act,
        }
    }
}

/// One act, as its doer reports it, before it takes its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: Actor,
    pub action: AuditAction,
    pub target: AuditTarget,
    /// What the act changed, as it was and as it became (`member` → `admin`,
    /// or an amount granted); absent where nothing stood before.
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<Reason>,
    /// The API request that did it (its `X-Request-Id`); none from the command line.
    pub request_id: Option<String>,
    /// The client's address as per-address limits count it; none from the command line.
    pub client: Option<String>,
    /// What the act brought about: the transfer a grant created, say.
    pub caused: Option<String>,
    /// Names the act itself, so recording it twice (a retried request, an
    /// idempotent replay) stores one record: `grant:<transfer id>`.
    pub act: String,
}

impl AuditEntry {
    /// What the act changed, from `before` (if anything stood) to `after`.
    pub fn changed(mut self, before: Option<String>, after: String) -> Self {
        self.before = before;
        self.after = Some(after);
        self
    }

    /// What the act brought about.
    pub fn caused(mut self, caused: impl ToString) -> Self {
        self.caused = Some(caused.to_string());
        self
    }
}

/// An entry in its place: the `seq`-th record, at `at`, chained to the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub entry: AuditEntry,
    /// The hash of record `seq - 1`; `ChainHash::genesis()` for the first.
    pub previous: ChainHash,
    /// The hash of this record's fields and `previous`.
    pub hash: ChainHash,
}

impl AuditRecord {
    /// `entry` as record `seq` after `previous` (`None`: the first).
    pub fn chain(entry: AuditEntry, seq: u64, at: DateTime<Utc>, previous: Option<&AuditRecord>) -> AuditRecord {
        // Stored times keep milliseconds; the hash must be of what is stored.
        let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
        let previous = previous.map_or_else(ChainHash::genesis, |record| record.hash.clone());
        let hash = hash_of(seq, at, &entry, &previous);
        AuditRecord { seq, at, entry, previous, hash }
    }

    /// Whether this record's hash is that of its fields, and it links to `before`.
    pub fn follows(&self, before: Option<&AuditRecord>) -> bool {
        let expected_seq = before.map_or(1, |record| record.seq + 1);
        let expected_previous = before.map_or_else(ChainHash::genesis, |record| record.hash.clone());
        self.seq == expected_seq
            && self.previous == expected_previous
            && self.hash == hash_of(self.seq, self.at, &self.entry, &self.previous)
    }
}

/// SHA-256 over every field, each length-prefixed so no two records share an
/// encoding.
pub fn hash_of(seq: u64, at: DateTime<Utc>, entry: &AuditEntry, previous: &ChainHash) -> ChainHash {
    let mut hasher = Sha256::new();
    let fields = [
        Some(seq.to_string()),
        Some(at.timestamp_millis().to_string()),
        Some(entry.actor.to_string()),
        Some(entry.action.as_str().to_owned()),
        Some(entry.target.to_string()),
        entry.before.clone(),
        entry.after.clone(),
        entry.reason.as_ref().map(ToString::to_string),
        entry.request_id.clone(),
        entry.client.clone(),
        entry.caused.clone(),
        Some(entry.act.clone()),
        Some(previous.to_string()),
    ];
    for field in fields {
        match field {
            Some(text) => {
                hasher.update(b"+");
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
            None => hasher.update(b"-"),
        }
    }
    ChainHash(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(after: &str) -> AuditEntry {
        let member = MemberId::new();
        AuditEntry {
            actor: Actor::Operator(OperatorName::parse("ops").expect("valid")),
            action: AuditAction::RoleChange,
            target: AuditTarget::Member(member),
            before: Some("member".into()),
            after: Some(after.into()),
            reason: Some(Reason::parse("on call").expect("valid")),
            request_id: None,
            client: None,
            caused: None,
            act: format!("role:{member}:{after}"),
        }
    }

    #[test]
    fn records_chain_and_any_change_breaks_the_link() {
        let first = AuditRecord::chain(entry("admin"), 1, Utc::now(), None);
        let second = AuditRecord::chain(entry("member"), 2, Utc::now(), Some(&first));
        assert!(first.follows(None) && second.follows(Some(&first)));
        assert_eq!(first.previous, ChainHash::genesis());
        let mut altered = first.clone();
        altered.entry.after = Some("member".into());
        assert!(!altered.follows(None), "an altered field no longer matches its hash");
        assert!(!second.follows(None), "a record cannot pass for the first");
        let other_first = AuditRecord::chain(entry("admin"), 1, Utc::now(), None);
        assert!(!second.follows(Some(&other_first)), "nor follow another record");
    }

    #[test]
    fn fields_cannot_slide_into_each_other() {
        let at = Utc::now();
        let mut a = entry("admin");
        let mut b = a.clone();
        a.before = Some("ab".into());
        a.after = Some("c".into());
        b.before = Some("a".into());
        b.after = Some("bc".into());
        assert_ne!(hash_of(1, at, &a, &ChainHash::genesis()), hash_of(1, at, &b, &ChainHash::genesis()));
        a.before = None;
        b.before = Some(String::new());
        assert_ne!(hash_of(1, at, &a, &ChainHash::genesis()), hash_of(1, at, &b, &ChainHash::genesis()));
    }

    #[test]
    fn actors_and_targets_read_back_from_their_text() {
        let id = MemberId::new();
        for actor in [Actor::Member(id), Actor::Operator(OperatorName::parse("ada").expect("valid"))] {
            assert_eq!(actor.to_string().parse::<Actor>(), Ok(actor));
        }
        assert!("root".parse::<Actor>().is_err());
        assert!("operator:has space".parse::<Actor>().is_err());
        let target = AuditTarget::Member(id);
        assert_eq!(target.to_string().parse::<AuditTarget>(), Ok(target));
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
        }
    }
}
