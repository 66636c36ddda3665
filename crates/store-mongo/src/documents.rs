//! How members, transfers, sessions, audit records and outbox mails look in MongoDB, and the translation to and
//! from the domain's types. Ids are strings (UUIDs, whose text order is their
//! time order), times are BSON dates (the domain's clock is in milliseconds),
//! points are Int64. Reading back re-validates every value.

use anyhow::Context;
use mongodb::bson::DateTime as BsonDateTime;
use serde::{Deserialize, Serialize};

use pointshare_domain::{
    AccountToken, Approval, AuditEntry, AuditRecord, ChainHash, DisplayName, Email, Handle, Handover, IdempotencyKey,
    Lease, LeaseOwner, MailIntent, MailMessage, MailToken, Member, Memo, OutboxMail, Points, ProviderAccountId, Reason,
    Session, StateChange, TokenHash, Transfer,
};

pub(crate) fn bson_time(time: chrono::DateTime<chrono::Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(time.timestamp_millis())
}

fn chrono_time(time: BsonDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or_default()
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MemberDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: String,
    pub handle: String,
    pub display_name: String,
    /// The display name in lower case, for admins' prefix search (indexed).
    /// Absent on members recorded before the search: found by handle and
    /// email until renamed.
    #[serde(default)]
    pub name_key: String,
    pub password_hash: String,
    /// Absent on members recorded before roles lived on the record: members.
    pub role: Option<String>,
    pub status: String,
    pub provider_account: Option<String>,
    /// Absent on members recorded before addresses were verified: they
    /// keep sharing as before.
    #[serde(default = "verified_before")]
    pub email_verified: bool,
    pub created_at: BsonDateTime,
    #[serde(default)]
    pub closed_at: Option<BsonDateTime>,
}

fn verified_before() -> bool {
    true
}

/// How a display name is kept for prefix search.
pub(crate) fn name_key(name: &DisplayName) -> String {
    name.as_str().to_lowercase()
}

impl From<&Member> for MemberDoc {
    fn from(member: &Member) -> Self {
        MemberDoc {
            id: member.id.to_string(),
            email: member.email.to_string(),
            handle: member.handle.to_string(),
            display_name: member.display_name.to_string(),
            name_key: name_key(&member.display_name),
            password_hash: member.password_hash.as_str().to_owned(),
            role: Some(member.role.as_str().to_owned()),
            status: member.status.as_str().to_owned(),
            provider_account: member.provider_account.as_ref().map(ToString::to_string),
            email_verified: member.email_verified,
            created_at: bson_time(member.created_at),
            closed_at: member.closed_at.map(bson_time),
        }
    }
}

impl TryFrom<MemberDoc> for Member {
    type Error = anyhow::Error;

    fn try_from(doc: MemberDoc) -> anyhow::Result<Member> {
        let context = || format!("member document {}", doc.id);
        Ok(Member {
            id: doc.id.parse().with_context(context)?,
            email: Email::parse(doc.email.as_str()).with_context(context)?,
            handle: Handle::parse(doc.handle.as_str()).with_context(context)?,
            display_name: DisplayName::parse(doc.display_name.as_str()).with_context(context)?,
            password_hash: pointshare_domain::PasswordHash::parse(doc.password_hash.as_str()).with_context(context)?,
            role: doc.role.map(|role| role.parse()).transpose().with_context(context)?.unwrap_or_default(),
            status: doc.status.parse().with_context(context)?,
            provider_account: doc
                .provider_account
                .as_deref()
                .map(ProviderAccountId::parse)
                .transpose()
                .with_context(context)?,
            email_verified: doc.email_verified,
            created_at: chrono_time(doc.created_at),
            closed_at: doc.closed_at.map(chrono_time),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TransferDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub kind: String,
    pub sender: String,
    pub sender_account: Option<String>,
    pub recipient: String,
    /// Absent for a withdrawal, which pays nobody.
    pub recipient_account: Option<String>,
    pub amount: i64,
    pub memo: Option<String>,
    pub idempotency_key: String,
    pub state: String,
    pub decline: Option<String>,
    #[serde(default)]
    pub review: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
    /// Absent on transfers recorded before attempts were counted: none yet.
    #[serde(default)]
    pub attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<BsonDateTime>,
    /// For a reversal: the transfer it undoes.
    #[serde(default)]
    pub reverses: Option<String>,
    /// Absent on transfers recorded before reversals: none reversed.
    #[serde(default)]
    pub reversed: i64,
    /// Absent on transfers recorded before their changes were: none known.
    #[serde(default)]
    pub changes: Vec<ChangeDoc>,
    /// Set on a correction that waited for a second admin.
    #[serde(default)]
    pub approval: Option<ApprovalDoc>,
    pub created_at: BsonDateTime,
    pub updated_at: BsonDateTime,
}

impl From<&Transfer> for TransferDoc {
    fn from(transfer: &Transfer) -> Self {
        TransferDoc {
            id: transfer.id.to_string(),
            kind: transfer.kind.as_str().to_owned(),
            sender: transfer.sender.to_string(),
            sender_account: transfer.sender_account.as_ref().map(ToString::to_string),
            recipient: transfer.recipient.to_string(),
            recipient_account: transfer.recipient_account.as_ref().map(ToString::to_string),
            amount: i64::try_from(transfer.amount.get()).expect("points fit in an Int64"),
            memo: transfer.memo.as_ref().map(ToString::to_string),
            idempotency_key: transfer.idempotency_key.to_string(),
            state: transfer.state.as_str().to_owned(),
            decline: transfer.decline.map(|reason| reason.as_str().to_owned()),
            review: transfer.review.map(|reason| reason.as_str().to_owned()),
            resolution: transfer.resolution.map(|resolution| resolution.as_str().to_owned()),
            attempts: i64::from(transfer.attempts),
            lease_owner: transfer.lease.as_ref().map(|lease| lease.owner.to_string()),
            lease_until: transfer.lease.as_ref().map(|lease| bson_time(lease.until)),
            reverses: transfer.reverses.map(|id| id.to_string()),
            reversed: i64::try_from(transfer.reversed).expect("points fit in an Int64"),
            changes: transfer.changes.iter().map(ChangeDoc::from).collect(),
            approval: transfer.approval.as_ref().map(|approval| ApprovalDoc {
                requested_by: approval.requested_by.to_string(),
                expires_at: bson_time(approval.expires_at),
            }),
            created_at: bson_time(transfer.created_at),
            updated_at: bson_time(transfer.updated_at),
        }
    }
}

impl TryFrom<TransferDoc> for Transfer {
    type Error = anyhow::Error;

    fn try_from(doc: TransferDoc) -> anyhow::Result<Transfer> {
        let context = || format!("transfer document {}", doc.id);
        let lease = match (doc.lease_owner, doc.lease_until) {
            (Some(owner), Some(until)) => {
                Some(Lease { owner: LeaseOwner::parse(owner).with_context(context)?, until: chrono_time(until) })
            }
            _ => None,
        };
        Ok(Transfer {
            id: doc.id.parse().with_context(context)?,
            kind: doc.kind.parse().with_context(context)?,
            sender: doc.sender.parse().with_context(context)?,
            sender_account: doc.sender_account.map(ProviderAccountId::parse).transpose().with_context(context)?,
            recipient: doc.recipient.parse().with_context(context)?,
            recipient_account: doc.recipient_account.map(ProviderAccountId::parse).transpose().with_context(context)?,
            amount: Points::new(u64::try_from(doc.amount).with_context(context)?).with_context(context)?,
            memo: doc.memo.map(Memo::parse).transpose().with_context(context)?,
            idempotency_key: IdempotencyKey::parse(doc.idempotency_key).with_context(context)?,
            state: doc.state.parse().with_context(context)?,
            decline: doc.decline.map(|reason| reason.parse()).transpose().with_context(context)?,
            review: doc.review.map(|reason| reason.parse()).transpose().with_context(context)?,
            resolution: doc.resolution.map(|resolution| resolution.parse()).transpose().with_context(context)?,
            lease,
            attempts: u32::try_from(doc.attempts).with_context(context)?,
            reverses: doc.reverses.map(|id| id.parse()).transpose().with_context(context)?,
            reversed: u64::try_from(doc.reversed).with_context(context)?,
            changes: doc
                .changes
                .into_iter()
                .map(StateChange::try_from)
                .collect::<anyhow::Result<_>>()
                .with_context(context)?,
            approval: doc
                .approval
                .map(|approval| {
                    anyhow::Ok(Approval {
                        requested_by: approval.requested_by.parse()?,
                        expires_at: chrono_time(approval.expires_at),
                    })
                })
                .transpose()
                .with_context(context)?,
            created_at: chrono_time(doc.created_at),
            updated_at: chrono_time(doc.updated_at),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SessionDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub member: String,
    pub token: String,
    /// Absent on sessions recorded before retired tokens were kept.
    #[serde(default)]
    pub retired: Vec<String>,
    /// Absent on sessions recorded before their client was.
    #[serde(default)]
    pub client: String,
    #[serde(default)]
    pub user_agent: Option<String>,
    pub created_at: BsonDateTime,
    /// Absent on sessions recorded before it was kept: their creation.
    #[serde(default)]
    pub last_used_at: Option<BsonDateTime>,
    pub expires_at: BsonDateTime,
    pub revoked_at: Option<BsonDateTime>,
    #[serde(default)]
    pub handover: Option<HandoverDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HandoverDoc {
    pub retired: String,
    pub sealed: String,
    pub until: BsonDateTime,
}

impl From<&Session> for SessionDoc {
    fn from(session: &Session) -> Self {
        SessionDoc {
            id: session.id.to_string(),
            member: session.member.to_string(),
            token: session.token.to_string(),
            retired: session.retired.iter().map(ToString::to_string).collect(),
            client: session.client.clone(),
            user_agent: session.user_agent.clone(),
            created_at: bson_time(session.created_at),
            last_used_at: Some(bson_time(session.last_used_at)),
            expires_at: bson_time(session.expires_at),
            revoked_at: session.revoked_at.map(bson_time),
            handover: session.handover.as_ref().map(|handover| HandoverDoc {
                retired: handover.retired.to_string(),
                sealed: handover.sealed.clone(),
                until: bson_time(handover.until),
            }),
        }
    }
}

impl TryFrom<SessionDoc> for Session {
    type Error = anyhow::Error;

    fn try_from(doc: SessionDoc) -> anyhow::Result<Session> {
        let context = || format!("session document {}", doc.id);
        Ok(Session {
            id: doc.id.parse().with_context(context)?,
            member: doc.member.parse().with_context(context)?,
            token: TokenHash::parse(doc.token.as_str()).with_context(context)?,
            retired: doc
                .retired
                .iter()
                .map(|hash| TokenHash::parse(hash.as_str()))
                .collect::<Result<_, _>>()
                .with_context(context)?,
            client: doc.client,
            user_agent: doc.user_agent,
            created_at: chrono_time(doc.created_at),
            last_used_at: chrono_time(doc.last_used_at.unwrap_or(doc.created_at)),
            expires_at: chrono_time(doc.expires_at),
            revoked_at: doc.revoked_at.map(chrono_time),
            handover: doc
                .handover
                .map(|handover| {
                    anyhow::Ok(Handover {
                        retired: TokenHash::parse(handover.retired)?,
                        sealed: handover.sealed,
                        until: chrono_time(handover.until),
                    })
                })
                .transpose()
                .with_context(context)?,
        })
    }
}

/// A transfer's state change, inside its document.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ChangeDoc {
    pub at: BsonDateTime,
    pub state: String,
    pub by: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ApprovalDoc {
    pub requested_by: String,
    pub expires_at: BsonDateTime,
}

impl From<&StateChange> for ChangeDoc {
    fn from(change: &StateChange) -> Self {
        ChangeDoc { at: bson_time(change.at), state: change.state.as_str().to_owned(), by: change.by.to_string() }
    }
}

impl TryFrom<ChangeDoc> for StateChange {
    type Error = anyhow::Error;

    fn try_from(doc: ChangeDoc) -> anyhow::Result<StateChange> {
        Ok(StateChange { at: chrono_time(doc.at), state: doc.state.parse()?, by: LeaseOwner::parse(doc.by)? })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AuditDoc {
    /// The record's place in the chain.
    #[serde(rename = "_id")]
    pub seq: i64,
    pub at: BsonDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub client: Option<String>,
    pub caused: Option<String>,
    pub act: String,
    pub previous: String,
    pub hash: String,
}

impl From<&AuditRecord> for AuditDoc {
    fn from(record: &AuditRecord) -> Self {
        let entry = &record.entry;
        AuditDoc {
            seq: i64::try_from(record.seq).unwrap_or(i64::MAX),
            at: bson_time(record.at),
            actor: entry.actor.to_string(),
            action: entry.action.as_str().to_owned(),
            target: entry.target.to_string(),
            before: entry.before.clone(),
            after: entry.after.clone(),
            reason: entry.reason.as_ref().map(ToString::to_string),
            request_id: entry.request_id.clone(),
            client: entry.client.clone(),
            caused: entry.caused.clone(),
            act: entry.act.clone(),
            previous: record.previous.to_string(),
            hash: record.hash.to_string(),
        }
    }
}

/// Read back as stored, hash included: whether it still matches is for
/// `AuditRecord::follows` to say, not for the adapter to fix.
impl TryFrom<AuditDoc> for AuditRecord {
    type Error = anyhow::Error;

    fn try_from(doc: AuditDoc) -> anyhow::Result<AuditRecord> {
        let context = || format!("audit record {}", doc.seq);
        Ok(AuditRecord {
            seq: u64::try_from(doc.seq).with_context(context)?,
            at: chrono_time(doc.at),
            entry: AuditEntry {
                actor: doc.actor.parse().with_context(context)?,
                action: doc.action.parse().with_context(context)?,
                target: doc.target.parse().with_context(context)?,
                before: doc.before,
                after: doc.after,
                reason: doc.reason.map(Reason::parse).transpose().with_context(context)?,
                request_id: doc.request_id,
                client: doc.client,
                caused: doc.caused,
                act: doc.act,
            },
            previous: ChainHash::parse(doc.previous).with_context(context)?,
            hash: ChainHash::parse(doc.hash).with_context(context)?,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct OutboxDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub intent: String,
    pub to: String,
    pub name: String,
    pub kind: String,
    /// Null once the mail is sent or abandoned.
    pub token: Option<String>,
    pub detail: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: BsonDateTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<BsonDateTime>,
    pub last_error: Option<String>,
    pub created_at: BsonDateTime,
    pub sent_at: Option<BsonDateTime>,
}

impl From<&OutboxMail> for OutboxDoc {
    fn from(mail: &OutboxMail) -> Self {
        let message = &mail.message;
        OutboxDoc {
            id: mail.id.to_string(),
            intent: mail.intent.to_string(),
            to: message.to.to_string(),
            name: message.name.to_string(),
            kind: message.kind.as_str().to_owned(),
            token: message.token.as_ref().map(|token| token.expose().to_owned()),
            detail: message.detail.clone(),
            state: mail.state.as_str().to_owned(),
            attempts: i64::from(mail.attempts),
            next_attempt_at: bson_time(mail.next_attempt_at),
            lease_owner: mail.lease.as_ref().map(|lease| lease.owner.to_string()),
            lease_until: mail.lease.as_ref().map(|lease| bson_time(lease.until)),
            last_error: mail.last_error.clone(),
            created_at: bson_time(mail.created_at),
            sent_at: mail.sent_at.map(bson_time),
        }
    }
}

impl TryFrom<OutboxDoc> for OutboxMail {
    type Error = anyhow::Error;

    fn try_from(doc: OutboxDoc) -> anyhow::Result<OutboxMail> {
        let context = || format!("outbox document {}", doc.id);
        let lease = match (doc.lease_owner, doc.lease_until) {
            (Some(owner), Some(until)) => {
                Some(Lease { owner: LeaseOwner::parse(owner).with_context(context)?, until: chrono_time(until) })
            }
            _ => None,
        };
        Ok(OutboxMail {
            id: doc.id.parse().with_context(context)?,
            intent: MailIntent::parse(doc.intent).with_context(context)?,
            message: MailMessage {
                to: Email::parse(doc.to).with_context(context)?,
                name: DisplayName::parse(doc.name).with_context(context)?,
                kind: doc.kind.parse().with_context(context)?,
                token: doc.token.map(MailToken::new),
                detail: doc.detail,
            },
            state: doc.state.parse().with_context(context)?,
            attempts: u32::try_from(doc.attempts).with_context(context)?,
            next_attempt_at: chrono_time(doc.next_attempt_at),
            lease,
            last_error: doc.last_error,
            created_at: chrono_time(doc.created_at),
            sent_at: doc.sent_at.map(chrono_time),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AccountTokenDoc {
    /// The token's hash.
    #[serde(rename = "_id")]
    pub hash: String,
    pub purpose: String,
    pub member: String,
    pub email: String,
    pub expires_at: BsonDateTime,
    pub used_at: Option<BsonDateTime>,
}

impl From<&AccountToken> for AccountTokenDoc {
    fn from(token: &AccountToken) -> Self {
        AccountTokenDoc {
            hash: token.hash.to_string(),
            purpose: token.purpose.as_str().to_owned(),
            member: token.member.to_string(),
            email: token.email.to_string(),
            expires_at: bson_time(token.expires_at),
            used_at: token.used_at.map(bson_time),
        }
    }
}

impl TryFrom<AccountTokenDoc> for AccountToken {
    type Error = anyhow::Error;

    fn try_from(doc: AccountTokenDoc) -> anyhow::Result<AccountToken> {
        Ok(AccountToken {
            hash: TokenHash::parse(doc.hash).context("an account token's hash")?,
            purpose: doc.purpose.parse().context("an account token's purpose")?,
            member: doc.member.parse().context("an account token's member")?,
            email: Email::parse(doc.email).context("an account token's email")?,
            expires_at: chrono_time(doc.expires_at),
            used_at: doc.used_at.map(chrono_time),
        })
    }
}
